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
Where a bound on the scores, found in O(N·D) before any of them, proves that
``exp(score)`` itself neither overflows nor underflows (`needs_shift`), the shift is 0:
no maximum, no subtraction and no rescaling, and the blocks' sums simply add up.

Work is split into *units*: a block of query rows and a chunk of the last batch axis
(heads, say), each independent of the others. A unit walks over the keys in blocks, so
it holds one (heads x rows x key block) array of scores; when the work is large enough
to pay for threads, one worker per core takes the next unit until none is left, with
BLAS held to one thread per worker (``threadpoolctl``).

Everything here trusts its arguments; `attention_ref.trainable` and
`attention_ref.simple` check them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray

from ._threads import cores, one_blas_thread
from ._validate import FloatArray, Operands, check_no_overflow, largest_row_norm
from .normalize import _flush_subnormal

# The full form makes the (..., L, S) scores at once while they take at most this much.
SCORES_BUDGET = 256 << 20  # bytes
# Rows and keys per block when blocking: a (512 x 512) block of float64 scores is 2 MiB,
# a core's L2 cache, through exp, the sums and the product with V. Measured on 2 cores
# at N = 4096 (D = 3, 64, 768): against 256, 0.6x to 0.75x of the time at D = 3,
# 0.85x at D = 64 in float32 and the same in float64; each numpy call does 4 times
# the work, so the two threads hand the interpreter over 4 times less often.
KEY_BLOCK = 512
# Query rows per unit in the full form, within UNIT_BYTES: fewer units, each with a
# fixed cost (a dozen numpy calls, its keys and values read again). Measured
# interleaved at (8, 12, 512, 64), 512 against 256: 0.80x (float32) and 0.83x
# (float64) of the time without a causal mask, 0.97x and 1.03x with one (where the
# first of two 256-row units skips half its keys); context vectors within 2 %.
FULL_FORM_ROWS = 512
# Query rows per unit in the full form with a causal mask: a unit of rows r0 .. r1
# takes keys 0 .. r1 only, so smaller units skip more of the upper triangle. Measured
# interleaved at (8, 12, 512, 64), 128 rows against 512: 0.79x (float32) and 0.68x
# (float64) of the time; 64 rows were no faster.
CAUSAL_ROWS = 128
# Up to this many keys, a unit takes them all in one block (the full form); beyond,
# blocks of KEY_BLOCK were measured as fast or faster (N = 2048 and 4096, D = 64 and
# 768: 0.8x to 1x of the time).
FULL_FORM_KEYS = 1024
# Keys with fewer features than this are copied transposed (see `transposed_keys`).
COPY_KEYS_BELOW = 16
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
    value_norm: float  # the largest norm of a value: no context vector is longer
    key_t: FloatArray | None  # (..., E, S): a transposed copy of `key` for small E
    check_scores: bool  # whether a score may overflow: then each block is checked
    shift: bool  # whether exp needs each row shifted by its (running) maximum first
    flush_subnormal: bool  # whether a weight may be subnormal: then each block is flushed

    def mask_overflow(self) -> NoReturn:
        """Raise the error for a float mask whose addition to the scores overflows."""
        assert self.mask is not None
        raise ValueError(
            f"mask added to the scores overflows {self.query.dtype} (largest mask entry "
            f"is {self.mask.max():.3g}); keep the float mask's entries small or -inf"
        )


def make_problem(
    query: FloatArray,
    key: FloatArray,
    value: FloatArray,
    *,
    mask: NDArray[Any] | None,
    batch: tuple[int, ...],
    scale: float,
    causal: bool,
    dropout_p: float,
    blame: tuple[Operands, Operands],
    norms: tuple[float, float, float] | None = None,
    norm_bounds: tuple[float, float, float] | None = None,
) -> Problem:
    """The `Problem` of checked arrays, with what their `score_bound` allows.

    The arrays may have fewer axes than ``len(batch) + 2``; leading axes of 1 are added.
    `norms`, the largest row norms of `query`, `key` and `value`, if the caller has them
    (see `as_inputs_with_norm`): otherwise they are computed here, unless the caller
    has cheaper upper bounds on them, `norm_bounds`, that prove exp needs no shift.
    Then the computation is the one the norms would give, and only the checks for
    overflow see the looser bound.
    """
    ndim = len(batch) + 2

    def pad(a: NDArray[Any]) -> NDArray[Any]:
        return a.reshape((1,) * (ndim - a.ndim) + a.shape)  # a view: leading axes of 1

    float_mask = mask is not None and mask.dtype != np.bool_

    def plan(norms: tuple[float, float, float]) -> tuple[float, bool, bool]:
        return exp_plan(norms, scale, query.dtype, key.shape[-2], float_mask)

    if norms is None and norm_bounds is not None and not plan(norm_bounds)[1]:
        norms = norm_bounds
    if norms is None:
        norms = (largest_row_norm(query), largest_row_norm(key), largest_row_norm(value))
    bound, shift, flush = plan(norms)
    return Problem(
        query=pad(query),
        key=pad(key),
        value=pad(value),
        mask=None if mask is None else pad(mask),
        batch=batch,
        scale=scale,
        causal=causal,
        dropout_p=dropout_p,
        blame=blame,
        value_norm=norms[2],
        key_t=transposed_keys(pad(key)),
        check_scores=scores_may_overflow(query, key, bound),
        shift=shift,
        flush_subnormal=flush,
    )


def transposed_keys(key: FloatArray) -> FloatArray | None:
    """A C-ordered copy of `key` (..., S, E) as (..., E, S) where E < `COPY_KEYS_BELOW`.

    For so few features per key, BLAS multiplies the queries by a transposed view
    slower than by a transposed copy: 62 against 36 µs for a (512 x 3) by (3 x 512)
    block in float32, on one core; whole context vectors at D = 3, N = 4096 and 8192,
    measured interleaved, took 0.76x to 0.79x of the time in float32 and 0.89x to
    0.94x in float64. From 16 features on the two are as fast, and the copy would cost
    its O(S·E) for nothing.
    """
    if key.shape[-1] >= COPY_KEYS_BELOW:
        return None
    return np.ascontiguousarray(np.swapaxes(key, -1, -2))


def exp_plan(
    norms: tuple[float, float, float],
    scale: float,
    dtype: Any,
    num_keys: int,
    float_mask: bool = False,
) -> tuple[float, bool, bool]:
    """What the softmax of ``scale * q @ k.T`` needs, given the largest row norms of q, k, v.

    The `score_bound`, and whether to shift each row by its maximum (`needs_shift`) and
    to flush subnormal weights (`subnormal_weights_possible`).
    """
    query_norm, key_norm, value_norm = norms
    bound = scale * query_norm * key_norm  # as `score_bound`
    shift = needs_shift(bound, value_norm, dtype, num_keys, float_mask)
    return bound, shift, shift and subnormal_weights_possible(bound, dtype, float_mask)


def score_bound(q: FloatArray, k: FloatArray, scale: float) -> float:
    """An upper bound on every ``|scale * q_i . k_j|``, in O(N·D): Cauchy-Schwarz.

    ``scale * max|q_i| * max|k_j|`` over the rows' Euclidean norms; inf if a squared
    norm overflows, which only makes the callers below more careful.
    """
    return scale * largest_row_norm(q) * largest_row_norm(k)  # Python floats: no warning


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


def needs_shift(
    bound: float, value_norm: float, dtype: Any, num_keys: int, float_mask: bool = False
) -> bool:
    """Whether exp needs the scores shifted by each row's maximum, given their `score_bound`.

    Softmax does not change when all scores of a row move by the same amount. The row's
    maximum is the shift that makes ``exp`` safe whatever the scores. But where every
    score lies in [-bound, bound], each ``exp(score)`` is a normal number, and the sums
    of `num_keys` of them, alone and times values of norm at most `value_norm`, are
    finite, shift 0 is as safe: it saves a maximum and a subtraction over every score
    (and, in blocks, the rescaling). A float mask can move scores by any amount: then
    the answer is yes.
    """
    info = np.finfo(dtype)
    # A margin of 1 (a factor e) covers the rounding of the scores and of the bound.
    underflow = -math.log(float(info.smallest_normal)) - 1.0
    overflow = math.log(float(info.max)) - math.log(num_keys) - math.log(max(1.0, value_norm)) - 1.0
    return float_mask or not bound < min(underflow, overflow)


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
    out: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray | None]:
    """The context (..., L, Ev) of a checked problem, and the weights if asked for.

    ``block_size=None`` is the full form: each unit sees all its keys at once. With
    `return_weights` (the full form only) each unit computes its scores in its part of
    the (..., L, S) weights, softmaxes them there and multiplies them with the values.
    With dropout, the draws are made in the order of the units, which is C order over
    (..., L, S): the same seed drops the same weights in every form. The context is
    written into `out` if given (of any strides: the heads' columns of a merged array).
    """
    q, v = problem.query, problem.value
    num_queries, num_keys = q.shape[-2], problem.key.shape[-2]
    shape = (*problem.batch, num_queries, v.shape[-1])
    context = np.empty(shape, q.dtype) if out is None else out
    weights = np.empty((*problem.batch, num_queries, num_keys), q.dtype) if return_weights else None
    if return_weights:
        block_size = None
    units = list(_units(problem, block_size))
    total = math.prod(problem.batch) * num_queries * num_keys
    workers = min(cores(), len(units)) if total >= THREAD_MIN_SCORES else 1
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
            whole = _unit(problem, units[0], key_block, draws(units[0]))
        if out is None:
            context = whole
        else:
            context[...] = whole
    elif workers == 1:
        for unit in units:
            run(unit, draws(unit))
    else:
        # Each worker takes the next unit until none is left: one task per worker, not
        # one per unit, whose hand-offs were measured to cost 15 % of the time.
        todo, lock, failed = iter(units), threading.Lock(), threading.Event()

        def work() -> None:
            while not failed.is_set():
                with lock:  # units are taken, and their draws made, in order
                    unit = next(todo, None)
                    if unit is None:
                        return
                    keep = draws(unit)
                try:
                    run(unit, keep)
                except BaseException:
                    failed.set()  # the other workers stop too
                    raise

        with one_blas_thread(), ThreadPoolExecutor(workers) as pool:
            for future in [pool.submit(work) for _ in range(workers)]:
                future.result()
    # Weights sum to 1 up to rounding, so values near the float range's edge can
    # still overflow; O(L·Ev) to check, unless the values are far from that edge: each
    # context vector is a weighted mean of them (divided by 1 - p with dropout).
    longest = 2.0 * problem.value_norm / (1.0 - problem.dropout_p)  # 2: rounding
    if not longest < float(np.finfo(q.dtype).max):
        check_no_overflow(context, "the weighted sum of the values", problem.blame[1])
    return context, weights


def _units(problem: Problem, block_size: int | None) -> Iterator[tuple[slice, ...]]:
    """Independent pieces of the work: a chunk of the last batch axis and a block of rows.

    The chunk holds as many batch entries (heads, say) as keep the unit's scores within
    `UNIT_BYTES`: one numpy call then does the work of several, and the two threads
    hand the interpreter over less often. Units come in C order of (..., L). With
    dropout, a unit that takes some of the rows takes one batch entry, so that each
    unit's (..., rows, S) scores are contiguous in C order over the whole (..., L, S),
    which keeps the draws in the full form's order.
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
        if problem.causal:  # smaller units: a unit computes no score of its future keys
            rows = min(rows, CAUSAL_ROWS)
    else:  # blocks of block_size queries (and keys): O(block_size^2) of scores
        rows = block_size
    rows = min(rows, num_queries)
    chunk = max(1, UNIT_BYTES // (rows * key_block * itemsize))
    if problem.dropout_p > 0 and rows < num_queries:
        chunk = 1
    *outer, last = batch or (1,)
    for prefix in np.ndindex(tuple(outer)):
        lead = tuple(slice(i, i + 1) for i in prefix)
        for first in range(0, last, chunk):
            entries = (slice(first, first + chunk),) if batch else ()
            for start in range(0, num_queries, rows):
                yield (*lead, *entries, slice(start, start + rows))


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
    """A unit's queries (..., B, E), keys transposed (..., E, S), values, mask and scale.

    A scale that is a power of 2 is applied to the queries, where it is exact and costs
    O(B·E) rather than O(B·S); any other scale is left to multiply the scores.
    """
    lead = unit[:-1]
    q = _pick(problem.query, unit)  # (..., B, E)
    if problem.key_t is None:
        k = np.swapaxes(_pick(problem.key, (*lead, slice(None))), -1, -2)  # (..., E, S)
    else:
        k = _pick(problem.key_t, (*lead, slice(None)))  # (..., E, S)
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
) -> tuple[FloatArray, FloatArray | None]:
    """The masked scores of query rows ``rows`` against keys ``keys``, and their maxima.

    `q` (..., B, E) are the unit's queries, `k` (..., E, S) its keys transposed.
    (..., B, C) and (..., B, 1), or None if the problem needs no `shift`; into `out`
    if given. A score that overflows (possible
    only if `problem.check_scores`) or a float mask that overflows is an error. Like
    `_unit` and `_unit_weights`, runs under ``np.errstate(over="ignore",
    invalid="ignore")`` (see `attend`): a float mask of -1e300 in float32 is -inf, a
    difference beyond the float range is -inf, whose exp is 0, and the context is
    checked once at the end.
    """
    (row0, num_rows), (start, end) = rows, keys
    if out is None:  # the unit's batch shape: the values or the mask may widen it
        out = np.empty((*lead, num_rows, end - start), q.dtype)
    scores = np.matmul(q, k[..., start:end], out=out)  # (..., B, C)
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
        first = max(start, row0 + 1)  # every row sees the keys before this one
        # query row0 + a sees key first + b iff b - a <= row0 - first
        tail = scores[..., first - start :]
        np.copyto(tail, -np.inf, where=_unseen(num_rows, end - first, row0 - first))
    if not problem.shift:
        return scores, None
    top = scores.max(axis=-1, keepdims=True)  # (..., B, 1)
    if mask is not None and mask.dtype != np.bool_ and np.isposinf(top).any():
        problem.mask_overflow()
    return scores, top


def _shift(top: FloatArray) -> FloatArray:
    """The rows' shift before exp: their maximum, or 0 where it is -inf (no key seen)."""
    return np.where(np.isneginf(top), 0.0, top)  # exp(-inf - 0) = 0, never NaN


def _exp_in_place(problem: Problem, scores: FloatArray, shift: FloatArray | None) -> FloatArray:
    """Make (..., B, C) `scores` ``exp(scores - shift)`` in place; return their row sums.

    Without a shift (the problem needs none), ``exp(scores)``. The sums (..., B, 1) are a
    product with a vector of ones: measured 3x faster than ``sum`` in float32.
    """
    if shift is not None:
        np.subtract(scores, shift, out=scores)
    np.exp(scores, out=scores)
    if problem.flush_subnormal:
        _flush_subnormal(scores)
    sums: FloatArray = scores @ _ones(scores.shape[-1], scores.dtype)
    return sums


@lru_cache(maxsize=16)
def _ones(n: int, dtype: np.dtype[Any]) -> FloatArray:
    """A read-only (n, 1) column of ones, shared by every call."""
    ones = np.ones((n, 1), dtype)
    ones.flags.writeable = False
    return ones


def _unit(
    problem: Problem,
    unit: tuple[slice, ...],
    key_block: int,
    keep: NDArray[np.bool_] | None,
) -> FloatArray:
    """The context rows of one unit, walking over the keys in blocks of `key_block`."""
    q, k, v, mask, scale = _operands(problem, unit)
    row0, num_rows, num_keys = unit[-1].start or 0, q.shape[-2], k.shape[-1]
    stop = min(num_keys, row0 + num_rows) if problem.causal else num_keys  # later: unseen
    lead = _shape(problem, unit)[:-2]  # the unit's batch axes
    top = shift = acc = total = None
    # One buffer for every block's scores. With a fresh one per block, the product that
    # fills it took 2.5x as long on one core (N = 4096, D = 3: its memory cold each
    # time), and the whole call 10 to 20 % longer on two.
    buffer = np.empty(math.prod(lead) * num_rows * min(key_block, stop), q.dtype)
    for start in range(0, stop, key_block):
        end = min(start + key_block, stop)
        out = buffer[: buffer.size // min(key_block, stop) * (end - start)]
        scores, block_top = _block_scores(
            problem,
            q,
            k,
            mask,
            scale,
            (row0, num_rows),
            (start, end),
            lead,
            out=out.reshape(*lead, num_rows, end - start),
        )
        if block_top is not None:  # the online softmax: shift by the running maximum
            new_top = block_top if top is None else np.maximum(top, block_top)
            shift = _shift(new_top)
        sums = _exp_in_place(problem, scores, shift)  # all of them, kept or not
        if keep is not None:
            scores *= keep[..., start:end]  # only the kept ones reach the values
        part = scores @ v[..., start:end, :]  # (..., B, Ev)
        if acc is None or total is None:
            acc, total = part, sums
        else:
            if top is not None and shift is not None:
                rescale = np.exp(top - shift)  # (..., B, 1): e^(m_old - m_new); 0 if -inf
                acc *= rescale
                total *= rescale
            acc += part
            total += sums
        if block_top is not None:
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
    row0, num_rows, num_keys = unit[-1].start or 0, q.shape[-2], k.shape[-1]
    stop = min(num_keys, row0 + num_rows) if problem.causal else num_keys  # later: 0
    weights[..., stop:] = 0.0
    seen = weights[..., :stop]  # (..., B, stop): a view
    _, top = _block_scores(
        problem, q, k, mask, scale, (row0, num_rows), (0, stop), seen.shape[:-2], out=seen
    )
    totals = _exp_in_place(problem, seen, None if top is None else _shift(top))
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


@lru_cache(maxsize=16)
def _unseen(rows: int, cols: int, diagonal: int) -> NDArray[np.bool_]:
    """True above the `diagonal`-th diagonal of a (rows, cols) array: the future keys."""
    unseen = ~np.tri(rows, cols, diagonal, dtype=np.bool_)
    unseen.flags.writeable = False  # shared by every call
    return unseen
