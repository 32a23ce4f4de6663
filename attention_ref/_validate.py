"""Turn user input into checked float arrays, or fail with an error that says why.

Every public function goes through here first, so the math modules can assume a
floating-point array of the right shape with no NaN in it.
"""

from __future__ import annotations

import numbers
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
    }.get(kind, "values that are not numbers")
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


def as_integer(value: object, name: str, needs: str) -> int:
    """`value` as a Python int; booleans and non-integers are a `TypeError`.

    `needs` completes the message "{name} must be {needs}".
    """
    if not isinstance(value, (bool, np.bool_)):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{name} must be {needs}; got {type(value).__name__} {value!r}")


def as_axis(axis: int, ndim: int, name: str) -> int:
    """Check that `axis` is an integer in ``[-ndim, ndim)``; return it non-negative."""
    axis = as_integer(axis, "axis", "an integer")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"axis {axis} is out of range for {name} with {ndim} dimension(s); "
            f"needs {-ndim} <= axis < {ndim}"
        )
    return axis % ndim


def as_token_index(query: object, num_tokens: int) -> int:
    """Check a query given as a token index; negative indices count from the end."""
    index = as_integer(query, "query", "a token index (int) or a vector of length D")
    if not -num_tokens <= index < num_tokens:
        raise IndexError(
            f"query index {index} is out of range for {num_tokens} token(s); "
            f"needs {-num_tokens} <= query < {num_tokens}"
        )
    return index


def as_matrix(x: ArrayLike, name: str) -> FloatArray:
    """Check a weight matrix: shape ``(rows, cols)`` with both >= 1, all finite."""
    matrix = as_float_array(x, name)
    if matrix.ndim != 2 or matrix.size == 0:
        raise ValueError(
            f"{name} must be a matrix of shape (d_in, d_out) with d_in >= 1 and "
            f"d_out >= 1; got shape {matrix.shape}"
        )
    check_no_nan(matrix, name)
    return matrix


def as_positive_int(value: object, name: str) -> int:
    """Check a count such as a number of tokens, features or heads: an integer >= 1."""
    count = as_integer(value, name, "an integer >= 1")
    if count < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {count}")
    return count


def as_scale(scale: object, name: str = "scale") -> float:
    """Check a score scale factor: a finite real number > 0."""
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, numbers.Real):
        raise TypeError(
            f"{name} must be a real number > 0 (or None for 1/sqrt(d_k)); "
            f"got {type(scale).__name__} {scale!r}"
        )
    value = float(scale)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(
            f"{name} must be a finite number > 0 (or None for 1/sqrt(d_k)); got {value}"
        )
    return value


def as_mask(mask: ArrayLike, scores_shape: tuple[int, ...], name: str = "mask") -> NDArray:
    """Check an attention mask against the scores it applies to.

    A boolean mask (True = may attend) is returned as is; a float mask (added to the
    scores) is returned as a float array of finite numbers or ``-inf``. Either must
    broadcast to `scores_shape` without making it bigger.

    Raises
    ------
    TypeError
        For a mask that is neither boolean nor floating point (e.g. integers, whose
        meaning -- keep/drop or add -- would be ambiguous).
    ValueError
        For NaN or ``+inf`` in a float mask, or a shape that does not broadcast.
    """
    try:
        array = np.asarray(mask)
    except ValueError:  # numpy's "inhomogeneous shape" for ragged lists
        raise ValueError(
            f"{name} must be a rectangular array; got ragged nested sequences "
            "(rows of different lengths)"
        ) from None
    if array.dtype.kind == "f":
        array = as_float_array(array, name)  # float16 and long double to float64
        check_no_nan(array, name, allow_neg_inf=True)
    elif array.dtype.kind != "b":
        raise TypeError(
            f"{name} must be boolean (True = may attend) or float (added to the scores); "
            f"got dtype {array.dtype} (for 0/1 integers use mask.astype(bool))"
        )
    try:
        fits = np.broadcast_shapes(array.shape, scores_shape) == scores_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{name} must broadcast to the scores' shape {scores_shape} "
            f"(..., L queries, S keys); got shape {array.shape}"
        )
    return array


def as_flag(value: object, name: str) -> bool:
    """Check a switch such as ``causal``: ``True`` or ``False``, nothing else.

    Refusing truthy objects catches ``causal=mask`` written for ``mask=mask``.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {type(value).__name__} {value!r}")
    return bool(value)


def check_query_key_value(query: FloatArray, key: FloatArray, value: FloatArray) -> tuple[int, ...]:
    """Check that query (..., L, E), key (..., S, E) and value (..., S, Ev) fit together.

    Returns the broadcast batch shape (the leading axes, as for ``numpy.matmul``).
    """
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(
            f"key must have the same last axis as query (E = {query.shape[-1]} features, "
            f"so that each query can be dotted with each key); got key of shape "
            f"{key.shape} and query of shape {query.shape}"
        )
    if value.shape[-2] != key.shape[-2]:
        raise ValueError(
            f"value must have one row per key (S = {key.shape[-2]} rows, like key); "
            f"got value of shape {value.shape} and key of shape {key.shape}"
        )
    try:
        return np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise ValueError(
            "query, key and value must have leading (batch) axes that broadcast "
            f"together; got query {query.shape}, key {key.shape}, value {value.shape}"
        ) from None


def as_probabilities(p: ArrayLike, axis: int, name: str) -> tuple[FloatArray, int]:
    """Check softmax outputs: entries in [0, 1], each slice along `axis` summing to 1.

    The sum is checked to within the square root of the dtype's machine epsilon
    (1.5e-8 in float64, 3.5e-4 in float32): far looser than the round-off of a
    softmax, far tighter than a vector that was never normalised.
    """
    probs, axis = as_scores(p, axis, name)
    check_no_nan(probs, name)
    if ((probs < 0) | (probs > 1)).any():
        where = tuple(int(i) for i in np.argwhere((probs < 0) | (probs > 1))[0])
        raise ValueError(
            f"{name} must hold probabilities in [0, 1] (softmax outputs); "
            f"got {probs[where]} at index {where}"
        )
    totals = probs.sum(axis=axis, keepdims=True)
    off = np.abs(totals - 1) > np.sqrt(np.finfo(probs.dtype).eps)
    if off.any():
        where = tuple(int(i) for i in np.argwhere(off)[0])
        raise ValueError(
            f"{name} must sum to 1 along axis {axis} (softmax outputs); "
            f"got a sum of {totals[where]} at index {where}"
        )
    return probs, axis


def as_like(x: ArrayLike, reference: FloatArray, name: str, reference_name: str) -> FloatArray:
    """Check an array that must have the same shape as `reference` (e.g. a gradient)."""
    array = as_float_array(x, name)
    if array.shape != reference.shape:
        raise ValueError(
            f"{name} must have the same shape as {reference_name}, {reference.shape}; "
            f"got shape {array.shape}"
        )
    check_no_nan(array, name)
    return array
