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

Both classes are one skeleton, `_Attention`: the projections live there, and
multi-head attention is H single heads side by side plus ``W_out``, so that
`SelfAttention` is the case H = 1 without it. Every public function checks its
arguments once (``_validate``); `_attention` is the kernel that trusts them.

With the embeddings themselves as queries, keys and values and the scale 1,
``scaled_dot_product_attention(inputs, inputs, inputs, scale=1.0)`` is exactly the
weight-free `context_vectors` of the story.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._online import attend, choose_block_size, make_problem
from ._validate import (
    FloatArray,
    Seed,
    as_block_size,
    as_flag,
    as_float_dtype,
    as_generator,
    as_inputs_with_norm,
    as_lengths,
    as_mask,
    as_matrix,
    as_positive_int,
    as_probability,
    as_scale,
    check_no_overflow,
    check_query_key_value,
    check_same_shape,
    largest_column_norm,
    provably_finite,
    unchecked_matmul,
)

__all__ = [
    "MultiHeadAttention",
    "SelfAttention",
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
]

_PROJECTIONS = ("W_query", "W_key", "W_value")
# `_heads` bounds the heads' norms by the weights' for calls with at least this many
# queries' entries, and heads of at most this many columns (see `_head_norms`).
BOUND_MIN_ENTRIES = 1 << 20
BOUND_MAX_HEAD = 128


@overload
def scaled_dot_product_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    *,
    mask: ArrayLike | None = ...,
    causal: bool = ...,
    scale: float | None = ...,
    dropout_p: float = ...,
    rng: Seed | None = ...,
    block_size: int | None = ...,
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
    dropout_p: float = ...,
    rng: Seed | None = ...,
    block_size: int | None = ...,
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
    dropout_p: float = 0.0,
    rng: Seed | None = None,
    block_size: int | None = None,
    return_weights: bool = False,
) -> FloatArray | tuple[FloatArray, FloatArray]:
    r"""Attention of every query over all keys, returning weighted sums of the values.

    The numpy counterpart of ``torch.nn.functional.scaled_dot_product_attention``:
    the same scale, the same mask conventions, the same top-left-aligned causal
    mask, the same dropout of the weights, and, as PyTorch does since 2.5, a zero
    output for a query whose keys are all masked out.

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
    dropout_p : float, default 0.0
        The probability of dropping each attention weight, in [0, 1). The weights
        that survive are scaled by $1/(1 - p)$, so that each output keeps its
        expected value, as in PyTorch (which applies dropout only while training:
        pass ``dropout_p=0.0`` at inference). With 0, nothing is drawn.
    rng : int, numpy.random.Generator or None, optional
        Where the dropout draws come from, read as ``numpy.random.default_rng(rng)``
        does: a seed (the same seed gives the same result), a generator (which
        advances), or None for fresh entropy. Unused when `dropout_p` is 0.
    block_size : int, optional
        Process the queries in blocks of this many rows and, within each, the keys
        in blocks of this many, with the online softmax (see Notes): extra memory
        O(block_size^2 + L·Ev), never (..., L, S). ``None`` (the default) chooses
        by the rule in Notes. Ignored with ``return_weights=True``, whose weights
        are (..., L, S) anyway.
    return_weights : bool, default False
        Also return the attention weights.

    Returns
    -------
    context : numpy.ndarray, shape (..., L, Ev)
        Row ``i`` is the weighted sum of the value vectors for query ``i``; zero if
        all of that query's keys are masked out.
    weights : numpy.ndarray, shape (..., L, S)
        Only with ``return_weights=True``. Each row sums to 1, except rows whose keys
        are all masked out, which are 0. With dropout, these are the weights actually
        applied to the values: dropped ones 0, the others divided by ``1 - dropout_p``
        (as ``torch.nn.MultiheadAttention`` returns them).

    Raises
    ------
    TypeError
        If `query`, `key` or `value` is not made of real numbers, `mask` is neither
        boolean nor float, `scale` or `dropout_p` is not a real number, `rng` is
        not an integer, a generator or None, `block_size` is not an integer or
        None, or `causal` or `return_weights` is not a bool.
    ValueError
        If an array is not (..., N, D) with N, D >= 1 or holds NaN or infinity; if
        `key` and `query` differ in E, or `value` and `key` in S, or their leading
        axes do not broadcast; if `mask` does not broadcast to (..., L, S) or holds
        NaN or ``+inf``; if `scale` is not a finite number > 0; if `dropout_p` is
        not in [0, 1); if `rng` is a negative integer; if `block_size` is less
        than 1; or if the scores or the weighted sum of the values overflow.

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

    Without `return_weights`, the queries are processed in independent units (a
    block of rows, or all rows of a few batch entries) that run on all cores when
    there is enough work, each unit walking over its keys in blocks. Each query
    keeps a running maximum $m$, a running sum $\ell$ and an unnormalised
    output $o$ (Milakov and Gimelshein 2018; Dao et al. 2022): a block of
    scores $s_j$ whose maximum raises $m$ to $m'$ rescales what came
    before by $e^{m - m'}$,

    $$
    \ell \leftarrow e^{m - m'} \ell + \sum_j e^{s_j - m'}, \qquad
    o \leftarrow e^{m - m'} o + \sum_j e^{s_j - m'} v_j,
    $$

    and $o / \ell$ is the result: the division is made on L x Ev numbers,
    not on the weights. With ``causal=True`` the key blocks entirely after a
    block's last query are skipped. The rule for ``block_size=None``: all the keys
    in one block while S <= 1024 (the full form, in units whose scores take at most
    2 MiB, so nothing of size (..., L, S) is made either), blocks of 512 queries and
    512 keys beyond. Measured on 2 cores at N = 2048 and 4096, D = 64 and 768, the
    blocks are as fast as all keys at once or faster, as their scores stay in the
    cache; at N = 16384, D = 64 in float64 they take a few tens of MiB instead of
    the 2 GiB of the scores.

    Dropout keeps weight $(i, j)$ where the draw $u_{ij}$ is at least
    $p$ and zeroes it elsewhere:

    $$
    \tilde{A}_{ij} = \frac{[u_{ij} \ge p]}{1 - p}\, A_{ij}, \qquad
    u = \texttt{rng.random}((\dots, L, S)),
    $$

    one uniform draw per weight, in C order over the whole (..., L, S) shape of the
    scores (batch axes first, then the queries, then the keys). That draw order is
    part of the contract: the same seed gives the same dropped weights whatever the
    form of the computation. PyTorch's dropout cannot be matched bit for bit (its
    generator and its order of draws differ); it agrees in distribution: each weight
    is kept with probability $1 - p$ and the expected output is the output
    without dropout.

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

    In blocks of 4 queries and 4 keys, the same numbers without the 6 x 6 array:

    >>> scaled_dot_product_attention(
    ...     INPUTS, INPUTS, INPUTS, causal=True, block_size=4
    ... )[:2].round(4)
    array([[0.43  , 0.15  , 0.89  ],
           [0.4993, 0.5657, 0.7572]])

    Dropout with a seed: about half the weights are dropped and the survivors
    doubled, the same ones for the same seed:

    >>> _, dropped = scaled_dot_product_attention(
    ...     INPUTS, INPUTS, INPUTS, causal=True, dropout_p=0.5, rng=7, return_weights=True
    ... )
    >>> dropped.round(4)
    array([[2.    , 0.    , 0.    , 0.    , 0.    , 0.    ],
           [0.    , 1.1548, 0.    , 0.    , 0.    , 0.    ],
           [0.    , 0.    , 0.7263, 0.    , 0.    , 0.    ],
           [0.447 , 0.5528, 0.    , 0.    , 0.    , 0.    ],
           [0.    , 0.4292, 0.    , 0.3488, 0.419 , 0.    ],
           [0.    , 0.    , 0.    , 0.    , 0.2487, 0.    ]])
    """
    # Each with its longest row's norm, which bounds the scores (see `make_problem`).
    q, query_norm = as_inputs_with_norm(query, "query")  # (..., L, E)
    k, key_norm = as_inputs_with_norm(key, "key")  # (..., S, E)
    v, value_norm = as_inputs_with_norm(value, "value")  # (..., S, Ev)
    batch = check_query_key_value(q, k, v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else as_scale(scale)
    causal = as_flag(causal, "causal")
    return_weights = as_flag(return_weights, "return_weights")
    dropout_p = as_probability(dropout_p, "dropout_p")
    generator = as_generator(rng, "rng", allow_none=True) if dropout_p > 0 else None
    if dropout_p == 0 and rng is not None:
        as_generator(rng, "rng")  # checked all the same, but nothing is drawn
    block_size = as_block_size(block_size)
    checked_mask = None if mask is None else as_mask(mask, (*batch, q.shape[-2], k.shape[-2]))
    dtype = np.result_type(q, k, v)  # float32 stays float32 unless mixed with float64
    q, k, v = (a.astype(dtype, copy=False) for a in (q, k, v))
    blame: dict[str, FloatArray | float] = {"query": q, "key": k}
    if scale > 1:  # a scale below 1 can only shrink the scores
        blame["scale"] = scale
    problem = make_problem(
        q,
        k,
        v,
        batch=batch,
        scale=scale,
        causal=causal,
        mask=checked_mask,
        dropout_p=dropout_p,
        blame=(blame, {"value": v}),
        norms=(query_norm, key_norm, value_norm),
    )
    if return_weights:  # the full form: the weights are (..., L, S) anyway
        context, weights = attend(problem, block_size=None, rng=generator, return_weights=True)
        assert weights is not None
        return context, weights
    block_size = choose_block_size(problem, block_size)
    return attend(problem, block_size=block_size, rng=generator)[0]


def causal_mask(num_queries: int, num_keys: int | None = None) -> NDArray[np.bool_]:
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


def padding_mask(lengths: ArrayLike, num_keys: int) -> NDArray[np.bool_]:
    """The key padding mask of a batch: sequence ``b`` may attend to keys ``0 .. n_b - 1``.

    A batch stacks sequences of different lengths by padding the short ones to a
    common length S. The padding positions are not tokens: no query may attend to
    them, so that each sequence gets exactly the result it would get on its own.

    Parameters
    ----------
    lengths : array_like of int, shape (B,)
        The number of real tokens ``n_b`` of each of the B sequences, each between 0
        and `num_keys`; the tokens come first, the padding after them.
    num_keys : int
        S, the padded length (the number of keys), at least 1.

    Returns
    -------
    numpy.ndarray of bool, shape (B, 1, S)
        ``True`` where a query may attend (a real token), ``False`` at the padding:
        the package's convention, the opposite of ``key_padding_mask`` in
        ``torch.nn.MultiheadAttention``, where ``True`` means *ignore* (pass
        ``~mask[:, 0]`` there). The axis of length 1 stands for the L queries, so
        the mask broadcasts against scores of shape (B, L, S). For scores with a
        head axis, (B, H, L, S), add one more: ``mask[:, None]`` is (B, 1, 1, S).

    Raises
    ------
    TypeError
        If `lengths` is not made of integers, or `num_keys` is not an integer.
    ValueError
        If `lengths` is not one-dimensional and non-empty, a length is below 0 or
        above `num_keys`, or `num_keys` is less than 1.

    See Also
    --------
    causal_mask : the mask of the future; both combine with ``&``, or with
        ``causal=True``.
    scaled_dot_product_attention : takes the mask as ``mask=``.

    Notes
    -----
    The mask only hides padded *keys*. A padded *query* still attends to the real
    keys of its sequence and gets a finite output that means nothing: ignore those
    rows (or let a loss mask drop them), as PyTorch does. A sequence of length 0 has
    no key to attend to at all; its outputs are 0 (see
    `scaled_dot_product_attention`).

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import causal_mask, padding_mask, scaled_dot_product_attention
    >>> mask = padding_mask([3, 1], num_keys=4)  # two sentences padded to 4 tokens
    >>> mask.shape
    (2, 1, 4)
    >>> mask.astype(int)
    array([[[1, 1, 1, 0]],
    <BLANKLINE>
           [[1, 0, 0, 0]]])

    Each sentence of the padded batch gets what it gets alone:

    >>> batch = np.random.default_rng(0).normal(size=(2, 4, 3))  # (B, S, D)
    >>> together = scaled_dot_product_attention(batch, batch, batch, mask=mask)
    >>> first = batch[0, :3]  # the first sentence without its padding, (3, 3)
    >>> alone = scaled_dot_product_attention(first, first, first)
    >>> bool(np.allclose(together[0, :3], alone))
    True

    With ``causal=True``, or combined with a boolean mask by ``&``, or made a float
    mask (0 or ``-inf``) to add to a float bias:

    >>> causal = scaled_dot_product_attention(batch, batch, batch, mask=mask, causal=True)
    >>> both = mask & causal_mask(4)  # (2, 4, 4)
    >>> bool(np.allclose(causal, scaled_dot_product_attention(batch, batch, batch, mask=both)))
    True
    >>> np.where(mask, 0.0, -np.inf)[1]
    array([[  0., -inf, -inf, -inf]])
    """
    keys = as_positive_int(num_keys, "num_keys")
    checked = as_lengths(lengths, keys)  # (B,)
    return np.arange(keys) < checked[:, None, None]  # (B, 1, S): True for real tokens


class _Attention:
    """The skeleton `SelfAttention` and `MultiHeadAttention` share, projections and all.

    Subclasses are frozen dataclasses with the fields ``W_query``, ``W_key``, ``W_value``
    (each (d_in, d_out), applied as ``inputs @ W``) and ``causal``; each says in
    `_forward` what it does with the heads.
    """

    W_query: FloatArray
    W_key: FloatArray
    W_value: FloatArray
    causal: bool
    _stacked: FloatArray  # (d_in, 3 d_out): the three side by side, set by `_freeze`
    _stacked_norm: float  # its largest column norm: the projections' overflow bound
    _head_norms_found: dict[int, tuple[float, float, float]]  # see `_head_norms`

    def _freeze(self, **more: ArrayLike) -> dict[str, FloatArray]:
        """Check the weights and `causal`; store read-only copies in one common dtype."""
        weights = _read_only_weights(
            W_query=self.W_query, W_key=self.W_key, W_value=self.W_value, **more
        )
        check_same_shape(weights, "W_query", ("W_key", "W_value"))
        for name, matrix in weights.items():
            object.__setattr__(self, name, matrix)  # frozen: set once, here
        object.__setattr__(self, "causal", as_flag(self.causal, "causal"))
        # The three side by side, for one product instead of three (measured 8 % faster
        # in float32 and 18 % in float64 at 4096 x 768 by 768 x 768).
        stacked = np.concatenate([weights[name] for name in _PROJECTIONS], axis=1)
        stacked.flags.writeable = False
        object.__setattr__(self, "_stacked", stacked)  # (d_in, 3 d_out)
        object.__setattr__(self, "_stacked_norm", largest_column_norm(stacked))
        object.__setattr__(self, "_head_norms_found", {})
        return weights

    @property
    def d_in(self) -> int:
        """The embedding size the inputs must have (rows of the projections)."""
        return int(self.W_query.shape[0])

    @property
    def d_out(self) -> int:
        """The size of the queries, keys and values, and of the output vectors."""
        return int(self.W_query.shape[1])

    def project(self, inputs: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The queries, keys and values of the inputs: ``inputs @ W`` for each ``W``.

        Parameters
        ----------
        inputs : array_like, shape (N, d_in) or (..., N, d_in)
            One embedding per token.

        Returns
        -------
        queries : numpy.ndarray, shape (..., N, d_out)
            ``inputs @ W_query``: what each token looks for.
        keys : numpy.ndarray, shape (..., N, d_out)
            ``inputs @ W_key``: what each token offers.
        values : numpy.ndarray, shape (..., N, d_out)
            ``inputs @ W_value``: what each token passes on.

        Raises
        ------
        TypeError
            If `inputs` is not made of real numbers.
        ValueError
            If `inputs` is not (..., N, d_in) with N >= 1 or holds NaN or infinity, or
            if a projection overflows (the message names the weight matrix).
        """
        return self._project(*self._check_inputs(inputs))

    @overload
    def __call__(
        self,
        inputs: ArrayLike,
        *,
        mask: ArrayLike | None = ...,
        return_weights: Literal[False] = ...,
    ) -> FloatArray: ...

    @overload
    def __call__(
        self, inputs: ArrayLike, *, mask: ArrayLike | None = ..., return_weights: Literal[True]
    ) -> tuple[FloatArray, FloatArray]: ...

    def __call__(
        self, inputs: ArrayLike, *, mask: ArrayLike | None = None, return_weights: bool = False
    ) -> FloatArray | tuple[FloatArray, FloatArray]:
        """Attend: one output vector per token, and optionally the attention weights.

        Parameters
        ----------
        inputs : array_like, shape (N, d_in) or (..., N, d_in)
            One embedding per token, with optional leading batch axes.
        mask : array_like of bool or float, optional
            Who may attend to whom, as in `scaled_dot_product_attention`: broadcastable
            to the weights' shape, (..., N, N) for `SelfAttention` and (..., H, N, N)
            for `MultiHeadAttention` (so a (N, N) mask applies to every head, and a
            (..., H, N, N) one to each head on its own). Boolean: ``True`` may attend;
            float: added to the scores. Combined with ``causal`` if both are set.
        return_weights : bool, default False
            Also return the attention weights. Without them, nothing of size N x N
            outlives the call: the softmax is divided after the product with the
            values, and long sequences run in blocks.

        Returns
        -------
        output : numpy.ndarray, shape (..., N, d_out)
            Row ``i`` is the output of token ``i``: its context vector for
            `SelfAttention`; for `MultiHeadAttention`, its heads' context vectors side
            by side, mixed by ``W_out``.
        weights : numpy.ndarray, shape (..., N, N) or (..., H, N, N)
            Only with ``return_weights=True``. Row ``i`` holds how much token ``i``
            attends to each token, summing to 1 (0 for a token that may attend to
            nothing). `MultiHeadAttention` gives one such matrix per head,
            ``weights[..., h, :, :]`` (PyTorch's ``average_attn_weights=False``;
            average over axis -3 for its default).

        Raises
        ------
        TypeError
            If `inputs` is not made of real numbers, `mask` is neither boolean nor
            float, or `return_weights` is not a bool.
        ValueError
            If `inputs` is not (..., N, d_in) with N >= 1 or holds NaN or infinity, if
            `mask` does not broadcast to the weights' shape or holds NaN or ``+inf``,
            or if a product of the inputs and the weights overflows (the message names
            them).
        """
        return_weights = as_flag(return_weights, "return_weights")
        x, norm = self._check_inputs(inputs)
        checked = None if mask is None else as_mask(mask, self._weights_shape(x))
        output, weights = self._forward(x, norm, checked, return_weights)
        if return_weights:
            assert weights is not None
            return output, weights
        return output

    def _weights_shape(self, x: FloatArray) -> tuple[int, ...]:
        """The shape of the weights for checked inputs `x`: (..., N, N) or (..., H, N, N)."""
        raise NotImplementedError

    def _forward(
        self, x: FloatArray, norm: float, mask: NDArray[Any] | None, return_weights: bool
    ) -> tuple[FloatArray, FloatArray | None]:
        """The output, and the weights if asked for, for checked inputs `x` (..., N, d_in).

        `norm` is the largest norm of a row of `x`.
        """
        raise NotImplementedError

    def _check_inputs(self, inputs: ArrayLike) -> tuple[FloatArray, float]:
        """Check `inputs` against the weights' d_in; return them and their largest row norm."""
        x, norm = as_inputs_with_norm(inputs)  # (..., N, d_in): one pass proves it finite
        if x.shape[-1] != self.d_in:
            raise ValueError(
                f"inputs must have d_in = {self.d_in} features in the last axis, to match "
                f"W_query of shape {self.W_query.shape}; got inputs of shape {x.shape}"
            )
        return x, norm

    def _project(self, x: FloatArray, norm: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The three projections of checked inputs: (..., N, d_in) @ (d_in, d_out) each.

        One product with the three matrices side by side; the results are views of it.
        `norm`, the largest row norm of `x`, and the weights' column norm (found once)
        prove most products finite without a look at them.
        """
        stacked = self._stacked
        product = unchecked_matmul(x, stacked)  # (..., N, 3 d_out)
        queries, keys, values = np.split(product, 3, axis=-1)  # each (..., N, d_out)
        if not provably_finite(x, stacked, product, norms=(norm, self._stacked_norm)):
            for name, part in zip(_PROJECTIONS, (queries, keys, values), strict=True):
                w = getattr(self, name)
                check_no_overflow(part, f"the projection inputs @ {name}", {"inputs": x, name: w})
        return queries, keys, values

    def _head_norms(self, num_heads: int) -> tuple[float, float, float]:
        """The largest spectral norm of a head's columns of W_query, W_key and W_value.

        ``|x_i W| <= |x_i| ||W||_2``: times the inputs' largest row norm, they bound the
        norms of the heads' queries, keys and values without a pass over them. Found
        once per number of heads (see `_largest_spectral_norm`).
        """
        norms = self._head_norms_found.get(num_heads)
        if norms is None:
            w_q, w_k, w_v = (
                _largest_spectral_norm(_split_heads(getattr(self, name), num_heads))
                for name in _PROJECTIONS
            )
            norms = self._head_norms_found[num_heads] = (w_q, w_k, w_v)
        return norms

    def _heads(
        self,
        x: FloatArray,
        norm: float,
        num_heads: int,
        mask: NDArray[Any] | None,
        return_weights: bool,
    ) -> tuple[FloatArray, FloatArray | None, float]:
        """`num_heads` single-head attentions side by side, on blocks of the columns.

        Returns the heads' context vectors merged, (..., N, d_out), their weights,
        (..., H, N, N), if asked for, and a bound on the merged rows' norms. `mask` is
        checked and broadcasts to the weights; `norm` is the largest row norm of `x`.
        """
        queries, keys, values = self._project(x, norm)  # each (..., N, d_out)
        d_head = self.d_out // num_heads
        # Large calls with small heads offer bounds on the heads' norms from the
        # weights' (found once, cheaply for small heads), which spare a pass over q, k
        # and v where they suffice: 5 % of the time of MultiHeadAttention at batch 8,
        # N = 512, 768 x 12 heads, in float32.
        bounds = None
        if queries.size >= BOUND_MIN_ENTRIES and d_head <= BOUND_MAX_HEAD:
            w_q, w_k, w_v = self._head_norms(num_heads)
            bounds = (norm * w_q, norm * w_k, norm * w_v)
        problem = make_problem(
            _split_heads(queries, num_heads),  # (..., H, N, d_head)
            _split_heads(keys, num_heads),  # (..., H, N, d_head)
            _split_heads(values, num_heads),  # (..., H, N, d_head)
            batch=(*x.shape[:-2], num_heads),
            scale=1.0 / math.sqrt(d_head),
            causal=self.causal,
            mask=mask,
            dropout_p=0.0,
            blame=(
                {"inputs": x, "W_query": self.W_query, "W_key": self.W_key},
                {"inputs": x, "W_value": self.W_value},
            ),
            norm_bounds=bounds,
        )
        # The heads' context vectors side by side, (..., N, d_out), each head written
        # into its columns; weights (..., H, N, N) or None.
        merged = np.empty((*x.shape[:-1], self.d_out), x.dtype)
        block_size = None if return_weights else choose_block_size(problem, None)
        _, weights = attend(
            problem,
            block_size=block_size,
            rng=None,
            return_weights=return_weights,
            out=_split_heads(merged, num_heads),  # (..., H, N, d_head): a view
        )
        # Each head's context vector is a weighted mean of its values, no longer than
        # the longest of them; H of them side by side: sqrt(H) times that at most.
        return merged, weights, math.sqrt(num_heads) * problem.value_norm


@dataclass(frozen=True, eq=False, repr=False)
class SelfAttention(_Attention):
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
        self._freeze()

    @classmethod
    def random(
        cls,
        d_in: int,
        d_out: int,
        *,
        seed: Seed,
        causal: bool = False,
        dtype: DTypeLike = np.float64,
    ) -> SelfAttention:
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
        dtype : numpy.float32 or numpy.float64, default numpy.float64
            The dtype of the weights, and so of the outputs for inputs of that dtype
            (float32 in, float32 out). The weights are drawn in float64 and rounded,
            so a seed gives the same weights, to float32 precision, in either.

        Returns
        -------
        SelfAttention
            With weights of shape (d_in, d_out) in `dtype`.

        Raises
        ------
        TypeError
            If `d_in` or `d_out` is not an integer, `seed` is neither an integer nor a
            generator, or `dtype` is not float32 or float64.
        ValueError
            If `d_in` or `d_out` is less than 1, or `seed` is negative.

        Examples
        --------
        >>> import numpy as np
        >>> from attention_ref import SelfAttention
        >>> SelfAttention.random(3, 2, seed=123).W_query.round(4)
        array([[ 0.2106, -0.5152],
               [-0.3229, -0.3645],
               [-0.3742,  0.3604]])

        float32 weights keep float32 inputs in float32:

        >>> single = SelfAttention.random(3, 2, seed=123, dtype=np.float32)
        >>> single(np.ones((4, 3), dtype=np.float32)).dtype
        dtype('float32')
        """
        d_in, d_out = as_positive_int(d_in, "d_in"), as_positive_int(d_out, "d_out")
        rng, dtype = as_generator(seed), as_float_dtype(dtype)
        w_query, w_key, w_value = _uniform(rng, d_in, (3, d_in, d_out), dtype)
        return cls(w_query, w_key, w_value, causal=causal)

    def __repr__(self) -> str:
        return f"SelfAttention(d_in={self.d_in}, d_out={self.d_out}, causal={self.causal})"

    def _weights_shape(self, x: FloatArray) -> tuple[int, ...]:
        return (*x.shape[:-2], x.shape[-2], x.shape[-2])  # (..., N, N)

    def _forward(
        self, x: FloatArray, norm: float, mask: NDArray[Any] | None, return_weights: bool
    ) -> tuple[FloatArray, FloatArray | None]:
        """One head over all d_out columns, and no output projection."""
        if mask is not None and mask.ndim >= 3:
            mask = np.expand_dims(mask, -3)  # (..., 1, N, N): the one head's axis
        # weights (..., 1, N, N)
        context, weights, _ = self._heads(x, norm, 1, mask, return_weights)
        if weights is None:
            return context, None
        return context, weights[..., 0, :, :]  # (..., N, d_out), (..., N, N)


@dataclass(frozen=True, eq=False, repr=False)
class MultiHeadAttention(_Attention):
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
    # W_out's largest column norm: the output projection's overflow bound.
    _out_norm: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        num_heads = as_positive_int(self.num_heads, "num_heads")
        d_out = self._freeze(W_out=self.W_out)["W_query"].shape[1]
        if self.W_out.shape != (d_out, d_out):
            raise ValueError(
                f"W_out must have shape (d_out, d_out) = ({d_out}, {d_out}), to map the "
                f"merged heads back to d_out features; got shape {self.W_out.shape}"
            )
        if d_out % num_heads:
            raise ValueError(
                f"num_heads must divide d_out = {d_out} (each head gets d_out / num_heads "
                f"columns); got num_heads = {num_heads}"
            )
        object.__setattr__(self, "num_heads", num_heads)  # frozen: set once, here
        object.__setattr__(self, "_out_norm", largest_column_norm(self.W_out))

    @classmethod
    def random(
        cls,
        d_in: int,
        d_out: int,
        num_heads: int,
        *,
        seed: Seed,
        causal: bool = False,
        dtype: DTypeLike = np.float64,
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
        dtype : numpy.float32 or numpy.float64, default numpy.float64
            The dtype of all four matrices, drawn in float64 and rounded as for
            `SelfAttention.random`: float32 weights keep float32 inputs in float32.

        Returns
        -------
        MultiHeadAttention
            With weights in `dtype`.

        Raises
        ------
        TypeError
            If a size is not an integer, `seed` is neither an integer nor a generator,
            or `dtype` is not float32 or float64.
        ValueError
            If a size is less than 1, `num_heads` does not divide `d_out`, or `seed` is
            negative.

        Examples
        --------
        >>> from attention_ref import MultiHeadAttention
        >>> MultiHeadAttention.random(4, 6, num_heads=3, seed=0).d_head
        2
        """
        d_in, d_out = as_positive_int(d_in, "d_in"), as_positive_int(d_out, "d_out")
        rng, dtype = as_generator(seed), as_float_dtype(dtype)
        w_query, w_key, w_value = _uniform(rng, d_in, (3, d_in, d_out), dtype)
        w_out = _uniform(rng, d_out, (d_out, d_out), dtype)
        return cls(num_heads, w_query, w_key, w_value, w_out, causal=causal)

    @property
    def d_head(self) -> int:
        """The size of each head's query, key and value vectors."""
        return self.d_out // self.num_heads

    def __repr__(self) -> str:
        return (
            f"MultiHeadAttention(num_heads={self.num_heads}, d_in={self.d_in}, "
            f"d_out={self.d_out}, d_head={self.d_head}, causal={self.causal})"
        )

    def _weights_shape(self, x: FloatArray) -> tuple[int, ...]:
        return (*x.shape[:-2], self.num_heads, x.shape[-2], x.shape[-2])  # (..., H, N, N)

    def _forward(
        self, x: FloatArray, norm: float, mask: NDArray[Any] | None, return_weights: bool
    ) -> tuple[FloatArray, FloatArray | None]:
        """H heads, merged, then mixed by the output projection."""
        # context (..., N, d_out), weights (..., H, N, N) or None
        context, weights, context_norm = self._heads(x, norm, self.num_heads, mask, return_weights)
        output = unchecked_matmul(context, self.W_out)  # (..., N, d_out): the heads mixed
        if not provably_finite(context, self.W_out, output, norms=(context_norm, self._out_norm)):
            blame = {"inputs": x, "W_value": self.W_value, "W_out": self.W_out}
            check_no_overflow(output, "the output projection", blame)
        return output, weights


def _largest_spectral_norm(heads: FloatArray) -> float:
    """The largest spectral norm of (H, d_in, d_head) `heads`: inf beyond float64.

    In float64, as the square root of the largest eigenvalue of each head's
    (d_head x d_head) Gram matrix, whose rounding, like that of the projections, is
    far inside the margins of `exp_plan`. The entries are first scaled, exactly, by a
    power of 2 to below 1, so that no square overflows.
    """
    peak = float(np.abs(heads).max())
    if peak == 0:
        return 0.0
    _, exponent = math.frexp(peak)  # peak < 2**exponent
    unit = np.ldexp(heads.astype(np.float64), -exponent)  # entries below 1
    gram = np.swapaxes(unit, -1, -2) @ unit  # (H, d_head, d_head)
    root = math.sqrt(max(0.0, float(np.linalg.eigvalsh(gram)[:, -1].max())))
    try:
        return math.ldexp(root, exponent)
    except OverflowError:  # beyond float64: no bound
        return math.inf


def _split_heads(x: FloatArray, num_heads: int) -> FloatArray:
    """(..., N, d_out) -> (..., H, N, d_head): head h takes its block of columns."""
    x = x.reshape(*x.shape[:-1], num_heads, -1)  # (..., N, H, d_head)
    return np.swapaxes(x, -3, -2)  # (..., H, N, d_head)


def _uniform(
    rng: np.random.Generator, fan_in: int, shape: tuple[int, ...], dtype: np.dtype[Any]
) -> FloatArray:
    """Weights uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)), like ``torch.nn.Linear``'s.

    Drawn in float64 and rounded to `dtype`, so a seed gives the same weights in both.
    """
    bound = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _read_only_weights(**weights: ArrayLike) -> dict[str, FloatArray]:
    """Check each weight matrix and return read-only copies in one common dtype."""
    checked = {name: as_matrix(w, name) for name, w in weights.items()}
    dtype = np.result_type(*checked.values())
    for name, matrix in checked.items():
        copy = matrix.astype(dtype, copy=True)  # never share memory with the caller
        copy.flags.writeable = False
        checked[name] = copy
    return checked
