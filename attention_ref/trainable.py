r"""Beyond weight-free attention: trainable projections, scaling, causal masks, heads.

Simplified attention scores every token against every token with the embeddings
themselves, so it can only find *similar* tokens. Here each token is first projected
three ways by trainable matrices -- a query (what it looks for), a key (what it
offers) and a value (what it passes on) -- and the story's three steps run on those:

- `scaled_dot_product_attention` -- scores ``query @ key.T`` scaled by
  $1/\sqrt{d_k}$, masked, softmaxed and applied to ``value``, with the semantics
  of ``torch.nn.functional.scaled_dot_product_attention``;
- `causal_mask` -- the lower-triangular mask that stops a token from seeing
  the tokens after it;
- `SelfAttention` -- the three projections ``W_query``, ``W_key``,
  ``W_value`` followed by scaled dot-product attention;
- `MultiHeadAttention` -- the same split into independent heads, merged and
  mixed by an output projection ``W_out``.

With the embeddings themselves as queries, keys and values and the scale 1,
``scaled_dot_product_attention(inputs, inputs, inputs, scale=1.0)`` is exactly the
weight-free `context_vectors` of the story.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from ._validate import (
    FloatArray,
    as_flag,
    as_inputs,
    as_integer,
    as_mask,
    as_matrix,
    as_positive_int,
    as_scale,
    check_query_key_value,
)
from .normalize import softmax

__all__ = [
    "MultiHeadAttention",
    "SelfAttention",
    "causal_mask",
    "scaled_dot_product_attention",
]

Seed = int | np.random.Generator


def as_generator(seed: Seed) -> np.random.Generator:
    """A generator from `seed`: an integer >= 0, or a generator used as it is.

    ``None`` would draw fresh, unreproducible weights, so it is refused like any
    other non-integer.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    needs = "an integer >= 0 or a numpy.random.Generator (the same seed gives the same weights)"
    seed = as_integer(seed, "seed", needs)
    if seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed}")
    return np.random.default_rng(seed)


@overload
def scaled_dot_product_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    *,
    mask: ArrayLike | None = ...,
    causal: bool = ...,
    scale: float | None = ...,
    return_weights: Literal[False] = ...,
) -> FloatArray: ...


@overload
def scaled_dot_product_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    *,
    mask: ArrayLike | None = ...,
    causal: bool = ...,
    scale: float | None = ...,
    return_weights: Literal[True],
) -> tuple[FloatArray, FloatArray]: ...


def scaled_dot_product_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    causal: bool = False,
    scale: float | None = None,
    return_weights: bool = False,
) -> FloatArray | tuple[FloatArray, FloatArray]:
    r"""Attention of every query over all keys, returning weighted sums of the values.

    The numpy counterpart of ``torch.nn.functional.scaled_dot_product_attention``
    (without dropout): the same scale, the same mask conventions, the same
    top-left-aligned causal mask, and, as PyTorch does since 2.5, a zero output for
    a query whose keys are all masked out.

    Parameters
    ----------
    query : array_like, shape (..., L, E)
        One query vector per row: L queries of E features.
    key : array_like, shape (..., S, E)
        One key vector per row: S keys, with the same E as `query`.
    value : array_like, shape (..., S, Ev)
        One value vector per key. Leading (batch, head) axes of `query`, `key` and
        `value` broadcast against each other as in ``numpy.matmul``.
    mask : array_like of bool or float, optional
        Broadcastable to the scores' shape (..., L, S). Boolean: ``True`` means the
        query may attend to the key, ``False`` masks it out. Float: added to the
        scores, so ``-inf`` masks out and finite values bias the scores.
    causal : bool, default False
        Let query ``i`` attend only to keys ``0 .. i`` (`causal_mask` of shape
        (L, S), aligned at the top left as in PyTorch, also when L != S). Combined
        with `mask` if both are given (PyTorch refuses that combination).
    scale : float, optional
        The factor applied to the scores; default $1/\sqrt{E}$.
    return_weights : bool, default False
        Also return the attention weights.

    Returns
    -------
    context : numpy.ndarray, shape (..., L, Ev)
        Row ``i`` is the weighted sum of the value vectors for query ``i``; zero if
        all of that query's keys are masked out.
    weights : numpy.ndarray, shape (..., L, S)
        Only with ``return_weights=True``. Each row sums to 1, except rows whose keys
        are all masked out, which are 0.

    Raises
    ------
    TypeError
        If `query`, `key` or `value` is not made of real numbers, `mask` is neither
        boolean nor float, `scale` is not a real number, or `causal` is not a bool.
    ValueError
        If an array is not (..., N, D) with N, D >= 1 or holds NaN or infinity; if
        `key` and `query` differ in E, or `value` and `key` in S, or their leading
        axes do not broadcast; if `mask` does not broadcast to (..., L, S) or holds
        NaN or ``+inf``; if `scale` is not a finite number > 0; or if the scores
        overflow.

    See Also
    --------
    causal_mask : the boolean mask that ``causal=True`` applies.
    SelfAttention : the projections that produce `query`, `key` and `value`.

    Notes
    -----
    With $Q$ (L x E), $K$ (S x E), $V$ (S x Ev) and the scale
    $s$:

    $$
    \operatorname{Attention}(Q, K, V)
    = \operatorname{softmax}\!\left(s\, Q K^\top + M\right) V,
    \qquad s = \frac{1}{\sqrt{E}} \text{ by default},
    $$

    where $M_{ij}$ is 0 where query $i$ may attend to key $j$ and
    $-\infty$ where it may not (or the float mask itself). Dividing by
    $\sqrt{E}$ keeps the spread of the scores near 1 whatever the dimension:
    the dot product of two vectors with independent unit-variance entries has
    variance $E$, and softmax of widely spread scores is nearly one-hot.
    Softmax is the stable `softmax`.

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import scaled_dot_product_attention
    >>> from attention_ref.examples import INPUTS

    With the embeddings as queries, keys and values and the scale 1, this is the
    weight-free attention of `context_vectors`:

    >>> scaled_dot_product_attention(INPUTS, INPUTS, INPUTS, scale=1.0)[1].round(4)
    array([0.4419, 0.6515, 0.5683])

    The default scale is $1/\sqrt{3}$ here; ``causal=True`` lets each token
    see only itself and the tokens before it, so "Your" can only attend to itself:

    >>> context, weights = scaled_dot_product_attention(
    ...     INPUTS, INPUTS, INPUTS, causal=True, return_weights=True
    ... )
    >>> weights.round(4)
    array([[1.    , 0.    , 0.    , 0.    , 0.    , 0.    ],
           [0.4226, 0.5774, 0.    , 0.    , 0.    , 0.    ],
           [0.2698, 0.367 , 0.3632, 0.    , 0.    , 0.    ],
           [0.2235, 0.2764, 0.2742, 0.2259, 0.    , 0.    ],
           [0.1858, 0.2146, 0.2157, 0.1744, 0.2095, 0.    ],
           [0.1511, 0.1965, 0.1936, 0.1533, 0.1243, 0.1811]])
    >>> context[0]  # "Your" itself
    array([0.43, 0.15, 0.89])

    A boolean mask says who may attend to whom (True: may attend). Here "journey"
    may only look at "Your" and "step", and "Your" at nothing at all, which gives it
    a zero vector and zero weights, not NaN:

    >>> mask = np.ones((6, 6), dtype=bool)
    >>> mask[1] = [True, False, False, False, False, True]
    >>> mask[0] = False
    >>> context, weights = scaled_dot_product_attention(
    ...     INPUTS, INPUTS, INPUTS, mask=mask, return_weights=True
    ... )
    >>> weights[:2].round(4)
    array([[0.    , 0.    , 0.    , 0.    , 0.    , 0.    ],
           [0.4809, 0.    , 0.    , 0.    , 0.    , 0.5191]])
    >>> context[:2].round(4)
    array([[0.    , 0.    , 0.    ],
           [0.2328, 0.4874, 0.7135]])
    """
    q = as_inputs(query, "query")  # (..., L, E)
    k = as_inputs(key, "key")  # (..., S, E)
    v = as_inputs(value, "value")  # (..., S, Ev)
    batch = check_query_key_value(q, k, v)
    num_queries, num_keys = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else as_scale(scale)
    causal = as_flag(causal, "causal")
    checked_mask = None if mask is None else as_mask(mask, (*batch, num_queries, num_keys))
    dtype = np.result_type(q, k, v)  # float32 stays float32 unless mixed with float64
    q, k, v = (a.astype(dtype, copy=False) for a in (q, k, v))

    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
        scores = q @ np.swapaxes(k, -1, -2)  # (..., L, S): one row of scores per query
        scores *= scale
    if not np.isfinite(scores).all():
        raise ValueError(
            f"the scores overflow {dtype} (largest |query| is {np.abs(q).max():.3g}, "
            f"largest |key| is {np.abs(k).max():.3g}); scale the inputs down"
        )
    if checked_mask is None:
        pass
    elif checked_mask.dtype == np.bool_:
        scores = np.where(checked_mask, scores, -np.inf)  # False: may not attend
    else:
        with np.errstate(over="ignore"):  # e.g. -1e300 in float32: -inf, still masked
            scores = (scores + checked_mask).astype(dtype)  # a float mask is added
        if np.isposinf(scores).any():
            raise ValueError(
                f"mask added to the scores overflows {dtype} (largest mask entry is "
                f"{checked_mask.max():.3g}); keep the float mask's entries small or -inf"
            )
    if causal:
        scores = np.where(causal_mask(num_queries, num_keys), scores, -np.inf)

    weights = _masked_softmax(scores)  # (..., L, S)
    context = weights @ v  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)
    return (context, weights) if return_weights else context


def _masked_softmax(scores: FloatArray) -> FloatArray:
    """Softmax over the last axis; a row that is all ``-inf`` gets weights 0, not NaN."""
    empty = np.isneginf(scores.max(axis=-1, keepdims=True))  # (..., L, 1): nothing to see
    if not empty.any():
        return softmax(scores, axis=-1)
    # Give the empty rows any finite scores, so softmax accepts them, then zero them.
    weights = softmax(np.where(empty, 0.0, scores).astype(scores.dtype), axis=-1)
    weights[np.broadcast_to(empty, weights.shape)] = 0.0
    return weights


def causal_mask(num_queries: int, num_keys: int | None = None) -> np.ndarray:
    """The causal mask: query ``i`` may attend to keys ``0 .. i`` and no later ones.

    Parameters
    ----------
    num_queries : int
        L, the number of queries (rows), at least 1.
    num_keys : int, optional
        S, the number of keys (columns); default `num_queries`.

    Returns
    -------
    numpy.ndarray of bool, shape (L, S)
        ``True`` on and below the diagonal (may attend), ``False`` above it. When
        L != S the diagonal starts at the top left, as in PyTorch's ``is_causal``.

    Raises
    ------
    TypeError
        If a size is not an integer.
    ValueError
        If a size is less than 1.

    Examples
    --------
    >>> from attention_ref import causal_mask
    >>> causal_mask(4)
    array([[ True, False, False, False],
           [ True,  True, False, False],
           [ True,  True,  True, False],
           [ True,  True,  True,  True]])

    As a float mask to add to the scores:

    >>> import numpy as np
    >>> np.where(causal_mask(3), 0.0, -np.inf)
    array([[  0., -inf, -inf],
           [  0.,   0., -inf],
           [  0.,   0.,   0.]])
    """
    rows = as_positive_int(num_queries, "num_queries")
    cols = rows if num_keys is None else as_positive_int(num_keys, "num_keys")
    return np.tri(rows, cols, dtype=bool)  # (L, S): True on and below the diagonal


@dataclass(frozen=True, eq=False, repr=False)
class SelfAttention:
    r"""Self-attention with trainable query, key and value projections.

    Each token's embedding (a row of `inputs`) is projected three ways, and scaled
    dot-product attention runs on the projections: the queries are compared with the
    keys, and the values are mixed by the resulting weights. The weights are
    stored as read-only copies, converted to one floating-point dtype.

    Parameters
    ----------
    W_query, W_key, W_value : array_like, shape (d_in, d_out)
        The projection matrices, applied as ``inputs @ W``. All three have the same
        shape.
    causal : bool, default False
        Causal self-attention: token ``i`` attends only to tokens ``0 .. i``.

    Attributes
    ----------
    d_in : int
        The embedding size the inputs must have.
    d_out : int
        The size of each query, key, value and context vector.

    Raises
    ------
    TypeError
        If a weight is not made of real numbers or `causal` is not a bool.
    ValueError
        If a weight is not a non-empty matrix of finite numbers, or the three shapes
        differ.

    See Also
    --------
    MultiHeadAttention : several of these side by side, with an output projection.
    scaled_dot_product_attention : the attention step on the projections.

    Notes
    -----
    For inputs $X$ (N x d_in):

    $$
    Q = X W_q, \quad K = X W_k, \quad V = X W_v, \qquad
    Z = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_{out}}}
    + M\right) V
    $$

    with $M$ the causal mask (0 or $-\infty$) when ``causal=True``.
    Because query and key come from *different* matrices, the score of token
    $j$ for token $i$, $x^{(i)} W_q W_k^\top x^{(j)\top}$, is no
    longer a plain similarity of the embeddings: training can make any token attend
    to any other.

    Examples
    --------
    >>> from attention_ref import SelfAttention
    >>> from attention_ref.examples import INPUTS
    >>> attention = SelfAttention(
    ...     W_query=[[0.2, 0.7], [0.4, -0.1], [0.3, 0.5]],
    ...     W_key=[[0.5, 0.1], [-0.2, 0.6], [0.8, 0.3]],
    ...     W_value=[[0.1, 0.9], [0.6, 0.2], [0.4, 0.4]],
    ... )
    >>> attention
    SelfAttention(d_in=3, d_out=2, causal=False)

    The three projections of the six tokens, each (6, 2):

    >>> queries, keys, values = attention.project(INPUTS)
    >>> queries[1].round(4)  # the query of "journey"
    array([0.656, 0.628])

    Attention on them gives one 2-dimensional context vector per token:

    >>> context, weights = attention(INPUTS, return_weights=True)
    >>> context.round(4)
    array([[0.6265, 0.7317],
           [0.6248, 0.7363],
           [0.625 , 0.7361],
           [0.6136, 0.727 ],
           [0.6214, 0.7274],
           [0.6133, 0.7294]])
    >>> weights[1].round(4)  # how much "journey" attends to each token
    array([0.1837, 0.1916, 0.1901, 0.1408, 0.1378, 0.156 ])

    Weights drawn from a seeded random generator, and causal attention:

    >>> causal = SelfAttention.random(3, 2, seed=123, causal=True)
    >>> causal.W_query.shape
    (3, 2)
    >>> causal(INPUTS, return_weights=True)[1][1].round(4)  # "journey" sees 2 tokens
    array([0.5464, 0.4536, 0.    , 0.    , 0.    , 0.    ])
    """

    W_query: FloatArray
    W_key: FloatArray
    W_value: FloatArray
    causal: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        weights = _read_only_weights(W_query=self.W_query, W_key=self.W_key, W_value=self.W_value)
        _check_same_shape(weights, "W_query", ("W_key", "W_value"))
        for name, matrix in weights.items():
            object.__setattr__(self, name, matrix)  # frozen: set once, here
        object.__setattr__(self, "causal", as_flag(self.causal, "causal"))

    @classmethod
    def random(cls, d_in: int, d_out: int, *, seed: Seed, causal: bool = False) -> SelfAttention:
        r"""Draw the three weight matrices from a seeded random generator.

        Each entry is uniform in $[-1/\sqrt{d_{in}}, 1/\sqrt{d_{in}})$, the
        range ``torch.nn.Linear`` starts from, drawn in the order ``W_query``,
        ``W_key``, ``W_value``.

        Parameters
        ----------
        d_in : int
            The embedding size of the inputs.
        d_out : int
            The size of the query, key and value vectors.
        seed : int or numpy.random.Generator
            The seed of ``numpy.random.default_rng``, or a generator to draw from
            (it advances). The same seed gives the same weights.
        causal : bool, default False
            Causal self-attention.

        Returns
        -------
        SelfAttention
            With float64 weights of shape (d_in, d_out).

        Raises
        ------
        TypeError
            If `d_in` or `d_out` is not an integer.
        ValueError
            If `d_in` or `d_out` is less than 1.

        Examples
        --------
        >>> from attention_ref import SelfAttention
        >>> SelfAttention.random(3, 2, seed=123).W_query.round(4)
        array([[ 0.2106, -0.5152],
               [-0.3229, -0.3645],
               [-0.3742,  0.3604]])
        """
        d_in = as_positive_int(d_in, "d_in")
        d_out = as_positive_int(d_out, "d_out")
        rng = as_generator(seed)
        bound = 1.0 / math.sqrt(d_in)
        w_query, w_key, w_value = rng.uniform(-bound, bound, size=(3, d_in, d_out))
        return cls(w_query, w_key, w_value, causal=causal)

    @property
    def d_in(self) -> int:
        """The embedding size the inputs must have (rows of the weights)."""
        return self.W_query.shape[0]

    @property
    def d_out(self) -> int:
        """The size of each query, key, value and context vector."""
        return self.W_query.shape[1]

    def __repr__(self) -> str:
        return f"SelfAttention(d_in={self.d_in}, d_out={self.d_out}, causal={self.causal})"

    def project(self, inputs: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The queries, keys and values of the inputs: ``inputs @ W`` for each ``W``.

        Parameters
        ----------
        inputs : array_like, shape (N, d_in) or (..., N, d_in)
            One embedding per token.

        Returns
        -------
        queries, keys, values : numpy.ndarray, each shape (..., N, d_out)

        Raises
        ------
        TypeError
            If `inputs` is not made of real numbers.
        ValueError
            If `inputs` is not (..., N, d_in) with N >= 1, or holds NaN or infinity.
        """
        return _project(inputs, self.W_query, self.W_key, self.W_value)

    @overload
    def __call__(
        self, inputs: ArrayLike, *, return_weights: Literal[False] = ...
    ) -> FloatArray: ...

    @overload
    def __call__(
        self, inputs: ArrayLike, *, return_weights: Literal[True]
    ) -> tuple[FloatArray, FloatArray]: ...

    def __call__(
        self, inputs: ArrayLike, *, return_weights: bool = False
    ) -> FloatArray | tuple[FloatArray, FloatArray]:
        """Attend: the context vectors of the inputs, and optionally the weights.

        Parameters
        ----------
        inputs : array_like, shape (N, d_in) or (..., N, d_in)
            One embedding per token, with optional leading batch axes.
        return_weights : bool, default False
            Also return the attention weights.

        Returns
        -------
        context : numpy.ndarray, shape (..., N, d_out)
            Row ``i`` is the context vector of token ``i``.
        weights : numpy.ndarray, shape (..., N, N)
            Only with ``return_weights=True``: row ``i`` holds how much token ``i``
            attends to each token, summing to 1.

        Raises
        ------
        TypeError
            If `inputs` is not made of real numbers.
        ValueError
            If `inputs` is not (..., N, d_in) with N >= 1, or holds NaN or infinity.
        """
        queries, keys, values = self.project(inputs)  # each (..., N, d_out)
        return scaled_dot_product_attention(
            queries, keys, values, causal=self.causal, return_weights=return_weights
        )


@dataclass(frozen=True, eq=False, repr=False)
class MultiHeadAttention:
    r"""Multi-head self-attention: several attentions side by side, then mixed.

    The queries, keys and values are projected once to ``d_out`` columns, and the
    columns are split into `num_heads` groups of ``d_head = d_out / num_heads``.
    Each head attends on its own columns (its own weights, its own notion of
    relevance); the heads' context vectors are put side by side again and mixed by
    the output projection ``W_out``. This is ``torch.nn.MultiheadAttention`` with
    ``bias=False`` for self-attention; the weights are stored as read-only copies.

    Shapes, for inputs (..., N, d_in) and H heads:

    | step               | array                 | shape               |
    |--------------------|-----------------------|---------------------|
    | project            | queries, keys, values | (..., N, d_out)     |
    | split heads        | per-head q, k, v      | (..., H, N, d_head) |
    | attend (each head) | weights               | (..., H, N, N)      |
    | attend (each head) | context per head      | (..., H, N, d_head) |
    | merge heads        | context               | (..., N, d_out)     |
    | output projection  | output                | (..., N, d_out)     |

    Parameters
    ----------
    num_heads : int
        H, the number of heads; it must divide d_out.
    W_query, W_key, W_value : array_like, shape (d_in, d_out)
        The projections, applied as ``inputs @ W``; columns ``h * d_head`` to
        ``(h + 1) * d_head`` belong to head ``h``.
    W_out : array_like, shape (d_out, d_out)
        The output projection, applied to the merged heads as ``context @ W_out``.
    causal : bool, default False
        Causal attention in every head.

    Attributes
    ----------
    d_in : int
        The embedding size the inputs must have.
    d_out : int
        The size of the output vectors (and of the merged heads).
    d_head : int
        The size of each head's query, key and value vectors, ``d_out // num_heads``.

    Raises
    ------
    TypeError
        If `num_heads` is not an integer, a weight is not made of real numbers, or
        `causal` is not a bool.
    ValueError
        If `num_heads` is less than 1 or does not divide d_out, a weight is not a
        non-empty matrix of finite numbers, ``W_key`` or ``W_value`` differs in shape
        from ``W_query``, or ``W_out`` is not (d_out, d_out).

    See Also
    --------
    SelfAttention : a single head, without the output projection.

    Notes
    -----
    For head $h$ with column block $[h]$ of each projection:

    $$
    Z_h = \operatorname{softmax}\!\left(
    \frac{(X W_q^{[h]})(X W_k^{[h]})^\top}{\sqrt{d_{head}}} + M\right)
    X W_v^{[h]}, \qquad
    \operatorname{MultiHead}(X) = [Z_1, \dots, Z_H]\, W_{out}
    $$

    Examples
    --------
    >>> from attention_ref import MultiHeadAttention
    >>> from attention_ref.examples import INPUTS
    >>> heads = MultiHeadAttention.random(3, 2, num_heads=2, seed=123)
    >>> heads
    MultiHeadAttention(num_heads=2, d_in=3, d_out=2, d_head=1, causal=False)
    >>> output, weights = heads(INPUTS, return_weights=True)
    >>> output.shape, weights.shape  # (N, d_out), (H, N, N)
    ((6, 2), (2, 6, 6))
    >>> weights[:, 1].round(4)  # what "journey" attends to, in each head
    array([[0.1774, 0.1554, 0.1553, 0.174 , 0.164 , 0.1739],
           [0.1856, 0.1628, 0.1633, 0.1598, 0.1732, 0.1553]])
    """

    num_heads: int
    W_query: FloatArray
    W_key: FloatArray
    W_value: FloatArray
    W_out: FloatArray
    causal: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        num_heads = as_positive_int(self.num_heads, "num_heads")
        weights = _read_only_weights(
            W_query=self.W_query, W_key=self.W_key, W_value=self.W_value, W_out=self.W_out
        )
        _check_same_shape(weights, "W_query", ("W_key", "W_value"))
        d_out = weights["W_query"].shape[1]
        if weights["W_out"].shape != (d_out, d_out):
            raise ValueError(
                f"W_out must have shape (d_out, d_out) = ({d_out}, {d_out}), to map the "
                f"merged heads back to d_out features; got shape {weights['W_out'].shape}"
            )
        if d_out % num_heads:
            raise ValueError(
                f"num_heads must divide d_out = {d_out} (each head gets d_out / num_heads "
                f"columns); got num_heads = {num_heads}"
            )
        object.__setattr__(self, "num_heads", num_heads)  # frozen: set once, here
        for name, matrix in weights.items():
            object.__setattr__(self, name, matrix)
        object.__setattr__(self, "causal", as_flag(self.causal, "causal"))

    @classmethod
    def random(
        cls, d_in: int, d_out: int, num_heads: int, *, seed: Seed, causal: bool = False
    ) -> MultiHeadAttention:
        r"""Draw all four weight matrices from a seeded random generator.

        Entries are uniform in $[-1/\sqrt{\text{fan-in}}, 1/\sqrt{\text{fan-in}})$
        (fan-in d_in for the projections, d_out for ``W_out``), drawn in the order
        ``W_query``, ``W_key``, ``W_value``, ``W_out``.

        Parameters
        ----------
        d_in : int
            The embedding size of the inputs.
        d_out : int
            The size of the outputs; `num_heads` must divide it.
        num_heads : int
            The number of heads.
        seed : int or numpy.random.Generator
            The seed of ``numpy.random.default_rng``, or a generator to draw from.
        causal : bool, default False
            Causal attention in every head.

        Returns
        -------
        MultiHeadAttention
            With float64 weights.

        Raises
        ------
        TypeError
            If a size is not an integer.
        ValueError
            If a size is less than 1 or `num_heads` does not divide `d_out`.

        Examples
        --------
        >>> from attention_ref import MultiHeadAttention
        >>> MultiHeadAttention.random(4, 6, num_heads=3, seed=0).d_head
        2
        """
        d_in = as_positive_int(d_in, "d_in")
        d_out = as_positive_int(d_out, "d_out")
        rng = as_generator(seed)
        bound = 1.0 / math.sqrt(d_in)
        w_query, w_key, w_value = rng.uniform(-bound, bound, size=(3, d_in, d_out))
        bound_out = 1.0 / math.sqrt(d_out)
        w_out = rng.uniform(-bound_out, bound_out, size=(d_out, d_out))
        return cls(num_heads, w_query, w_key, w_value, w_out, causal=causal)

    @property
    def d_in(self) -> int:
        """The embedding size the inputs must have (rows of the projections)."""
        return self.W_query.shape[0]

    @property
    def d_out(self) -> int:
        """The size of the output vectors."""
        return self.W_query.shape[1]

    @property
    def d_head(self) -> int:
        """The size of each head's query, key and value vectors."""
        return self.d_out // self.num_heads

    def __repr__(self) -> str:
        return (
            f"MultiHeadAttention(num_heads={self.num_heads}, d_in={self.d_in}, "
            f"d_out={self.d_out}, d_head={self.d_head}, causal={self.causal})"
        )

    @overload
    def __call__(
        self, inputs: ArrayLike, *, return_weights: Literal[False] = ...
    ) -> FloatArray: ...

    @overload
    def __call__(
        self, inputs: ArrayLike, *, return_weights: Literal[True]
    ) -> tuple[FloatArray, FloatArray]: ...

    def __call__(
        self, inputs: ArrayLike, *, return_weights: bool = False
    ) -> FloatArray | tuple[FloatArray, FloatArray]:
        """Attend with every head, merge the heads and project the result.

        Parameters
        ----------
        inputs : array_like, shape (N, d_in) or (..., N, d_in)
            One embedding per token, with optional leading batch axes.
        return_weights : bool, default False
            Also return each head's attention weights.

        Returns
        -------
        output : numpy.ndarray, shape (..., N, d_out)
            Row ``i`` is the output vector of token ``i``.
        weights : numpy.ndarray, shape (..., H, N, N)
            Only with ``return_weights=True``: ``weights[..., h, i, :]`` is how much
            token ``i`` attends to each token in head ``h`` (PyTorch's
            ``average_attn_weights=False``; average over axis -3 for its default).

        Raises
        ------
        TypeError
            If `inputs` is not made of real numbers.
        ValueError
            If `inputs` is not (..., N, d_in) with N >= 1, or holds NaN or infinity.
        """
        queries, keys, values = _project(inputs, self.W_query, self.W_key, self.W_value)
        context, weights = scaled_dot_product_attention(
            self._split_heads(queries),  # (..., H, N, d_head)
            self._split_heads(keys),  # (..., H, N, d_head)
            self._split_heads(values),  # (..., H, N, d_head)
            causal=self.causal,
            return_weights=True,
        )  # context (..., H, N, d_head), weights (..., H, N, N)
        context = self._merge_heads(context)  # (..., N, d_out): heads side by side
        output = context @ self.W_out  # (..., N, d_out): mix the heads
        return (output, weights) if return_weights else output

    def _split_heads(self, x: FloatArray) -> FloatArray:
        """(..., N, d_out) -> (..., H, N, d_head): head h takes its block of columns."""
        x = x.reshape(*x.shape[:-1], self.num_heads, self.d_head)  # (..., N, H, d_head)
        return np.swapaxes(x, -3, -2)  # (..., H, N, d_head)

    def _merge_heads(self, x: FloatArray) -> FloatArray:
        """(..., H, N, d_head) -> (..., N, d_out): the inverse of `_split_heads`."""
        x = np.swapaxes(x, -3, -2)  # (..., N, H, d_head)
        return x.reshape(*x.shape[:-2], self.d_out)  # (..., N, d_out)


def _read_only_weights(**weights: ArrayLike) -> dict[str, FloatArray]:
    """Check each weight matrix and return read-only copies in one common dtype."""
    checked = {name: as_matrix(w, name) for name, w in weights.items()}
    dtype = np.result_type(*checked.values())
    for name, matrix in checked.items():
        copy = matrix.astype(dtype, copy=True)  # never share memory with the caller
        copy.flags.writeable = False
        checked[name] = copy
    return checked


def _check_same_shape(
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


def _project(
    inputs: ArrayLike, w_query: FloatArray, w_key: FloatArray, w_value: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Check `inputs` against the weights' d_in and project them three ways."""
    x = as_inputs(inputs)  # (..., N, d_in)
    d_in = w_query.shape[0]
    if x.shape[-1] != d_in:
        raise ValueError(
            f"inputs must have d_in = {d_in} features in the last axis, to match "
            f"W_query of shape {w_query.shape}; got inputs of shape {x.shape}"
        )
    # (..., N, d_in) @ (d_in, d_out) -> (..., N, d_out), for each projection
    return x @ w_query, x @ w_key, x @ w_value
