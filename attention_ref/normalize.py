"""Step 2 of the story: turning attention scores into weights that sum to 1.

Three ways to normalise, so the docs can put them side by side:

- `softmax` -- the one to use: exponentiate, then divide by the sum, after
  subtracting the maximum so that ``exp`` never overflows;
- `softmax_naive` -- the textbook formula with no shift, which overflows on
  large scores (kept to show that failure);
- `normalize_sum` -- plain division by the sum, the simpler idea softmax replaces.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._validate import (
    FloatArray,
    as_scores,
    check_finite,
    check_not_all_masked,
    first_index,
)

__all__ = ["normalize_sum", "softmax", "softmax_naive"]


def softmax(x: ArrayLike, axis: int = -1) -> FloatArray:
    r"""Normalise scores into weights that are positive and sum to 1, stably.

    Parameters
    ----------
    x : array_like
        Scores, any shape with at least one dimension. Integers become float64;
        float32 stays float32. ``-inf`` marks an entry to ignore (a masked score).
    axis : int, default -1
        The axis to normalise along: each slice along it sums to 1.

    Returns
    -------
    numpy.ndarray
        Weights of the same shape as `x`, each in ``[0, 1]``; ``-inf`` scores get
        exactly 0.

    Raises
    ------
    TypeError
        If `x` is not made of real numbers (it holds booleans, complex numbers,
        strings or objects, is float16, or is a masked array), or `axis` is not an
        integer.
    ValueError
        If `x` is a scalar, is empty along `axis`, contains NaN or ``+inf``, or has
        a slice whose entries are all ``-inf`` (nothing to attend to).

    See Also
    --------
    softmax_naive : the same formula without the shift, which overflows.
    normalize_sum : dividing by the plain sum instead.

    Notes
    -----
    Softmax exponentiates each score and divides by the sum of the exponentials:

    $$
    \operatorname{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}
    = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \qquad m = \max_j x_j
    $$

    Subtracting the maximum $m$ changes nothing mathematically (the factor
    $e^{-m}$ cancels), but every exponent becomes $\le 0$, so ``exp``
    stays in $(0, 1]$ and cannot overflow; the largest term is exactly 1, so
    the sum cannot underflow to 0 either. PyTorch's ``torch.softmax`` does the same.

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import softmax
    >>> softmax([1.0, 2.0, 3.0])
    array([0.09003057, 0.24472847, 0.66524096])

    Large scores are no problem, because only differences matter:

    >>> softmax([1000.0, 1001.0, 1002.0])
    array([0.09003057, 0.24472847, 0.66524096])

    ``-inf`` gets weight exactly 0, which is how a mask works:

    >>> softmax([1.0, -np.inf, 1.0])
    array([0.5, 0. , 0.5])

    Each row of a matrix is normalised on its own with the default ``axis=-1``:

    >>> softmax([[0.0, 0.0], [0.0, np.log(3.0)]])
    array([[0.5 , 0.5 ],
           [0.25, 0.75]])
    """
    return checked_softmax(x, axis, name="x")


def checked_softmax(x: ArrayLike, axis: int, name: str) -> FloatArray:
    """`softmax`, with errors naming the argument as the caller knows it."""
    scores, axis = as_scores(x, axis, name)
    check_finite(scores, name, allow_neg_inf=True)
    weights, totals = _softmax_parts(scores, axis)  # a new array, the shape of x
    check_not_all_masked(totals, axis, name)
    weights /= totals
    return weights


def _softmax_parts(
    scores: FloatArray,
    axis: int = -1,
    *,
    top: FloatArray | None = None,
    out: FloatArray | None = None,
    flush: bool = False,
) -> tuple[FloatArray, FloatArray]:
    """The two halves of a stable softmax along `axis`: ``exp(scores - max)`` and its sums.

    Softmax is the first divided by the second; keeping them apart lets a caller divide
    later, after a product with the values. Each sum is at least 1 (the maximum's term is
    ``exp(0)``), except for a slice of all ``-inf``, whose terms and sum are 0: the caller
    decides whether that is an error or a row with nothing to attend to.

    Trusts its arguments: `scores` float with no NaN or ``+inf``; `top`, if given, the
    maxima along `axis` (kept dimensions); ``out=scores`` works in place. With `flush`,
    subnormal exponentials become 0 before the sums (`_flush_subnormal`).
    """
    if top is None:
        top = scores.max(axis=axis, keepdims=True)  # (..., 1, ...): each slice's maximum
    top = np.where(np.isneginf(top), 0.0, top)  # all -inf: exp(-inf - 0) = 0, never NaN
    # A difference beyond the float range is -inf, whose exp is exactly the 0 it
    # should be: nothing to warn about.
    with np.errstate(over="ignore"):
        exps = np.subtract(scores, top, out=out)
    np.exp(exps, out=exps)
    if flush:
        _flush_subnormal(exps)
    return exps, exps.sum(axis=axis, keepdims=True)


def _flush_subnormal(exps: FloatArray) -> None:
    """Set, in place, the exponentials below the dtype's smallest normal number to 0.

    Beside a row's largest term, ``exp(0) = 1``, such a weight changes no digit of a
    weighted sum; but subnormal numbers make the CPU's arithmetic, above all the matrix
    product with the values, tens of times slower (measured: 35x for a 512 x 512 product
    in float64). Callers use it where `subnormal_weights_possible` says so.
    """
    np.copyto(exps, 0.0, where=exps < np.finfo(exps.dtype).smallest_normal)


def _softmax(scores: FloatArray, axis: int = -1, *, out: FloatArray | None = None) -> FloatArray:
    """Softmax of trusted scores along `axis`; a slice of all ``-inf`` gets weights 0.

    The masked softmax of attention: a query whose keys are all masked out attends to
    nothing (as in PyTorch's ``scaled_dot_product_attention``), rather than to NaN.
    """
    weights, totals = _softmax_parts(scores, axis, out=out)
    totals[totals == 0] = 1.0  # nothing to attend to: 0 / 1 = 0, not 0 / 0
    weights /= totals
    return weights


def softmax_naive(x: ArrayLike, axis: int = -1) -> FloatArray:
    r"""Softmax straight from the formula, without subtracting the maximum.

    For teaching only: it shows why `softmax` shifts the scores first.
    ``exp`` overflows to ``inf`` once a score passes about 709.78 in float64 (88.72
    in float32), and ``inf / inf`` is ``nan``. numpy then warns (``RuntimeWarning``)
    and the result holds ``inf`` or ``nan``: that is the point.

    Parameters
    ----------
    x : array_like
        Scores, any shape with at least one dimension; ``-inf`` is allowed.
    axis : int, default -1
        The axis to normalise along.

    Returns
    -------
    numpy.ndarray
        ``exp(x) / sum(exp(x))`` of the same shape as `x`, computed as written.

    Raises
    ------
    TypeError
        If `x` is not made of real numbers (it holds booleans, complex numbers,
        strings or objects, is float16, or is a masked array).
    ValueError
        If `x` is a scalar, is empty along `axis`, or contains NaN or ``+inf``.

    Notes
    -----
    $$
    \operatorname{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}
    $$

    Examples
    --------
    On small scores it agrees with `softmax`:

    >>> from attention_ref import softmax_naive
    >>> softmax_naive([1.0, 2.0, 3.0])
    array([0.09003057, 0.24472847, 0.66524096])

    On large scores ``exp`` overflows:

    >>> import numpy as np
    >>> with np.errstate(over="ignore", invalid="ignore"):
    ...     softmax_naive([1000.0, 1001.0, 1002.0])
    array([nan, nan, nan])
    """
    scores, axis = as_scores(x, axis)
    check_finite(scores, "x", allow_neg_inf=True)
    exps = np.exp(scores)
    weights: FloatArray = exps / exps.sum(axis=axis, keepdims=True)
    return weights


def normalize_sum(x: ArrayLike, axis: int = -1) -> FloatArray:
    r"""Normalise by dividing each entry by the sum of its slice.

    The simple alternative that softmax replaces. The result sums to 1, but a
    negative score gives a negative "weight" and small differences between scores
    stay small, so the most relevant token is not brought forward.

    Parameters
    ----------
    x : array_like
        Scores, any shape with at least one dimension, all finite.
    axis : int, default -1
        The axis to normalise along.

    Returns
    -------
    numpy.ndarray
        ``x / x.sum(axis)`` of the same shape as `x`.

    Raises
    ------
    TypeError
        If `x` is not made of real numbers (it holds booleans, complex numbers,
        strings or objects, is float16, or is a masked array).
    ValueError
        If `x` is a scalar, is empty along `axis`, contains NaN or infinity, or has
        a slice that sums to 0 or so nearly 0 that the weights would overflow (such
        as ``[1.0, -1.0, 1e-310]``).

    Notes
    -----
    $$
    w_i = \frac{x_i}{\sum_j x_j}
    $$

    Examples
    --------
    >>> from attention_ref import normalize_sum
    >>> normalize_sum([1.0, 2.0, 3.0, 4.0])
    array([0.1, 0.2, 0.3, 0.4])

    A negative score gives a negative weight, which softmax never does:

    >>> normalize_sum([-1.0, 2.0, 3.0])
    array([-0.25,  0.5 ,  0.75])
    """
    scores, axis = as_scores(x, axis)
    check_finite(scores, "x")
    # Divide by the largest magnitude first, so that the sum cannot overflow.
    largest = np.abs(scores).max(axis=axis, keepdims=True)
    weights: FloatArray = np.divide(scores, largest, out=np.zeros_like(scores), where=largest > 0)
    totals = weights.sum(axis=axis, keepdims=True)
    # A sum of 0 cannot be divided by, and neither can one so close to 0 next to the
    # entries that the quotients overflow: both leave a slice that is not finite.
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        weights /= totals
    undefined = ~np.isfinite(weights).all(axis=axis, keepdims=True)
    if undefined.any():
        where = first_index(undefined)
        total = float(totals[where] * largest[where]) + 0.0  # + 0.0: no "-0"
        raise ValueError(
            f"x sums to {total:.3g} along axis {axis} at index {where}; normalize_sum "
            "cannot divide by 0, nor by a sum so close to 0 that the weights overflow "
            "(softmax has no such problem)"
        )
    return weights
