"""Every code path of `context_vectors`, which picks them by size for speed.

`context_vectors` computes the scores with BLAS syrk when D is large next to N (8 D >= N)
and with gemm otherwise, runs softmax over blocks of rows of about 256 KiB, and divides
by the row sums after the product where N > D, before it where N <= D. Small examples
take only some of these paths and one block, so these tests use sizes that reach the
others, and compare each with the scipy pipeline in float64 and with the loop form.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

from attention_ref import context_vectors, context_vectors_loop

# (..., N, D): syrk in one block; gemm in one block; gemm (N > 8 D) over several blocks
# of rows (256 KiB holds 109 float64 rows of 300 scores); syrk over several blocks;
# batch axes, where a block takes the same rows of every sequence; and N <= D, where
# the weights are divided before the product: N = D, N < D, and with batch axes.
SHAPES = [(6, 3), (40, 3), (300, 3), (300, 64), (2, 3, 200, 5), (2, 400, 60)]
SHAPES += [(8, 8), (5, 40), (2, 3, 16, 64)]


def reference(x: np.ndarray) -> np.ndarray:
    """The scipy pipeline in float64, whatever the dtype of x."""
    x64 = x.astype(np.float64)
    return scipy.special.softmax(x64 @ np.swapaxes(x64, -1, -2), axis=-1) @ x64


def tolerance(x: np.ndarray) -> float:
    """Rounding bound for a context vector, in the dtype of x.

    A score is a sum of D products: off by about D eps max|x|^2 each way, which scales a
    weight by exp(+-2 that). The weighted sum of N inputs adds about N eps max|x|. Twice
    that covers both implementations.
    """
    eps = float(np.finfo(x.dtype).eps)
    num_tokens, dim = x.shape[-2:]
    largest = float(np.abs(x).max())
    return 2 * (num_tokens + 4 * dim * largest**2) * eps * largest


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_the_scipy_pipeline(shape: tuple[int, ...], dtype: type) -> None:
    x = np.random.default_rng(sum(shape)).standard_normal(shape).astype(dtype)
    ours = context_vectors(x)
    assert ours.dtype == dtype
    assert ours.shape == shape
    np.testing.assert_allclose(ours, reference(x), rtol=0, atol=tolerance(x))


@pytest.mark.parametrize("shape", [(6, 40), (40, 6)])
def test_both_normalisations_match_with_the_shift(shape: tuple[int, ...]) -> None:
    # Inputs this long make exp need each row's maximum subtracted (see exp_plan).
    x = 4 * np.random.default_rng(5).standard_normal(shape)
    np.testing.assert_allclose(context_vectors(x), reference(x), rtol=0, atol=tolerance(x))


@pytest.mark.parametrize("shape", [(300, 3), (2, 130, 4)])
def test_matches_the_loop_form(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(3).standard_normal(shape)
    np.testing.assert_allclose(
        context_vectors(x), context_vectors_loop(x), rtol=0, atol=tolerance(x)
    )


def test_non_contiguous_inputs_give_the_same_result() -> None:
    x = np.random.default_rng(4).standard_normal((5, 300)).T  # (300, 5), Fortran order
    np.testing.assert_array_equal(context_vectors(x), context_vectors(np.ascontiguousarray(x)))


def test_overflow_in_a_later_block_is_reported() -> None:
    x = np.random.default_rng(5).standard_normal((400, 2))
    x[390] = 1e200  # its scores overflow; its rows are in the last block
    with pytest.raises(ValueError, match="inputs are too large: a dot product overflows"):
        context_vectors(x)
