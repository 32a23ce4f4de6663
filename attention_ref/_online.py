r"""The attention kernel without the N x N array: softmax one block of keys at a time.

The stable softmax subtracts each row's maximum before ``exp``. The online softmax
(Milakov and Gimelshein 2018) finds that maximum as it goes: it keeps, for each query,
a running maximum $m$, a running sum $\ell$ of ``exp(score - m)`` and the
unnormalised output $o$ (the same exponentials times the values), and when a block
of scores arrives whose maximum raises $m$ to $m'$, it rescales what it has:

$$
\ell \leftarrow e^{m - m'} \ell + \sum_j e^{s_j - m'}, \qquad
o \leftarrow e^{m - m'} o + \sum_j e^{s_j - m'} v_j .
$$

At the end $o / \ell$ is exactly softmax(scores) @ values: every term carries the
same factor $e^{-m_\text{final}}$. This is the core of FlashAttention (Dao et al. 2022).

Work is split into *units*: a block of query rows (with a chunk of the batch axes when
the rows are few), each independent of the others. A unit walks over the keys in
blocks, so it holds one (rows x key block) array of scores; units run in a thread pool
on both cores, with BLAS held to one thread per worker (``threadpoolctl``), when the
work is large enough to pay for the threads.

Everything here trusts its arguments; `attention_ref.trainable` and
`attention_ref.simple` check them.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._validate import FloatArray, Operands, check_no_overflow

# The full form makes the (..., L, S) scores at once while they take at most this much.
SCORES_BUDGET = 256 << 20  # bytes
# Rows and keys per block when blocking: a (256 x 512) block of float64 scores is 1 MiB,
# which stays in a core's L2 cache through max, shift, exp, sum and the product with V.
ROW_BLOCK = 256
KEY_BLOCK = 512
# Below this many score entries in total, threads cost more than they save.
THREAD_MIN_SCORES = 1 << 18
# Each unit's scores, in the full form: small enough to stay in cache.
UNIT_BYTES = 2 << 20


@dataclass(frozen=True)
class Problem:
    """One attention call on trusted arrays, padded to a common number of dimensions.

    `query` (..., L, E), `key` (..., S, E), `value` (..., S, Ev) and `mask` (a bool or
    float array broadcastable to (..., L, S), or None) all have ``len(batch) + 2``
    dimensions; a batch axis of length 1 broadcasts.
    """

    query: FloatArray
    key: FloatArray
    value: FloatArray
    mask: NDArray[Any] | None
    batch: tuple[int, ...]
    scale: float
    causal: bool
    dropout_p: float
    blame: tuple[Operands, Operands]
    check_scores: bool  # whether a score may overflow: then each block is checked
    mask_overflow: Callable[[], None]  # raises the error for a float mask that overflows


def scores_may_overflow(q: FloatArray, k: FloatArray, scale: float) -> bool:
    """Whether some score ``scale * q_i . k_j`` might overflow, by a bound in O(N·D).

    ``|q_i . k_j| <= E max|q| max|k|``; with a factor 2 for rounding, a bound below the
    dtype's largest number proves that no score overflows, and the N x N scores need no
    check of their own.
    """
    info = np.finfo(q.dtype)
    with np.errstate(over="ignore"):
        bound = 2.0 * q.shape[-1] * float(np.abs(q).max()) * float(np.abs(k).max()) * scale
    return not bound < float(info.max)


def choose_block_size(problem: Problem, block_size: int | None) -> int | None:
    """The key block to use: `block_size` if given, else by the rule of `SCORES_BUDGET`.

    None (the full form, all keys of a unit at once) while all the (..., L, S) scores
    would fit in `SCORES_BUDGET`; `KEY_BLOCK` beyond, where the full form could not
    even allocate them on a small machine.
    """
    if block_size is not None:
        return block_size
    scores = math.prod(problem.batch) * problem.query.shape[-2] * problem.key.shape[-2]
    return None if scores * problem.query.dtype.itemsize <= SCORES_BUDGET else KEY_BLOCK


def attend(
    problem: Problem, *, block_size: int | None, rng: np.random.Generator | None
) -> FloatArray:
    """The context (..., L, Ev) of a checked problem, in blocks of `block_size` keys.

    ``block_size=None`` is the full form: each unit sees all its keys at once. With
    dropout, the draws are made in the order of the units, which is C order over
    (..., L, S): the same seed drops the same weights as the full form does.
    """
    q, v = problem.query, problem.value
    num_queries, num_keys = q.shape[-2], problem.key.shape[-2]
    context = np.empty((*problem.batch, num_queries, v.shape[-1]), q.dtype)
    units = list(_units(problem, block_size))
    total = math.prod(problem.batch) * num_queries * num_keys
    workers = min(_cores(), len(units)) if total >= THREAD_MIN_SCORES else 1
    key_block = num_keys if block_size is None else block_size

    def run(unit: tuple[slice, ...], keep: NDArray[np.bool_] | None) -> None:
        context[unit] = _unit(problem, unit, key_block, keep)

    def draws(unit: tuple[slice, ...]) -> NDArray[np.bool_] | None:
        if problem.dropout_p == 0 or rng is None:
            return None
        return _keep(rng, _shape(problem, unit), problem.dropout_p)

    if workers == 1:
        for unit in units:
            run(unit, draws(unit))
    else:
        with _one_blas_thread(), ThreadPoolExecutor(workers) as pool:
            pending: deque[Future[None]] = deque()
            for unit in units:  # drawn here, in order, so the stream is the full form's
                pending.append(pool.submit(run, unit, draws(unit)))
                if len(pending) > 2 * workers:
                    pending.popleft().result()
            for future in pending:
                future.result()
    # Weights sum to 1 up to rounding, so values near the float range's edge can
    # still overflow; O(L·Ev) to check.
    check_no_overflow(context, "the weighted sum of the values", problem.blame[1])
    return context


def _units(problem: Problem, block_size: int | None) -> Iterator[tuple[slice, ...]]:
    """Independent pieces of the work, in C order of (..., L): batch slices, then rows.

    With few rows, a unit takes all of them and a chunk of the last batch axis, sized
    so that its scores stay in cache; otherwise one batch entry and a block of rows.
    Either way each unit's (..., rows, S) scores are contiguous in C order over the
    whole (..., L, S), which keeps the dropout draws in the full form's order.
    """
    batch = problem.batch
    num_queries, num_keys = problem.query.shape[-2], problem.key.shape[-2]
    itemsize = problem.query.dtype.itemsize
    total_bytes = math.prod(batch) * num_queries * num_keys * itemsize
    if block_size is None and total_bytes <= UNIT_BYTES:
        yield (slice(None),) * (len(batch) + 1)  # everything at once, as numpy likes it
        return
    key_block = num_keys if block_size is None else min(block_size, num_keys)
    rows = ROW_BLOCK if block_size is None else block_size
    rows = max(1, min(rows, UNIT_BYTES // (key_block * itemsize)))
    if num_queries <= rows and batch:
        chunk = max(1, rows // num_queries)  # entries of the last batch axis per unit
        for prefix in np.ndindex(batch[:-1]):
            lead = tuple(slice(i, i + 1) for i in prefix)
            for start in range(0, batch[-1], chunk):
                yield (*lead, slice(start, start + chunk), slice(None))
        return
    for index in np.ndindex(batch):
        lead = tuple(slice(i, i + 1) for i in index)
        for start in range(0, num_queries, rows):
            yield (*lead, slice(start, start + rows))


def _shape(problem: Problem, unit: tuple[slice, ...]) -> tuple[int, ...]:
    """The shape of a unit's scores: (..., rows, S)."""
    sizes = (*problem.batch, problem.query.shape[-2])
    return (
        *(len(range(*s.indices(n))) for s, n in zip(unit, sizes, strict=True)),
        problem.key.shape[-2],
    )


def _keep(rng: np.random.Generator, shape: tuple[int, ...], p: float) -> NDArray[np.bool_]:
    """``rng.random(shape) >= p``, drawn a few rows at a time to bound the float draws."""
    keep = np.empty(shape, dtype=bool)
    flat = keep.reshape(-1, shape[-1])  # a view: (rows, S)
    step = max(1, (4 << 20) // (8 * shape[-1]))  # 4 MiB of float64 draws at a time
    for start in range(0, flat.shape[0], step):
        rows = flat[start : start + step]
        np.greater_equal(rng.random(rows.shape), p, out=rows)
    return keep


def _pick(array: NDArray[Any], index: tuple[slice, ...]) -> NDArray[Any]:
    """`array`'s part for a unit: a slice on each axis it has, all of an axis of 1."""
    return array[
        tuple(slice(None) if n == 1 else s for s, n in zip(index, array.shape, strict=False))
    ]


def _unit(
    problem: Problem,
    unit: tuple[slice, ...],
    key_block: int,
    keep: NDArray[np.bool_] | None,
) -> FloatArray:
    """The context rows of one unit, walking over the keys in blocks of `key_block`."""
    lead, rows = unit[:-1], unit[-1]
    row0 = rows.start or 0
    q = _pick(problem.query, unit)  # (..., B, E)
    k = _pick(problem.key, (*lead, slice(None)))  # (..., S, E)
    v = _pick(problem.value, (*lead, slice(None)))  # (..., S, Ev)
    mask = None if problem.mask is None else _pick(problem.mask, (*unit, slice(None)))
    num_rows, num_keys = q.shape[-2], k.shape[-2]
    scale = problem.scale
    if scale != 1 and math.frexp(scale)[0] == 0.5:  # a power of 2: exact on q, O(B·E)
        q, scale = q * scale, 1.0
    stop = min(num_keys, row0 + num_rows) if problem.causal else num_keys  # later keys: unseen
    top = acc = total = None
    for start in range(0, stop, key_block):
        end = min(start + key_block, stop)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
            scores = q @ np.swapaxes(k[..., start:end, :], -1, -2)  # (..., B, C)
            if scale != 1:
                scores *= scale
        if problem.check_scores:
            check_no_overflow(scores, "a dot product", problem.blame[0])
        if mask is not None:
            block = mask[..., start:end] if mask.shape[-1] != 1 else mask
            if block.dtype == np.bool_:
                np.copyto(scores, -np.inf, where=~block)  # False: may not attend
            else:
                with np.errstate(over="ignore"):  # e.g. -1e300 in float32: -inf, masked
                    scores += block
        if problem.causal and end - 1 > row0:  # some key here comes after some query
            # query row0 + a sees key start + b iff b - a <= row0 - start
            seen = np.tri(num_rows, end - start, row0 - start, dtype=np.bool_)
            np.copyto(scores, -np.inf, where=~seen)
        block_top = scores.max(axis=-1, keepdims=True)  # (..., B, 1)
        if mask is not None and mask.dtype != np.bool_ and np.isposinf(block_top).any():
            problem.mask_overflow()
        new_top = block_top if top is None else np.maximum(top, block_top)
        shift = np.where(np.isneginf(new_top), 0.0, new_top)  # nothing seen yet: exp(-inf) = 0
        with np.errstate(over="ignore"):  # beyond the float range: -inf, whose exp is 0
            np.subtract(scores, shift, out=scores)
        np.exp(scores, out=scores)  # (..., B, C): unnormalised weights in [0, 1]
        sums = scores.sum(axis=-1, keepdims=True)  # (..., B, 1): all of them, kept or not
        if keep is not None:
            scores *= keep[..., start:end]  # only the kept ones reach the values
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked by attend
            part = scores @ v[..., start:end, :]  # (..., B, Ev)
            if top is None or acc is None or total is None:
                acc, total = part, sums
            else:
                rescale = np.exp(top - shift)  # (..., B, 1): e^(m_old - m_new); 0 if m_old = -inf
                acc *= rescale
                acc += part
                total *= rescale
                total += sums
        top = new_top
    assert acc is not None  # stop >= 1: at least one block
    assert total is not None
    total[total == 0] = 1.0  # a row with no key to see: 0 / 1 = 0, not 0 / 0
    if keep is not None:
        total *= 1.0 - problem.dropout_p  # the kept weights are divided by 1 - p
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked by attend
        acc /= total  # (..., B, Ev): normalise B x Ev numbers, not B x S
    context: FloatArray = acc
    return context


@cache
def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@cache
def _controller() -> Any:
    """The view `threadpoolctl` has of the loaded BLAS libraries, found once (it scans them)."""
    from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

    return ThreadpoolController()


def _one_blas_thread() -> AbstractContextManager[Any]:
    """Hold BLAS to one thread while our own threads each run their matrix products."""
    try:
        return _controller().limit(limits=1, user_api="blas")  # type: ignore[no-any-return]
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return nullcontext()
