"""Unit tests for steps 1 and 3: attention_scores, context_vector(s), the loop form.

The worked example ("Your journey starts with one step") is checked against values
derived independently of numpy: exact rational arithmetic for the scores, 40-digit
decimal arithmetic for the weights and context vectors.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest

from attention_ref import (
    attention_scores,
    attention_weights,
    context_vector,
    context_vectors,
    context_vectors_loop,
    softmax,
)
from attention_ref.examples import CAT_INPUTS, CAT_TOKENS, INPUTS, TOKENS

# The embeddings as written in the lecture notes, as text: the source of truth for the
# exact references below (not INPUTS, whose entries are binary approximations).
EXAMPLE_TEXT = {
    "Your": "0.43 0.15 0.89",
    "journey": "0.55 0.87 0.66",
    "starts": "0.57 0.85 0.64",
    "with": "0.22 0.58 0.33",
    "one": "0.77 0.25 0.10",
    "step": "0.05 0.80 0.55",
}

# Every score x_i . x_j, worked out by hand: products of two 2-decimal numbers have 4
# decimals, and so do their sums, so these are the exact values.
EXPECTED_SCORES = np.array(
    [
        [0.9995, 0.9544, 0.9422, 0.4753, 0.4576, 0.6310],
        [0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865],
        [0.9422, 1.4754, 1.4570, 0.8296, 0.7154, 1.0605],
        [0.4753, 0.8434, 0.8296, 0.4937, 0.3474, 0.6565],
        [0.4576, 0.7070, 0.7154, 0.3474, 0.6654, 0.2935],
        [0.6310, 1.0865, 1.0605, 0.6565, 0.2935, 0.9450],
    ]
)

# The lecture's figures for the query "journey", rounded to 4 decimals.
JOURNEY_WEIGHTS = np.array([0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581])
JOURNEY_CONTEXT = np.array([0.4419, 0.6515, 0.5683])

# float64 results of a few dozen roundings on numbers of order 1 (the worked example).
F64_CLOSE = {"rtol": 0, "atol": 1e-14}


def exact_inputs(cls: type) -> list[list]:
    return [[cls(v) for v in EXAMPLE_TEXT[token].split()] for token in TOKENS]


def decimal_context_vectors() -> tuple[np.ndarray, np.ndarray]:
    """Weights and context vectors of the worked example, in 40-digit decimals."""
    with localcontext() as ctx:
        ctx.prec = 40
        x = exact_inputs(Decimal)
        weights, context = [], []
        for query in x:
            exps = [sum(q * k for q, k in zip(query, key, strict=True)).exp() for key in x]
            row = [e / sum(exps) for e in exps]
            weights.append([float(w) for w in row])
            columns = list(zip(*x, strict=True))  # columns[d]: dimension d of every token
            z = [sum(w * v for w, v in zip(row, col, strict=True)) for col in columns]
            context.append([float(v) for v in z])
    return np.array(weights), np.array(context)


def test_example_data_is_the_lecture_sentence() -> None:
    assert TOKENS == ("Your", "journey", "starts", "with", "one", "step")
    assert INPUTS.shape == (6, 3)
    assert INPUTS.dtype == np.float64
    expected = np.array([[float(v) for v in EXAMPLE_TEXT[t].split()] for t in TOKENS])
    assert np.array_equal(INPUTS, expected)
    assert len(CAT_TOKENS) == CAT_INPUTS.shape[0]


def test_example_arrays_are_read_only() -> None:
    with pytest.raises(ValueError, match="read-only"):
        INPUTS[0, 0] = 1.0


def test_expected_scores_table_is_exact() -> None:
    # Guard the hand-written table itself with exact rational arithmetic.
    x = exact_inputs(Fraction)
    exact = [[sum(a * b for a, b in zip(q, k, strict=True)) for k in x] for q in x]
    assert all((s * 10_000).denominator == 1 for row in exact for s in row)  # 4 decimals
    assert np.array_equal(np.array(exact, dtype=float), EXPECTED_SCORES)


def test_worked_example_all_scores_exact_to_4_decimals() -> None:
    scores = attention_scores(INPUTS)
    assert scores.shape == (6, 6)
    assert np.array_equal(np.round(scores, 4), EXPECTED_SCORES)


@pytest.mark.parametrize("query", range(6))
def test_worked_example_scores_of_one_query_exact_to_4_decimals(query: int) -> None:
    assert np.array_equal(np.round(attention_scores(INPUTS, query), 4), EXPECTED_SCORES[query])


def test_worked_example_journey_weights_and_context() -> None:
    weights = attention_weights(attention_scores(INPUTS, query=1))
    assert np.array_equal(np.round(weights, 4), JOURNEY_WEIGHTS)
    assert np.array_equal(np.round(context_vector(INPUTS, query=1), 4), JOURNEY_CONTEXT)


def test_worked_example_against_40_digit_decimals() -> None:
    weights, context = decimal_context_vectors()
    np.testing.assert_allclose(attention_weights(attention_scores(INPUTS)), weights, **F64_CLOSE)
    np.testing.assert_allclose(context_vectors(INPUTS), context, **F64_CLOSE)
    np.testing.assert_allclose(context_vectors_loop(INPUTS), context, **F64_CLOSE)
    for i in range(6):
        np.testing.assert_allclose(context_vector(INPUTS, i), context[i], **F64_CLOSE)


def test_scores_matrix_is_inputs_times_inputs_transposed() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4))
    assert np.array_equal(attention_scores(x), x @ x.T)


def test_scores_for_a_query_vector_are_dot_products() -> None:
    query = np.array([1.0, 0.0, -1.0])
    # Each score is a single product sum of 2-decimal numbers: compare at 4 decimals.
    expected = [0.43 - 0.89, 0.55 - 0.66, 0.57 - 0.64, 0.22 - 0.33, 0.77 - 0.10, 0.05 - 0.55]
    np.testing.assert_allclose(attention_scores(INPUTS, query), expected, rtol=0, atol=1e-15)


def test_query_vector_equal_to_a_token_gives_that_tokens_scores() -> None:
    assert np.array_equal(attention_scores(INPUTS, INPUTS[2]), attention_scores(INPUTS, 2))
    assert np.array_equal(attention_scores(INPUTS, list(INPUTS[2])), attention_scores(INPUTS, 2))


@pytest.mark.parametrize("index", [np.int8(1), np.int64(1), np.uint32(1)])
def test_numpy_integer_query_indices(index) -> None:
    assert np.array_equal(attention_scores(INPUTS, index), attention_scores(INPUTS, 1))


@pytest.mark.parametrize("negative", [-1, -6])
def test_negative_query_counts_from_the_end(negative: int) -> None:
    positive = negative + 6
    assert np.array_equal(attention_scores(INPUTS, negative), attention_scores(INPUTS, positive))
    assert np.array_equal(context_vector(INPUTS, negative), context_vector(INPUTS, positive))


def test_context_vector_of_each_token_is_that_row_of_context_vectors() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 4))
    all_at_once = context_vectors(x)
    for i in range(7):
        # Same math, different order of operations (normalising before or after the
        # product): a few ulp of numbers of order 1.
        np.testing.assert_allclose(context_vector(x, i), all_at_once[i], rtol=0, atol=1e-14)


def test_context_vector_with_an_outside_query_vector() -> None:
    query = np.array([0.0, 0.0, 0.0])  # scores all 0: uniform weights, the mean input
    np.testing.assert_allclose(context_vector(INPUTS, query), INPUTS.mean(axis=0), atol=1e-15)


def test_single_token_attends_to_itself() -> None:
    x = np.array([[3.0, -4.0]])
    assert np.array_equal(attention_weights(attention_scores(x)), [[1.0]])
    assert np.array_equal(context_vectors(x), x)
    assert np.array_equal(context_vectors_loop(x), x)
    assert np.array_equal(context_vector(x, 0), x[0])


def test_orthogonal_tokens_of_equal_length() -> None:
    # Scores: 1 on the diagonal, 0 elsewhere; weights e/(e+2) and 1/(e+2).
    x = np.eye(3)
    e = np.e
    expected = np.full((3, 3), 1 / (e + 2))
    np.fill_diagonal(expected, e / (e + 2))
    np.testing.assert_allclose(context_vectors(x), expected, rtol=4e-16, atol=0)
    np.testing.assert_allclose(context_vectors_loop(x), expected, rtol=4e-16, atol=0)


def test_huge_scores_are_handled_stably() -> None:
    # Scores of order 1e4: the naive exp would overflow, the stable form picks the max.
    x = np.array([[100.0, 0.0], [0.0, 50.0]])
    assert np.array_equal(context_vectors(x), x)
    assert np.array_equal(context_vectors_loop(x), x)


def test_tiny_inputs_give_the_mean() -> None:
    # Scores of order 1e-300: e^score rounds to exactly 1, so the weights are uniform.
    x = np.array([[1e-150, 0.0], [0.0, 3e-150]])
    np.testing.assert_allclose(context_vectors(x), [[5e-151, 1.5e-150]] * 2, rtol=1e-15)


def test_context_vectors_with_scores_spanning_the_float_range_do_not_warn() -> None:
    # Scores 1e308 on the diagonal and -1e308 off it: each token attends to itself.
    x = np.array([[1e154, 0.0], [-1e154, 0.0]])
    assert np.array_equal(context_vectors(x), x)


def test_context_vector_with_scores_spanning_the_float_range_does_not_warn() -> None:
    x = np.array([[1e154, 0.0], [-1e154, 0.0]])
    assert np.array_equal(context_vector(x, 0), x[0])


# Shapes, batches and dtypes -----------------------------------------------------


def test_batched_shapes() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 5, 4))  # (batch, batch, N, D)
    assert attention_scores(x).shape == (2, 3, 5, 5)
    assert attention_scores(x, query=0).shape == (2, 3, 5)
    assert attention_scores(x, query=np.ones(4)).shape == (2, 3, 5)
    assert context_vector(x, query=-1).shape == (2, 3, 4)
    assert context_vector(x, query=np.ones(4)).shape == (2, 3, 4)
    assert context_vectors(x).shape == (2, 3, 5, 4)
    assert context_vectors_loop(x).shape == (2, 3, 5, 4)


def test_batched_query_index_picks_the_token_of_each_sequence() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 5, 4))
    for b in range(3):
        assert np.array_equal(attention_scores(x, 2)[b], attention_scores(x[b], 2))
        np.testing.assert_allclose(
            context_vector(x, 2)[b], context_vector(x[b], 2), rtol=0, atol=1e-15
        )


PUBLIC_ON_INPUTS = [
    attention_scores,
    context_vectors,
    context_vectors_loop,
    lambda x: attention_scores(x, 0),
    lambda x: context_vector(x, -1),
]


@pytest.mark.parametrize("function", PUBLIC_ON_INPUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_dtype_is_kept(function, dtype) -> None:
    assert function(INPUTS.astype(dtype)).dtype == dtype


@pytest.mark.parametrize("function", PUBLIC_ON_INPUTS)
def test_integers_become_float64(function) -> None:
    x = [[1, 0, 2], [0, 1, 1]]
    assert function(x).dtype == np.float64
    assert function(np.array(x, dtype=np.int32)).dtype == np.float64


def test_integer_inputs_give_the_same_as_floats() -> None:
    x = [[1, 0, 2], [0, 1, 1]]
    assert np.array_equal(context_vectors(x), context_vectors(np.array(x, dtype=float)))


def test_float32_query_vector_keeps_float32() -> None:
    x = INPUTS.astype(np.float32)
    assert attention_scores(x, x[0]).dtype == np.float32
    assert context_vector(x, x[0]).dtype == np.float32


@pytest.mark.parametrize("function", PUBLIC_ON_INPUTS)
def test_inputs_are_not_mutated(function) -> None:
    rng = np.random.default_rng(4)
    for x in (rng.normal(size=(5, 3)), rng.normal(size=(2, 4, 3)).astype(np.float32)):
        before = x.copy()
        function(x)
        assert np.array_equal(x, before)


def test_query_vector_is_not_mutated() -> None:
    query = np.array([0.5, -0.5, 2.0])
    before = query.copy()
    attention_scores(INPUTS, query)
    context_vector(INPUTS, query)
    assert np.array_equal(query, before)


@pytest.mark.parametrize("function", PUBLIC_ON_INPUTS)
def test_read_only_inputs_work_and_results_are_new_arrays(function) -> None:
    result = function(INPUTS)  # INPUTS is read-only: any in-place write would raise
    assert result.flags.writeable
    assert not np.shares_memory(result, INPUTS)


def test_loop_form_follows_the_three_steps() -> None:
    # The loop form, spelt out once more with the package's own steps per query.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 3))
    expected = np.array([softmax(attention_scores(x, i)) @ x for i in range(4)])
    np.testing.assert_allclose(context_vectors_loop(x), expected, rtol=0, atol=1e-15)
