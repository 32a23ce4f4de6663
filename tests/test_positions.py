"""Tests for attention_ref.positions: sinusoidal encodings and rotary embeddings.

The references are straightforward loops over positions and features with Python's
`math`, written from the papers' formulas (Vaswani et al. 2017, section 3.5; Su et al.
2021, section 3.2), and a few entries known exactly. PyTorch has no built-in for either
(``torch.nn.Transformer`` adds no positions), so the PyTorch tests compute the two
formulas as PyTorch code does them in the wild -- the ``PositionalEncoding`` module of
PyTorch's own transformer tutorial (``exp(-log(base) * 2i / D)``, another route to the
same frequencies) and the ``rotate_half`` form of GPT-NeoX and Llama code -- which checks
the dtype handling and the documented way from our interleaved pairs to the half-split
ones.
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from attention_ref import apply_rotary, sinusoidal_positions

from .arrays import random

EPS = {np.float64: float(np.finfo(np.float64).eps), np.float32: float(np.finfo(np.float32).eps)}


def loop_sinusoidal(num_positions: int, dim: int, base: float = 10000.0) -> np.ndarray:
    """The formula entry by entry: even columns sines, odd columns cosines."""
    table = np.zeros((num_positions, dim))
    for pos in range(num_positions):
        for column in range(dim):
            i = column // 2  # the pair: columns 2i and 2i + 1 share a frequency
            angle = pos / base ** (2 * i / dim)
            table[pos, column] = math.sin(angle) if column % 2 == 0 else math.cos(angle)
    return table


def loop_rotary(vector: list[float], position: float, base: float = 10000.0) -> list[float]:
    """Rotate the pairs (x_2i, x_2i+1) of one vector by position * base**(-2i/D)."""
    dim = len(vector)
    out = [0.0] * dim
    for i in range(dim // 2):
        angle = position * base ** (-2 * i / dim)
        c, s = math.cos(angle), math.sin(angle)
        a, b = vector[2 * i], vector[2 * i + 1]
        out[2 * i] = a * c - b * s
        out[2 * i + 1] = a * s + b * c
    return out


# Angles up to 100 radians lose about 100 eps of absolute precision in the argument
# reduction of sin and cos whichever library computes them, and numpy's and libm's may
# round the last bit of pow and of the result differently: 256 eps covers both with a
# margin for O(1) entries.
def angle_atol(largest_angle: float, dtype: type = np.float64) -> float:
    return 256 * EPS[dtype] * max(1.0, largest_angle)


# Sinusoidal encodings -------------------------------------------------------------


@pytest.mark.parametrize(("num_positions", "dim"), [(1, 1), (6, 3), (7, 4), (50, 16), (9, 5)])
@pytest.mark.parametrize("base", [10000.0, 100.0, 2.0])
def test_sinusoidal_matches_the_loop(num_positions: int, dim: int, base: float) -> None:
    got = sinusoidal_positions(num_positions, dim, base=base)
    assert got.shape == (num_positions, dim)
    assert got.dtype == np.float64
    expected = loop_sinusoidal(num_positions, dim, base)
    np.testing.assert_allclose(got, expected, rtol=0, atol=angle_atol(num_positions))


def test_sinusoidal_known_entries() -> None:
    table = sinusoidal_positions(101, 4)
    # Position 0: sin 0 = 0 and cos 0 = 1, exactly.
    assert np.array_equal(table[0], [0.0, 1.0, 0.0, 1.0])
    # Columns 0 and 1 turn by 1 radian per position; columns 2 and 3 by 1/100.
    assert table[1, 0] == math.sin(1.0)
    assert table[1, 1] == math.cos(1.0)
    assert table[100, 2] == pytest.approx(math.sin(1.0), abs=1e-15)
    assert table[100, 3] == pytest.approx(math.cos(1.0), abs=1e-15)
    # Each pair lies on the unit circle.
    radii = table[:, 0::2] ** 2 + table[:, 1::2] ** 2
    np.testing.assert_allclose(radii, 1.0, rtol=0, atol=4 * EPS[np.float64])


def test_sinusoidal_odd_dim_is_the_formula_without_the_last_cosine() -> None:
    odd = sinusoidal_positions(20, 5)
    # Columns 0..3 are two full pairs; column 4 is the sine of pair 2, frequency base^(-4/5).
    angles = np.arange(20) / 10000.0 ** (4 / 5)
    np.testing.assert_allclose(odd[:, 4], np.sin(angles), rtol=0, atol=4 * EPS[np.float64])
    np.testing.assert_allclose(odd, loop_sinusoidal(20, 5), rtol=0, atol=angle_atol(20))


def test_sinusoidal_float32_is_the_rounded_float64() -> None:
    single = sinusoidal_positions(64, 8, dtype=np.float32)
    assert single.dtype == np.float32
    # The angles are float64 either way: the float32 table is the float64 one, rounded.
    assert np.array_equal(single, sinusoidal_positions(64, 8).astype(np.float32))
    assert sinusoidal_positions(3, 2, dtype="float32").dtype == np.float32


def test_sinusoidal_accepts_numpy_integers_and_real_bases() -> None:
    expected = sinusoidal_positions(5, 4, base=100.0)
    assert np.array_equal(sinusoidal_positions(np.int64(5), np.int32(4), base=100), expected)
    assert np.array_equal(sinusoidal_positions(5, 4, base=np.float32(100)), expected)


def test_sinusoidal_rows_differ_and_stay_in_range() -> None:
    table = sinusoidal_positions(512, 16)
    assert np.abs(table).max() <= 1.0
    assert len({row.tobytes() for row in table}) == 512  # every position its own code


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((0, 4), {}, ValueError, r"num_positions must be an integer >= 1; got 0"),
        ((-1, 4), {}, ValueError, r"num_positions must be an integer >= 1; got -1"),
        ((4.0, 4), {}, TypeError, r"num_positions must be an integer >= 1; got float 4.0"),
        ((True, 4), {}, TypeError, r"num_positions must be an integer >= 1; got bool True"),
        ((4, 0), {}, ValueError, r"dim must be an integer >= 1; got 0"),
        ((4, "4"), {}, TypeError, r"dim must be an integer >= 1; got str '4'"),
        ((4, None), {}, TypeError, r"dim must be an integer >= 1; got NoneType None"),
        ((4, 4), {"base": 0.0}, ValueError, r"base must be a finite number > 0; got 0.0"),
        ((4, 4), {"base": -10}, ValueError, r"base must be a finite number > 0; got -10.0"),
        ((4, 4), {"base": np.inf}, ValueError, r"base must be a finite number > 0; got inf"),
        ((4, 4), {"base": np.nan}, ValueError, r"base must be a finite number > 0; got nan"),
        (
            (4, 4),
            {"base": 10**400},
            ValueError,
            r"base must be a finite number > 0; got int beyond the float range",
        ),
        ((4, 4), {"base": "1e4"}, TypeError, r"base must be a real number > 0; got str '1e4'"),
        ((4, 4), {"base": True}, TypeError, r"base must be a real number > 0; got bool True"),
        ((4, 4), {"base": 1j}, TypeError, r"base must be a real number > 0; got complex 1j"),
        (
            (4, 4),
            {"dtype": np.float16},
            TypeError,
            r"dtype must be numpy.float32 or numpy.float64; got <class 'numpy.float16'>",
        ),
        (
            (4, 4),
            {"dtype": int},
            TypeError,
            r"dtype must be numpy.float32 or numpy.float64; got <class 'int'>",
        ),
        (
            (4, 400),
            {"base": 5e-324},  # the smallest float: base**(398/400) is about 1e-322
            ValueError,
            r"base is too small for these num_positions: an angle pos / base\*\*\(2i/D\) "
            r"overflows float64 \(base is 4.94e-324, largest \|position\| is 3\); "
            r"use a base >= 1",
        ),
    ],
)
def test_sinusoidal_bad_input(args: tuple, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        sinusoidal_positions(*args, **kwargs)


# Rotary embeddings ----------------------------------------------------------------


@pytest.mark.parametrize("dim", [2, 4, 8, 64])
@pytest.mark.parametrize("base", [10000.0, 10.0])
def test_rotary_matches_the_loop(dim: int, base: float) -> None:
    x = random((7, dim), seed=dim)
    positions = np.array([0, 1, 2, 3, 10, 99, -5])
    got = apply_rotary(x, positions, base=base)
    expected = [loop_rotary(list(row), float(p), base) for row, p in zip(x, positions, strict=True)]
    size = float(np.abs(x).max())
    np.testing.assert_allclose(got, expected, rtol=0, atol=2 * size * angle_atol(99))


def test_rotary_known_values() -> None:
    # A quarter turn of the first pair at the position pi/2; the second pair turns by 1/100.
    got = apply_rotary([1.0, 0.0, 0.0, 1.0], math.pi / 2)
    np.testing.assert_allclose(
        got,
        [0.0, 1.0, -math.sin(math.pi / 200), math.cos(math.pi / 200)],
        rtol=0,
        atol=1e-16,
    )
    # D = 2: the plain rotation of the plane by the position, in radians.
    assert np.array_equal(apply_rotary([1.0, 0.0], 1.0), [math.cos(1.0), math.sin(1.0)])


def test_rotary_dtypes_and_shapes() -> None:
    x32 = random((2, 3, 5, 4), np.float32)
    out = apply_rotary(x32, np.arange(5))  # positions shared by batch and heads
    assert out.dtype == np.float32
    assert out.shape == (2, 3, 5, 4)
    # float32 positions do not narrow float64 vectors, nor do int64 positions widen float32.
    assert apply_rotary(random((5, 4)), np.arange(5, dtype=np.float32)).dtype == np.float64
    assert apply_rotary([[1, 2], [3, 4]], [0, 1]).dtype == np.float64  # integers: float64
    # One position per batch and row, (B, N), or one for everything.
    per_row = apply_rotary(x32[:, 0], np.array([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]))
    assert per_row.shape == (2, 5, 4)
    assert np.array_equal(per_row[1], apply_rotary(x32[1, 0], np.arange(5, 10)))
    assert np.array_equal(apply_rotary(x32[0, 0], 3), apply_rotary(x32[0, 0], np.full(5, 3)))


def test_rotary_float32_rotates_by_the_float64_angles_rounded() -> None:
    x = random((6, 8), np.float32)
    got = apply_rotary(x, np.arange(6))
    wide = apply_rotary(x.astype(np.float64), np.arange(6))
    # Each entry is a*c - b*s of float32 numbers: within a few float32 ulp of O(1).
    np.testing.assert_allclose(got, wide, rtol=0, atol=8 * EPS[np.float32] * np.abs(x).max())


def test_rotary_batched_equals_one_by_one() -> None:
    x = random((3, 2, 6, 4))
    positions = np.arange(6)
    batched = apply_rotary(x, positions)
    for b in range(3):
        for h in range(2):
            assert np.array_equal(batched[b, h], apply_rotary(x[b, h], positions))


def test_rotary_does_not_modify_its_input() -> None:
    x = random((4, 6))
    copy = x.copy()
    apply_rotary(x, np.arange(4))
    assert np.array_equal(x, copy)


def test_half_split_convention_from_the_docstring() -> None:
    """The recipe in apply_rotary's Notes gives the rotate_half form, written out here."""
    x = random((5, 8))
    positions = np.arange(5)
    dim = 8
    order = np.arange(dim).reshape(2, dim // 2).T.ravel()
    assert order.tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    half_split = np.empty(x.shape)
    half_split[..., order] = apply_rotary(x[..., order], positions)
    # rotate_half: pair i is (x_i, x_{i + D/2}), turned by pos * base**(-2i/D).
    angles = positions[:, None] / 10000.0 ** (np.arange(0, dim, 2) / dim)  # (N, D/2)
    cos, sin = np.cos(np.tile(angles, 2)), np.sin(np.tile(angles, 2))  # (N, D)
    rotate_half = np.concatenate([-x[:, dim // 2 :], x[:, : dim // 2]], axis=-1)
    np.testing.assert_allclose(half_split, x * cos + rotate_half * sin, rtol=0, atol=1e-15)


finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)
dims = st.sampled_from([2, 4, 6, 8, 16])


@st.composite
def vectors_and_positions(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    dim = draw(dims)
    n = draw(st.integers(1, 6))
    x = draw(hnp.arrays(np.float64, (n, dim), elements=finite))
    positions = draw(hnp.arrays(np.int64, (n,), elements=st.integers(-1000, 1000)))
    return x, positions


@settings(max_examples=200, deadline=None)
@given(vectors_and_positions())
def test_rotary_preserves_norms(case: tuple[np.ndarray, np.ndarray]) -> None:
    x, positions = case
    rotated = apply_rotary(x, positions)
    # Each pair is rotated: its length is kept up to a few ulp of the largest entry.
    atol = 8 * EPS[np.float64] * max(1.0, float(np.abs(x).max())) * x.shape[-1]
    np.testing.assert_allclose(
        np.linalg.norm(rotated, axis=-1), np.linalg.norm(x, axis=-1), rtol=0, atol=atol
    )


@settings(max_examples=200, deadline=None)
@given(vectors_and_positions())
def test_rotary_position_zero_is_the_identity(case: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = case
    # cos 0 = 1 and sin 0 = 0 exactly, so a*1 - b*0 = a bit for bit.
    assert np.array_equal(apply_rotary(x, np.zeros(len(x))), x)
    assert np.array_equal(apply_rotary(x, 0), x)


@settings(max_examples=300, deadline=None)
@given(
    dim=dims,
    data=st.data(),
    m=st.integers(-500, 500),
    n=st.integers(-500, 500),
    t=st.integers(-500, 500),
)
def test_rotary_score_depends_only_on_the_offset(
    dim: int, data: st.DataObject, m: int, n: int, t: int
) -> None:
    q = data.draw(hnp.arrays(np.float64, (dim,), elements=finite))
    k = data.draw(hnp.arrays(np.float64, (dim,), elements=finite))
    score = apply_rotary(q, m) @ apply_rotary(k, n)
    shifted = apply_rotary(q, m + t) @ apply_rotary(k, n + t)
    # sum|q| sum|k| bounds the score (without squares, which would underflow); angles up
    # to 1000 radians lose about 1000 eps each in sin and cos, so each rotated entry is
    # off by up to ~1000 eps times its size. Products below the normal range lose
    # relative precision: an absolute floor.
    size = float(np.abs(q).sum() * np.abs(k).sum())
    atol = 4 * angle_atol(1000) * size + 4 * float(np.finfo(np.float64).smallest_normal)
    assert abs(score - shifted) <= atol


@settings(max_examples=100, deadline=None)
@given(vectors_and_positions(), st.integers(-100, 100))
def test_rotary_composes_positions(case: tuple[np.ndarray, np.ndarray], shift: int) -> None:
    x, positions = case
    # Rotating by p, then by s, is rotating by p + s.
    twice = apply_rotary(apply_rotary(x, positions), shift)
    once = apply_rotary(x, positions + shift)
    atol = 8 * angle_atol(1100) * max(1.0, float(np.abs(x).max()))
    np.testing.assert_allclose(twice, once, rtol=0, atol=atol)


def test_rotary_extreme_values_keep_finite_or_raise() -> None:
    big = np.full((2, 4), 1.5e308)  # at pi/4 the pair (a, a) turns into (0, sqrt(2) a)
    with pytest.raises(ValueError, match=r"x is too large: a rotated pair overflows float64"):
        apply_rotary(big, [math.pi / 4, 0.0])
    # Huge positions give huge angles, but sin and cos of them are finite.
    assert np.isfinite(apply_rotary(random((2, 4)), [1e300, -1e300])).all()


X = random((3, 4))


@pytest.mark.parametrize(
    ("x", "positions", "kwargs", "error", "message"),
    [
        (
            random((3, 5)),
            [0, 1, 2],
            {},
            ValueError,
            r"x must have shape \(D,\) or \(\.\.\., D\) "
            r"with D even and >= 2 \(features are rotated in pairs\) and no empty axis; "
            r"got shape \(3, 5\)",
        ),
        (np.zeros((3, 0)), [0, 1, 2], {}, ValueError, r"D even and >= 2 .*got shape \(3, 0\)"),
        (np.zeros((0, 4)), [], {}, ValueError, r"no empty axis; got shape \(0, 4\)"),
        (1.0, 0, {}, ValueError, r"x must have shape \(D,\) .*got shape \(\)"),
        ([[1.0, np.nan]], [0], {}, ValueError, r"x must contain only finite numbers; got nan"),
        ([[np.inf, 0]], [0], {}, ValueError, r"x must contain only finite numbers; got inf"),
        (None, 0, {}, TypeError, r"x must be an array of real numbers; got None"),
        ([["a", "b"]], [0], {}, TypeError, r"x must contain real numbers .*got strings"),
        ([[True, False]], [0], {}, TypeError, r"x must contain real numbers .*got booleans"),
        (
            X.astype(np.float16),
            [0, 1, 2],
            {},
            TypeError,
            r"x must be float32 or float64 .*got dtype float16",
        ),
        (
            X,
            [0, 1],
            {},
            ValueError,
            r"positions must broadcast to x.shape\[:-1\] = \(3,\) "
            r"\(one position per vector, e.g. shape \(3,\)\); got shape \(2,\)",
        ),
        (X, [[0, 1, 2]] * 2, {}, ValueError, r"positions must broadcast .*got shape \(2, 3\)"),
        (
            [1.0, 0.0],
            [0, 1],
            {},
            ValueError,
            r"positions must broadcast to x.shape\[:-1\] = \(\) \(one position per vector, "
            r"here a single number\); got shape \(2,\)",
        ),
        (
            X,
            [0, np.nan, 2],
            {},
            ValueError,
            r"positions must contain only finite numbers; "
            r"got nan at index \(1,\)",
        ),
        (X, [0, 1, np.inf], {}, ValueError, r"positions must contain only finite numbers"),
        (X, [True, False, True], {}, TypeError, r"positions must contain real numbers .*booleans"),
        (X, [0, True, 2], {}, TypeError, r"positions mixes booleans with numbers"),
        (X, None, {}, TypeError, r"positions must be an array of real numbers; got None"),
        (X, [0, 1, 2], {"base": 0}, ValueError, r"base must be a finite number > 0; got 0.0"),
        (X, [0, 1, 2], {"base": "big"}, TypeError, r"base must be a real number > 0"),
        (
            X,
            [0, 1, 1e300],
            {"base": 1e-300},  # 1e300 / 1e-150 overflows
            ValueError,
            r"base is too small for these positions: .*largest \|position\| is 1e\+300\)",
        ),
    ],
)
def test_rotary_bad_input(
    x: object, positions: object, kwargs: dict, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        apply_rotary(x, positions, **kwargs)  # type: ignore[arg-type]


# PyTorch: the same formulas as PyTorch code computes them ---------------------------


def torch_tutorial_positional_encoding(torch: ModuleType, n: int, d: int, dtype) -> np.ndarray:
    """``PositionalEncoding`` of PyTorch's nn.Transformer tutorial, for even d."""
    position = torch.arange(n, dtype=dtype).unsqueeze(1)  # (N, 1)
    div_term = torch.exp(torch.arange(0, d, 2, dtype=dtype) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d, dtype=dtype)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe.numpy()


@pytest.mark.parametrize(("dtype", "atol"), [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_sinusoidal_matches_the_pytorch_tutorial(torch: ModuleType, dtype: type, atol) -> None:
    torch_dtype = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    expected = torch_tutorial_positional_encoding(torch, 100, 16, torch_dtype)
    got = sinusoidal_positions(100, 16, dtype=dtype)
    assert got.dtype == expected.dtype
    # float32: torch computes the angles in float32 (up to 99 rad, ~1e-5 off); we in float64.
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol)


def torch_rotate_half_rope(torch: ModuleType, x, positions, base: float = 10000.0):
    """RoPE as GPT-NeoX and Llama code apply it: cos/sin tables and rotate_half."""
    dim = x.shape[-1]
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    freqs = torch.outer(positions.to(torch.float64), inv_freq)  # (N, D/2)
    emb = torch.cat((freqs, freqs), dim=-1)  # (N, D)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    x1, x2 = x[..., : dim // 2], x[..., dim // 2 :]
    rotate_half = torch.cat((-x2, x1), dim=-1)
    return x * cos + rotate_half * sin


@pytest.mark.parametrize(("dtype", "atol"), [(np.float64, 1e-13), (np.float32, 2e-6)])
def test_rotary_matches_rotate_half_in_pytorch_after_reordering(
    torch: ModuleType, dtype: type, atol: float
) -> None:
    x = random((2, 3, 10, 8), dtype)  # (B, H, N, D)
    positions = np.arange(10)
    expected = torch_rotate_half_rope(torch, torch.from_numpy(x), torch.arange(10)).numpy()
    order = np.arange(8).reshape(2, 4).T.ravel()
    got = np.empty_like(x)
    got[..., order] = apply_rotary(x[..., order], positions)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol)


def test_rotary_scores_are_the_same_under_both_conventions(torch: ModuleType) -> None:
    q, k = random((6, 8), seed=1), random((6, 8), seed=2)
    positions = np.arange(6)
    ours = apply_rotary(q, positions) @ apply_rotary(k, positions).T
    q_t, k_t = torch.from_numpy(q), torch.from_numpy(k)
    p = torch.arange(6)
    order = np.arange(8).reshape(2, 4).T.ravel()
    inverse = np.argsort(order)
    # Their convention on our features reordered the other way round: the same scores.
    theirs = (
        torch_rotate_half_rope(torch, q_t[:, inverse], p)
        @ torch_rotate_half_rope(torch, k_t[:, inverse], p).T
    ).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-13)
