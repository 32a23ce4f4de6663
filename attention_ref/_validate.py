"""Turn user input into checked float arrays, or fail with an error that says why.

Every public function goes through here first, so the math modules can assume a
floating-point array of the right shape with no NaN in it.
"""

from __future__ import annotations

import operator

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.floating]


def as_float_array(x: ArrayLike, name: str) -> FloatArray:
    """Convert `x` to a float array: float32 and float64 kept, integers to float64.

    Raises
    ------
    TypeError
        For ``None``, strings, booleans, complex numbers and other objects.
    ValueError
        For ragged nested sequences.
    """
    if x is None:
        raise TypeError(f"{name} must be an array of real numbers; got None")
    try:
        array = np.asarray(x)
    except ValueError:  # numpy's "inhomogeneous shape" for ragged lists
        raise ValueError(
            f"{name} must be a rectangular array; got ragged nested sequences "
            "(rows of different lengths)"
        ) from None
    kind = array.dtype.kind
    if kind == "f":
        if array.dtype in (np.float32, np.float64):
            return array
        return array.astype(np.float64)  # float16 and long double: compute in float64
    if kind in "iu":
        return array.astype(np.float64)
    what = {
        "b": "booleans",
        "c": "complex numbers",
        "U": "strings",
        "S": "bytes",
        "O": "Python objects",
    }.get(kind, f"dtype {array.dtype}")
    raise TypeError(
        f"{name} must contain real numbers (float or int); got {what} (dtype {array.dtype})"
    )


def check_no_nan(x: FloatArray, name: str, *, allow_neg_inf: bool = False) -> None:
    """Raise ``ValueError`` naming the first NaN or infinite entry of `x`.

    With `allow_neg_inf`, ``-inf`` passes: it is how a score is masked out.
    """
    ok = np.isfinite(x)
    if allow_neg_inf:
        ok |= np.isneginf(x)
    if ok.all():
        return
    where = tuple(int(i) for i in np.argwhere(~ok)[0])
    allowed = "finite numbers or -inf" if allow_neg_inf else "finite numbers"
    raise ValueError(f"{name} must contain only {allowed}; got {x[where]} at index {where}")


def as_inputs(inputs: ArrayLike, name: str = "inputs") -> FloatArray:
    """Check token embeddings: shape ``(..., N, D)`` with N >= 1 and D >= 1, all finite."""
    x = as_float_array(inputs, name)
    if x.ndim < 2 or x.shape[-1] == 0 or x.shape[-2] == 0:
        raise ValueError(
            f"{name} must have shape (N, D) or (..., N, D) with N >= 1 and D >= 1 "
            f"(one row per token); got shape {x.shape}"
        )
    if x.size == 0:
        raise ValueError(
            f"{name} must not be empty; got shape {x.shape} (a batch axis of length 0)"
        )
    check_no_nan(x, name)
    return x


def as_scores(x: ArrayLike, axis: int, name: str = "x") -> tuple[FloatArray, int]:
    """Check scores for normalisation; return them with `axis` made non-negative."""
    scores = as_float_array(x, name)
    if scores.ndim == 0:
        raise ValueError(
            f"{name} must have at least 1 dimension (the scores to normalise); "
            f"got a scalar {scores}"
        )
    axis = as_axis(axis, scores.ndim, name)
    if scores.shape[axis] == 0:
        raise ValueError(
            f"{name} must have at least one entry along axis {axis}; got shape {scores.shape}"
        )
    if scores.size == 0:
        raise ValueError(f"{name} must not be empty; got shape {scores.shape}")
    return scores, axis


def as_axis(axis: int, ndim: int, name: str) -> int:
    """Check that `axis` is an integer in ``[-ndim, ndim)``; return it non-negative."""
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"axis must be an integer; got {axis!r}")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer; got {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"axis {axis} is out of range for {name} with {ndim} dimension(s); "
            f"needs {-ndim} <= axis < {ndim}"
        )
    return axis % ndim


def as_token_index(query: object, num_tokens: int) -> int:
    """Check a query given as a token index; negative indices count from the end."""
    if isinstance(query, (bool, np.bool_)):
        raise TypeError(f"query must be a token index (int) or a vector; got {query!r}")
    try:
        index = operator.index(query)
    except TypeError:
        raise TypeError(
            f"query must be a token index (int) or a vector of length D; "
            f"got {type(query).__name__} {query!r}"
        ) from None
    if not -num_tokens <= index < num_tokens:
        raise IndexError(
            f"query index {index} is out of range for {num_tokens} token(s); "
            f"needs {-num_tokens} <= query < {num_tokens}"
        )
    return index
