"""Context vectors from the symmetric scores: each block of exp(X Xᵀ) made once, used twice.

`context_vectors` takes this path with a block size (given, or chosen for long inputs)
whenever no row needs its maximum subtracted before exp; otherwise the online softmax.
Both are checked here against scipy's softmax, which shares no code with either.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

import attention_ref._symmetric as symmetric
import attention_ref.simple as simple
from attention_ref import context_vectors
from attention_ref._online import exp_plan
from attention_ref._validate import largest_row_norm

RTOL = 1e-13  # relative to the inputs' largest magnitude, as in test_online.py


def scipy_context(x: np.ndarray) -> np.ndarray:
    weights = scipy.special.softmax(x @ np.swapaxes(x, -1, -2), axis=-1)
    return weights @ x


def assert_close(got: np.ndarray, expected: np.ndarray, x: np.ndarray, rtol=RTOL) -> None:
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * float(np.abs(x).max()))


def needs_no_shift(x: np.ndarray) -> bool:
    norm = largest_row_norm(x)
    return not exp_plan((norm, norm, norm), 1.0, x.dtype, x.shape[-2])[1]


@settings(max_examples=60, deadline=None)
@given(
    batch=st.sampled_from([(), (1,), (3,), (2, 2)]),
    n=st.integers(1, 70),
    d=st.integers(1, 20),
    block=st.integers(1, 80),
    seed=st.integers(0, 2**32 - 1),
    spread=st.floats(0.1, 3.0),
)
def test_symmetric_blocks_equal_scipy(batch, n, d, block, seed, spread) -> None:
    # Any N and block size, ragged last blocks, batches chunked several to a task.
    x = np.random.default_rng(seed).standard_normal((*batch, n, d)) * spread
    assert needs_no_shift(x)  # scores below ~700: the symmetric path's premise
    assert_close(symmetric.symmetric_context(x, block), scipy_context(x), x)


def test_float32_stays_float32() -> None:
    x = np.random.default_rng(2).standard_normal((300, 8))
    got = context_vectors(x.astype(np.float32), block_size=64)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, scipy_context(x), rtol=2e-5, atol=2e-6)


def test_context_vectors_takes_the_path_exactly_where_no_shift_is_needed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[int, ...]] = []
    real = simple.symmetric_context

    def spy(x: np.ndarray, block_size: int) -> np.ndarray:
        calls.append(x.shape)
        return real(x, block_size)

    monkeypatch.setattr(simple, "symmetric_context", spy)
    rng = np.random.default_rng(3)
    small = rng.standard_normal((40, 3))
    assert_close(context_vectors(small, block_size=7), scipy_context(small), small)
    assert calls == [(40, 3)]
    context_vectors(small)  # the full form: N <= 1024
    assert calls == [(40, 3)]
    large = small * 40  # scores up to about 1e4: exp(score) overflows unshifted
    assert not needs_no_shift(large)
    assert_close(context_vectors(large, block_size=7), scipy_context(large), large)
    assert calls == [(40, 3)]  # the online softmax, with its running maximum


def test_threads_give_the_same_bits_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(4).standard_normal((2, 333, 5))
    alone = symmetric.symmetric_context(x, 50)  # under THREAD_MIN_SCORES: one worker
    pools: list[int] = []
    real = symmetric.ThreadPoolExecutor

    def counting(workers: int) -> object:
        pools.append(workers)
        return real(workers)

    monkeypatch.setattr(symmetric, "ThreadPoolExecutor", counting)
    monkeypatch.setattr(symmetric, "THREAD_MIN_SCORES", 0)
    monkeypatch.setattr(symmetric, "cores", lambda: 3)
    first, second = (symmetric.symmetric_context(x, 50) for _ in range(2))
    assert pools == [3, 3]
    np.testing.assert_array_equal(first, second)  # a fixed share of pairs per worker
    assert_close(first, alone, x)
    assert_close(first, scipy_context(x), x)


def test_each_pair_of_blocks_is_multiplied_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The point of the path: m (m + 1) / 2 products of scores for m blocks, not m^2.
    products: list[tuple[int, ...]] = []
    real = np.matmul

    def counting(a, b, *args, **kwargs):
        if b.shape[-2] == 4 and a.shape[-1] == 4:  # queries (.., B, D) @ keys (.., D, C)
            products.append(a.shape)
        return real(a, b, *args, **kwargs)

    monkeypatch.setattr(symmetric.np, "matmul", counting)
    x = np.random.default_rng(5).standard_normal((50, 4))
    got = symmetric.symmetric_context(x, 10)
    monkeypatch.undo()
    assert len(products) == 5 * 6 // 2
    assert_close(got, scipy_context(x), x)
