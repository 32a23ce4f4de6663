"""Self-attention without trainable weights: from input embeddings to context vectors.

The three steps of the story, each a function:

1. `attention_scores` -- how well a query aligns with every input (dot products);
2. `attention_weights` -- the scores normalised with softmax, summing to 1;
3. `context_vector` / `context_vectors` -- the weighted sum of the inputs.

`context_vectors` does all tokens at once with two matrix products;
`context_vectors_loop` does the same one token at a time, exactly as the prose
tells it, so the two can be compared.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._online import (
    FULL_FORM_KEYS,
    KEY_BLOCK,
    SCORES_BUDGET,
    attend,
    exp_plan,
    make_problem,
)
from ._symmetric import symmetric_context
from ._validate import (
    FloatArray,
    Operands,
    as_block_size,
    as_float_array,
    as_inputs,
    as_inputs_with_norm,
    as_token_index,
    check_finite,
    check_no_overflow,
    checked_matmul,
)
from .normalize import _softmax, _softmax_parts, checked_softmax

__all__ = [
    "attention_scores",
    "attention_weights",
    "context_vector",
    "context_vectors",
    "context_vectors_loop",
]


def attention_scores(inputs: ArrayLike, query: int | ArrayLike | None = None) -> FloatArray:
    r"""Step 1: the dot product of a query with every input vector.

    Parameters
    ----------
    inputs : array_like, shape (N, D) or (..., N, D)
        One embedding per token (N tokens of D dimensions), with optional leading
        batch axes.
    query : int, array_like of shape (D,), or None, default None
        The query: a token index into `inputs` (negative counts from the end, as in
        Python), or any vector of length D. ``None`` scores every token against
        every token at once.

    Returns
    -------
    numpy.ndarray
        Shape (..., N) for one query: entry ``j`` is the score of token ``j``.
        Shape (..., N, N) for ``query=None``: row ``i`` holds the scores of query
        token ``i``, that is ``inputs @ inputs.T``.

    Raises
    ------
    TypeError
        If `inputs` or `query` is not made of real numbers, or `query` is neither
        an integer nor a vector.
    ValueError
        If `inputs` is not (..., N, D) with N, D >= 1 or holds NaN or infinity, if
        a query vector does not have length D, or if a score overflows.
    IndexError
        If a query index is out of range.

    Notes
    -----
    The score of input $x^{(j)}$ for query $x^{(i)}$ is their dot
    product, which is large when the two vectors point the same way:

    $$
    \omega_{ij} = x^{(i)} \cdot x^{(j)} = \sum_{k=1}^{D} x^{(i)}_k x^{(j)}_k
    $$

    All at once, $\Omega = X X^\top$.

    Examples
    --------
    >>> from attention_ref import attention_scores
    >>> from attention_ref.examples import INPUTS
    >>> attention_scores(INPUTS, query=1).round(4)  # "journey" against every token
    array([0.9544, 1.495 , 1.4754, 0.8434, 0.707 , 1.0865])
    >>> attention_scores(INPUTS).shape  # every token against every token
    (6, 6)
    """
    x = as_inputs(inputs)
    if query is None:
        return _scores(x, x, {"inputs": x})  # (..., N, N): one row per query
    return _query_scores(x, query)  # (..., N): one score per input


def attention_weights(scores: ArrayLike, axis: int = -1) -> FloatArray:
    r"""Step 2: normalise attention scores into weights that sum to 1.

    This is `softmax` under the name the story uses: each
    query's row of scores becomes a row of positive weights summing to 1.

    Parameters
    ----------
    scores : array_like, shape (..., N)
        Attention scores, e.g. from `attention_scores`. ``-inf`` masks a
        token out (weight 0).
    axis : int, default -1
        The axis that runs over the inputs being attended to. Keep the default:
        with ``scores[i, j]`` the score of input ``j`` for query ``i``, each row
        must sum to 1.

    Returns
    -------
    numpy.ndarray
        Weights of the same shape as `scores`, in ``[0, 1]``, summing to 1 along
        `axis`.

    Raises
    ------
    TypeError
        If `scores` is not made of real numbers or `axis` is not an integer.
    ValueError
        If `scores` is a scalar or empty, holds NaN or ``+inf``, or has a row that
        is all ``-inf``.

    Notes
    -----
    $$
    \alpha_{ij} = \frac{e^{\omega_{ij}}}{\sum_{k=1}^{N} e^{\omega_{ik}}}
    $$

    computed stably, as `softmax` explains.

    Examples
    --------
    >>> from attention_ref import attention_scores, attention_weights
    >>> from attention_ref.examples import INPUTS
    >>> weights = attention_weights(attention_scores(INPUTS, query=1))
    >>> weights.round(4)
    array([0.1385, 0.2379, 0.2333, 0.124 , 0.1082, 0.1581])
    >>> float(weights.sum())
    1.0
    """
    return checked_softmax(scores, axis, name="scores")


def context_vector(inputs: ArrayLike, query: int | ArrayLike) -> FloatArray:
    r"""Step 3 for one query: the attention-weighted sum of all input vectors.

    Parameters
    ----------
    inputs : array_like, shape (N, D) or (..., N, D)
        One embedding per token.
    query : int or array_like of shape (D,)
        A token index into `inputs` (negative counts from the end) or any vector of
        length D.

    Returns
    -------
    numpy.ndarray, shape (D,) or (..., D)
        The context vector of the query.

    Raises
    ------
    TypeError
        If `inputs` or `query` is not made of real numbers, or `query` is neither
        an integer nor a vector.
    ValueError
        If `inputs` is not (..., N, D) with N, D >= 1 or holds NaN or infinity, or
        a query vector does not have length D.
    IndexError
        If a query index is out of range.

    Notes
    -----
    Each input is scaled by its attention weight, and the scaled inputs are added:

    $$
    z^{(i)} = \sum_{j=1}^{N} \alpha_{ij}\, x^{(j)}
    $$

    Examples
    --------
    >>> from attention_ref import context_vector
    >>> from attention_ref.examples import INPUTS
    >>> context_vector(INPUTS, query=1).round(4)  # the context vector of "journey"
    array([0.4419, 0.6515, 0.5683])
    """
    if query is None:
        raise TypeError(
            "query must be a token index (int) or a vector of length D; got None "
            "(for every token at once, use context_vectors)"
        )
    x = as_inputs(inputs)
    weights = _softmax(_query_scores(x, query))  # (..., N)
    return (weights[..., None, :] @ x)[..., 0, :]  # (..., 1, N) @ (..., N, D) -> (..., D)


def context_vectors(inputs: ArrayLike, block_size: int | None = None) -> FloatArray:
    r"""All tokens at once: ``softmax(inputs @ inputs.T) @ inputs``.

    The matrix form of steps 1 to 3. It makes one N x N array (the scores, turned
    into weights in place) and the N x D result, with no Python loop over tokens; or,
    for long sequences, the same in blocks that never make the N x N array.

    Parameters
    ----------
    inputs : array_like, shape (N, D) or (..., N, D)
        One embedding per token, with optional leading batch axes.
    block_size : int, optional
        Process the queries in blocks of this many rows and, within each, the keys in
        blocks of this many columns, with the online softmax (see Notes): extra memory
        O(block_size^2 + N·D) instead of O(N^2). ``None`` (the default) chooses by
        the rule in Notes.

    Returns
    -------
    numpy.ndarray, shape (N, D) or (..., N, D)
        Row ``i`` is the context vector of token ``i``.

    Raises
    ------
    TypeError
        If `inputs` is not made of real numbers, or `block_size` is not an integer.
    ValueError
        If `inputs` is not (..., N, D) with N, D >= 1, holds NaN or infinity, or is
        so large that a dot product or a weighted sum overflows; if `block_size` is
        less than 1.

    See Also
    --------
    context_vectors_loop : the same, one token at a time.

    Notes
    -----
    With $X$ the N x D matrix of inputs,

    $$
    Z = \operatorname{softmax}(X X^\top)\, X,
    $$

    softmax taken over each row: (N x N) times (N x D) gives N x D. Dividing by the
    row sums is done on the fewer numbers: after the product, on N x D of them, where
    N > D; before it, on the N x N weights, where N <= D.

    In blocks (Milakov and Gimelshein 2018; Dao et al. 2022), each query keeps a
    running maximum $m$, a running sum $\ell$ and an unnormalised output
    $o$; a new block of scores $s_j$ with maximum above $m$ raises it to
    $m'$ and rescales what came before by $e^{m - m'}$:

    $$
    \ell \leftarrow e^{m - m'} \ell + \sum_j e^{s_j - m'}, \qquad
    o \leftarrow e^{m - m'} o + \sum_j e^{s_j - m'} x^{(j)},
    $$

    and $o / \ell$ at the end is the same context vector, to rounding (1e-13
    relative in float64 in the tests). Blocks of queries are independent: with enough
    work they run on all cores, each with one BLAS thread.

    Where a bound on the scores, $|x_i \cdot x_j| \le \max_i |x_i|^2$, proves that
    $e^{s}$ neither overflows nor underflows, no shift is needed, and the blocks use
    the symmetry of $X X^\top$: the exponentials of the scores of blocks $I$ and $J$
    are made once and serve both, $E_{IJ} X_J$ for the rows of $I$ and
    $E_{IJ}^\top X_I$ for those of $J$. That is $3 N^2 D$ flops instead of $4 N^2 D$,
    and half the exponentials.

    The rule for ``block_size=None``, measured on 2 cores (N = 1024 to 4096, D = 64
    and 768): the full form while N <= 1024, as long as its N x N scores take at
    most 256 MiB; blocks of 512 beyond, which were as fast as the full form or
    faster (up to 1.25 times at D = 768 in float32) and need a few MiB.
    ``block_size=N`` (or more) is one block: the full form's memory, whatever N.

    Examples
    --------
    >>> from attention_ref import context_vectors
    >>> from attention_ref.examples import INPUTS
    >>> context_vectors(INPUTS).round(4)  # one row per token
    array([[0.4421, 0.5931, 0.579 ],
           [0.4419, 0.6515, 0.5683],
           [0.4431, 0.6496, 0.5671],
           [0.4304, 0.6298, 0.551 ],
           [0.4671, 0.591 , 0.5266],
           [0.4177, 0.6503, 0.5645]])

    The same in blocks of 4 queries and 4 keys (here 2 blocks of each, the second
    of 2 only), which never makes the 6 x 6 array:

    >>> context_vectors(INPUTS, block_size=4).round(4)
    array([[0.4421, 0.5931, 0.579 ],
           [0.4419, 0.6515, 0.5683],
           [0.4431, 0.6496, 0.5671],
           [0.4304, 0.6298, 0.551 ],
           [0.4671, 0.591 , 0.5266],
           [0.4177, 0.6503, 0.5645]])
    """
    x, norm = as_inputs_with_norm(inputs)  # norm: the longest row's
    block_size = as_block_size(block_size)
    num_tokens, dim = x.shape[-2:]
    too_big = math.prod(x.shape[:-1]) * num_tokens * x.itemsize > SCORES_BUDGET
    if block_size is None and (too_big or num_tokens > FULL_FORM_KEYS):
        block_size = KEY_BLOCK
    _, shift, flush = exp_plan((norm, norm, norm), 1.0, x.dtype, num_tokens)
    if block_size is not None and not shift:  # exp(X X^T) is symmetric: see _symmetric
        return symmetric_context(x, block_size)
    if block_size is not None:
        problem = make_problem(
            x,
            x,
            x,
            mask=None,
            batch=x.shape[:-2],
            scale=1.0,
            causal=False,
            dropout_p=0.0,
            blame=({"inputs": x}, {"inputs": x}),
            norms=(norm, norm, norm),
        )
        return attend(problem, block_size=block_size, rng=None)[0]
    *batch, num_tokens, dim = x.shape
    context = np.empty(x.shape, x.dtype)  # (..., N, D): the result, C-ordered
    # Speed, measured in benchmarks/: for x @ x.T numpy calls BLAS syrk (half the
    # multiplications, as the scores are symmetric), then mirrors the triangle it got
    # element by element on one core. That mirror costs more than the saved work unless
    # D is large next to N, so for smaller D a transposed copy of x as the right operand
    # makes numpy call gemm instead. The copy lives in `context`'s memory, unused yet.
    if 8 * dim >= num_tokens:
        keys = np.swapaxes(x, -1, -2)  # (..., D, N): a view, so numpy picks syrk
    else:
        keys = context.reshape(*batch, dim, num_tokens)  # (..., D, N): same memory
        keys[...] = np.swapaxes(x, -1, -2)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
        scores = x @ keys  # (..., N, N): one row of scores per query
    # Softmax in place, a block of rows at a time: a block small enough to stay in the
    # CPU's cache is read from memory once for max, shift, exp and sum, not four times.
    totals = np.empty((*batch, num_tokens, 1), x.dtype)  # (..., N, 1): row sums
    block = max(1, (256 << 10) // scores[..., 0, :].nbytes)  # rows in 256 KiB
    for start in range(0, num_tokens, block):
        rows = scores[..., start : start + block, :]  # (..., B, N): a view
        if not shift:  # the bound proves exp(score) safe: no maximum needed (exp_plan)
            np.exp(rows, out=rows)
            totals[..., start : start + block, :] = rows.sum(axis=-1, keepdims=True)
            continue
        # Each row's maximum is at least its diagonal |x_i|^2 >= 0, so a row with an
        # overflow or a NaN in it has a maximum that is inf or NaN: checking the
        # maxima checks every score.
        top = rows.max(axis=-1, keepdims=True)  # (..., B, 1)
        check_no_overflow(top, "a dot product", {"inputs": x})
        # In place: the rows become unnormalised weights in (0, 1]; sums (..., B, 1).
        _, sums = _softmax_parts(rows, top=top, out=rows, flush=flush)
        totals[..., start : start + block, :] = sums
    # Normalise the fewer numbers: N x D after the product, or N x N before it.
    if num_tokens <= dim:
        scores /= totals
    np.matmul(scores, x, out=context)  # (..., N, D); overwrites the keys, now used
    if num_tokens > dim:
        context /= totals
    return context


def context_vectors_loop(inputs: ArrayLike) -> FloatArray:
    """All tokens one at a time, following the three steps exactly as told.

    Slow on purpose: it is the prose written as code. Use `context_vectors`
    for real work; the tests prove the two agree.

    Parameters
    ----------
    inputs : array_like, shape (N, D) or (..., N, D)
        One embedding per token; a batch is done one sequence after another.

    Returns
    -------
    numpy.ndarray, shape (N, D) or (..., N, D)
        Row ``i`` is the context vector of token ``i``, summed one input at a time.

    Raises
    ------
    TypeError
        If `inputs` is not made of real numbers.
    ValueError
        If `inputs` is not (..., N, D) with N, D >= 1 or holds NaN or infinity.

    See Also
    --------
    context_vectors : the same as two matrix products.

    Examples
    --------
    >>> from attention_ref import context_vectors_loop
    >>> from attention_ref.examples import INPUTS
    >>> context_vectors_loop(INPUTS)[1].round(4)  # "journey"
    array([0.4419, 0.6515, 0.5683])
    """
    x = as_inputs(inputs)
    context = np.empty_like(x)
    for batch in np.ndindex(x.shape[:-2]):  # one sequence at a time
        tokens = x[batch]  # (N, D)
        for i, query in enumerate(tokens):
            # Step 1: the dot product of the query with every input.
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
                scores = np.array([np.dot(query, token) for token in tokens])  # (N,)
            check_no_overflow(scores, "a dot product", {"inputs": x})
            # Step 2: normalise the scores with softmax.
            weights = _softmax(scores)  # (N,), sums to 1
            # Step 3: scale each input by its weight and add them up.
            z = np.zeros_like(query)  # (D,)
            for weight, token in zip(weights, tokens, strict=True):
                z += weight * token
            context[(*batch, i)] = z
    return context


def _scores(
    queries: FloatArray, keys: FloatArray, operands: Operands, scale: float | None = None
) -> FloatArray:
    """Every query dotted with every key, times `scale`: the scores kernel.

    (..., L, E) and (..., S, E) -> (..., L, S). Trusts its arguments; an overflow is a
    ``ValueError`` naming `operands`, the arguments the caller was given.
    """
    keys_t = np.swapaxes(keys, -1, -2)  # (..., E, S): a view
    return checked_matmul(queries, keys_t, "a dot product", operands, scale=scale)


def _query_scores(x: FloatArray, query: int | ArrayLike) -> FloatArray:
    """The scores of one query (an index or a vector) against the checked inputs `x`."""
    vector, operands = _query_vector(x, query)  # (..., D)
    # (..., N, D) @ (..., D, 1): x_j . q for every input j, then drop the axis of 1
    return _scores(x, vector[..., None, :], operands)[..., 0]  # (..., N)


def _query_vector(x: FloatArray, query: int | ArrayLike) -> tuple[FloatArray, Operands]:
    """The query as a vector, and what an overflow of its scores is blamed on.

    A row of `x` for an index (negative counts from the end), else a checked (D,) vector.
    """
    num_tokens, dim = x.shape[-2:]
    if isinstance(query, (int, np.integer, bool, np.bool_)):
        return x[..., as_token_index(query, num_tokens), :], {"inputs": x}  # (..., D)
    vector = as_float_array(query, "query")
    if vector.ndim == 0:  # e.g. np.float64(1.0): refused as an index
        return x[..., as_token_index(query, num_tokens), :], {"inputs": x}
    if vector.shape != (dim,):
        raise ValueError(
            f"query must be a token index or a vector of shape ({dim},) to match "
            f"inputs of shape {x.shape}; got shape {vector.shape}"
        )
    check_finite(vector, "query")
    # A list of Python numbers takes the inputs' dtype (float32 stays float32); an
    # array keeps numpy's usual promotion.
    dtype = np.result_type(x, vector) if isinstance(query, np.ndarray) else x.dtype
    vector = vector.astype(dtype, copy=False)
    return vector, {"query": vector, "inputs": x}
