"""The blocked (online-softmax) form against the full form, PyTorch and a memory bound.

The full form here is ``scaled_dot_product_attention(..., return_weights=True)``, which
makes the (..., L, S) weights and multiplies them with the values; the blocked form
never makes them. Both compute in the same dtype with the same products, so in float64
they differ only by the order of the sums and by the rescaling factors e^(m_old - m_new):
a few ulp of the values' magnitude. The tests allow 1e-13 of it, relative (about 450
ulp).
"""

from __future__ import annotations

import dataclasses
import gc
import math
import tracemalloc
from types import ModuleType

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

import attention_ref._online as online
from attention_ref import (
    MultiHeadAttention,
    SelfAttention,
    causal_mask,
    context_vectors,
    scaled_dot_product_attention,
)
from attention_ref.examples import INPUTS

RTOL = 1e-13


def random(shape: tuple[int, ...], seed: int, dtype: type = np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def assert_close(got: np.ndarray, expected: np.ndarray, value: np.ndarray, rtol=RTOL) -> None:
    """Within `rtol` relative, of each entry or of the values' largest magnitude.

    A context entry is a weighted mean of values; one near 0 is a difference of larger
    terms, so its error is relative to the values, not to itself.
    """
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * float(np.abs(value).max()))


def full(query, key, value, **kwargs) -> np.ndarray:
    return scaled_dot_product_attention(query, key, value, return_weights=True, **kwargs)[0]


def block_sizes(n: int) -> list[int]:
    return sorted({1, 7, max(1, n - 1), n, n + 1})


# --- blocked == full, for every N and the awkward block sizes --------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 20, 33, 64, 100])
def test_context_vectors_blocked_equals_full(n: int) -> None:
    x = random((n, 5), seed=n) * 2
    expected = context_vectors(x)  # the full form: n x n scores
    for size in block_sizes(n):
        assert_close(context_vectors(x, block_size=size), expected, x)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 20, 33, 64, 100])
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_blocked_equals_full(n: int, causal: bool) -> None:
    q, k, v = random((2, n, 4), n), random((2, n, 4), n + 1), random((2, n, 3), n + 2)
    expected = full(q, k, v, causal=causal)
    for size in block_sizes(n):
        got = scaled_dot_product_attention(q, k, v, causal=causal, block_size=size)
        assert_close(got, expected, v)


@pytest.mark.parametrize(("num_queries", "num_keys"), [(5, 17), (17, 5), (1, 30), (30, 1)])
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_blocked_with_l_not_s(num_queries: int, num_keys: int, causal: bool) -> None:
    q, k, v = random((num_queries, 3), 1), random((num_keys, 3), 2), random((num_keys, 2), 3)
    expected = full(q, k, v, causal=causal)
    for size in (1, 2, 4, 7, 16, 31):
        assert_close(
            scaled_dot_product_attention(q, k, v, causal=causal, block_size=size), expected, v
        )


def test_the_worked_example_in_blocks_of_two() -> None:
    x = np.asarray(INPUTS)
    assert_close(context_vectors(x, block_size=2), context_vectors(x), x)


def test_large_scores_are_stable_in_blocks() -> None:
    # Scores up to ~1e4: exp would overflow without the running maximum, and each new
    # block's larger maximum rescales the old sums by exp(-thousands) = 0 or tiny.
    x = random((40, 3), 5) * 60
    assert_close(context_vectors(x, block_size=3), context_vectors(x), x)
    q = np.linspace(1, 40, 40)[:, None] * np.array([[30.0, -20.0]])  # rising maxima
    expected = full(q, q, q, scale=1.0)
    assert_close(scaled_dot_product_attention(q, q, q, scale=1.0, block_size=4), expected, q)


@pytest.mark.parametrize("kind", ["bool", "float", "bool (L, 1)", "float (S,)"])
@pytest.mark.parametrize("causal", [False, True])
def test_masks_in_blocks_with_all_masked_rows(kind: str, causal: bool) -> None:
    rng = np.random.default_rng(3)
    q, k, v = random((2, 3, 11, 4), 4), random((2, 3, 13, 4), 5), random((2, 3, 13, 2), 6)
    if kind == "bool":
        mask = rng.random((2, 1, 11, 13)) < 0.4  # broadcast over the heads
        mask[0, 0, 4] = False  # a query with no key to see
    elif kind == "float":
        mask = rng.standard_normal((11, 13))
        mask[rng.random((11, 13)) < 0.3] = -np.inf
        mask[7] = -np.inf
    elif kind == "bool (L, 1)":
        mask = np.ones((11, 1), dtype=bool)
        mask[2] = False
    else:
        mask = np.where(np.arange(13) % 3 == 0, -np.inf, 0.5 * np.arange(13))
    expected = full(q, k, v, mask=mask, causal=causal)
    for size in (1, 3, 5, 12, 13, 14):
        got = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal, block_size=size)
        assert_close(got, expected, v)
        assert np.all(np.isfinite(got))
    if kind in ("bool", "float", "bool (L, 1)"):
        row = {
            "bool": (0, slice(None), 4),
            "float": (..., 7, slice(None)),
            "bool (L, 1)": (..., 2, slice(None)),
        }[kind]
        got = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal, block_size=3)
        assert np.array_equal(got[row], np.zeros_like(got[row]))  # zeros, not NaN


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blocked_keeps_the_dtype_and_float32_agrees(dtype: type) -> None:
    q, k, v = random((30, 8), 1, dtype), random((30, 8), 2, dtype), random((30, 4), 3, dtype)
    got = scaled_dot_product_attention(q, k, v, causal=True, block_size=7)
    rtol = RTOL if dtype == np.float64 else 1e-5
    assert_close(got, full(q, k, v, causal=True), v, rtol=rtol)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_blocked_equals_full_on_random_problems(data: st.DataObject) -> None:
    """Random shapes, broadcast batch axes, masks of each kind and shape, causal, scale."""
    draw = data.draw
    num_queries, num_keys = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    dim, dim_v = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))

    def part(shape: tuple[int, ...]) -> tuple[int, ...]:  # some batch axes broadcast
        keep = draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
        return tuple(n if k else 1 for n, k in zip(shape, keep, strict=True))

    seed = draw(st.integers(0, 2**16))
    q = random((*part(batch), num_queries, dim), seed)
    k = random((*part(batch), num_keys, dim), seed + 1)
    v = random((*part(batch), num_keys, dim_v), seed + 2)
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["none", "bool", "float"]))
    mask = None
    if kind != "none":
        full_shape = (*batch, num_queries, num_keys)
        ndim = draw(st.integers(1, len(full_shape)))
        shape = part(full_shape[-ndim:])
        if kind == "bool":
            mask = rng.random(shape) < draw(st.sampled_from([0.2, 0.7, 1.0]))
        else:
            mask = rng.standard_normal(shape) * 3
            mask[rng.random(shape) < 0.3] = -np.inf
    causal = draw(st.booleans())
    scale = draw(st.sampled_from([None, 0.25, 1.7]))
    size = draw(st.integers(1, 26))
    expected = full(q, k, v, mask=mask, causal=causal, scale=scale)
    got = scaled_dot_product_attention(
        q, k, v, mask=mask, causal=causal, scale=scale, block_size=size
    )
    assert_close(got, expected, v)


# --- threads ------------------------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
def test_threaded_units_equal_one_thread(monkeypatch: pytest.MonkeyPatch, causal: bool) -> None:
    # 2 x 3 x 300 x 300 scores: above the threshold for threads; then forced to one.
    q, k, v = random((2, 3, 300, 16), 1), random((2, 3, 300, 16), 2), random((2, 3, 300, 8), 3)
    threaded = {
        size: scaled_dot_product_attention(q, k, v, causal=causal, block_size=size)
        for size in (None, 64)
    }
    monkeypatch.setattr(online, "THREAD_MIN_SCORES", 1 << 62)
    for size, got in threaded.items():
        alone = scaled_dot_product_attention(q, k, v, causal=causal, block_size=size)
        assert_close(got, alone, v)
    assert_close(threaded[64], full(q, k, v, causal=causal), v)


def test_threads_are_used_only_for_enough_work(monkeypatch: pytest.MonkeyPatch) -> None:
    pools: list[int] = []
    real = online.ThreadPoolExecutor

    def counting(workers: int) -> object:
        pools.append(workers)
        return real(workers)

    monkeypatch.setattr(online, "ThreadPoolExecutor", counting)
    scaled_dot_product_attention(INPUTS, INPUTS, INPUTS)
    context_vectors(INPUTS, block_size=2)
    assert pools == []  # small inputs: no pool at all
    x = random((600, 8), 0)
    scaled_dot_product_attention(x, x, x, block_size=128)
    assert pools == [min(online.cores(), 5)]


# --- dropout: the same seed drops the same weights in every form ------------------------


@pytest.mark.parametrize("size", [1, 3, 8, 16, 17, None])
@pytest.mark.parametrize("causal", [False, True])
def test_dropout_blocked_equals_full_for_the_same_seed(size: int | None, causal: bool) -> None:
    q, k, v = random((2, 3, 16, 4), 1), random((2, 3, 16, 4), 2), random((2, 3, 16, 3), 3)
    expected = full(q, k, v, causal=causal, dropout_p=0.4, rng=21)
    got = scaled_dot_product_attention(
        q, k, v, causal=causal, dropout_p=0.4, rng=21, block_size=size
    )
    assert_close(got, expected, v / 0.6)


def test_dropout_threaded_blocks_equal_full() -> None:
    # Enough work for threads: the draws are made in order in the calling thread.
    q, k, v = random((1, 2, 400, 8), 1), random((1, 2, 400, 8), 2), random((1, 2, 400, 4), 3)
    expected = full(q, k, v, dropout_p=0.25, rng=np.random.default_rng(5))
    for size in (None, 100, 128):
        got = scaled_dot_product_attention(
            q, k, v, dropout_p=0.25, rng=np.random.default_rng(5), block_size=size
        )
        assert_close(got, expected, v / 0.75)


# --- memory: the blocked form never makes the N x N array ------------------------------


def peak_bytes(function, *args, **kwargs) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        function(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_blocked_peak_memory_is_far_below_n_squared() -> None:
    n, d, size = 4096, 16, 256
    x = random((n, d), 0)
    scores = n * n * 8  # 128 MiB: what the full form needs for its scores alone
    # O(block^2 + N·D): the result (N x D), and per worker at most a few blocks of
    # (block x block) scores, (block x D) partial sums and (block x 1) statistics, or
    # (in context_vectors' symmetric path) one (N x D + 1) sum.
    bound = 4 * n * d * 8 + 16 * size * size * 8  # 2 MiB + 8 MiB
    for peak in (
        peak_bytes(context_vectors, x, block_size=size),
        peak_bytes(scaled_dot_product_attention, x, x, x, causal=True, block_size=size),
        peak_bytes(scaled_dot_product_attention, x, x, x),  # the default: blocks here
    ):
        assert peak < bound < scores / 10


# --- against PyTorch ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal"])
def test_blocked_matches_torch(torch: ModuleType, dtype: type, kind: str) -> None:
    q, k, v = (random((2, 3, 37, 8), s, dtype) for s in (1, 2, 3))
    rng = np.random.default_rng(4)
    mask = None
    if kind == "bool":
        mask = rng.random((2, 1, 37, 37)) < 0.5
    elif kind == "float":
        mask = rng.standard_normal((37, 37)).astype(dtype)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in (q, k, v)),
        attn_mask=None if mask is None else torch.tensor(mask),
        is_causal=kind == "causal",
    ).numpy()
    tol = {"rtol": 1e-12, "atol": 1e-13} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
    for size in (1, 5, 16, 37, None):
        got = scaled_dot_product_attention(
            q, k, v, mask=mask, causal=kind == "causal", block_size=size
        )
        np.testing.assert_allclose(got, expected, **tol)


def test_long_default_matches_torch_fused(torch: ModuleType) -> None:
    # 2048 keys: the default takes blocks (see choose_block_size); torch's (1, 1, N, D)
    # call runs its fused flash kernel.
    q, k, v = (random((2048, 16), s) for s in (1, 2, 3))
    assert online.choose_block_size(_problem_of(q, k, v), None) == online.KEY_BLOCK
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a)[None, None] for a in (q, k, v)), is_causal=True
    )[0, 0].numpy()
    got = scaled_dot_product_attention(q, k, v, causal=True)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


def _problem_of(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> online.Problem:
    return online.make_problem(
        q,
        k,
        v,
        mask=None,
        batch=(),
        scale=1.0,
        causal=False,
        dropout_p=0.0,
        blame=({}, {}),
    )


# --- subnormal weights ----------------------------------------------------------------


def _scipy_context(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights and context vectors by scipy, subnormal weights and all."""
    weights = scipy.special.softmax(x @ x.T, axis=-1)
    return weights, weights @ x


@pytest.mark.parametrize("block_size", [None, 100, 512])
def test_subnormal_weights_change_no_result(block_size: int | None) -> None:
    # Unscaled D = 768: scores of one query spread by about 768, so many exponentials
    # fall between 1e-323 and 1e-308, where BLAS is tens of times slower. They are
    # flushed to 0; the context vectors and the weights agree with scipy's all the same.
    x = np.random.default_rng(5).standard_normal((512, 768))
    assert online.subnormal_weights_possible(online.score_bound(x, x, 1.0), x.dtype)
    weights, context = _scipy_context(x)
    tiny = np.finfo(np.float64).smallest_normal
    assert np.any((weights > 0) & (weights < tiny))  # the case is what it claims to be
    np.testing.assert_allclose(context_vectors(x, block_size=block_size), context, rtol=1e-13)
    got, got_weights = scaled_dot_product_attention(x, x, x, scale=1.0, return_weights=True)
    np.testing.assert_allclose(got, context, rtol=1e-13)
    np.testing.assert_allclose(got_weights, weights, rtol=1e-13, atol=tiny)
    assert not np.any((got_weights > 0) & (got_weights < tiny))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(5))
def test_no_subnormal_weight_where_the_bound_says_none(dtype: type, seed: int) -> None:
    # Where the bound rules subnormal weights out (no flush is made), there are none.
    rng = np.random.default_rng(seed)
    dim = int(rng.integers(1, 100))
    x = (rng.standard_normal((64, dim)) * rng.uniform(0.1, 3.0)).astype(dtype)
    scale = float(rng.uniform(0.01, 1.0))
    weights = scipy.special.softmax(scale * (x @ x.T).astype(np.float64), axis=-1)
    possible = online.subnormal_weights_possible(online.score_bound(x, x, scale), dtype)
    smallest = weights.astype(dtype).min()
    assert possible or smallest == 0 or smallest >= np.finfo(dtype).smallest_normal


def test_a_float_mask_may_make_subnormal_weights() -> None:
    q = k = INPUTS.astype(float)
    bound = online.score_bound(q, k, 1.0)
    assert not online.subnormal_weights_possible(bound, q.dtype)
    assert online.subnormal_weights_possible(bound, q.dtype, float_mask=True)
    bias = np.where(np.eye(6, dtype=bool), 0.0, -720.0)  # exp(-720) is subnormal
    _, weights = scaled_dot_product_attention(q, k, q, mask=bias, return_weights=True)
    assert np.all((weights == 0) | (weights >= np.finfo(np.float64).smallest_normal))


# --- exp without the shift, where the bound proves it safe ----------------------------


def _plan_problem(q: np.ndarray, k: np.ndarray, v: np.ndarray, **kw: object) -> online.Problem:
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    args = {"mask": None, "scale": 1.0, "causal": False, "dropout_p": 0.0, **kw}
    return online.make_problem(q, k, v, batch=batch, blame=({"q": q}, {"v": v}), **args)


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from([np.float32, np.float64]),
    num_keys=st.integers(1, 300),
    spread=st.floats(-1.0, 1.0),
    value_exponent=st.integers(0, 36),
    seed=st.integers(0, 2**16),
)
def test_the_shift_is_skipped_only_where_exp_is_safe(
    dtype: type, num_keys: int, spread: float, value_exponent: int, seed: int
) -> None:
    # Scores whose bound lies within a factor 2 of the limit, either side of it: where
    # `needs_shift` says no, exp of every score is normal and no sum overflows.
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((8, 4)), rng.standard_normal((num_keys, 4))
    info = np.finfo(dtype)
    limit = min(-math.log(info.smallest_normal), math.log(info.max) - math.log(num_keys))
    grow = math.sqrt(limit / online.score_bound(q, k, 1.0)) * 2.0 ** (spread / 2)
    q, k = (q * grow).astype(dtype), (k * grow).astype(dtype)
    v = (rng.standard_normal((num_keys, 3)) * 10.0**value_exponent).astype(dtype)
    problem = _plan_problem(q, k, v)
    if problem.shift:
        return
    with np.errstate(over="ignore", under="ignore"):
        exps = np.exp(q @ k.T)
        assert np.all(exps >= info.smallest_normal)
        assert np.all(np.isfinite(exps.sum(axis=-1)))
        assert np.all(np.isfinite(exps @ v))


@pytest.mark.parametrize("size", [None, 64])
@pytest.mark.parametrize("causal", [False, True])
def test_exp_without_the_shift_agrees_with_the_shifted_form(size: int | None, causal: bool) -> None:
    q, k, v = (random((2, 3, 200, 16), s) for s in (1, 2, 3))
    mask = random((3, 200, 200), 4) > -1.0  # about 1 in 6 masked
    problem = _plan_problem(q, k, v, scale=0.25, causal=causal, mask=mask)
    assert not problem.shift  # the case is what it claims
    assert not problem.flush_subnormal
    shifted = dataclasses.replace(problem, shift=True)
    got = online.attend(problem, block_size=size, rng=None)[0]
    expected = online.attend(shifted, block_size=size, rng=None)[0]
    assert_close(got, expected, v)
    assert_close(got, full(q, k, v, mask=mask, causal=causal, scale=0.25), v)


def test_large_values_need_the_shift() -> None:
    # float32 scores up to about 60: exp(60) is fine, but times 512 keys and values of
    # 1e25 it overflows, where the shifted weights (at most 1) do not.
    q, k = random((64, 8), 1), random((64, 8), 2)
    grow = math.sqrt(60 / online.score_bound(q, k, 1.0))
    q, k = (q * grow).astype(np.float32), (k * grow).astype(np.float32)
    v = random((64, 4), 3, np.float32) * 1e25
    problem = _plan_problem(q, k, v)
    assert 59 < online.score_bound(q, k, 1.0) < 61  # exp(bound) alone: fine in float32
    assert problem.shift
    with pytest.raises(ValueError, match="the weighted sum of the values overflows"):
        online.attend(dataclasses.replace(problem, shift=False), block_size=None, rng=None)
    got = scaled_dot_product_attention(q, k, v, scale=1.0)
    expected = scipy.special.softmax(q.astype(float) @ k.T.astype(float), axis=-1) @ v
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(v).max())


def test_a_float_mask_or_large_scores_need_the_shift() -> None:
    x = INPUTS.astype(float)
    assert not _plan_problem(x, x, x).shift
    assert _plan_problem(x, x, x, mask=np.zeros((6, 6))).shift  # a float mask: any spread
    assert _plan_problem(x * 30, x * 30, x).shift  # scores up to about 800


# --- units: several heads at once, taken by each worker in turn --------------------------


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dropout_p", [0.0, 0.3])
def test_units_cover_every_score_once_in_c_order(causal: bool, dropout_p: float) -> None:
    q = random((3, 5, 300, 8), 1)
    problem = _plan_problem(q, q, q, causal=causal, dropout_p=dropout_p)
    for size in (None, 64):
        covered = np.zeros((3, 5, 300), dtype=int)
        order = []
        for unit in online._units(problem, size):
            covered[unit] += 1
            order.append(np.ravel_multi_index([s.start or 0 for s in unit], covered.shape))
            heads, rows = unit[-2], unit[-1]
            some_rows = rows != slice(None) and not (rows.start == 0 and rows.stop >= 300)
            if dropout_p > 0 and some_rows:
                assert heads.stop - heads.start == 1  # with dropout: contiguous scores
        assert np.all(covered == 1)
        assert order == sorted(order)


def test_an_error_in_a_worker_stops_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    # 200 units of 2 sequences (see _units); the second unit overflows. The workers
    # stop soon after (how soon depends on the scheduler), and the error is the caller's.
    q = random((400, 300, 8), 1)
    q[2] *= 1e160
    started: list[tuple[slice, ...]] = []
    real = online._unit

    def counting(problem: online.Problem, unit: tuple[slice, ...], *args: object) -> np.ndarray:
        started.append(unit)
        return real(problem, unit, *args)

    monkeypatch.setattr(online, "_unit", counting)
    monkeypatch.setattr(online, "cores", lambda: 2)
    with pytest.raises(ValueError, match="query and key are too large together"):
        scaled_dot_product_attention(q, q, q)
    assert len(list(online._units(_plan_problem(q, q, q), None))) == 200
    assert 0 < len(started) < 100


# --- masks in the classes -----------------------------------------------------------


@pytest.mark.parametrize("mask_shape", [(5, 5), (2, 1, 5, 5), (2, 3, 5, 5), (5,)])
def test_multi_head_mask_matches_torch(torch: ModuleType, mask_shape: tuple[int, ...]) -> None:
    heads = MultiHeadAttention.random(6, 6, 3, seed=1)
    x = random((2, 5, 6), 2)
    allowed = np.random.default_rng(3).random(mask_shape) < 0.7
    output, weights = heads(x, mask=allowed, return_weights=True)
    np.testing.assert_allclose(heads(x, mask=allowed), output, rtol=1e-13, atol=1e-14)
    # torch.nn.MultiheadAttention: a (batch * heads, N, N) mask, True = may NOT attend.
    full_mask = np.broadcast_to(allowed, (2, 3, 5, 5)).reshape(6, 5, 5)
    module = torch.nn.MultiheadAttention(6, 3, bias=False, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        module.in_proj_weight.copy_(
            torch.tensor(np.concatenate([heads.W_query.T, heads.W_key.T, heads.W_value.T]))
        )
        module.out_proj.weight.copy_(torch.tensor(heads.W_out.T))
        expected, expected_weights = module.eval()(
            *(torch.tensor(x),) * 3,
            attn_mask=torch.tensor(~full_mask),
            need_weights=True,
            average_attn_weights=False,
        )
    empty = ~np.broadcast_to(allowed, (2, 3, 5, 5)).any(axis=-1)  # torch gives NaN there
    np.testing.assert_allclose(
        weights,
        np.where(empty[..., None], 0.0, expected_weights.numpy()),
        rtol=1e-12,
        atol=1e-13,
    )
    if not empty.any():
        np.testing.assert_allclose(output, expected.numpy(), rtol=1e-12, atol=1e-13)


def test_self_attention_mask_is_the_masked_sdpa_of_the_projections() -> None:
    attention = SelfAttention.random(3, 4, seed=2, causal=True)
    x = np.stack([INPUTS, INPUTS[::-1]])  # (2, 6, 3)
    mask = np.random.default_rng(1).random((2, 6, 6)) < 0.6
    q, k, v = attention.project(x)
    expected = scaled_dot_product_attention(q, k, v, mask=mask, causal=True, return_weights=True)
    context, weights = attention(x, mask=mask, return_weights=True)
    np.testing.assert_allclose(context, expected[0], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(weights, expected[1], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(attention(x, mask=mask), context, rtol=1e-14, atol=1e-15)
    float_mask = np.where(causal_mask(6), 0.0, -np.inf)
    np.testing.assert_allclose(attention(x, mask=float_mask), attention(x), rtol=1e-15)


@pytest.mark.parametrize(
    ("cls", "mask", "error", "message"),
    [
        (
            SelfAttention,
            np.ones((6, 5), bool),
            ValueError,
            r"mask must broadcast to the scores' shape \(6, 6\)",
        ),
        (
            MultiHeadAttention,
            np.ones((3, 6, 6), bool),
            ValueError,
            r"mask must broadcast to the scores' shape \(2, 6, 6\)",
        ),
        (SelfAttention, np.ones((6, 6), int), TypeError, r"mask must be boolean"),
        (SelfAttention, [[np.nan] * 6] * 6, ValueError, r"mask must contain only finite"),
    ],
)
def test_class_mask_errors(cls, mask, error: type, message: str) -> None:
    attention = (
        SelfAttention.random(3, 4, seed=0)
        if cls is SelfAttention
        else MultiHeadAttention.random(3, 4, 2, seed=0)
    )
    with pytest.raises(error, match=message):
        attention(INPUTS, mask=mask)


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "error", "message"),
    [
        (0, ValueError, r"block_size must be an integer >= 1 or None \(to choose\); got 0"),
        (-3, ValueError, r"block_size must be an integer >= 1 or None \(to choose\); got -3"),
        (2.0, TypeError, r"block_size must be an integer >= 1 or None \(to choose\); got float"),
        ("8", TypeError, r"block_size must be an integer >= 1 .*got str '8'"),
        (True, TypeError, r"block_size must be an integer >= 1 .*got bool True"),
    ],
)
def test_bad_block_size(size: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        context_vectors(INPUTS, block_size=size)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        scaled_dot_product_attention(INPUTS, INPUTS, INPUTS, block_size=size)  # type: ignore[arg-type]


def test_numpy_integer_block_size_is_accepted() -> None:
    np.testing.assert_array_equal(
        context_vectors(INPUTS, block_size=np.int64(2)), context_vectors(INPUTS, block_size=2)
    )


def test_overflow_in_blocks_is_the_same_error() -> None:
    big = np.full((9, 4), 1e200)
    with pytest.raises(ValueError, match=r"inputs are too large: a dot product overflows"):
        context_vectors(big, block_size=4)
    with pytest.raises(ValueError, match=r"query and key are too large together"):
        scaled_dot_product_attention(big, big, np.ones((9, 2)), block_size=4)
    mask = np.full((9, 9), 1.7e308)
    medium = np.full((9, 4), 3e153)
    with pytest.raises(ValueError, match=r"mask added to the scores overflows float64"):
        scaled_dot_product_attention(medium, medium, medium, mask=mask, block_size=4)
    with pytest.raises(ValueError, match=r"value is too large: the weighted sum"):
        scaled_dot_product_attention(INPUTS, INPUTS, np.full((6, 3), 1.5e308), block_size=4)


def test_block_scores_budget_rule_is_documented() -> None:
    # The rule stated in the docstrings' Notes is the one in the code.
    assert online.FULL_FORM_KEYS == 1024
    assert online.KEY_BLOCK == 512
    assert online.SCORES_BUDGET == 256 * 2**20
    assert math.isfinite(online.UNIT_BYTES)


@pytest.mark.parametrize("size", [1, 4, None])
def test_values_or_mask_widen_the_batch(size: int | None) -> None:
    # Scores from q and k have batch (1,), the values and the mask (3,): every form
    # must widen them, with or without dropout.
    q, k, v = random((1, 9, 4), 1), random((1, 11, 4), 2), random((3, 11, 2), 3)
    mask = np.random.default_rng(4).random((3, 1, 11)) < 0.7
    for kwargs in ({}, {"mask": mask}, {"dropout_p": 0.3, "rng": 8}):
        expected = full(q, k, v, **kwargs)
        got = scaled_dot_product_attention(q, k, v, block_size=size, **kwargs)
        assert got.shape == (3, 9, 2)
        assert_close(got, expected, v / 0.7)


@pytest.mark.parametrize("causal", [False, True])
def test_asking_for_the_weights_changes_no_bit_of_the_context(causal: bool) -> None:
    # Pages rely on it (docs/trainable/causal.md compares the two bit for bit).
    for shape in ((6, 3), (2, 3, 40, 8), (700, 16)):
        q, k, v = (random(shape, s) for s in (1, 2, 3))
        with_weights = full(q, k, v, causal=causal)
        np.testing.assert_array_equal(
            scaled_dot_product_attention(q, k, v, causal=causal), with_weights
        )
        np.testing.assert_array_equal(
            scaled_dot_product_attention(q, k, v, causal=causal, dropout_p=0.2, rng=3),
            full(q, k, v, causal=causal, dropout_p=0.2, rng=3),
        )
