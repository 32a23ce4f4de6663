r"""Context vectors in blocks, each block of scores made once: ``X Xᵀ`` is symmetric.

Without trainable weights the queries, keys and values are all the inputs X, so the
scores $S = X X^\top$ are symmetric, and where no row needs shifting by its maximum
(`attention_ref._online.needs_shift`) so are their exponentials $E = e^S$. One block
$E_{IJ}$ of them serves two block rows of the result:

$$
o_I \mathrel{+}= E_{IJ} X_J, \qquad o_J \mathrel{+}= E_{IJ}^\top X_I ,
$$

and the row sums likewise. Over the pairs of blocks $I \le J$ that is $N^2 D$ flops of
scores instead of $2 N^2 D$ and half the exponentials; the products with the values
stay at $2 N^2 D$. PyTorch's fused kernel, which takes any queries and keys, cannot
know they are the same.

Each worker adds its share of the pairs into its own (..., N, D) sums, which are added
up at the end; the pairs are dealt to the workers in a fixed order, so that a given
number of cores always gives the same bits.

Trusts its arguments: `attention_ref.simple.context_vectors` checks them, and that no
shift is needed.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._online import THREAD_MIN_SCORES, UNIT_BYTES, transposed_keys
from ._threads import cores, one_blas_thread
from ._validate import FloatArray


def symmetric_context(inputs: FloatArray, block_size: int) -> FloatArray:
    """``softmax(x @ x.T) @ x`` of (..., N, D) `inputs` whose scores need no shift.

    In blocks of `block_size` rows: the scores of each pair of blocks are made once, in
    a (block_size x block_size) buffer, and used for both (see the module's notes).
    Extra memory: one buffer and one (..., N, D) sum per worker.
    """
    num_tokens, dim = inputs.shape[-2:]
    x = inputs.reshape(-1, num_tokens, dim)  # (M, N, D): a view where it can be
    keys = transposed_keys(x)  # (M, D, N), a copy for few features
    if keys is None:
        keys = np.swapaxes(x, -1, -2)  # a view
    block = min(block_size, num_tokens)
    # Several sequences per task while a task's scores fit in UNIT_BYTES.
    chunk = max(1, UNIT_BYTES // (block * block * x.itemsize))
    starts = range(0, num_tokens, block)
    tasks = [
        (slice(s, s + chunk), i, j)
        for s in range(0, x.shape[0], chunk)
        for i in starts
        for j in starts
        if i <= j
    ]
    big = x.shape[0] * num_tokens * num_tokens >= THREAD_MIN_SCORES
    workers = min(cores(), len(tasks)) if big else 1
    sums = [np.empty((*x.shape[:-1], dim + 1), x.dtype) for _ in range(workers)]
    for zeros in sums:  # not np.zeros, whose fresh pages, read before written, were
        zeros.fill(0)  # measured to fault twice: 3x the time of a call at N = 256

    def work(worker: int) -> None:
        out = sums[worker]  # (M, N, D + 1): the unnormalised output, then the row sums
        context, totals = out[..., :dim], out[..., dim:]
        scores = np.empty(min(chunk, x.shape[0]) * block * block, x.dtype)
        part = np.empty(min(chunk, x.shape[0]) * block * dim, x.dtype)
        ones = np.ones((block, 1), x.dtype)
        for seqs, i, j in tasks[worker::workers]:  # a fixed share: the same bits each time
            rows, cols = slice(i, i + block), slice(j, j + block)
            m = len(range(x.shape[0])[seqs])
            b_i, b_j = min(block, num_tokens - i), min(block, num_tokens - j)
            e = np.matmul(x[seqs, rows], keys[seqs, :, cols], out=_view(scores, (m, b_i, b_j)))
            np.exp(e, out=e)  # safe unshifted: the caller made sure
            context[seqs, rows] += np.matmul(e, x[seqs, cols], out=_view(part, (m, b_i, dim)))
            totals[seqs, rows] += e @ ones[:b_j]
            if i != j:  # the mirror block, E_JI = E_IJ transposed
                e_t = np.swapaxes(e, -1, -2)
                context[seqs, cols] += np.matmul(e_t, x[seqs, rows], out=_view(part, (m, b_j, dim)))
                totals[seqs, cols] += e_t @ ones[:b_i]

    if workers == 1:
        work(0)
    else:
        with one_blas_thread(), ThreadPoolExecutor(workers) as pool:
            for future in [pool.submit(work, w) for w in range(workers)]:
                future.result()
    total = sums[0]
    for other in sums[1:]:
        total += other
    # Normalise N x D numbers; every row sum is at least its own exp(|x_i|^2) >= 1.
    result: FloatArray = total[..., :dim] / total[..., dim:]
    return result.reshape(inputs.shape)


def _view(buffer: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """The first ``prod(shape)`` entries of a flat `buffer`, as an array of `shape`."""
    return buffer[: math.prod(shape)].reshape(shape)
