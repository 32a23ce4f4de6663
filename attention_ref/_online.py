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
from .normalize import _flush_subnormal, _softmax_parts

# The full form makes the (..., L, S) scores at once while they take at most this much.
SCORES_BUDGET = 256 << 20  # bytes
# Rows and keys per block when blocking: a (256 x 256) block of float64 scores is 512 KiB,
# which stays in a core's 2 MiB L2 cache through max, shift, exp, sum and the product
# with V. Measured on 2 cores (N = 4096 to 16384, D = 3 to 768): 256 is as fast as 512
# or 1024 or faster, except at D = 768, where it is within 15 %.
KEY_BLOCK = 256
# Query rows per unit in the full form, within UNIT_BYTES: fewer units, each with a
# fixed cost (a dozen numpy calls, its keys and values read again). Measured
# interleaved at (8, 12, 512, 64), 512 against 256: 0.80x (float32) and 0.83x
# (float64) of the time without a causal mask, 0.97x and 1.03x with one (where the
# first of two 256-row units skips half its keys); context vectors within 2 %.
FULL_FORM_ROWS = 512
# Up to this many keys, a unit takes them all in one block (the full form); beyond,
# blocks of KEY_BLOCK were measured faster (N = 4096, D = 3 and 64: 1.5x to 2x).
FULL_FORM_KEYS = 1024
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
    flush_subnormal: bool  # whether a weight may be subnormal: then each block is flushed
    mask_overflow: Callable[[], None]  # raises the error for a float mask that overflows


def score_bound(q: FloatArray, k: FloatArray, scale: float) -> float:
    """An upper bound on every ``|scale * q_i . k_j|``, in O(N·D): Cauchy-Schwarz.

    ``scale * max|q_i| * max|k_j|`` over the rows' Euclidean norms; inf if a squared
    norm overflows, which only makes the callers below more careful.
    """
    squares_q = float(np.einsum("...i,...i->...", q, q).max())  # no |q| array
    squares_k = float(np.einsum("...i,...i->...", k, k).max())
    return scale * math.sqrt(squares_q) * math.sqrt(squares_k)  # Python floats: no warning


def scores_may_overflow(q: FloatArray, k: FloatArray, bound: float) -> bool:
    """Whether some score might overflow, given their `score_bound`.

    With a factor 2 for rounding, a bound below the dtype's largest number proves that
    no score overflows, and the N x N scores need no check of their own. For few scores
    (under `THREAD_MIN_SCORES`), checking them is cheaper than trusting a bound: the
    answer is then "check".
    """
    # At least as many scores as there are, when batch axes broadcast: cheap to count.
    num_scores = (q.size // q.shape[-1]) * (k.size // k.shape[-1])
    if num_scores < THREAD_MIN_SCORES:
        return True
    return not 2.0 * bound < float(np.finfo(q.dtype).max)


def subnormal_weights_possible(bound: float, dtype: Any, float_mask: bool = False) -> bool:
    """Whether some ``exp(score - row max)`` might be subnormal, given the `score_bound`.

    Two scores of one query differ by at most twice the bound; below
    ``-log(smallest normal)`` (708 in float64, 87 in float32) every weight is normal or
    exactly 0 (a masked key). A float mask can add any spread, so with one the answer
    is yes.
    """
    smallest = float(np.finfo(dtype).smallest_normal)
    return float_mask or not 2.0 * bound < -math.log(smallest)


def choose_block_size(problem: Problem, block_size: int | None) -> int | None:
    """The key block to use: `block_size` if given, else by the number of keys.

    None (the full form: each unit takes all S keys at once) while S is at most
    `FULL_FORM_KEYS`, `KEY_BLOCK` beyond. Neither makes the (..., L, S) scores: a unit
    of the full form holds at most `UNIT_BYTES` of them (or one row block's worth).
    """
    if block_size is not None:
        return block_size
    return None if problem.key.shape[-2] <= FULL_FORM_KEYS else KEY_BLOCK


def attend(
    problem: Problem,
    *,
    block_size: int | None,
    rng: np.random.Generator | None,
    return_weights: bool = False,
) -> tuple[FloatArray, FloatArray | None]:
    """The context (..., L, Ev) of a checked problem, and the weights if asked for.

    ``block_size=None`` is the full form: each unit sees all its keys at once. With
    `return_weights` (the full form only) each unit computes its scores in its part of
    the (..., L, S) weights, softmaxes them there and multiplies them with the values.
    With dropout, the draws are made in the order of the units, which is C order over
    (..., L, S): the same seed drops the same weights in every form.
    """
    q, v = problem.query, problem.value
    num_queries, num_keys = q.shape[-2], problem.key.shape[-2]
    context = np.empty((*problem.batch, num_queries, v.shape[-1]), q.dtype)
    weights = np.empty((*problem.batch, num_queries, num_keys), q.dtype) if return_weights else None
    if return_weights:
        block_size = None
    units = list(_units(problem, block_size))
    total = math.prod(problem.batch) * num_queries * num_keys
    workers = min(_cores(), len(units)) if total >= THREAD_MIN_SCORES else 1
    key_block = num_keys if block_size is None else block_size

    def run(unit: tuple[slice, ...], keep: NDArray[np.bool_] | None) -> None:
        # Overflows are checked where they matter (the scores, a float mask, the
        # context), not warned about; errstate is per thread, so set in each.
        with np.errstate(over="ignore", invalid="ignore"):
            if weights is None:
                context[unit] = _unit(problem, unit, key_block, keep)
            else:
                context[unit] = _unit_weights(problem, unit, keep, weights[unit])

    def draws(unit: tuple[slice, ...]) -> NDArray[np.bool_] | None:
        if problem.dropout_p == 0 or rng is None:
            return None
        return _keep(rng, _shape(problem, unit), problem.dropout_p)

    if len(units) == 1 and weights is None and units[0] == (slice(None),) * (len(units[0])):
        with np.errstate(over="ignore", invalid="ignore"):  # everything at once: no copy
            context = _unit(problem, units[0], key_block, draws(units[0]))
    elif workers == 1:
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
    return context, weights


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
    if block_size is None:  # the full form: as many rows as keep the scores in cache
        rows = max(1, min(FULL_FORM_ROWS, UNIT_BYTES // (key_block * itemsize)))
    else:  # blocks of block_size queries (and keys): O(block_size^2) of scores
        rows = block_size
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
    shape = [
        n if s.start is None else min(s.stop, n) - s.start for s, n in zip(unit, sizes, strict=True)
    ]
    return (*shape, problem.key.shape[-2])


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


def _operands(
    problem: Problem, unit: tuple[slice, ...]
) -> tuple[FloatArray, FloatArray, FloatArray, NDArray[Any] | None, float]:
    """A unit's queries (..., B, E), keys (..., S, E), values, mask and remaining scale.

    A scale that is a power of 2 is applied to the queries, where it is exact and costs
    O(B·E) rather than O(B·S); any other scale is left to multiply the scores.
    """
    lead = unit[:-1]
    q = _pick(problem.query, unit)  # (..., B, E)
    k = _pick(problem.key, (*lead, slice(None)))  # (..., S, E)
    v = _pick(problem.value, (*lead, slice(None)))  # (..., S, Ev)
    mask = None if problem.mask is None else _pick(problem.mask, (*unit, slice(None)))
    scale = problem.scale
    if scale != 1 and math.frexp(scale)[0] == 0.5:
        q, scale = q * scale, 1.0
    return q, k, v, mask, scale


def _block_scores(
    problem: Problem,
    q: FloatArray,
    k: FloatArray,
    mask: NDArray[Any] | None,
    scale: float,
    rows: tuple[int, int],
    keys: tuple[int, int],
    lead: tuple[int, ...],
    out: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """The masked scores of query rows ``rows`` against keys ``keys``, and their maxima.

    (..., B, C) and (..., B, 1); into `out` if given. A score that overflows (possible
    only if `problem.check_scores`) or a float mask that overflows is an error. Like
    `_unit` and `_unit_weights`, runs under ``np.errstate(over="ignore",
    invalid="ignore")`` (see `attend`): a float mask of -1e300 in float32 is -inf, a
    difference beyond the float range is -inf, whose exp is 0, and the context is
    checked once at the end.
    """
    (row0, num_rows), (start, end) = rows, keys
    if out is None:  # the unit's batch shape: the values or the mask may widen it
        out = np.empty((*lead, num_rows, end - start), q.dtype)
    scores = np.matmul(q, np.swapaxes(k[..., start:end, :], -1, -2), out=out)  # (..., B, C)
    if scale != 1:
        scores *= scale
    if problem.check_scores:
        check_no_overflow(scores, "a dot product", problem.blame[0])
    if mask is not None:
        block = mask[..., start:end] if mask.shape[-1] != 1 else mask
        if block.dtype == np.bool_:
            np.copyto(scores, -np.inf, where=~block)  # False: may not attend
        else:
            scores += block
    if problem.causal and end - 1 > row0:  # some key here comes after some query
        # query row0 + a sees key start + b iff b - a <= row0 - start
        seen = np.tri(num_rows, end - start, row0 - start, dtype=np.bool_)
        np.copyto(scores, -np.inf, where=~seen)
    top = scores.max(axis=-1, keepdims=True)  # (..., B, 1)
    if mask is not None and mask.dtype != np.bool_ and np.isposinf(top).any():
        problem.mask_overflow()
    return scores, top


def _unit(
    problem: Problem,
    unit: tuple[slice, ...],
    key_block: int,
    keep: NDArray[np.bool_] | None,
) -> FloatArray:
    """The context rows of one unit, walking over the keys in blocks of `key_block`."""
    q, k, v, mask, scale = _operands(problem, unit)
    row0, num_rows, num_keys = unit[-1].start or 0, q.shape[-2], k.shape[-2]
    stop = min(num_keys, row0 + num_rows) if problem.causal else num_keys  # later: unseen
    lead = _shape(problem, unit)[:-2]  # the unit's batch axes
    top = acc = total = None
    for start in range(0, stop, key_block):
        end = min(start + key_block, stop)
        scores, block_top = _block_scores(
            problem, q, k, mask, scale, (row0, num_rows), (start, end), lead
        )
        new_top = block_top if top is None else np.maximum(top, block_top)
        shift = np.where(np.isneginf(new_top), 0.0, new_top)  # nothing seen yet: exp(-inf) = 0
        np.subtract(scores, shift, out=scores)
        np.exp(scores, out=scores)  # (..., B, C): unnormalised weights in [0, 1]
        if problem.flush_subnormal:
            _flush_subnormal(scores)
        sums = scores.sum(axis=-1, keepdims=True)  # (..., B, 1): all of them, kept or not
        if keep is not None:
            scores *= keep[..., start:end]  # only the kept ones reach the values
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
    # Normalise B x Ev numbers, not B x S; the kept weights are divided by 1 - p.
    acc /= total if keep is None else total * (1.0 - problem.dropout_p)  # (..., B, Ev)
    context: FloatArray = acc
    return context


def _unit_weights(
    problem: Problem,
    unit: tuple[slice, ...],
    keep: NDArray[np.bool_] | None,
    weights: FloatArray,
) -> FloatArray:
    """The context rows of one unit, with its weights (..., B, S) made in `weights`."""
    q, k, v, mask, scale = _operands(problem, unit)
    row0, num_rows, num_keys = unit[-1].start or 0, q.shape[-2], k.shape[-2]
    stop = min(num_keys, row0 + num_rows) if problem.causal else num_keys  # later: 0
    weights[..., stop:] = 0.0
    seen = weights[..., :stop]  # (..., B, stop): a view
    _, top = _block_scores(
        problem, q, k, mask, scale, (row0, num_rows), (0, stop), seen.shape[:-2], out=seen
    )
    _, totals = _softmax_parts(seen, top=top, out=seen, flush=problem.flush_subnormal)
    # The context exactly as `_unit` makes it from one block of all keys (the same
    # operations in the same order), so that asking for the weights changes no bit of it.
    kept = seen if keep is None else seen * keep[..., :stop]  # only the kept reach V
    part = kept @ v[..., :stop, :]  # (..., B, Ev)
    totals[totals == 0] = 1.0  # a row with no key to see: 0 / 1 = 0, not 0 / 0
    part /= totals if keep is None else totals * (1.0 - problem.dropout_p)
    seen /= totals  # (..., B, S): each row sums to 1
    if keep is not None:
        seen /= 1.0 - problem.dropout_p  # the survivors keep the expected value
        seen *= keep[..., :stop]  # the dropped weights become 0
    context: FloatArray = part
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
