"""Property-based tests: what must hold for every input, over random shapes and dtypes.

Hypothesis draws float32 and float64 arrays of random shape (with 0 to 2 batch axes)
and magnitude. Two correct floating-point computations of the same quantity can
differ by rounding, so comparisons use a bound derived from the arithmetic (see
`context_atol`), never an arbitrary "small" number; properties that hold exactly in
floating point (weights in [0, 1], masked weights 0, dtype kept) are asserted exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from attention_ref import (
    attention_scores,
    attention_weights,
    context_vector,
    context_vectors,
    context_vectors_loop,
    normalize_sum,
    softmax,
    softmax_naive,
)

# No deadline: timing is not what these tests check (the loop form is slow on purpose).
untimed = settings(deadline=None, max_examples=150)

DTYPES = [np.float32, np.float64]

# Magnitudes of the inputs (powers of 2, exact in float32 too). Scores grow as
# D * scale**2: up to 6144 for scale 32 in float64, far past the 709 where exp
# overflows; float32 stops at 8 because its rounding error on larger scores would
# already dominate the tolerance.
INPUT_SCALES = {np.float32: [2.0**-10, 1.0, 8.0], np.float64: [2.0**-10, 1.0, 8.0, 32.0]}
SCORE_SCALES = [1.0, 50.0, 1e3]


def eps(dtype: np.dtype | type) -> float:
    return float(np.finfo(dtype).eps)


def floats_of(dtype: type, scale: float) -> st.SearchStrategy[float]:
    """Finite floats in [-scale, scale], exactly representable in `dtype`."""
    return st.floats(-scale, scale, width=np.finfo(dtype).bits, allow_subnormal=False)


@st.composite
def embeddings(draw: st.DrawFn, max_batch_axes: int = 2) -> np.ndarray:
    """Inputs of shape (..., N, D): 0 to 2 batch axes, 1 to 8 tokens, 1 to 6 dimensions."""
    dtype = draw(st.sampled_from(DTYPES))
    scale = draw(st.sampled_from(INPUT_SCALES[dtype]))
    batch = draw(st.lists(st.integers(1, 3), max_size=max_batch_axes))
    shape = (*batch, draw(st.integers(1, 8)), draw(st.integers(1, 6)))
    return draw(hnp.arrays(dtype, shape, elements=floats_of(dtype, scale)))


@st.composite
def scores_and_axis(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """Scores of 1 to 3 dimensions (up to 7 entries per axis) and an axis to normalise."""
    dtype = draw(st.sampled_from(DTYPES))
    scale = draw(st.sampled_from(SCORE_SCALES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=7))
    scores = draw(hnp.arrays(dtype, shape, elements=floats_of(dtype, scale)))
    axis = draw(st.integers(-scores.ndim, scores.ndim - 1))
    return scores, axis


def sum_atol(x: np.ndarray, axis: int) -> float:
    """How far a slice of computed softmax weights may sum from 1.

    Each weight carries a few roundings (the shift, exp, the division: at most 4 eps
    relative, allowing for numpy's SIMD exp) and summing n of them adds n eps.
    """
    return (x.shape[axis] + 4) * eps(x.dtype)


def context_atol(x: np.ndarray) -> float:
    """How far two correct float computations of the context vectors of `x` may differ.

    A score x_i . x_j is a sum of D products, so its rounding error is at most
    E = D eps max_ij sum_k |x_ik x_jk| (the classic dot-product bound). Shifting scores
    by at most E scales each weight by a factor within exp(+-2E), which moves a
    weighted sum of inputs (each at most M = max|x| in size) by about 2 E M. The
    exponentials and the N-term weighted sum add (N + 4) eps M more. Two computations
    may err in opposite directions, hence the factor 2.
    """
    n, d = x.shape[-2:]
    size = np.abs(x)
    m = float(size.max())
    score_error = d * eps(x.dtype) * float((size @ np.swapaxes(size, -1, -2)).max())
    return 2 * m * (2 * score_error + (n + 4) * eps(x.dtype))


def assert_close_contexts(actual: np.ndarray, expected: np.ndarray, x: np.ndarray) -> None:
    np.testing.assert_allclose(actual, expected, rtol=0, atol=context_atol(x))


# Step 2: softmax --------------------------------------------------------------------


@untimed
@given(scores_and_axis())
def test_softmax_slices_sum_to_one(case: tuple[np.ndarray, int]) -> None:
    x, axis = case
    totals = softmax(x, axis=axis).sum(axis=axis, dtype=np.float64)
    np.testing.assert_allclose(totals, 1.0, rtol=0, atol=sum_atol(x, axis))


@untimed
@given(scores_and_axis())
def test_softmax_weights_are_in_0_1(case: tuple[np.ndarray, int]) -> None:
    x, axis = case
    weights = softmax(x, axis=axis)
    # Exact: exp of a non-positive number is in [0, 1], and each sum is >= 1.
    assert (weights >= 0).all()
    assert (weights <= 1).all()


@untimed
@given(scores_and_axis())
def test_softmax_keeps_shape_and_dtype(case: tuple[np.ndarray, int]) -> None:
    x, axis = case
    for function in (softmax, attention_weights):
        weights = function(x, axis=axis)
        assert weights.shape == x.shape
        assert weights.dtype == x.dtype


@untimed
@given(scores_and_axis())
def test_softmax_largest_score_gets_largest_weight(case: tuple[np.ndarray, int]) -> None:
    x, axis = case
    weights = softmax(x, axis=axis)
    # Where the max is, the weight is e^0 / sum: the largest of its slice (ties allowed).
    top = np.argmax(x, axis=axis)
    top_weight = np.take_along_axis(weights, np.expand_dims(top, axis), axis)
    assert (top_weight == weights.max(axis=axis, keepdims=True)).all()


@untimed
@given(
    scores_and_axis(),
    st.floats(-1e3, 1e3, allow_subnormal=False),
)
def test_softmax_is_shift_invariant(case: tuple[np.ndarray, int], shift: float) -> None:
    x, axis = case
    c = x.dtype.type(shift)
    shifted = x + c
    # Rounding x + c moves each score by up to eps/2 |x + c|, so the differences that
    # softmax sees move by up to E = eps max|x + c|; the weights then change by a
    # factor within exp(+-E), i.e. by at most about E (they are <= 1), plus the
    # softmax's own rounding on both sides.
    e = eps(x.dtype) * float(np.abs(shifted).max())
    atol = 2 * e + 2 * sum_atol(x, axis)
    np.testing.assert_allclose(softmax(shifted, axis=axis), softmax(x, axis=axis), atol=atol)


@untimed
@given(
    hnp.arrays(np.float64, hnp.array_shapes(max_dims=2), elements=st.integers(-1000, 1000)),
    st.integers(-(2**20), 2**20),
)
def test_softmax_exact_shift_gives_identical_weights(x: np.ndarray, shift: int) -> None:
    # Integer-valued floats below 2**53: x + c is exact, so the shifted scores minus
    # their maximum are exactly the same numbers and the weights bit for bit equal.
    assert np.array_equal(softmax(x + shift), softmax(x))


@st.composite
def masked_scores(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """1-D scores and a mask (True = masked out) that leaves at least one entry."""
    dtype = draw(st.sampled_from(DTYPES))
    n = draw(st.integers(1, 10))
    x = draw(hnp.arrays(dtype, n, elements=floats_of(dtype, 50.0)))
    mask = draw(hnp.arrays(np.bool_, n))
    mask[draw(st.integers(0, n - 1))] = False
    return x, mask


@untimed
@given(masked_scores())
def test_minus_inf_gets_exactly_zero(case: tuple[np.ndarray, np.ndarray]) -> None:
    x, mask = case
    masked = np.where(mask, -np.inf, x).astype(x.dtype)
    weights = softmax(masked)
    assert (weights[mask] == 0).all()  # exactly, not approximately
    # The rest is the softmax of the unmasked scores alone, as if the others were absent.
    np.testing.assert_allclose(weights[~mask], softmax(x[~mask]), rtol=0, atol=2 * sum_atol(x, -1))


@untimed
@given(masked_scores())
def test_naive_softmax_also_masks_and_agrees_on_small_scores(
    case: tuple[np.ndarray, np.ndarray],
) -> None:
    x, mask = case  # |x| <= 50: e^50 is far from overflow in both dtypes
    masked = np.where(mask, -np.inf, x).astype(x.dtype)
    naive = softmax_naive(masked)
    assert (naive[mask] == 0).all()
    # Without the shift a weight can be e^-100 / e^50 relative to the sum: compare
    # absolutely, with a few roundings of numbers <= 1.
    np.testing.assert_allclose(naive, softmax(masked), rtol=0, atol=2 * sum_atol(x, -1))


@untimed
@given(scores_and_axis())
def test_normalize_sum_slices_sum_to_one(case: tuple[np.ndarray, int]) -> None:
    x, axis = case
    x = np.abs(x) + 1  # positive, so no slice sums to 0 (or nearly, which is ill-posed)
    totals = normalize_sum(x, axis=axis).sum(axis=axis, dtype=np.float64)
    np.testing.assert_allclose(totals, 1.0, rtol=0, atol=sum_atol(x, axis))


# Steps 1 to 3: context vectors -------------------------------------------------------


@untimed
@given(embeddings())
def test_context_vectors_lie_in_the_bounding_box_of_the_inputs(x: np.ndarray) -> None:
    # A context vector is a convex combination of the inputs, so each coordinate lies
    # between the smallest and largest of that coordinate over the tokens. The weighted
    # sum of N terms, then the division, round by at most (N + 2) eps relative to M.
    n = x.shape[-2]
    slack = 2 * (n + 2) * eps(x.dtype) * float(np.abs(x).max())
    low = x.min(axis=-2, keepdims=True) - slack
    high = x.max(axis=-2, keepdims=True) + slack
    for context in (context_vectors(x), context_vectors_loop(x)):
        assert (context >= low).all()
        assert (context <= high).all()


@untimed
@given(embeddings(), st.randoms(use_true_random=False))
def test_permuting_tokens_permutes_context_vectors(x: np.ndarray, random) -> None:
    n = x.shape[-2]
    order = list(range(n))
    random.shuffle(order)
    assert_close_contexts(context_vectors(x[..., order, :]), context_vectors(x)[..., order, :], x)


@untimed
@given(embeddings())
def test_loop_form_equals_matrix_form(x: np.ndarray) -> None:
    assert_close_contexts(context_vectors_loop(x), context_vectors(x), x)


@untimed
@given(embeddings(max_batch_axes=0), st.data())
def test_context_vector_is_a_row_of_context_vectors(x: np.ndarray, data: st.DataObject) -> None:
    n = x.shape[0]
    i = data.draw(st.integers(-n, n - 1), label="query")
    assert_close_contexts(context_vector(x, i), context_vectors(x)[i], x)
    assert_close_contexts(context_vector(x, x[i]), context_vectors(x)[i], x)


@untimed
@given(embeddings(max_batch_axes=0), st.integers(1, 4))
def test_batched_equals_one_at_a_time(x: np.ndarray, copies: int) -> None:
    # A batch of different sequences: x scaled differently in each.
    batch = np.stack([x * x.dtype.type(0.5**b) for b in range(copies)])  # (B, N, D), exact
    together = context_vectors(batch)
    together_loop = context_vectors_loop(batch)
    together_scores = attention_scores(batch)
    together_query = context_vector(batch, -1)
    for b in range(copies):
        assert_close_contexts(together[b], context_vectors(batch[b]), x)
        assert_close_contexts(together_loop[b], context_vectors_loop(batch[b]), x)
        assert_close_contexts(together_query[b], context_vector(batch[b], -1), x)
        # One dot product per entry, D terms: rounding can differ by the summation order.
        size = np.abs(batch[b])
        atol = 2 * x.shape[-1] * eps(x.dtype) * float((size @ size.T).max())
        np.testing.assert_allclose(
            together_scores[b], attention_scores(batch[b]), rtol=0, atol=atol
        )


@untimed
@given(embeddings())
def test_weights_of_each_query_sum_to_one(x: np.ndarray) -> None:
    weights = attention_weights(attention_scores(x))
    assert weights.shape == (*x.shape[:-1], x.shape[-2])
    assert ((weights >= 0) & (weights <= 1)).all()
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=0, atol=sum_atol(weights, -1))


@untimed
@given(embeddings())
def test_every_public_function_keeps_the_float_dtype_and_shape(x: np.ndarray) -> None:
    *batch, n, d = x.shape
    assert attention_scores(x).dtype == x.dtype
    assert attention_scores(x, 0).shape == (*batch, n)
    assert attention_scores(x, 0).dtype == x.dtype
    assert context_vector(x, 0).shape == (*batch, d)
    assert context_vector(x, 0).dtype == x.dtype
    for function in (context_vectors, context_vectors_loop):
        result = function(x)
        assert result.shape == x.shape
        assert result.dtype == x.dtype


@untimed
@given(embeddings())
def test_no_public_function_mutates_its_input(x: np.ndarray) -> None:
    before = x.copy()
    attention_scores(x)
    attention_scores(x, -1)
    context_vector(x, 0)
    context_vectors(x)
    context_vectors_loop(x)
    scores = attention_scores(x)
    scores_before = scores.copy()
    for function in (softmax, softmax_naive, attention_weights):
        with np.errstate(over="ignore", invalid="ignore"):  # softmax_naive may overflow
            function(scores)
    assert np.array_equal(x, before)
    assert np.array_equal(scores, scores_before)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int64, np.uint8])
@untimed
@given(data=st.data())
def test_integer_inputs_become_float64(dtype: type, data: st.DataObject) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=3, max_side=5))
    x = data.draw(hnp.arrays(dtype, shape, elements=st.integers(0, 3)))
    assert context_vectors(x).dtype == np.float64
    np.testing.assert_array_equal(context_vectors(x), context_vectors(x.astype(np.float64)))
