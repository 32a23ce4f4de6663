r"""Word order: sinusoidal position encodings and rotary position embeddings.

Attention by itself does not see order: permute the tokens and the context vectors are
permuted the same way, nothing else changes. A model that must tell "dog bites man"
from "man bites dog" is told where each token is, in one of two ways:

- `sinusoidal_positions` -- the encodings of Vaswani et al. (2017), one vector of sines
  and cosines per position, *added* to the token embeddings before attention;
- `apply_rotary` -- the rotary position embedding (RoPE) of Su et al. (2021): each
  query and key is *rotated*, pair of features by pair of features, by an angle
  proportional to its position, so that their dot product depends only on how far
  apart they are.

Both use the same frequencies, $\theta_i = \text{base}^{-2i/D}$ for the pair $i$ of a
$D$-dimensional vector: pair 0 turns by 1 radian per position, the last pair about
``base`` times slower. Every public function checks its arguments once (``_validate``);
`_angles` and `_rotate` are the kernels that trust them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._validate import (
    FloatArray,
    as_float_array,
    as_float_dtype,
    as_positive_int,
    as_positive_real,
    check_finite,
    check_no_overflow,
)

__all__ = ["apply_rotary", "sinusoidal_positions"]


def sinusoidal_positions(
    num_positions: int,
    dim: int,
    *,
    base: float = 10000.0,
    dtype: DTypeLike = np.float64,
) -> FloatArray:
    r"""The sinusoidal position encodings of the transformer, one row per position.

    Parameters
    ----------
    num_positions : int
        N, the number of positions (rows), at least 1: positions ``0 .. N - 1``.
    dim : int
        D, the size of each encoding, at least 1: the size of the embeddings it is
        added to. An odd `dim` keeps the formula as written: the last column,
        ``2i = D - 1``, is a sine whose cosine (column D) is left out.
    base : float, default 10000.0
        The base of the wavelengths, a finite number > 0: column pair ``i`` has the
        wavelength $2\pi \cdot \text{base}^{2i/D}$ positions.
    dtype : numpy.float32 or numpy.float64, default numpy.float64
        The dtype of the result. The angles are computed in float64 either way.

    Returns
    -------
    numpy.ndarray, shape (N, D)
        Row ``pos`` is the encoding of position ``pos``; every entry is in [-1, 1].

    Raises
    ------
    TypeError
        If `num_positions` or `dim` is not an integer, `base` is not a real number, or
        `dtype` is not float32 or float64.
    ValueError
        If `num_positions` or `dim` is less than 1, `base` is not a finite number > 0,
        or `base` is so small that an angle overflows the float range.

    See Also
    --------
    apply_rotary : positions as rotations of the queries and keys instead.

    Notes
    -----
    Vaswani et al. (2017), section 3.5, with positions and columns counted from 0:

    $$
    PE_{pos,\,2i} = \sin\!\left(\frac{pos}{\text{base}^{2i/D}}\right), \qquad
    PE_{pos,\,2i+1} = \cos\!\left(\frac{pos}{\text{base}^{2i/D}}\right).
    $$

    Each pair of columns is a point going round a circle at its own speed, from 1
    radian per position (columns 0 and 1) to about $1/\text{base}$ (the last pair), so
    that nearby positions get similar rows and far ones do not. The encodings are added
    to the token embeddings, ``inputs + sinusoidal_positions(N, D)``.

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import sinusoidal_positions
    >>> sinusoidal_positions(4, 4).round(4)  # position 0 is (sin 0, cos 0, ...)
    array([[ 0.    ,  1.    ,  0.    ,  1.    ],
           [ 0.8415,  0.5403,  0.01  ,  1.    ],
           [ 0.9093, -0.4161,  0.02  ,  0.9998],
           [ 0.1411, -0.99  ,  0.03  ,  0.9996]])

    The running example has D = 3, odd: its third column is a sine without its cosine.

    >>> sinusoidal_positions(6, 3, dtype=np.float32).round(3)
    array([[ 0.   ,  1.   ,  0.   ],
           [ 0.841,  0.54 ,  0.002],
           [ 0.909, -0.416,  0.004],
           [ 0.141, -0.99 ,  0.006],
           [-0.757, -0.654,  0.009],
           [-0.959,  0.284,  0.011]], dtype=float32)
    """
    rows = as_positive_int(num_positions, "num_positions")
    cols = as_positive_int(dim, "dim")
    base = as_positive_real(base, "base")
    out_dtype = as_float_dtype(dtype)
    positions = np.arange(rows, dtype=np.float64)  # (N,)
    angles = _angles(positions, cols, base, "num_positions")  # (N, ceil(D / 2))
    encodings = np.empty((rows, cols), dtype=np.float64)  # (N, D)
    encodings[:, 0::2] = np.sin(angles)  # columns 0, 2, 4, ...
    encodings[:, 1::2] = np.cos(angles[:, : cols // 2])  # 1, 3, ...: none for a last odd one
    return encodings.astype(out_dtype, copy=False)


def apply_rotary(x: ArrayLike, positions: ArrayLike, *, base: float = 10000.0) -> FloatArray:
    r"""Rotate each pair of features of `x` by an angle proportional to its position.

    The rotary position embedding (RoPE) of Su et al. (2021), applied to queries and
    keys after their projections and before their dot products. The pairs are the
    paper's, **interleaved**: features ``(0, 1)``, ``(2, 3)``, ... The half-split
    pairs ``(i, i + D/2)`` of GPT-NeoX and Llama code ("rotate_half") are the same
    rotation on permuted features; see Notes.

    Parameters
    ----------
    x : array_like, shape (..., D)
        Vectors to rotate, D even: a query or key (D,), or one per row, (..., N, D),
        with any leading (batch, head) axes.
    positions : array_like, shape broadcastable to x.shape[:-1]
        The position of each vector: a number for a single vector, or one per row,
        shape (N,), shared by every batch and head. Usually the integers
        ``0 .. N - 1``; any finite real numbers work (negative and fractional ones
        too).
    base : float, default 10000.0
        The base of the frequencies $\theta_i = \text{base}^{-2i/D}$, a finite
        number > 0.

    Returns
    -------
    numpy.ndarray, shape x.shape
        The rotated vectors, float32 if `x` is float32, else float64 (the dtype of
        `positions` does not matter: the angles are computed in float64). Each has
        the norm of the vector it rotates.

    Raises
    ------
    TypeError
        If `x` or `positions` is not made of real numbers (booleans included), or
        `base` is not a real number.
    ValueError
        If `x` has no axis, an odd or zero D, or no entries; if `x` or `positions`
        holds NaN or infinity; if `positions` does not broadcast to x.shape[:-1]; if
        `base` is not a finite number > 0; or if an angle or a rotated entry
        overflows the float range.

    See Also
    --------
    sinusoidal_positions : the same frequencies, added to the inputs instead.

    Notes
    -----
    For the vector at position $m$ and each pair $i = 0, \dots, D/2 - 1$:

    $$
    \begin{pmatrix} y_{2i} \\ y_{2i+1} \end{pmatrix}
    = \begin{pmatrix} \cos m\theta_i & -\sin m\theta_i \\
                      \sin m\theta_i & \cos m\theta_i \end{pmatrix}
      \begin{pmatrix} x_{2i} \\ x_{2i+1} \end{pmatrix},
    \qquad \theta_i = \text{base}^{-2i/D}.
    $$

    For a dot product, rotating the query by $m\theta_i$ and the key by $n\theta_i$ is
    the same as rotating the key alone by $(n - m)\theta_i$: the score of a query at
    $m$ and a key at $n$ depends on the offset $n - m$, not on $m$ and $n$ themselves
    (Su et al. 2021, section 3.2).

    The half-split convention pairs feature $i$ with $i + D/2$. It is this function
    on the features reordered as ``0, D/2, 1, D/2 + 1, ...``, then put back (the last
    example shows how). Reordering the features of both queries and keys does not
    change their dot products, so attention scores are the same under either
    convention; only weights trained with one convention need their columns
    reordered for the other.

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import apply_rotary

    At position 0 nothing turns; at position 1 the first pair turns by 1 radian
    and the second by base^(-1/2) = 0.01 radian:

    >>> x = np.array([1.0, 0.0, 1.0, 0.0])
    >>> apply_rotary(x, 0)
    array([1., 0., 1., 0.])
    >>> apply_rotary(x, 1).round(4)
    array([0.5403, 0.8415, 1.    , 0.01  ])

    One position per row, shared by the leading (batch, head) axes:

    >>> rng = np.random.default_rng(0)
    >>> queries = rng.normal(size=(2, 5, 4))  # (B, N, D)
    >>> apply_rotary(queries, np.arange(5)).shape
    (2, 5, 4)

    The score of a query at 2 and a key at 5 equals that of a query at 10 and a key
    at 13: only the offset, 3, matters.

    >>> q, k = rng.normal(size=4), rng.normal(size=4)
    >>> near = apply_rotary(q, 2) @ apply_rotary(k, 5)
    >>> far = apply_rotary(q, 10) @ apply_rotary(k, 13)
    >>> bool(np.isclose(near, far, rtol=1e-12))
    True

    The half-split pairs ``(i, i + D/2)`` of GPT-NeoX and Llama code: reorder the
    features so that each such pair sits side by side, rotate, and put them back.

    >>> x = queries[0]  # (N, D) = (5, 4)
    >>> order = np.arange(4).reshape(2, 2).T.ravel()  # 0, D/2, 1, D/2 + 1, ...
    >>> order
    array([0, 2, 1, 3])
    >>> half_split = np.empty(x.shape)  # (5, 4)
    >>> half_split[:, order] = apply_rotary(x[:, order], np.arange(5))

    That is the "rotate_half" formula of that code, ``x cos + rotate_half(x) sin``:

    >>> angles = np.arange(5)[:, None] * 10000.0 ** (-np.arange(0, 4, 2) / 4)  # (N, D/2)
    >>> cos, sin = np.cos(np.tile(angles, 2)), np.sin(np.tile(angles, 2))  # (N, D)
    >>> rotate_half = np.concatenate([-x[:, 2:], x[:, :2]], axis=1)  # (-x2, x1)
    >>> bool(np.allclose(half_split, x * cos + rotate_half * sin))
    True
    """
    vectors = as_float_array(x, "x")
    if vectors.ndim == 0 or vectors.size == 0 or vectors.shape[-1] % 2:
        raise ValueError(
            "x must have shape (D,) or (..., D) with D even and >= 2 (features are "
            f"rotated in pairs) and no empty axis; got shape {vectors.shape}"
        )
    check_finite(vectors, "x")
    where = as_float_array(positions, "positions")
    check_finite(where, "positions")
    rows = vectors.shape[:-1]
    try:
        fits = np.broadcast_shapes(where.shape, rows) == rows
    except ValueError:
        fits = False
    if not fits:
        example = f"e.g. shape {rows[-1:]}" if rows else "here a single number"
        raise ValueError(
            f"positions must broadcast to x.shape[:-1] = {rows} (one position per "
            f"vector, {example}); got shape {where.shape}"
        )
    base = as_positive_real(base, "base")
    angles = _angles(where.astype(np.float64), vectors.shape[-1], base, "positions")
    return _rotate(vectors, angles)


def _angles(positions: FloatArray, dim: int, base: float, name: str) -> NDArray[np.float64]:
    """``positions / base**(2i / dim)`` for each pair ``i``: shape (..., ceil(dim / 2)).

    `name` is the argument the positions came from, for the message if an angle
    overflows (possible only with a `base` far below 1).
    """
    exponents = np.arange(0, dim, 2, dtype=np.float64) / dim  # (ceil(D / 2),): 2i / D
    with np.errstate(over="ignore", invalid="ignore"):  # checked below
        angles: NDArray[np.float64] = positions[..., np.newaxis] / base**exponents
    if not np.isfinite(angles).all():
        raise ValueError(
            f"base is too small for these {name}: an angle pos / base**(2i/D) overflows "
            f"float64 (base is {base:.3g}, largest |position| is "
            f"{np.abs(positions).max():.3g}); use a base >= 1, as models do"
        )
    return angles


def _rotate(x: FloatArray, angles: NDArray[np.float64]) -> FloatArray:
    """Rotate the pairs ``(x[..., 2i], x[..., 2i + 1])`` of checked `x` by `angles`."""
    cos = np.cos(angles).astype(x.dtype, copy=False)  # (..., D / 2), x's dtype
    sin = np.sin(angles).astype(x.dtype, copy=False)
    even, odd = x[..., 0::2], x[..., 1::2]  # (..., D / 2) each: the two halves of each pair
    rotated: NDArray[Any] = np.empty(x.shape, dtype=x.dtype)  # (..., D)
    with np.errstate(over="ignore", invalid="ignore"):  # checked below
        rotated[..., 0::2] = even * cos - odd * sin
        rotated[..., 1::2] = even * sin + odd * cos
    check_no_overflow(rotated, "a rotated pair", {"x": x})
    return rotated
