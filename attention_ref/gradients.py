r"""Gradients: how a change in the scores or the inputs moves the attention output.

Training adjusts weights by following gradients backwards through the computation.
Three pieces, written out by hand so they can be read and checked (the tests compare
them with finite differences and with ``torch.autograd``):

- `softmax_jacobian` -- the full matrix of derivatives of softmax,
  $\operatorname{diag}(p) - p p^\top$;
- `softmax_vjp` -- the same applied to an incoming gradient without forming
  the matrix, which is what a backward pass actually does;
- `context_vectors_backward` -- the gradient of simplified attention,
  $Z = \operatorname{softmax}(X X^\top) X$, with respect to its inputs.

Softmax's derivatives are built from its outputs $p$ alone, and every entry is
bounded ($|J_{ij}| \le 1/4$), whatever the scores were: the gradient can
neither explode nor be NaN as long as the forward pass computed $p$ stably.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._validate import FloatArray, as_inputs, as_like, as_weights, check_no_overflow
from .normalize import _softmax
from .simple import _scores

__all__ = ["context_vectors_backward", "softmax_jacobian", "softmax_vjp"]


def softmax_jacobian(weights: ArrayLike) -> FloatArray:
    r"""The Jacobian of softmax at the point where its output is `weights`.

    Parameters
    ----------
    weights : array_like, shape (K,) or (..., K)
        Softmax outputs (probabilities summing to 1 along the last axis), e.g. a row
        of attention weights. Leading axes are a batch: one Jacobian per vector.

    Returns
    -------
    numpy.ndarray, shape (K, K) or (..., K, K)
        Entry ``[i, j]`` is $\partial p_i / \partial x_j$, the change in output
        ``i`` per unit change in score ``j``. Symmetric, and each row sums to 0.

    Raises
    ------
    TypeError
        If `weights` is not made of real numbers.
    ValueError
        If `weights` is a scalar or empty, holds NaN or infinity, has an entry outside
        [0, 1], or does not sum to 1 along the last axis (to within the square root
        of machine epsilon).

    See Also
    --------
    softmax_vjp : the Jacobian applied to a gradient, without forming it.

    Notes
    -----
    With $p$ the softmax output `weights`, differentiating
    $p_i = e^{x_i} / \sum_k e^{x_k}$:

    $$
    \frac{\partial p_i}{\partial x_j} = p_i (\delta_{ij} - p_j),
    \qquad J = \operatorname{diag}(p) - p\, p^\top
    $$

    Rows sum to 0 because adding the same constant to every score changes nothing.
    The largest entry, $p_i (1 - p_i) \le 1/4$, is on the diagonal; a
    saturated (one-hot) softmax has $J = 0$: no gradient flows.

    Examples
    --------
    >>> from attention_ref import softmax, softmax_jacobian
    >>> softmax_jacobian([0.5, 0.5])
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    >>> softmax_jacobian(softmax([1.0, 2.0, 3.0])).round(4)
    array([[ 0.0819, -0.022 , -0.0599],
           [-0.022 ,  0.1848, -0.1628],
           [-0.0599, -0.1628,  0.2227]])

    A saturated softmax passes no gradient back:

    >>> bool((softmax_jacobian([1.0, 0.0, 0.0]) == 0).all())
    True
    """
    weights, _ = as_weights(weights, -1, "weights")  # (..., K): p in the formulas
    jacobian = -(weights[..., :, None] * weights[..., None, :])  # (..., K, K): -p p^T
    diagonal = np.einsum("...ii->...i", jacobian)  # (..., K): a writable view
    diagonal += weights  # + diag(p)
    return jacobian


def softmax_vjp(weights: ArrayLike, grad_weights: ArrayLike, axis: int = -1) -> FloatArray:
    r"""Backpropagate through softmax: the gradient with respect to the scores.

    Given the softmax outputs and the gradient of a loss with respect to them,
    return the gradient with respect to the softmax inputs (the scores). This is
    the vector-Jacobian product ``grad_weights @ softmax_jacobian(weights)`` along
    `axis`, computed in O(K) per vector instead of forming the K x K Jacobian.

    Parameters
    ----------
    weights : array_like
        Softmax outputs, summing to 1 along `axis`.
    grad_weights : array_like, same shape as weights
        $\partial L / \partial p$, the gradient of a scalar loss with respect
        to `weights`.
    axis : int, default -1
        The axis the softmax normalised along.

    Returns
    -------
    grad_scores : numpy.ndarray
        $\partial L / \partial x$, the gradient with respect to the scores, of the
        same shape as `weights`. It sums to 0 along `axis`.

    Raises
    ------
    TypeError
        If an array is not made of real numbers or `axis` is not an integer.
    ValueError
        If `weights` is not a valid softmax output along `axis` (see
        `softmax_jacobian`); if `grad_weights` differs in shape or holds NaN or
        infinity; or if the gradient is beyond the float range (scale `grad_weights`
        down: the gradient is linear in it).

    Notes
    -----
    With $g = \partial L / \partial p$:

    $$
    \frac{\partial L}{\partial x_j} = \sum_i g_i\, p_i (\delta_{ij} - p_j)
    = p_j \Bigl(g_j - \sum_i g_i p_i\Bigr)
    $$

    Each score's gradient is its weight times how much its own incoming gradient
    beats the weighted average of all of them.

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import softmax, softmax_jacobian, softmax_vjp
    >>> p = softmax([1.0, 2.0, 3.0])
    >>> g = np.array([1.0, 0.0, 0.0])  # the loss is p[0]
    >>> softmax_vjp(p, g).round(4)
    array([ 0.0819, -0.022 , -0.0599])
    >>> (g @ softmax_jacobian(p)).round(4)  # the same, via the full Jacobian
    array([ 0.0819, -0.022 , -0.0599])
    """
    weights, axis = as_weights(weights, axis, "weights")
    grad_weights = as_like(grad_weights, weights, "grad_weights", "weights")
    grad_scores = _softmax_vjp(weights, grad_weights, axis)
    check_no_overflow(
        grad_scores,
        "the gradient",
        {"grad_weights": grad_weights},
        advice="scale grad_weights down (the gradient is linear in it)",
    )
    return grad_scores


def _softmax_vjp(weights: FloatArray, grad_weights: FloatArray, axis: int) -> FloatArray:
    """`softmax_vjp` on trusted arrays: ``p * (g - sum(g * p))`` along `axis`.

    Not finite only where the result itself is beyond the float range (or `grad_weights`
    already overflowed): the caller checks.
    """
    vjp = _vjp_formula(weights, grad_weights, axis)
    if not np.isfinite(vjp).all():
        # g - sum(g p) reaches twice the largest |g|, so it can overflow where the
        # result, p times it, does not. In units of 8 (a power of two, so exact) no
        # step overflows unless the result does.
        with np.errstate(over="ignore"):
            vjp = _vjp_formula(weights, grad_weights / 8, axis) * 8
    return vjp


def _vjp_formula(weights: FloatArray, grad_weights: FloatArray, axis: int) -> FloatArray:
    """``p * (g - sum(g * p))`` along `axis`, as written, without checks."""
    with np.errstate(over="ignore", invalid="ignore"):  # the callers check
        average = (grad_weights * weights).sum(axis=axis, keepdims=True)  # (..., 1, ...)
        vjp: FloatArray = weights * (grad_weights - average)
    return vjp


def context_vectors_backward(inputs: ArrayLike, grad_context: ArrayLike) -> FloatArray:
    r"""The backward pass of simplified attention: the gradient with respect to X.

    For $Z = \operatorname{softmax}(X X^\top) X$
    (`context_vectors`) and the gradient
    $G = \partial L / \partial Z$ of some scalar loss, return
    $\partial L / \partial X$.

    Parameters
    ----------
    inputs : array_like, shape (N, D) or (..., N, D)
        X, one embedding per token, as given to the forward pass.
    grad_context : array_like, same shape as inputs
        G, the gradient of the loss with respect to the context vectors.

    Returns
    -------
    grad_inputs : numpy.ndarray
        $\partial L / \partial X$, the gradient with respect to the inputs, of the
        same shape as `inputs`.

    Raises
    ------
    TypeError
        If an array is not made of real numbers.
    ValueError
        If `inputs` is not (..., N, D) with N, D >= 1, holds NaN or infinity, or
        overflows in the scores; if `grad_context` differs in shape from `inputs`
        or holds NaN or infinity; or if the gradient overflows (scale `grad_context`
        down: the gradient is linear in it).

    Notes
    -----
    X appears three times: as the queries and the keys of the scores
    $S = X X^\top$, and as the values in $Z = A X$ with
    $A = \operatorname{softmax}(S)$ row by row. The gradient is the sum of the
    three paths:

    $$
    \frac{\partial L}{\partial A} = G X^\top, \qquad
    \frac{\partial L}{\partial S} = A \odot \Bigl(\frac{\partial L}{\partial A}
    - \operatorname{rowsum}\bigl(\tfrac{\partial L}{\partial A} \odot A\bigr)
    \Bigr),
    $$

    $$
    \frac{\partial L}{\partial X} =
    \underbrace{A^\top G}_{\text{as values}}
    + \underbrace{\frac{\partial L}{\partial S}\, X}_{\text{as queries}}
    + \underbrace{\Bigl(\frac{\partial L}{\partial S}\Bigr)^{\!\top} X}_{\text{as keys}}
    $$

    Examples
    --------
    The gradient of the loss ``context_vectors(INPUTS).sum()`` (so G is all ones):

    >>> import numpy as np
    >>> from attention_ref import context_vectors_backward
    >>> from attention_ref.examples import INPUTS
    >>> context_vectors_backward(INPUTS, np.ones_like(INPUTS)).round(4)
    array([[0.8878, 0.9148, 0.8882],
           [1.5842, 1.7166, 1.6562],
           [1.5519, 1.6776, 1.6198],
           [0.6628, 0.6358, 0.645 ],
           [0.5956, 0.6293, 0.6324],
           [0.9019, 0.8829, 0.881 ]])
    """
    x = as_inputs(inputs)  # (..., N, D)
    grad = as_like(grad_context, x, "grad_context", "inputs")  # (..., N, D): dL/dZ
    dtype = np.result_type(x, grad)
    x, grad = x.astype(dtype, copy=False), grad.astype(dtype, copy=False)
    x_t = np.swapaxes(x, -1, -2)  # (..., D, N)

    # Forward again: the scores S = X X^T and the weights A = softmax(S), row by row.
    weights = _softmax(_scores(x, x, {"inputs": x}))  # (..., N, N)

    # The gradient is linear in G: a G too large for the float range overflows below,
    # and is reported once, at the end.
    with np.errstate(over="ignore", invalid="ignore"):
        # Backward through Z = A X: a gradient for A, and one for X as the values.
        grad_weights = grad @ x_t  # (..., N, N): dL/dA = G X^T
        grad_as_values = np.swapaxes(weights, -1, -2) @ grad  # (..., N, D): A^T G

        # Backward through the row-wise softmax: dL/dS without the N x N x N Jacobians.
        grad_scores = _softmax_vjp(weights, grad_weights, axis=-1)  # (..., N, N)

        # Backward through S = X X^T: S[i, j] = x_i . x_j uses x_i as a query (row i)
        # and x_j as a key (column j).
        grad_as_queries = grad_scores @ x  # (..., N, D)
        grad_as_keys = np.swapaxes(grad_scores, -1, -2) @ x  # (..., N, D)
        grad_inputs = grad_as_values + grad_as_queries + grad_as_keys  # (..., N, D)
    check_no_overflow(
        grad_inputs,
        "the gradient",
        {"grad_context": grad, "inputs": x},
        advice="scale grad_context down (the gradient is linear in it)",
    )
    return grad_inputs
