"""Turn user input into checked float arrays, or fail with an error that says why.

This is the one boundary of the package. Every public function checks its arguments
here, once, and then calls private kernels that trust them: a float32 or float64 array
of the right shape with no NaN in it. The checks on results -- a product of checked
arrays that overflows the float range -- are here too, so that every message that names
an argument is written in one place.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Mapping
from typing import Any, SupportsIndex, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._threads import split_rows_matmul

FloatArray = NDArray[np.floating]
Seed = int | np.random.Generator
# What an overflow message names: an array (shown by its largest |entry|) or a factor.
Operands = Mapping[str, FloatArray | float]

_KINDS = {
    "b": "booleans",
    "c": "complex numbers",
    "U": "strings",
    "S": "bytes",
    "O": "Python objects",
}


def as_array(x: object, name: str) -> NDArray[Any]:
    """`x` as a numpy array, refusing what numpy would read wrongly or with a traceback.

    Raises
    ------
    TypeError
        For ``None``, a ``numpy.ma`` masked array (its mask would be dropped), an object
        numpy cannot read (such as a tensor that requires grad), or nested sequences
        that mix booleans with numbers (numpy would read True as 1).
    ValueError
        For ragged nested sequences, or nesting deeper than numpy's 64 dimensions.
    """
    if x is None:
        raise TypeError(f"{name} must be an array of real numbers; got None")
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name} must be a plain array, not a numpy.ma masked array: its mask would be "
            "ignored. Fill the masked entries first (x.filled(value)); for scores, "
            "x.filled(-numpy.inf) masks them out"
        )
    try:
        array = np.asarray(x)
    except ValueError as error:
        if "inhomogeneous" in str(error):  # numpy's message for ragged lists
            raise ValueError(
                f"{name} must be a rectangular array; got ragged nested sequences "
                "(rows of different lengths)"
            ) from None
        raise ValueError(f"{name} cannot be read as an array: {error}") from None
    except (TypeError, RuntimeError) as error:  # e.g. a torch tensor that requires grad
        raise TypeError(f"{name} cannot be read as an array: {error}") from None
    if array.dtype.kind in "iuf" and _holds_booleans(x):
        raise TypeError(
            f"{name} mixes booleans with numbers, which numpy would read as 0 and 1; "
            "use one or the other"
        )
    return array


def _holds_booleans(x: object) -> bool:
    """Whether nested lists or tuples hold a bool, which numpy turns into a number."""
    if isinstance(x, (bool, np.bool_)):
        return True
    if isinstance(x, np.ndarray):
        return bool(x.dtype.kind == "b")
    if isinstance(x, (list, tuple)):
        kinds = set(map(type, x))  # at C speed: a row of floats is one set lookup each
        if kinds <= {float, int}:  # type(True) is bool, not int
            return False
        return any(_holds_booleans(item) for item in x)
    return False


def _is_int(value: object) -> bool:
    """Whether `value` is a Python or numpy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def as_float_array(x: ArrayLike, name: str) -> FloatArray:
    """Convert `x` to a float array: float32 and float64 kept, integers to float64.

    Raises
    ------
    TypeError
        For ``None``, strings, booleans, complex numbers, other float types (float16,
        long double) and other objects; see `as_array`.
    ValueError
        For ragged nested sequences, or an integer beyond the float range.
    """
    array = as_array(x, name)
    kind = array.dtype.kind
    if kind in "iu":
        return array.astype(np.float64)
    if kind == "f" and array.dtype.itemsize in (4, 8):
        # A big-endian file's floats are converted to the machine's byte order.
        return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))
    if kind == "f":
        raise TypeError(
            f"{name} must be float32 or float64 (integers become float64); got dtype "
            f"{array.dtype}: convert it first, e.g. with .astype(numpy.float32)"
        )
    if kind == "O" and array.size and all(_is_int(v) for v in array.flat):
        # Python integers beyond numpy's 64-bit range are still integers.
        try:
            return array.astype(np.float64)
        except OverflowError:
            raise ValueError(
                f"{name} must contain numbers within the float range (up to "
                f"{np.finfo(np.float64).max:.4g}); got an integer beyond it"
            ) from None
    what = _KINDS.get(kind, "values that are not numbers")
    raise TypeError(
        f"{name} must contain real numbers (float or int); got {what} (dtype {array.dtype})"
    )


def as_float_dtype(dtype: DTypeLike, name: str = "dtype") -> np.dtype[Any]:
    """Check a dtype to compute in: float32 or float64."""
    try:
        resolved = np.dtype(dtype)
    except (TypeError, ValueError):  # not a dtype at all, e.g. "bogus"
        pass
    else:
        if resolved in (np.dtype(np.float32), np.dtype(np.float64)):
            return resolved
    raise TypeError(f"{name} must be numpy.float32 or numpy.float64; got {dtype!r}")


def first_index(bad: NDArray[np.bool_] | np.bool_) -> tuple[int, ...]:
    """The index of the first True entry of `bad`, without listing all the others."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))


def check_finite(x: FloatArray, name: str, *, allow_neg_inf: bool = False) -> None:
    """Raise ``ValueError`` naming the first NaN or infinite entry of `x`.

    With `allow_neg_inf`, ``-inf`` passes: it is how a score is masked out.
    """
    # The cheap test first: one sum, no boolean array. A NaN or an infinity makes the sum
    # NaN or infinite; a finite sum proves every entry finite. Only a sum that is not
    # (a bad entry, -inf allowed or not, or an overflow of the sum itself) looks closer.
    if x.size > 4096:  # below, the boolean array is cheaper than the errstate
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.add.reduce(x, axis=None)):
                return
    ok = np.isfinite(x)
    if allow_neg_inf:
        ok |= np.isneginf(x)
    if ok.all():
        return
    where = first_index(~ok)
    allowed = "finite numbers or -inf" if allow_neg_inf else "finite numbers"
    raise ValueError(f"{name} must contain only {allowed}; got {x[where]} at index {where}")


def check_no_overflow(
    result: FloatArray, what: str, operands: Operands, advice: str | None = None
) -> None:
    """Raise if `result`, computed from checked `operands`, overflowed the float range.

    `what` names the computation ("a dot product"); the message names each operand with
    its largest entry, so the caller knows what to scale down.
    """
    if np.isfinite(result).all():
        return
    names = list(operands)
    subject = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    plural = len(names) > 1 or names[0].endswith("s")
    sizes = ", ".join(
        f"{name} is {value:.3g}"
        if isinstance(value, float)
        else f"largest |{name}| is {np.abs(value).max():.3g}"
        for name, value in operands.items()
    )
    together = " together" if len(names) > 1 else ""
    advice = advice or f"scale {'them' if plural else 'it'} down"
    raise ValueError(
        f"{subject} {'are' if plural else 'is'} too large{together}: {what} overflows "
        f"{result.dtype} ({sizes}); {advice}"
    )


def checked_matmul(
    a: FloatArray, b: FloatArray, what: str, operands: Operands, *, scale: float | None = None
) -> FloatArray:
    """``a @ b`` (times `scale`) of checked arrays; an overflow names the `operands`."""
    product = unchecked_matmul(a, b, scale)
    if not provably_finite(a, b, product, scale):
        check_no_overflow(product, what, operands)
    return product


def unchecked_matmul(a: FloatArray, b: FloatArray, scale: float | None = None) -> FloatArray:
    """``a @ b`` (times `scale`), without a warning if it overflows: the caller checks."""
    with np.errstate(over="ignore", invalid="ignore"):
        if a.ndim >= 2 and b.ndim == 2 and a.flags.c_contiguous:
            # Stacked rows times one matrix: one 2-D product is one large BLAS call,
            # where numpy would make one per leading index (measured 1.2x to 5x slower),
            # and its rows are shared by our own threads (see `_threads`).
            product = split_rows_matmul(a, b)
        else:
            product = a @ b
        if scale is not None:
            product *= scale
    return product


def provably_finite(
    a: FloatArray,
    b: FloatArray,
    product: FloatArray,
    scale: float | None = None,
    *,
    norms: tuple[float, float] | None = None,
) -> bool:
    """Whether Cauchy-Schwarz proves every entry of ``product = scale * a @ b`` finite.

    Each entry, and each partial sum on the way to it, is at most ``|a_i| |b_j|`` (a row
    of `a`, a column of `b`) in size: with a factor 2 for rounding, a bound below the
    largest float needs no look at the product. `norms` are the largest row norm of `a`
    and column norm of `b` (or bounds on them), if the caller has them; otherwise one
    pass over `a` and `b` finds them. For a small product (or a bound that fails) the
    answer is "look".
    """
    if product.size < 1 << 16:  # below, looking at the product is as cheap
        return False
    row_norm, column_norm = (
        (largest_row_norm(a), largest_column_norm(b)) if norms is None else norms
    )
    bound = abs(1.0 if scale is None else scale) * row_norm * column_norm
    return 2.0 * bound < float(np.finfo(product.dtype).max)


def largest_row_norm(a: FloatArray) -> float:
    """The largest Euclidean norm of a row of `a` (inf if its square overflows)."""
    return math.sqrt(float(np.einsum("...i,...i->...", a, a).max()))  # no |a| array


def largest_column_norm(b: FloatArray) -> float:
    """The largest Euclidean norm of a column of `b` (inf if its square overflows)."""
    return math.sqrt(float(np.einsum("...ij,...ij->...j", b, b).max()))


def as_inputs(inputs: ArrayLike, name: str = "inputs") -> FloatArray:
    """Check token embeddings: shape ``(..., N, D)`` with N >= 1 and D >= 1, all finite."""
    x = _as_rows(inputs, name)
    check_finite(x, name)
    return x


def as_inputs_with_norm(inputs: ArrayLike, name: str = "inputs") -> tuple[FloatArray, float]:
    """`as_inputs`, and the largest Euclidean norm of a row (inf if its square overflows).

    One pass does both: a finite largest squared norm proves every entry finite, and
    only an infinite or NaN one makes `check_finite` look for the culprit.
    """
    x = _as_rows(inputs, name)
    squares = float(np.einsum("...i,...i->...", x, x).max())  # no |x| array
    if not math.isfinite(squares):
        check_finite(x, name)  # names a NaN or an infinity; else the squares overflowed
    return x, math.sqrt(squares)


def _as_rows(inputs: ArrayLike, name: str) -> FloatArray:
    """A float array of shape (..., N, D) with N >= 1, D >= 1 and no batch axis of 0."""
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
            return operator.index(cast(SupportsIndex, value))  # a TypeError if it is not
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
    check_finite(matrix, name)
    return matrix


def check_same_shape(
    weights: dict[str, FloatArray], reference: str, others: tuple[str, ...]
) -> None:
    """Raise if a weight's shape differs from the reference weight's (d_in, d_out)."""
    shape = weights[reference].shape
    for name in others:
        if weights[name].shape != shape:
            raise ValueError(
                f"{name} must have the same shape as {reference}, (d_in, d_out) = "
                f"{shape}; got shape {weights[name].shape}"
            )


def as_positive_int(value: object, name: str) -> int:
    """Check a count such as a number of tokens, features or heads: an integer >= 1."""
    count = as_integer(value, name, "an integer >= 1")
    if count < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {count}")
    return count


def as_generator(
    seed: object, name: str = "seed", *, allow_none: bool = False
) -> np.random.Generator:
    """A generator from `seed`: an integer >= 0, or a generator used as it is.

    ``None`` would draw fresh, unreproducible numbers, so it is refused like any other
    non-integer, unless `allow_none` (``numpy.random.default_rng(None)``: fresh entropy).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None and allow_none:
        return np.random.default_rng()
    what = "weights" if name == "seed" else "draws"
    fresh = ", or None for fresh entropy" if allow_none else ""
    needs = (
        f"an integer >= 0 or a numpy.random.Generator{fresh} (the same seed gives the same {what})"
    )
    value = as_integer(seed, name, needs)
    if value < 0:
        raise ValueError(f"{name} must be an integer >= 0; got {value}")
    return np.random.default_rng(value)


def as_block_size(value: object, name: str = "block_size") -> int | None:
    """Check a block size: an integer >= 1, or None to let the function choose."""
    if value is None:
        return None
    size = as_integer(value, name, "an integer >= 1 or None (to choose)")
    if size < 1:
        raise ValueError(f"{name} must be an integer >= 1 or None (to choose); got {size}")
    return size


def as_probability(value: object, name: str) -> float:
    """Check a probability such as ``dropout_p``: a real number in [0, 1)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number in [0, 1); got {type(value).__name__} {value!r}"
        )
    p = float(value)
    if not 0.0 <= p < 1.0:  # NaN fails both comparisons
        raise ValueError(
            f"{name} must be in [0, 1) (the probability of dropping a weight; 1 would "
            f"drop them all); got {p}"
        )
    return p


def as_scale(scale: object, name: str = "scale") -> float:
    """Check a score scale factor: a finite real number > 0."""
    needs = "(or None for 1/sqrt(d_k))"
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, numbers.Real):
        raise TypeError(
            f"{name} must be a real number > 0 {needs}; got {type(scale).__name__} {scale!r}"
        )
    try:
        value = float(scale)
    except OverflowError:  # e.g. 10**400: no float is that large
        raise ValueError(
            f"{name} must be a finite number > 0 {needs}; got {type(scale).__name__} "
            "beyond the float range"
        ) from None
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0 {needs}; got {value}")
    return value


def as_positive_real(value: object, name: str) -> float:
    """Check a real parameter such as a frequency base: a finite number > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number > 0; got {type(value).__name__} {value!r}")
    try:
        number = float(value)
    except OverflowError:  # e.g. 10**400: no float is that large
        raise ValueError(
            f"{name} must be a finite number > 0; got {type(value).__name__} beyond the float range"
        ) from None
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a finite number > 0; got {number}")
    return number


def as_mask(mask: ArrayLike, scores_shape: tuple[int, ...], name: str = "mask") -> NDArray[Any]:
    """Check an attention mask against the scores it applies to.

    A boolean mask (True = may attend) is returned as is; a float mask (added to the
    scores) is returned as a float array of finite numbers or ``-inf``. Either must
    broadcast to `scores_shape` without making it bigger.

    Raises
    ------
    TypeError
        For a mask that is neither boolean nor float32/float64 (e.g. integers, whose
        meaning -- keep/drop or add -- would be ambiguous), or see `as_array`.
    ValueError
        For NaN or ``+inf`` in a float mask, or a shape that does not broadcast.
    """
    array = as_array(mask, name)
    if array.dtype.kind == "f":
        array = as_float_array(array, name)
        check_finite(array, name, allow_neg_inf=True)
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


def as_lengths(lengths: object, num_keys: int, name: str = "lengths") -> NDArray[np.intp]:
    """Check the lengths of a padded batch: integers ``0 <= n <= num_keys``, one per sequence.

    `num_keys` must already be checked. Booleans and floats (even ``3.0``) are refused
    with a ``TypeError``: a length counts tokens.
    """
    array = as_array(lengths, name)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"{name} must be a 1-D sequence with one length per sequence of the batch "
            f"(shape (B,) with B >= 1); got shape {array.shape}"
        )
    if array.dtype.kind == "O" and all(_is_int(v) for v in array.flat):
        array = np.array([int(v) for v in array.flat], dtype=object)
    elif array.dtype.kind not in "iu":
        what = _KINDS.get(array.dtype.kind, f"dtype {array.dtype}")
        raise TypeError(
            f"{name} must contain integers (the number of real tokens of each sequence); got {what}"
        )
    outside = [(i, int(n)) for i, n in enumerate(array.flat) if not 0 <= int(n) <= num_keys]
    if outside:
        index, value = outside[0]
        raise ValueError(
            f"{name} must be between 0 and num_keys = {num_keys} (a sequence cannot have "
            f"more real tokens than there are keys); got {value} at index {index}"
        )
    return array.astype(np.intp)


def as_flag(value: object, name: str) -> bool:
    """Check a switch such as ``causal``: ``True`` or ``False``, nothing else.

    Refusing truthy objects catches ``causal=mask`` written for ``mask=mask``, and
    ``return_weights="no"``, which would count as true.
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


def as_weights(x: ArrayLike, axis: int, name: str) -> tuple[FloatArray, int]:
    """Check softmax outputs: entries in [0, 1], each slice along `axis` summing to 1.

    The sum is checked to within the square root of the dtype's machine epsilon
    (1.5e-8 in float64, 3.5e-4 in float32): far looser than the round-off of a
    softmax, far tighter than a vector that was never normalised.
    """
    weights, axis = as_scores(x, axis, name)
    check_finite(weights, name)
    outside = (weights < 0) | (weights > 1)
    if outside.any():
        where = first_index(outside)
        raise ValueError(
            f"{name} must hold probabilities in [0, 1] (softmax outputs); "
            f"got {weights[where]} at index {where}"
        )
    totals = weights.sum(axis=axis, keepdims=True)
    off = np.abs(totals - 1) > np.sqrt(np.finfo(weights.dtype).eps)
    if off.any():
        where = first_index(off)
        raise ValueError(
            f"{name} must sum to 1 along axis {axis} (softmax outputs); "
            f"got a sum of {totals[where]} at index {where}"
        )
    return weights, axis


def as_like(x: ArrayLike, reference: FloatArray, name: str, reference_name: str) -> FloatArray:
    """Check an array that must have the same shape as `reference` (e.g. a gradient)."""
    array = as_float_array(x, name)
    if array.shape != reference.shape:
        raise ValueError(
            f"{name} must have the same shape as {reference_name}, {reference.shape}; "
            f"got shape {array.shape}"
        )
    check_finite(array, name)
    return array


def check_not_all_masked(totals: FloatArray, axis: int, name: str) -> None:
    """Raise if a softmax slice sums to 0 before normalising: all its scores are -inf.

    `totals` are the sums of ``exp(x - max)`` (see ``normalize._softmax_parts``): at
    least 1 for a slice with a finite entry, exactly 0 for a slice of ``-inf``.
    """
    masked = totals == 0
    if not masked.any():
        return
    index: list[object] = list(first_index(masked))
    index[axis] = ":"
    where = ", ".join(str(i) for i in index)
    raise ValueError(
        f"{name}[{where}] has no finite entry along axis {axis} (all -inf): "
        "softmax needs at least one score that is not masked out"
    )
