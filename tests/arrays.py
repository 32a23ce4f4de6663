"""Random test arrays and the tolerances of the comparisons against PyTorch."""

import numpy as np

# numpy and PyTorch sum in different orders. Values here are O(1) and rows have at
# most 8 terms, so the two differ by a few ulp of O(1) numbers: ~1e-15 in float64,
# ~1e-7 in float32. The tolerances leave a margin of about 100x over that.
TOL = {
    np.float64: {"rtol": 1e-12, "atol": 1e-13},
    np.float32: {"rtol": 1e-5, "atol": 1e-6},
}
DTYPES = [np.float64, np.float32]


def random(shape: tuple[int, ...], dtype: type = np.float64, seed: int = 0) -> np.ndarray:
    """Standard normal numbers of `shape` and `dtype`, the same for the same seed."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)
