"""Our own threads for the large steps, with BLAS held to one thread in each.

numpy's BLAS (OpenBLAS) runs a large product on threads of its own, which then spin,
waiting for the next call, for a while after it returns. Whatever runs next on the
same cores shares them with the spinning: the attention of `MultiHeadAttention`, right
after the projections, was measured 1.3x slower for it (67 against 51 ms, float32,
batch 8, N = 512, 768 features). So where a call is going to run threads of its own
anyway, it runs its large products on them too, each on its share of the rows, and
BLAS never starts its own.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # only a type: `_validate` imports this module
    from ._validate import FloatArray

# Below this many multiply-adds, a product is left to BLAS as one call: threads cost
# more than they save.
SPLIT_MIN_MULTIPLY_ADDS = 1 << 24


@cache
def cores() -> int:
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


def one_blas_thread() -> AbstractContextManager[Any]:
    """Hold BLAS to one thread while our own threads each run their matrix products."""
    try:
        return _controller().limit(limits=1, user_api="blas")  # type: ignore[no-any-return]
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return nullcontext()


def split_rows_matmul(a: FloatArray, b: FloatArray) -> FloatArray:
    """``a @ b`` of C-contiguous (..., M, K) `a` and (K, N) `b`, the rows shared by our threads.

    Each thread multiplies a fixed share of the rows of `a`, as one (M', K) by (K, N)
    BLAS call on one thread: each row is the same product as in ``a @ b``, and the
    same bits every call. Small products, or one core, make one BLAS call. The threads
    warn, or not, as the caller's `numpy.errstate` says.
    """
    rows = a.reshape(-1, a.shape[-1])  # (M, K): a view, `a` is C-contiguous
    num_rows = rows.shape[0]
    workers = min(cores(), num_rows)
    if workers == 1 or num_rows * rows.shape[1] * b.shape[1] < SPLIT_MIN_MULTIPLY_ADDS:
        product: FloatArray = rows @ b
    else:
        product = np.empty((num_rows, b.shape[1]), np.result_type(a, b))
        bounds = [num_rows * w // workers for w in range(workers + 1)]
        shares = [slice(start, stop) for start, stop in itertools.pairwise(bounds)]
        errors = np.geterr()  # errstate is per thread: the caller's, in each

        def share(rows_share: slice) -> None:
            with np.errstate(**errors):
                np.matmul(rows[rows_share], b, out=product[rows_share])

        with one_blas_thread(), ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(share, s) for s in shares]
            for future in futures:
                future.result()
    return product.reshape(*a.shape[:-1], b.shape[-1])
