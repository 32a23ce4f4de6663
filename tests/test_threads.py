"""Large products on our own threads: `split_rows_matmul` against numpy's own product.

Each thread multiplies a fixed share of the rows with BLAS held to one thread, so that
BLAS's own threads never spin beside the work that follows (see `attention_ref._threads`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import attention_ref._threads as threads
from attention_ref._threads import split_rows_matmul
from attention_ref._validate import unchecked_matmul


def float64_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The product in float64, from numpy's matmul on one call: an independent reference."""
    return a.astype(np.float64) @ b.astype(np.float64)


@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shares_of_rows_give_the_product(monkeypatch, workers, dtype):
    monkeypatch.setattr(threads, "cores", lambda: workers)
    rng = np.random.default_rng(workers)
    a = rng.standard_normal((3, 257, 96)).astype(dtype)  # 771 rows: not a multiple of 2 or 3
    b = rng.standard_normal((96, 700)).astype(dtype)
    assert a.size // a.shape[-1] * 96 * 700 >= threads.SPLIT_MIN_MULTIPLY_ADDS  # split
    got = split_rows_matmul(a, b)
    assert got.shape == (3, 257, 700)
    assert got.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    # Each entry's error is relative to |a_i| |b_j|, the size of its terms, not to itself.
    scale = np.linalg.norm(a, axis=-1, keepdims=True) * np.linalg.norm(b, axis=0)
    assert np.all(np.abs(got - float64_product(a, b)) <= rtol * scale)
    assert np.array_equal(split_rows_matmul(a, b), got)  # the same bits every call


def test_small_products_are_one_blas_call(monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("a small product started threads")

    monkeypatch.setattr(threads, "ThreadPoolExecutor", no_pool)
    monkeypatch.setattr(threads, "cores", lambda: 2)
    a, b = np.ones((64, 64)), np.ones((64, 64))
    np.testing.assert_array_equal(split_rows_matmul(a, b), np.full((64, 64), 64.0))


def test_threads_warn_as_the_caller_says(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    a = np.full((512, 128), 1e30, np.float32)  # every product overflows float32
    b = np.full((128, 512), 1e30, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="ignore"):
            assert np.isposinf(split_rows_matmul(a, b)).all()  # no warning from a thread
        with pytest.warns(RuntimeWarning, match="overflow"), np.errstate(over="warn"):
            split_rows_matmul(a, b)


# The monkeypatched settings are the same for every example.
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.integers(1, 40),
    inner=st.integers(1, 9),
    cols=st.integers(1, 9),
    lead=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_unchecked_matmul_of_stacked_rows(monkeypatch, rows, inner, cols, lead, seed):
    # Every size takes the split, so that the shares' edges are exercised.
    monkeypatch.setattr(threads, "SPLIT_MIN_MULTIPLY_ADDS", 0)
    monkeypatch.setattr(threads, "cores", lambda: 3)
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((lead, rows, inner))
    b = rng.standard_normal((inner, cols))
    np.testing.assert_allclose(
        unchecked_matmul(a, b), np.einsum("lri,ic->lrc", a, b), rtol=1e-12, atol=1e-12 * inner
    )
