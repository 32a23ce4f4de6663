"""Independent implementations agree: scipy.special.softmax and PyTorch CPU.

PyTorch comes from the `torch` fixture (tests/conftest.py): skipped with a reason
locally when it is missing, mandatory in CI. Inputs are random and extreme, float32
and float64, with batch axes, including scores large enough that the naive formula
overflows.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
import scipy.special

from attention_ref import (
    attention_scores,
    attention_weights,
    context_vector,
    context_vectors,
    softmax,
    softmax_naive,
)
from attention_ref.examples import INPUTS

DTYPES = [np.float32, np.float64]


def weights_tolerance(dtype: type) -> dict[str, float]:
    """Two softmax implementations differ by a few ulp per weight.

    Each weight is exp(x - max) / sum: the shift is exact (Sterbenz) or nearly, exp
    is within a couple of ulp in either library (SIMD versions included), and the sum
    and division add a few more, so 8 eps relative. Below the normal range relative
    precision runs out, hence an absolute floor at the smallest normal number.
    """
    info = np.finfo(dtype)
    return {"rtol": 8 * float(info.eps), "atol": 4 * float(info.smallest_normal)}


def score_error(x: np.ndarray) -> float:
    """A bound on the rounding error of any score x_i . x_j, a sum of D products."""
    size = np.abs(x)
    eps = float(np.finfo(x.dtype).eps)
    return x.shape[-1] * eps * float((size @ np.swapaxes(size, -1, -2)).max())


def context_atol(x: np.ndarray) -> float:
    """How far two correct float computations of the context vectors of `x` may differ.

    The bound derived in tests/test_properties.py: a score error of at most E moves
    each weight by a factor within exp(+-2E), so a context vector by about 2 E M
    (M = max|x|); the exponentials and the N-term sum add (N + 4) eps M; two
    computations may err in opposite directions.
    """
    eps = float(np.finfo(x.dtype).eps)
    return 2 * float(np.abs(x).max()) * (2 * score_error(x) + (x.shape[-2] + 4) * eps)


def random_array(shape: tuple[int, ...], scale: float, dtype: type, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(dtype)


# Scores from small to far past exp's overflow (709.8 in float64, 88.7 in float32).
SCALES = [1e-3, 1.0, 30.0, 1e3, 1e6]


# Softmax ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_softmax_matches_scipy(dtype: type, scale: float, axis: int) -> None:
    x = random_array((4, 5, 6), scale, dtype, seed=1)
    # scipy's default axis is None (the whole array): always pass it.
    expected = scipy.special.softmax(x, axis=axis)
    assert expected.dtype == dtype
    np.testing.assert_allclose(softmax(x, axis=axis), expected, **weights_tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_softmax_matches_torch(torch: ModuleType, dtype: type, scale: float, axis: int) -> None:
    x = random_array((4, 5, 6), scale, dtype, seed=2)
    expected = torch.softmax(torch.from_numpy(x), dim=axis).numpy()
    assert expected.dtype == dtype
    np.testing.assert_allclose(softmax(x, axis=axis), expected, **weights_tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_scores_match_torch_and_scipy(torch: ModuleType, dtype: type) -> None:
    rng = np.random.default_rng(3)
    x = random_array((6, 8), 5.0, dtype, seed=3)
    mask = rng.random((6, 8)) < 0.5
    mask[np.arange(6), rng.integers(0, 8, size=6)] = False  # at least one score per row
    masked = np.where(mask, -np.inf, x).astype(dtype)
    ours = softmax(masked)
    assert (ours[mask] == 0).all()
    tolerance = weights_tolerance(dtype)
    np.testing.assert_allclose(ours, scipy.special.softmax(masked, axis=-1), **tolerance)
    np.testing.assert_allclose(
        ours, torch.softmax(torch.from_numpy(masked), -1).numpy(), **tolerance
    )


def test_fully_masked_row_is_an_error_where_torch_gives_nan(torch: ModuleType) -> None:
    # The documented difference: torch.softmax returns NaN silently, we refuse.
    masked = np.array([[0.0, 1.0], [-np.inf, -np.inf]])
    assert np.isnan(torch.softmax(torch.from_numpy(masked), -1).numpy()[1]).all()
    with pytest.raises(ValueError, match=r"x\[1, :\] has no finite entry"):
        softmax(masked)


@pytest.mark.parametrize(
    ("dtype", "scores"),
    [
        (np.float64, [710.0, 711.0, 0.0]),
        (np.float64, [1e300, 1e300 * (1 - 2**-50), -1e300]),
        (np.float32, [89.0, 90.0, -1.0]),
        (np.float32, [3e38, 2e38, 0.0]),
    ],
)
def test_where_the_naive_formula_overflows_all_agree(
    torch: ModuleType, dtype: type, scores: list[float]
) -> None:
    x = np.array(scores, dtype=dtype)
    with (
        pytest.warns(RuntimeWarning, match="invalid value"),
        pytest.warns(RuntimeWarning, match="overflow"),
    ):
        naive = softmax_naive(x)
    assert np.isnan(naive).any()
    ours = softmax(x)
    tolerance = weights_tolerance(dtype)
    np.testing.assert_allclose(ours, scipy.special.softmax(x, axis=-1), **tolerance)
    np.testing.assert_allclose(ours, torch.softmax(torch.from_numpy(x), -1).numpy(), **tolerance)


# Context vectors against scaled_dot_product_attention ------------------------------


def torch_context(torch: ModuleType, x: np.ndarray) -> np.ndarray:
    """PyTorch's attention with queries = keys = values = x and no 1/sqrt(D) scaling."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    return torch.nn.functional.scaled_dot_product_attention(t, t, t, scale=1.0).numpy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1e-3, 1.0, 8.0])
def test_context_vectors_match_the_scipy_pipeline(dtype: type, scale: float) -> None:
    x = random_array((3, 20, 5), scale, dtype, seed=8)
    expected = scipy.special.softmax(x @ np.swapaxes(x, -1, -2), axis=-1) @ x
    np.testing.assert_allclose(context_vectors(x), expected, rtol=0, atol=context_atol(x))


def test_worked_example_matches_torch(torch: ModuleType) -> None:
    x = np.array(INPUTS)
    expected = torch_context(torch, x)
    atol = context_atol(x)
    np.testing.assert_allclose(context_vectors(x), expected, rtol=0, atol=atol)
    for i in range(len(x)):
        np.testing.assert_allclose(context_vector(x, i), expected[i], rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape",
    [(1, 1), (6, 3), (64, 16), (2, 33, 7), (2, 3, 17, 64)],  # (..., N, D) with batch axes
)
@pytest.mark.parametrize("scale", [1e-3, 0.1, 1.0, 4.0])
def test_context_vectors_match_torch(
    torch: ModuleType, dtype: type, shape: tuple[int, ...], scale: float
) -> None:
    x = random_array(shape, scale, dtype, seed=4)
    expected = torch_context(torch, x)
    assert expected.dtype == dtype
    ours = context_vectors(x)
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours, expected, rtol=0, atol=context_atol(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_weights_match_torch_softmax_of_the_scores(torch: ModuleType, dtype: type) -> None:
    x = random_array((3, 10, 8), 1.0, dtype, seed=5)
    t = torch.from_numpy(x)
    expected = torch.softmax(t @ t.mT, dim=-1).numpy()
    ours = attention_weights(attention_scores(x))
    # Scores may differ by up to E each way, which scales a weight by exp(+-2E); then a
    # few ulp for exp and the division on each side.
    rtol = 2 * (2 * score_error(x) + 4 * float(np.finfo(dtype).eps))
    np.testing.assert_allclose(ours, expected, rtol=rtol, atol=0)


@pytest.mark.parametrize(
    ("dtype", "scale"),
    [(np.float64, 30.0), (np.float64, 1e3), (np.float32, 12.0), (np.float32, 1e3)],
)
def test_large_inputs_where_the_naive_formula_overflows(
    torch: ModuleType, dtype: type, scale: float
) -> None:
    x = random_array((2, 12, 16), scale, dtype, seed=6)  # scores ~ 16 scale**2
    with np.errstate(over="ignore", invalid="ignore"):
        naive = softmax_naive(attention_scores(x))
    assert not np.isfinite(naive).all()  # the textbook formula breaks down here
    ours = context_vectors(x)
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, torch_context(torch, x), rtol=0, atol=context_atol(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_tiny_inputs_match_torch(torch: ModuleType, dtype: type) -> None:
    # Scores underflow towards 0: the weights become uniform, the context the mean.
    tiny = float(np.finfo(dtype).tiny) ** 0.5 / 4  # products below the normal range
    x = random_array((5, 4), tiny, dtype, seed=7)
    ours = context_vectors(x)
    np.testing.assert_allclose(ours, torch_context(torch, x), rtol=0, atol=context_atol(x))
    mean = np.broadcast_to(x.mean(axis=0), x.shape)
    # A sum of N numbers and one division, in either order: (N + 2) eps of max|x|.
    atol = (x.shape[0] + 2) * float(np.finfo(dtype).eps) * float(np.abs(x).max())
    np.testing.assert_allclose(ours, mean, rtol=0, atol=atol)
