"""Unit tests for step 2: softmax, softmax_naive and normalize_sum."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attention_ref import attention_weights, normalize_sum, softmax, softmax_naive

NORMALISERS = [softmax, softmax_naive, normalize_sum]


def reference_softmax(values: list[float]) -> list[float]:
    """Softmax in plain Python floats, straight from the formula (small inputs only)."""
    exps = [math.exp(v) for v in values]
    return [e / math.fsum(exps) for e in exps]


# Softmax of float64 numbers: a few roundings (exp, sum, divide), so a few ulp.
F64 = {"rtol": 4 * np.finfo(np.float64).eps, "atol": 0}


def test_softmax_matches_the_formula() -> None:
    scores = [0.9544, 1.495, 1.4754, 0.8434, 0.707, 1.0865]
    np.testing.assert_allclose(softmax(scores), reference_softmax(scores), **F64)


def test_softmax_of_equal_scores_is_uniform() -> None:
    assert np.array_equal(softmax([2.0, 2.0, 2.0, 2.0]), [0.25, 0.25, 0.25, 0.25])


def test_softmax_of_one_score_is_one() -> None:
    assert np.array_equal(softmax([-123.0]), [1.0])


def test_softmax_known_ratio() -> None:
    # Scores 0 and log(3) give weights 1/4 and 3/4: e^0 : e^log 3 = 1 : 3.
    np.testing.assert_allclose(softmax([0.0, np.log(3.0)]), [0.25, 0.75], **F64)


def test_softmax_only_differences_matter_for_huge_scores() -> None:
    small = softmax([1.0, 2.0, 3.0])
    # 1000, 1001, 1002 are exact in float64 and their differences are exactly 1, 2.
    assert np.array_equal(softmax([1000.0, 1001.0, 1002.0]), small)
    assert np.array_equal(softmax([-1000.0, -999.0, -998.0]), small)


def test_softmax_pushes_the_largest_score_forward() -> None:
    scores = np.array([1.0, 2.0, 3.0, 4.0])
    assert softmax(scores)[-1] > normalize_sum(scores)[-1]


def test_softmax_minus_inf_gets_exactly_zero() -> None:
    weights = softmax([1.0, -np.inf, 1.0, -np.inf])
    assert np.array_equal(weights, [0.5, 0.0, 0.5, 0.0])


def test_softmax_only_one_unmasked_entry_gets_everything() -> None:
    assert np.array_equal(softmax([-np.inf, -5.0, -np.inf]), [0.0, 1.0, 0.0])


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_softmax_axis_sums_to_one_along_that_axis(axis: int) -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(4, 5))
    weights = softmax(scores, axis=axis)
    np.testing.assert_allclose(weights.sum(axis=axis), 1.0, rtol=0, atol=8e-16)
    # Each slice along `axis` equals the 1-D softmax of that slice.
    expected = np.apply_along_axis(softmax, axis, scores)
    assert np.array_equal(weights, expected)


def test_softmax_axis_0_of_a_symmetric_matrix_is_the_transpose_of_axis_1() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 3))
    scores = x @ x.T  # symmetric
    scores = (scores + scores.T) / 2  # exactly symmetric in floating point, too
    assert np.array_equal(softmax(scores, axis=0), softmax(scores, axis=1).T)


def test_softmax_works_on_leading_batch_axes() -> None:
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(2, 3, 4))
    weights = softmax(scores)
    for index in np.ndindex(2, 3):
        assert np.array_equal(weights[index], softmax(scores[index]))


def test_softmax_weights_are_in_0_1_even_for_extreme_spreads() -> None:
    weights = softmax([0.0, 700.0, -700.0, 1e10])
    assert np.array_equal(weights, [0.0, 0.0, 0.0, 1.0])


def test_softmax_spread_beyond_the_float_range_does_not_warn() -> None:
    # filterwarnings = error turns numpy's RuntimeWarning into a failure.
    assert np.array_equal(softmax([1e308, -1e308]), [1.0, 0.0])


def test_softmax_float32_spread_beyond_the_float_range_does_not_warn() -> None:
    scores = np.array([3e38, -3e38], dtype=np.float32)
    assert np.array_equal(softmax(scores), np.array([1.0, 0.0], dtype=np.float32))


@pytest.mark.parametrize("function", NORMALISERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_dtype_is_kept(function, dtype) -> None:
    assert function(np.array([1.0, 2.0, 3.0], dtype=dtype)).dtype == dtype


@pytest.mark.parametrize("function", NORMALISERS)
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16])
def test_integers_become_float64(function, dtype) -> None:
    assert function(np.array([1, 2, 3], dtype=dtype)).dtype == np.float64


@pytest.mark.parametrize("function", NORMALISERS)
@pytest.mark.parametrize("dtype", [np.float16, np.longdouble])
def test_other_float_types_are_refused_not_silently_widened(function, dtype) -> None:
    # float16 used to become float64 silently. Computing in float16 would give three
    # significant digits and overflow at 65504, so it is refused with the fix.
    if np.dtype(dtype).itemsize == 8:
        pytest.skip("long double is float64 on this platform")
    with pytest.raises(
        TypeError,
        match=rf"x must be float32 or float64 \(integers become float64\); got dtype "
        rf"{np.dtype(dtype)}: convert it first, e\.g\. with \.astype\(numpy\.float32\)",
    ):
        function(np.array([1, 2, 3], dtype=dtype))


@pytest.mark.parametrize("function", NORMALISERS)
@pytest.mark.parametrize("byte_order", [">", "<"])
def test_either_byte_order_is_read_and_comes_out_native(function, byte_order) -> None:
    x = np.array([1.0, 2.0, 3.0], dtype=f"{byte_order}f4")
    result = function(x)
    assert result.dtype == np.float32
    assert result.dtype.isnative
    np.testing.assert_array_equal(result, function(x.astype(np.float32)))


@pytest.mark.parametrize("function", NORMALISERS)
def test_python_lists_of_ints_become_float64(function) -> None:
    result = function([1, 2, 3])
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float64


@pytest.mark.parametrize("function", NORMALISERS)
def test_input_is_not_mutated(function) -> None:
    scores = np.array([[3.0, 1.0, 2.0], [0.5, 0.25, 0.25]])
    before = scores.copy()
    function(scores)
    function(scores, axis=0)
    assert np.array_equal(scores, before)


@pytest.mark.parametrize("function", NORMALISERS)
def test_read_only_input_is_accepted(function) -> None:
    scores = np.array([1.0, 2.0, 3.0])
    scores.flags.writeable = False
    result = function(scores)
    assert result.flags.writeable  # a new array, not a view of the input


def test_attention_weights_is_softmax() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(3, 4))
    assert np.array_equal(attention_weights(scores), softmax(scores))
    assert np.array_equal(attention_weights(scores, axis=0), softmax(scores, axis=0))


# softmax_naive --------------------------------------------------------------------


def test_softmax_naive_agrees_with_softmax_on_small_scores() -> None:
    scores = np.array([[0.9544, 1.495, 1.4754], [-3.0, 0.0, 2.5]])
    np.testing.assert_allclose(softmax_naive(scores), softmax(scores), **F64)


def test_softmax_naive_masks_minus_inf() -> None:
    assert np.array_equal(softmax_naive([0.0, -np.inf, 0.0]), [0.5, 0.0, 0.5])


@pytest.mark.parametrize(
    ("dtype", "large"),
    [(np.float64, 710.0), (np.float32, 89.0)],  # just past log(float max)
)
def test_softmax_naive_really_overflows(dtype, large) -> None:
    scores = np.array([large, large + 1.0, 0.0], dtype=dtype)
    # exp overflows to inf, then inf / inf is nan: numpy warns about both.
    with (
        pytest.warns(RuntimeWarning, match="invalid value"),
        pytest.warns(RuntimeWarning, match="overflow"),
    ):
        weights = softmax_naive(scores)
    assert np.isnan(weights[:2]).all()
    assert weights[2] == 0.0
    # The stable softmax has no trouble with the same scores.
    stable = softmax(scores)
    assert np.isfinite(stable).all()
    assert stable[1] > stable[0] > stable[2]


def test_softmax_naive_just_below_overflow_is_finite() -> None:
    # e^709 is about 8.2e307 < float64 max; one such term does not overflow.
    weights = softmax_naive([709.0, 0.0])
    np.testing.assert_allclose(weights, softmax([709.0, 0.0]), **F64)


# normalize_sum --------------------------------------------------------------------


def test_normalize_sum_divides_by_the_sum() -> None:
    # Sums of quarters are exact in binary floating point.
    assert np.array_equal(normalize_sum([1.0, 1.0, 2.0]), [0.25, 0.25, 0.5])


def test_normalize_sum_gives_negative_weights_for_negative_scores() -> None:
    weights = normalize_sum([-1.0, 2.0, 3.0])
    assert np.array_equal(weights, [-0.25, 0.5, 0.75])
    assert (weights < 0).any()  # what softmax never does


def test_normalize_sum_along_axis_0() -> None:
    scores = np.array([[1.0, 2.0], [3.0, 6.0]])
    assert np.array_equal(normalize_sum(scores, axis=0), [[0.25, 0.25], [0.75, 0.75]])


def test_normalize_sum_does_not_overflow_on_large_entries() -> None:
    # The sum 2e308 overflows float64; dividing by the largest entry first avoids it.
    assert np.array_equal(normalize_sum([1e308, 1e308]), [0.5, 0.5])
    assert np.array_equal(normalize_sum(np.float32([3e38, 3e38])), np.float32([0.5, 0.5]))
