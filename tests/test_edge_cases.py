"""Hostile input that once gave a silent inf or NaN, a wrong name, or a traceback.

Issue 9's cases, each as a class rather than the one example: every public function's
output is finite or an error, the error names the argument the caller passed (not an
internal one), and nothing is silently reinterpreted (float16 widened, a mask or
booleans dropped, a truthy string taken as True). Exact references are computed with
`fractions.Fraction`.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from attention_ref import (
    MultiHeadAttention,
    SelfAttention,
    attention_scores,
    attention_weights,
    context_vector,
    context_vectors,
    context_vectors_backward,
    context_vectors_loop,
    normalize_sum,
    scaled_dot_product_attention,
    softmax,
    softmax_jacobian,
    softmax_vjp,
)
from attention_ref.examples import INPUTS

BIG = float(np.finfo(np.float64).max)
# Any finite float64, subnormals included: the whole range a hostile caller can reach,
# with the edges of the range drawn often.
ANY_FLOAT = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64), st.sampled_from([BIG, -BIG])
)


def assert_finite_or_an_error(call: Callable[[], np.ndarray], phrase: str) -> None:
    """The call returns only finite numbers, or raises a ValueError that says `phrase`."""
    try:
        result = call()
    except ValueError as error:
        message = str(error)
    else:
        assert np.isfinite(result).all(), result
        return
    assert phrase in message, message


# --- 1. normalize_sum: a sum so close to 0 that the quotients overflow -----------------


@pytest.mark.parametrize(
    ("x", "total"),
    [
        (np.array([1.0, -1.0, 1e-310]), "1e-310"),
        (np.array([1, -1, 1e-39], dtype=np.float32), "1e-39"),
        (np.array([[1.0, 2.0, 3.0], [1.0, -1.0, 1e-310]]), "1e-310"),
    ],
    ids=["float64", "float32", "batch"],
)
def test_normalize_sum_refuses_a_sum_too_close_to_zero(x, total) -> None:
    with pytest.raises(
        ValueError,
        match=rf"x sums to {total} along axis \d at index .*normalize_sum cannot divide by 0, "
        "nor by a sum so close to 0 that the weights overflow",
    ):
        normalize_sum(x)


@st.composite
def sums_near_zero(draw: st.DrawFn) -> np.ndarray:
    """[a, -a, t] in some order: a sum of exactly t, from 1e-280 to 1e-330 times a."""
    a = draw(st.floats(-1e300, 1e300).filter(lambda v: abs(v) > 1e-300))
    t = a * 10.0 ** -draw(st.integers(280, 330)) * draw(st.sampled_from([1, -1]))
    return np.array(draw(st.permutations([a, -a, t])))


@settings(max_examples=300, deadline=None)
@given(st.one_of(hnp.arrays(np.float64, st.integers(1, 6), elements=ANY_FLOAT), sums_near_zero()))
def test_normalize_sum_is_finite_or_an_error(x: np.ndarray) -> None:
    assert_finite_or_an_error(lambda: normalize_sum(x), "normalize_sum cannot divide by 0")


# --- 2. context_vectors_backward: an overflowing intermediate --------------------------


def test_backward_names_the_gradient_that_is_too_large() -> None:
    with pytest.raises(
        ValueError,
        match=r"grad_context and inputs are too large together: the gradient overflows "
        r"float64 \(largest \|grad_context\| is 1e\+300, largest \|inputs\| is 2e\+10\); "
        r"scale grad_context down \(the gradient is linear in it\)",
    ):
        context_vectors_backward([[1e10], [2e10]], [[1e300], [1e300]])


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(np.float64, (3, 2), elements=st.floats(-1e100, 1e100)),
    hnp.arrays(np.float64, (3, 2), elements=ANY_FLOAT),
)
def test_backward_is_finite_or_an_error(inputs: np.ndarray, grad: np.ndarray) -> None:
    assert_finite_or_an_error(lambda: context_vectors_backward(inputs, grad), "too large")


# --- 3. softmax_vjp: g - average overflows although the result does not ----------------


def exact_vjp(weights: list[float], grad: list[float]) -> list[float]:
    """p_j (g_j - sum_i g_i p_i) in exact rational arithmetic."""
    p, g = [Fraction(w) for w in weights], [Fraction(v) for v in grad]
    average = sum(gi * pi for gi, pi in zip(g, p, strict=True))
    return [float(pj * (gj - average)) for pj, gj in zip(p, g, strict=True)]


def test_softmax_vjp_near_the_float_range_is_computed_without_overflow() -> None:
    weights, grad = [0.01, 0.99], [1.7e308, -1.7e308]
    result = softmax_vjp(weights, grad)
    assert np.isfinite(result).all()
    # g - average cancels to a fiftieth of g here: a few ulp of g, not of the result.
    np.testing.assert_allclose(result, exact_vjp(weights, grad), rtol=0, atol=1e-14 * 1.7e308)
    assert result[0] == pytest.approx(3.366e306, rel=1e-3)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(2, 6).flatmap(
        lambda k: st.tuples(
            hnp.arrays(np.float64, k, elements=st.floats(-30, 30)),
            hnp.arrays(np.float64, k, elements=ANY_FLOAT),
        )
    )
)
def test_softmax_vjp_is_always_finite_and_accurate(case) -> None:
    # |p_j (g_j - sum p g)| <= max|g| / 2: the result is always representable, so it
    # must always be computed, to about the rounding of its terms.
    scores, grad = case
    weights = softmax(scores)
    result = softmax_vjp(weights, grad)
    assert np.isfinite(result).all()
    scale = float(np.abs(grad).max())
    exact = exact_vjp(list(weights), list(grad))
    # A few ulp of the largest |g|; below 1e-308 rounding is absolute (subnormals).
    np.testing.assert_allclose(result, exact, rtol=0, atol=1e-14 * scale + 1e-320)


# --- 4 and 5. trainable attention: overflow anywhere, and the names in the error -------


def test_self_attention_projection_overflow_names_inputs_and_the_weight() -> None:
    with pytest.raises(
        ValueError,
        match=r"inputs and W_query are too large together: the projection inputs @ W_query "
        r"overflows float64 \(largest \|inputs\| is 1e\+200, largest \|W_query\| is 1e\+200\)",
    ):
        SelfAttention([[1e200]], [[1e200]], [[1e200]])([[1e200]])


def test_multi_head_value_projection_overflow_names_w_value() -> None:
    heads = MultiHeadAttention(1, np.eye(2), np.eye(2), np.full((2, 2), 1e300), np.eye(2))
    with pytest.raises(
        ValueError,
        match=r"inputs and W_value are too large together: the projection inputs @ W_value "
        r"overflows float64 \(largest \|inputs\| is 1e\+10, largest \|W_value\| is 1e\+300\)",
    ):
        heads([[1e10, 1e10]])


def test_scores_overflow_names_inputs_and_both_weights() -> None:
    attention = SelfAttention([[1e150]], [[1e150]], [[1.0]])
    with pytest.raises(
        ValueError,
        match=r"inputs, W_query and W_key are too large together: a dot product overflows",
    ):
        attention([[1e5], [1e5]])  # queries and keys 1e155: finite; their product is not


def test_multi_head_output_projection_overflow_is_an_error_not_nan() -> None:
    heads = MultiHeadAttention(1, np.eye(2), np.eye(2), np.eye(2), np.full((2, 2), 1e300))
    with pytest.raises(
        ValueError,
        match=r"inputs, W_value and W_out are too large together: the output projection "
        r"overflows float64 .*largest \|W_out\| is 1e\+300",
    ):
        heads([[1e9, 2e9], [3e9, 4e9]])  # values ~1e9: finite, times 1e300 they are not


def test_sdpa_values_at_the_edge_of_the_float_range_are_an_error_not_inf() -> None:
    # These weights sum to 1 + 2^-52: the weighted sum of two values at the float
    # maximum rounds past it.
    query = np.array([[0.726, 0.844, 1.165]])
    key = np.array([[0.788, 0.844, 0.076], [-1.427, -0.135, -0.77]])
    # The premise: 0.878... + 0.121... rounds above 1 in the stable softmax, which the
    # kernel uses here (values this large rule out exp without the shift).
    weights = softmax(query @ key.T / np.sqrt(3))
    assert weights.sum() > 1
    with pytest.raises(
        ValueError,
        match=r"value is too large: the weighted sum of the values overflows float64",
    ):
        scaled_dot_product_attention(query, key, np.full((2, 1), BIG))


@pytest.mark.parametrize("model", ["self", "multi-head"])
@settings(max_examples=40, deadline=None)
@given(exponent=st.integers(0, 308), which=st.sampled_from(["inputs", "W_query", "W_value"]))
def test_trainable_attention_output_is_finite_or_an_error(model, exponent, which) -> None:
    # One of the inputs or the weights scaled by 10^exponent, the others O(1).
    factor = 10.0**exponent
    rng = np.random.default_rng(exponent)
    weights = {name: rng.standard_normal((3, 4)) for name in ("W_query", "W_key", "W_value")}
    inputs = INPUTS * factor if which == "inputs" else INPUTS
    if which != "inputs":
        weights[which] = weights[which] * factor
    if model == "self":
        attention: SelfAttention | MultiHeadAttention = SelfAttention(**weights)
    else:
        attention = MultiHeadAttention(2, **weights, W_out=rng.standard_normal((4, 4)) * factor)
    assert_finite_or_an_error(lambda: attention(inputs), "too large")


# --- 6. scale beyond the float range ----------------------------------------------------


@pytest.mark.parametrize("scale", [10**400, Fraction(10**400)], ids=["int", "Fraction"])
def test_scale_beyond_the_float_range_is_named(scale) -> None:
    with pytest.raises(
        ValueError,
        match=r"scale must be a finite number > 0 \(or None for 1/sqrt\(d_k\)\); got "
        r"\w+ beyond the float range",
    ):
        scaled_dot_product_attention(INPUTS, INPUTS, INPUTS, scale=scale)


def test_a_large_scale_is_named_when_it_makes_the_scores_overflow() -> None:
    with pytest.raises(
        ValueError, match=r"query, key and scale are too large together: .*scale is 1\.7e\+308"
    ):
        scaled_dot_product_attention(INPUTS, INPUTS, INPUTS, scale=1.7e308)


# --- Decided and documented: float16, numpy.ma, booleans, flags, dtype ----------------

ON_ARRAYS = {
    "attention_scores": lambda x: attention_scores(x),
    "attention_scores(query=x)": lambda x: attention_scores(np.ones((2, 2)), x),
    "context_vector": lambda x: context_vector(x, 0),
    "context_vectors": context_vectors,
    "context_vectors_loop": context_vectors_loop,
    "softmax": softmax,
    "attention_weights": attention_weights,
    "normalize_sum": normalize_sum,
    "softmax_jacobian": softmax_jacobian,
    "sdpa(value=x)": lambda x: scaled_dot_product_attention(np.ones((2, 2)), np.ones((2, 2)), x),
    "sdpa(mask=x)": lambda x: scaled_dot_product_attention(
        np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), mask=x
    ),
    "SelfAttention(inputs)": lambda x: SelfAttention(np.eye(2), np.eye(2), np.eye(2))(x),
    "SelfAttention(W_value=x)": lambda x: SelfAttention(np.eye(2), np.eye(2), x),
}


@pytest.mark.parametrize("function", ON_ARRAYS.values(), ids=ON_ARRAYS.keys())
def test_float16_is_refused_with_the_way_out(function) -> None:
    with pytest.raises(
        TypeError,
        match=r"must be float32 or float64 \(integers become float64\); got dtype float16: "
        r"convert it first, e\.g\. with \.astype\(numpy\.float32\)",
    ):
        function(np.ones((2, 2), dtype=np.float16))


@pytest.mark.parametrize("function", ON_ARRAYS.values(), ids=ON_ARRAYS.keys())
def test_masked_arrays_are_refused_not_unmasked(function) -> None:
    masked = np.ma.masked_array(np.ones((2, 2)), mask=[[False, True], [False, False]])
    with pytest.raises(
        TypeError,
        match=r"must be a plain array, not a numpy\.ma masked array: its mask would be ignored",
    ):
        function(masked)


@pytest.mark.parametrize("function", ON_ARRAYS.values(), ids=ON_ARRAYS.keys())
@pytest.mark.parametrize(
    "mixed",
    [[[1, True], [0, 1]], [[1.0, 0.0], (np.True_, 2.0)], [np.array([True, False]), [1, 2]]],
    ids=["int-bool", "float-np.bool_", "array-of-bool-in-a-list"],
)
def test_booleans_mixed_with_numbers_are_refused(function, mixed) -> None:
    with pytest.raises(
        TypeError, match=r"mixes booleans with numbers, which numpy would read as 0 and 1"
    ):
        function(mixed)


def test_the_mix_is_refused_in_a_query_vector() -> None:
    with pytest.raises(TypeError, match=r"query mixes booleans with numbers"):
        attention_scores(INPUTS, [1, True, 0])


def test_nesting_deeper_than_numpy_allows_is_not_called_ragged() -> None:
    nested: list = [1.0]
    for _ in range(100):
        nested = [nested]
    with pytest.raises(ValueError, match=r"inputs cannot be read as an array: .*dimension"):
        context_vectors(nested)


def test_a_tensor_that_requires_grad_is_a_clear_type_error(torch: ModuleType) -> None:
    tensor = torch.ones(3, 2, dtype=torch.float64, requires_grad=True)
    with pytest.raises(TypeError, match=r"inputs cannot be read as an array: .*detach"):
        context_vectors(tensor)
    np.testing.assert_array_equal(
        context_vectors(tensor.detach()), context_vectors(np.ones((3, 2)))
    )


FLAG_CALLS = {
    "sdpa": lambda flag: scaled_dot_product_attention(INPUTS, INPUTS, INPUTS, return_weights=flag),
    "SelfAttention": lambda flag: SelfAttention.random(3, 2, seed=0)(INPUTS, return_weights=flag),
    "MultiHeadAttention": lambda flag: MultiHeadAttention.random(3, 2, 2, seed=0)(
        INPUTS, return_weights=flag
    ),
}


@pytest.mark.parametrize("call", FLAG_CALLS.values(), ids=FLAG_CALLS.keys())
@pytest.mark.parametrize("flag", ["no", 0, 1, None, np.array([True])])
def test_return_weights_must_be_a_bool(call, flag) -> None:
    with pytest.raises(TypeError, match=r"return_weights must be True or False; got "):
        call(flag)


@pytest.mark.parametrize("call", FLAG_CALLS.values(), ids=FLAG_CALLS.keys())
def test_return_weights_accepts_numpy_booleans(call) -> None:
    assert isinstance(call(np.True_), tuple)
    assert isinstance(call(np.False_), np.ndarray)


@pytest.mark.parametrize("cls", [SelfAttention, MultiHeadAttention])
@pytest.mark.parametrize("dtype", [np.float32, "float32", np.dtype(np.float32)])
def test_random_weights_in_float32_keep_float32(cls, dtype) -> None:
    args = (3, 4) if cls is SelfAttention else (3, 4, 2)
    model = cls.random(*args, seed=5, dtype=dtype)
    double = cls.random(*args, seed=5)
    assert model.W_query.dtype == np.float32
    assert double.W_query.dtype == np.float64
    # The same draw, rounded: a seed means the same weights in either dtype.
    assert np.array_equal(model.W_value, double.W_value.astype(np.float32))
    output, weights = model(INPUTS.astype(np.float32), return_weights=True)
    assert output.dtype == weights.dtype == np.float32
    np.testing.assert_allclose(output, double(INPUTS), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [SelfAttention, MultiHeadAttention])
@pytest.mark.parametrize("dtype", [np.float16, np.int64, "bogus", bool])
def test_random_weights_refuse_other_dtypes(cls, dtype) -> None:
    args = (3, 4) if cls is SelfAttention else (3, 4, 2)
    with pytest.raises(TypeError, match=r"dtype must be numpy\.float32 or numpy\.float64; got"):
        cls.random(*args, seed=5, dtype=dtype)


def test_python_integers_beyond_64_bits_are_integers_too() -> None:
    # numpy keeps them as Python objects; they become float64 like any integer.
    big = [[2**64, 1], [3, 2**70]]
    np.testing.assert_array_equal(
        context_vectors(big), context_vectors(np.array(big, dtype=np.float64))
    )
    with pytest.raises(
        ValueError,
        match=r"inputs must contain numbers within the float range \(up to 1\.798e\+308\); "
        "got an integer beyond it",
    ):
        context_vectors([[10**400, 1]])
    with pytest.raises(TypeError, match=r"got Python objects"):
        context_vectors(np.array([[1.0, 2**64]], dtype=object))  # not all integers
