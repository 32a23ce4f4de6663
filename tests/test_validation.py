"""Bad input gets a clear error: the right type, naming the argument and what it got.

Every public function is tried with every kind of bad input the issue lists. Each
case checks the exception type and, with ``match``, that the message names the
argument and shows the offending value or shape.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attention_ref._online as online
from attention_ref import (
    MultiHeadAttention,
    _validate,
    attention_scores,
    attention_weights,
    context_vector,
    context_vectors,
    context_vectors_loop,
    normalize_sum,
    softmax,
    softmax_naive,
    trainable,
)
from attention_ref.examples import INPUTS

# Functions of `inputs` alone (the query, where needed, is a valid index).
ON_INPUTS = {
    "attention_scores": attention_scores,
    "attention_scores(query=0)": lambda x: attention_scores(x, 0),
    "context_vector(query=0)": lambda x: context_vector(x, 0),
    "context_vectors": context_vectors,
    "context_vectors_loop": context_vectors_loop,
}

# Functions of `x` (scores to normalise).
ON_SCORES = {
    "softmax": softmax,
    "softmax_naive": softmax_naive,
    "normalize_sum": normalize_sum,
}

# Functions of a query, on the worked example's inputs (6 tokens, D = 3).
ON_QUERY = {
    "attention_scores": lambda q: attention_scores(INPUTS, q),
    "context_vector": lambda q: context_vector(INPUTS, q),
}


def bad(case_id: str, value: object, error: type[Exception], message: str) -> object:
    """One bad-input case: the value, the exception it raises, a regex of its message."""
    return pytest.param(value, error, message, id=case_id)


NOT_N_BY_D = r"inputs must have shape \(N, D\) or \(\.\.\., N, D\) with N >= 1 and D >= 1"
NOT_REAL = "inputs must contain real numbers"
RAGGED = "inputs must be a rectangular array; got ragged"
NOT_FINITE = "inputs must contain only finite numbers"

BAD_INPUTS = [
    # Empty: N = 0, D = 0, or an empty batch.
    bad("N=0", np.zeros((0, 3)), ValueError, NOT_N_BY_D + r".*got shape \(0, 3\)"),
    bad("D=0", np.zeros((3, 0)), ValueError, NOT_N_BY_D + r".*got shape \(3, 0\)"),
    bad("[[]]", [[]], ValueError, NOT_N_BY_D + r".*got shape \(1, 0\)"),
    bad("batch-N=0", np.zeros((2, 0, 3)), ValueError, NOT_N_BY_D + r".*got shape \(2, 0, 3\)"),
    bad("empty-batch", np.zeros((0, 2, 3)), ValueError, r"not be empty; got shape \(0, 2, 3\)"),
    # Fewer than 2 dimensions.
    bad("[]", [], ValueError, NOT_N_BY_D + r".*got shape \(0,\)"),
    bad("scalar", 1.5, ValueError, NOT_N_BY_D + r".*got shape \(\)"),
    bad("1-D", [1.0, 2.0, 3.0], ValueError, NOT_N_BY_D + r".*got shape \(3,\)"),
    # Ragged nested lists.
    bad("ragged", [[1.0, 2.0], [3.0]], ValueError, RAGGED),
    bad("ragged-mixed", [[1.0, 2.0], 3.0], ValueError, RAGGED),
    bad("ragged-3d", [[[1.0, 2.0]], [[1.0, 2.0], [3.0, 4.0]]], ValueError, RAGGED),
    # Not real numbers.
    bad("None", None, TypeError, "inputs must be an array of real numbers; got None"),
    bad("strings", [["a", "b"]], TypeError, NOT_REAL + ".*got strings"),
    bad("str", "journey", TypeError, NOT_REAL + ".*got strings"),
    bad("bytes", [[b"a"]], TypeError, NOT_REAL + ".*got bytes"),
    bad("complex", [[1 + 2j, 0j]], TypeError, NOT_REAL + ".*got complex numbers"),
    bad("bool", [[True, False]], TypeError, NOT_REAL + ".*got booleans"),
    bad("None-inside", [[1.0, None]], TypeError, NOT_REAL + ".*got Python objects"),
    bad("object", np.array([[1.0]], dtype=object), TypeError, NOT_REAL + ".*Python objects"),
    # NaN and infinity, with where they are.
    bad("nan", [[1.0, np.nan]], ValueError, NOT_FINITE + r"; got nan at index \(0, 1\)"),
    bad(
        "inf", [[1.0, 2.0], [np.inf, 0.0]], ValueError, NOT_FINITE + r"; got inf at index \(1, 0\)"
    ),
    bad("-inf", [[-np.inf, 2.0]], ValueError, NOT_FINITE + r"; got -inf at index \(0, 0\)"),
    bad(
        "nan-batch-float32",
        np.array([[[1.0]], [[np.nan]]], dtype=np.float32),
        ValueError,
        NOT_FINITE + r"; got nan at index \(1, 0, 0\)",
    ),
]


@pytest.mark.parametrize("function", ON_INPUTS.values(), ids=ON_INPUTS.keys())
@pytest.mark.parametrize(("inputs", "error", "message"), BAD_INPUTS)
def test_bad_inputs(function, inputs, error, message) -> None:
    with pytest.raises(error, match=message):
        function(inputs)


@pytest.mark.parametrize(
    "function",
    [attention_scores, lambda x: attention_scores(x, 0), context_vectors],
    ids=["attention_scores", "attention_scores(query=0)", "context_vectors"],
)
@pytest.mark.parametrize(
    ("inputs", "dtype"),
    [
        ([[1e200, 1e200]], "float64"),
        ([[1e154, 1e154], [1.0, 2.0]], "float64"),  # 2e308 > float64 max
        (np.array([[1e20, 1.0]], dtype=np.float32), "float32"),
    ],
)
def test_overflowing_inputs(function, inputs, dtype) -> None:
    with pytest.raises(ValueError, match=rf"inputs are too large: a dot product overflows {dtype}"):
        function(inputs)


def test_overflowing_inputs_in_context_vector() -> None:
    with pytest.raises(ValueError, match="inputs are too large"):
        context_vector([[1e200, 1e200]], 0)


def test_overflow_message_shows_the_largest_input() -> None:
    with pytest.raises(ValueError, match=r"largest \|inputs\| is 1e\+200"):
        context_vectors([[1e200, 1.0]])


# Queries --------------------------------------------------------------------------

WRONG_SHAPE = r"query must be a token index or a vector of shape \(3,\)"
NOT_INDEX = r"query must be a token index \(int\)"

BAD_QUERIES = [
    # Out of range, with the range it needs.
    bad(
        "6", 6, IndexError, r"query index 6 is out of range for 6 token\(s\); needs -6 <= query < 6"
    ),
    bad("-7", -7, IndexError, r"query index -7 is out of range for 6 token\(s\)"),
    bad("np.int64", np.int64(100), IndexError, "query index 100 is out of range"),
    bad("0-d-int-array", np.array(7), IndexError, "query index 7 is out of range"),
    # Not an integer.
    bad("1.0", 1.0, TypeError, NOT_INDEX + r".*got float 1\.0"),
    bad("1.5", 1.5, TypeError, NOT_INDEX + r".*got float 1\.5"),
    bad("np.float64", np.float64(1.0), TypeError, NOT_INDEX + r".*1\.0"),
    bad("True", True, TypeError, NOT_INDEX + " or a vector of length D; got bool True"),
    bad("np.bool_", np.bool_(False), TypeError, NOT_INDEX + ".*False"),
    bad("token-name", "journey", TypeError, "query must contain real numbers.*got strings"),
    bad("object", object(), TypeError, "query must contain real numbers.*Python objects"),
    bad("complex", [1j, 0, 0], TypeError, "query must contain real numbers.*complex"),
    bad("bool-vector", [True, False, True], TypeError, "query must contain real numbers.*booleans"),
    # A vector of the wrong length or shape.
    bad(
        "length-2",
        [1.0, 2.0],
        ValueError,
        WRONG_SHAPE + r" to match inputs of shape \(6, 3\); got shape \(2,\)",
    ),
    bad("length-4", [1.0, 2.0, 3.0, 4.0], ValueError, WRONG_SHAPE + r".*got shape \(4,\)"),
    bad("empty", [], ValueError, WRONG_SHAPE + r".*got shape \(0,\)"),
    bad("2-D", [[1.0, 2.0, 3.0]], ValueError, WRONG_SHAPE + r".*got shape \(1, 3\)"),
    bad("ragged", [[1.0, 2.0], [3.0]], ValueError, "query must be a rectangular array"),
    # NaN or infinity in a query vector.
    bad("nan", [1.0, np.nan, 0.0], ValueError, r"query must .*finite.*got nan at index \(1,\)"),
    bad("-inf", [0.0, 0.0, -np.inf], ValueError, r"query must .*finite.*got -inf at index \(2,\)"),
]


@pytest.mark.parametrize("function", ON_QUERY.values(), ids=ON_QUERY.keys())
@pytest.mark.parametrize(("query", "error", "message"), BAD_QUERIES)
def test_bad_queries(function, query, error, message) -> None:
    with pytest.raises(error, match=message):
        function(query)


def test_query_index_range_follows_the_batch_shape() -> None:
    x = np.ones((4, 2, 3))  # 4 sequences of 2 tokens
    with pytest.raises(IndexError, match=r"query index 2 is out of range for 2 token\(s\)"):
        context_vector(x, 2)


def test_context_vector_needs_a_query() -> None:
    with pytest.raises(TypeError, match=r"query .*got None"):
        context_vector(INPUTS, None)


def test_overflowing_query_vector_is_named() -> None:
    with pytest.raises(ValueError, match=r"\bquery\b"):
        attention_scores(INPUTS, [1e308, 1e308, 1e308])


# Scores to normalise --------------------------------------------------------------

BAD_SCORES = [
    bad("None", None, TypeError, "x must be an array of real numbers; got None"),
    bad("scalar", 1.0, ValueError, r"x must have at least 1 dimension.*got a scalar 1\.0"),
    bad("[]", [], ValueError, r"x must have at least one entry along axis 0; got shape \(0,\)"),
    bad(
        "[[]]", [[]], ValueError, r"x must have at least one entry along axis 1; got shape \(1, 0\)"
    ),
    bad("empty-batch", np.zeros((0, 3)), ValueError, r"x must not be empty; got shape \(0, 3\)"),
    bad("ragged", [[1.0], [2.0, 3.0]], ValueError, "x must be a rectangular array; got ragged"),
    bad("strings", ["1", "2"], TypeError, "x must contain real numbers.*got strings"),
    bad("complex", [1j, 2.0], TypeError, "x must contain real numbers.*got complex"),
    bad("bool", [True, False], TypeError, "x must contain real numbers.*got booleans"),
    bad("object", [1.0, None], TypeError, "x must contain real numbers.*got Python objects"),
    bad("nan", [1.0, np.nan], ValueError, r"x must contain only finite .*got nan at index \(1,\)"),
    bad(
        "+inf",
        [[0.0], [np.inf]],
        ValueError,
        r"x must contain only finite .*got inf at index \(1, 0\)",
    ),
]


@pytest.mark.parametrize("function", ON_SCORES.values(), ids=ON_SCORES.keys())
@pytest.mark.parametrize(("x", "error", "message"), BAD_SCORES)
def test_bad_scores(function, x, error, message) -> None:
    with pytest.raises(error, match=message):
        function(x)


@pytest.mark.parametrize(
    ("x", "axis", "where"),
    [
        ([-np.inf, -np.inf], -1, r"x\[:\] has no finite entry along axis 0"),
        ([[0.0, 1.0], [-np.inf, -np.inf]], -1, r"x\[1, :\] has no finite entry along axis 1"),
        ([[-np.inf, 0.0], [-np.inf, 1.0]], 0, r"x\[:, 0\] has no finite entry along axis 0"),
        (np.full((2, 3, 4), -np.inf), -1, r"x\[0, 0, :\] has no finite entry along axis 2"),
    ],
)
def test_softmax_all_minus_inf_slice(x, axis, where) -> None:
    with pytest.raises(ValueError, match=where + r" \(all -inf\)"):
        softmax(x, axis=axis)


def test_softmax_allows_minus_inf_but_normalize_sum_does_not() -> None:
    softmax([0.0, -np.inf])  # a masked score: fine
    with pytest.raises(ValueError, match=r"x must contain only finite numbers; got -inf"):
        normalize_sum([1.0, -np.inf])


@pytest.mark.parametrize(
    ("x", "where"),
    [
        ([1.0, -1.0], r"x sums to 0 along axis 0 at index \(0,\)"),
        ([[1.0, 2.0], [0.5, -0.5]], r"x sums to 0 along axis 1 at index \(1, 0\)"),
        ([0.0, 0.0], r"x sums to 0 along axis 0"),
    ],
)
def test_normalize_sum_zero_sum(x, where) -> None:
    with pytest.raises(ValueError, match=where + ".*cannot divide by 0"):
        normalize_sum(x)


@pytest.mark.parametrize("function", [*ON_SCORES.values(), attention_weights])
@pytest.mark.parametrize(
    ("axis", "error", "message"),
    [
        (2, ValueError, r"axis 2 is out of range for (x|scores) with 2 dimension\(s\); needs -2"),
        (-3, ValueError, r"axis -3 is out of range .*needs -2 <= axis < 2"),
        (1.0, TypeError, r"axis must be an integer; got float 1\.0"),
        (None, TypeError, "axis must be an integer; got NoneType None"),
        ("0", TypeError, "axis must be an integer; got str '0'"),
        (True, TypeError, "axis must be an integer; got bool True"),
    ],
)
def test_bad_axis(function, axis, error, message) -> None:
    with pytest.raises(error, match=message):
        function([[1.0, 2.0], [3.0, 4.0]], axis=axis)


def test_numpy_integer_axis_is_fine() -> None:
    assert np.array_equal(softmax([[1.0, 1.0]], axis=np.int64(0)), [[1.0, 1.0]])


def test_attention_weights_names_its_argument() -> None:
    with pytest.raises(ValueError, match=r"\bscores\b.*got nan"):
        attention_weights([1.0, np.nan])


def test_errors_are_raised_before_any_numpy_warning() -> None:
    # filterwarnings = error: a RuntimeWarning from numpy would fail this test first.
    with pytest.raises(ValueError, match="inputs must contain only finite numbers; got nan"):
        context_vectors([[np.nan, 1e308]])
    with pytest.raises(ValueError, match="inputs are too large"):
        context_vectors([[1e200, 1e200]])


def test_overflowing_inputs_in_the_loop_form() -> None:
    with pytest.raises(ValueError, match="inputs are too large"):
        context_vectors_loop([[1e200, 1e200]])


# --- products proved finite without a look at them ---------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    dtype=st.sampled_from([np.float32, np.float64]),
    size=st.floats(0.0, 1.0),
    scale=st.floats(0.0, 0.99),
    seed=st.integers(0, 2**16),
)
def test_a_product_proved_finite_is_finite(
    dtype: type, size: float, scale: float, seed: int
) -> None:
    # Entries and a scale that make scale * a @ b about 10^((size / 2 + scale) * 308)
    # in float64 (38 in float32): either side of overflowing. Where Cauchy-Schwarz
    # says finite, the product is.
    rng = np.random.default_rng(seed)
    digits = np.log10(float(np.finfo(dtype).max))
    a = (rng.standard_normal((300, 16)) * 10 ** (size * digits / 4)).astype(dtype)
    b = (rng.standard_normal((16, 300)) * 10 ** (size * digits / 4)).astype(dtype)
    factor = float(10 ** (scale * digits))
    product = _validate.unchecked_matmul(a, b, factor)
    if _validate.provably_finite(a, b, product, factor):
        assert np.all(np.isfinite(product))


def test_proved_finite_only_when_large_and_bounded() -> None:
    a = np.ones((300, 16))
    assert _validate.provably_finite(a, a.T, a @ a.T)  # 90,000 entries of 16
    assert not _validate.provably_finite(a[:10], a.T, a[:10] @ a.T)  # small: look instead
    big = a * 1e154  # each product entry 1.6e309: overflows
    with np.errstate(over="ignore"):
        assert not _validate.provably_finite(big, big.T, big @ big.T)
    with pytest.raises(ValueError, match="too large together: a dot product overflows"):
        _validate.checked_matmul(big, big.T, "a dot product", {"x": big, "y": big})


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_inputs_with_norm_name_the_bad_entry_as_inputs_does(bad: float) -> None:
    x = np.ones((70, 80))  # more than 4096 entries: the cheap test first
    x[3, 5] = bad
    message = r"query must contain only finite numbers; got .* at index \(3, 5\)"
    with pytest.raises(ValueError, match=message) as plain:
        _validate.as_inputs(x, "query")
    with pytest.raises(ValueError, match=message) as with_norm:
        _validate.as_inputs_with_norm(x, "query")
    assert str(with_norm.value) == str(plain.value)


def test_inputs_with_norm_give_the_longest_row() -> None:
    x = np.arange(12.0).reshape(4, 3)
    checked, norm = _validate.as_inputs_with_norm(x)
    assert checked is not None
    assert norm == pytest.approx(np.linalg.norm(x, axis=1).max(), rel=1e-15)
    huge = np.full((2, 3), 1e200)  # finite, but the squares overflow: no error, norm inf
    assert _validate.as_inputs_with_norm(huge)[1] == np.inf


def test_row_and_column_norms() -> None:
    a = np.arange(12.0).reshape(3, 4)
    assert _validate.largest_row_norm(a) == pytest.approx(np.linalg.norm(a, axis=1).max())
    assert _validate.largest_column_norm(a) == pytest.approx(np.linalg.norm(a, axis=0).max())
    # Given norms are trusted: too small ones would prove an overflow finite.
    big = np.full((300, 16), 1e200)
    with np.errstate(over="ignore"):
        product = big @ big.T
    assert not _validate.provably_finite(big, big.T, product)
    assert _validate.provably_finite(big, big.T, product, norms=(1.0, 1.0))


@settings(max_examples=40, deadline=None)
@given(
    heads=st.sampled_from([1, 2, 4]),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**16),
    causal=st.booleans(),
    spread=st.floats(0.1, 30.0),
)
def test_merged_heads_are_no_longer_than_their_bound(heads, n, seed, causal, spread) -> None:
    # MultiHeadAttention skips the output projection's overflow check on this bound:
    # each head's context vector is a weighted mean of its values.
    module = MultiHeadAttention.random(8, 8, heads, seed=seed, causal=causal)
    x = np.random.default_rng(seed).standard_normal((2, n, 8)) * spread
    checked, norm = _validate.as_inputs_with_norm(x)
    merged, _, bound = module._heads(checked, norm, heads, None, False)
    assert np.linalg.norm(merged, axis=-1).max() <= bound * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(
    heads=st.sampled_from([1, 2, 4]),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**16),
    spread=st.floats(0.01, 100.0),
    weights_exponent=st.integers(-300, 300),
)
def test_head_norms_bound_the_heads_rows(heads, n, seed, spread, weights_exponent) -> None:
    # Large calls trust these bounds instead of measuring the heads' rows; weights of
    # any size, from subnormal squares to squares beyond float64, get a true bound.
    module = MultiHeadAttention.random(8, 8, heads, seed=seed)
    factor = 10.0**weights_exponent
    weights = (factor * w for w in (module.W_query, module.W_key, module.W_value))
    module = MultiHeadAttention(heads, *weights, module.W_out)
    x = np.random.default_rng(seed).standard_normal((2, n, 8)) * spread
    checked, norm = _validate.as_inputs_with_norm(x)
    head_norms = module._head_norms(heads)
    assert all(0 < h < np.inf for h in head_norms)
    for part, head_norm in zip(module.project(checked), head_norms, strict=True):
        # Measured on the rows divided by the factor: their squares stay finite.
        unscaled = _validate.largest_row_norm(trainable._split_heads(part / factor, heads))
        assert unscaled * factor <= norm * head_norm * (1 + 1e-12)


def test_head_norms_beyond_float64_are_no_bound() -> None:
    module = MultiHeadAttention.random(8, 8, 2, seed=0)
    huge = np.full((8, 8), np.finfo(np.float64).max)
    module = MultiHeadAttention(2, huge, module.W_key, module.W_value, module.W_out)
    assert module._head_norms(2)[0] == np.inf
    assert module._head_norms(2)[1] < np.inf


def test_head_norms_of_float32_weights() -> None:
    module = MultiHeadAttention.random(8, 8, 2, seed=0, dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((3, 6, 8)).astype(np.float32)
    checked, norm = _validate.as_inputs_with_norm(x)
    for part, head_norm in zip(module.project(checked), module._head_norms(2), strict=True):
        longest = _validate.largest_row_norm(trainable._split_heads(part, 2))
        assert longest <= norm * head_norm * (1 + 1e-5)  # float32 projections' rounding


def test_huge_weights_with_the_heads_bound_name_the_overflow(monkeypatch) -> None:
    monkeypatch.setattr(trainable, "BOUND_MIN_ENTRIES", 0)
    module = MultiHeadAttention.random(16, 16, 4, seed=1)
    w_q, w_k = module.W_query * 1e200, module.W_key * 1e200  # scores of about 1e400
    module = MultiHeadAttention(4, w_q, w_k, module.W_value, module.W_out)
    x = np.random.default_rng(0).standard_normal((2, 5, 16))
    with pytest.raises(ValueError, match="overflow"):
        module(x)


@pytest.mark.parametrize("weights_scale", [1.0, 1e3])
def test_the_heads_bound_changes_no_bit(monkeypatch, weights_scale) -> None:
    # With the bound (here for every size) or without it, the same computation; weights
    # so large that the bound cannot prove exp safe are measured as before.
    module = MultiHeadAttention.random(16, 16, 4, seed=1)
    module = MultiHeadAttention(
        4,
        *(weights_scale * w for w in (module.W_query, module.W_key, module.W_value)),
        module.W_out,
    )
    x = np.random.default_rng(2).standard_normal((3, 10, 16)) / 4
    measured_rows = []  # the arrays make_problem measures the rows of
    largest_row_norm = online.largest_row_norm
    monkeypatch.setattr(
        online,
        "largest_row_norm",
        lambda a: measured_rows.append(a.shape) or largest_row_norm(a),
    )
    monkeypatch.setattr(trainable, "BOUND_MIN_ENTRIES", 10**12)
    measured = module(x)
    assert len(measured_rows) == 3  # no bound offered: q, k and v measured
    monkeypatch.setattr(trainable, "BOUND_MIN_ENTRIES", 0)
    bounded = module(x)
    np.testing.assert_array_equal(bounded, measured)
    # The bound proves exp safe, or, too loose for that, the rows are measured again.
    assert len(measured_rows) == (6 if weights_scale > 1 else 3)
