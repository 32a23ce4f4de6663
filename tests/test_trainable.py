"""Tests for attention_ref.trainable: scaled dot-product, self- and multi-head attention.

PyTorch CPU is the independent implementation: ``scaled_dot_product_attention`` for
the function, ``torch.nn.MultiheadAttention`` for the heads.
"""

from __future__ import annotations

import dataclasses
import math
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from attention_ref import (
    MultiHeadAttention,
    SelfAttention,
    causal_mask,
    context_vectors,
    scaled_dot_product_attention,
    softmax,
)
from attention_ref.examples import INPUTS

from .arrays import DTYPES, TOL, random


def to_torch(torch: ModuleType, array: np.ndarray) -> object:
    return torch.tensor(array)  # a copy: our weights are read-only, torch wants writable


def torch_weights(torch: ModuleType, q, k, mask, scale):
    """Reference weights in PyTorch: softmax of the masked scores; all-masked rows 0."""
    scores = (q @ k.transpose(-1, -2)) * scale
    if mask is not None and mask.dtype == torch.bool:
        scores = scores.masked_fill(~mask, -math.inf)
    elif mask is not None:
        scores = scores + mask
    return torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)


# --- scaled_dot_product_attention against PyTorch -----------------------------------

B, H, L, S, E, EV = 2, 3, 4, 5, 8, 6


def make_mask(kind: str, dtype: type) -> np.ndarray | None:
    rng = np.random.default_rng(1)
    if kind == "none":
        return None
    if kind == "bool":  # about a third of the entries may attend: some rows are empty
        return rng.random((B, H, L, S)) < 0.35
    if kind == "bool broadcast over heads":
        return rng.random((B, 1, L, S)) < 0.7
    if kind == "bool (L, S)":
        return rng.random((L, S)) < 0.7
    if kind == "float":
        mask = rng.standard_normal((L, S)).astype(dtype)
        mask[rng.random((L, S)) < 0.3] = -np.inf
        return mask
    raise AssertionError(kind)


MASKS = ["none", "bool", "bool broadcast over heads", "bool (L, S)", "float"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_matches_torch(torch: ModuleType, dtype: type, mask_kind: str, scale) -> None:
    query = random((B, H, L, E), dtype, seed=2)
    key = random((B, H, S, E), dtype, seed=3)
    value = random((B, H, S, EV), dtype, seed=4)
    mask = make_mask(mask_kind, dtype)

    context, weights = scaled_dot_product_attention(
        query, key, value, mask=mask, scale=scale, return_weights=True
    )

    tq, tk, tv = (to_torch(torch, a) for a in (query, key, value))
    tmask = None if mask is None else to_torch(torch, mask)
    expected = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=tmask, scale=scale
    )
    assert context.dtype == dtype
    assert weights.dtype == dtype
    assert context.shape == (B, H, L, EV)
    np.testing.assert_allclose(context, expected.numpy(), **TOL[dtype])
    reference = torch_weights(torch, tq, tk, tmask, scale or 1 / math.sqrt(E))
    np.testing.assert_allclose(weights, reference.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("num_queries", "num_keys"), [(5, 5), (3, 6), (6, 3), (1, 4)])
def test_sdpa_causal_matches_torch_is_causal(
    torch: ModuleType, dtype: type, num_queries: int, num_keys: int
) -> None:
    # When L != S PyTorch aligns the causal mask at the top left: query i sees keys
    # 0 .. i. Checked here, including L > S where the last queries see every key.
    query = random((B, num_queries, E), dtype, seed=5)
    key = random((B, num_keys, E), dtype, seed=6)
    value = random((B, num_keys, EV), dtype, seed=7)
    context = scaled_dot_product_attention(query, key, value, causal=True)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(to_torch(torch, a) for a in (query, key, value)), is_causal=True
    )
    np.testing.assert_allclose(context, expected.numpy(), **TOL[dtype])


def test_sdpa_causal_and_mask_together_is_both(torch: ModuleType) -> None:
    # PyTorch refuses attn_mask with is_causal=True; here both apply (logical and).
    query, key, value = random((L, E), seed=8), random((L, E), seed=9), random((L, EV))
    mask = np.random.default_rng(10).random((L, L)) < 0.6
    context = scaled_dot_product_attention(query, key, value, mask=mask, causal=True)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(to_torch(torch, a) for a in (query, key, value)),
        attn_mask=to_torch(torch, mask & causal_mask(L)),
    )
    np.testing.assert_allclose(context, expected.numpy(), **TOL[np.float64])


@pytest.mark.parametrize(
    ("query_shape", "key_shape", "value_shape"),
    [
        ((2, 3, L, E), (3, S, E), (S, EV)),  # key and value shared across the batch
        ((L, E), (2, 1, S, E), (2, 3, S, EV)),  # a single query sequence
        ((2, 1, L, E), (1, 3, S, E), (1, 1, S, EV)),
    ],
)
def test_sdpa_broadcasts_leading_axes_like_torch(
    torch: ModuleType, query_shape, key_shape, value_shape
) -> None:
    query, key, value = (
        random(query_shape, seed=11),
        random(key_shape, seed=12),
        random(value_shape, seed=13),
    )
    context = scaled_dot_product_attention(query, key, value)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(to_torch(torch, a) for a in (query, key, value))
    )
    assert context.shape == tuple(expected.shape)
    np.testing.assert_allclose(context, expected.numpy(), **TOL[np.float64])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_fully_masked_rows_give_zeros_as_torch_does(
    torch: ModuleType, dtype: type, kind: str
) -> None:
    allowed = np.array([[True, False, True, False], [False] * 4, [True] * 4])  # row 1: none
    mask = allowed if kind == "bool" else np.where(allowed, 0.0, -np.inf).astype(dtype)
    query, key, value = random((3, E), dtype), random((4, E), dtype, 1), random((4, EV), dtype)
    context, weights = scaled_dot_product_attention(
        query, key, value, mask=mask, return_weights=True
    )
    assert np.array_equal(context[1], np.zeros(EV))  # exactly 0, not NaN
    assert np.array_equal(weights[1], np.zeros(4))
    np.testing.assert_allclose(weights.sum(axis=-1), [1, 0, 1], **TOL[dtype])
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(to_torch(torch, a) for a in (query, key, value)), attn_mask=to_torch(torch, mask)
    )
    np.testing.assert_allclose(context, expected.numpy(), **TOL[dtype])


def test_sdpa_with_scale_one_is_the_weight_free_attention() -> None:
    np.testing.assert_allclose(
        scaled_dot_product_attention(INPUTS, INPUTS, INPUTS, scale=1.0),
        context_vectors(INPUTS),
        rtol=1e-15,  # the same float64 numbers, summed in a different order
        atol=1e-15,
    )


def test_sdpa_default_scale_is_one_over_sqrt_of_the_key_dimension() -> None:
    query, key, value = random((L, E)), random((S, E), seed=1), random((S, EV), seed=2)
    expected = softmax(query @ key.T / math.sqrt(E)) @ value
    np.testing.assert_allclose(
        scaled_dot_product_attention(query, key, value), expected, **TOL[np.float64]
    )


def test_sdpa_dtypes() -> None:
    f32 = np.ones((2, 2), np.float32)
    assert scaled_dot_product_attention(f32, f32, f32).dtype == np.float32
    assert scaled_dot_product_attention(f32, f32, f32.astype(np.float64)).dtype == np.float64
    assert scaled_dot_product_attention([[1, 2]], [[3, 4]], [[5, 6]]).dtype == np.float64
    # A float64 mask does not promote float32 scores.
    float_mask = np.zeros((2, 2))
    assert scaled_dot_product_attention(f32, f32, f32, mask=float_mask).dtype == np.float32


def test_sdpa_float_mask_beyond_float32_range_still_masks() -> None:
    # -1e300 does not fit in float32: it becomes -inf there, which masks the key.
    f32 = np.eye(2, dtype=np.float32)
    mask = np.array([[0.0, -1e300], [0.0, 0.0]])
    _, weights = scaled_dot_product_attention(f32, f32, f32, mask=mask, return_weights=True)
    assert np.array_equal(weights[0], [1.0, 0.0])


def test_sdpa_does_not_modify_its_inputs() -> None:
    query, key, value = random((L, E)), random((S, E), seed=1), random((S, EV), seed=2)
    mask = np.zeros((L, S))
    copies = [a.copy() for a in (query, key, value, mask)]
    scaled_dot_product_attention(query, key, value, mask=mask, causal=True)
    for before, after in zip(copies, (query, key, value, mask), strict=True):
        assert np.array_equal(before, after)


def test_causal_mask() -> None:
    assert np.array_equal(causal_mask(3), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    assert causal_mask(3).dtype == np.bool_
    assert np.array_equal(causal_mask(2, 4), [[1, 0, 0, 0], [1, 1, 0, 0]])
    assert np.array_equal(causal_mask(3, 2), [[1, 0], [1, 1], [1, 1]])
    assert np.array_equal(causal_mask(1), [[True]])


def test_causal_equals_the_causal_mask(torch: ModuleType) -> None:
    query, key, value = random((B, L, E)), random((B, S, E), seed=1), random((B, S, EV))
    np.testing.assert_array_equal(
        scaled_dot_product_attention(query, key, value, causal=True),
        scaled_dot_product_attention(query, key, value, mask=causal_mask(L, S)),
    )


# --- SelfAttention ------------------------------------------------------------------

D_IN, D_OUT = 3, 2  # the worked example's sizes


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_self_attention_matches_torch(torch: ModuleType, causal: bool, dtype: type) -> None:
    attention = SelfAttention.random(D_IN, D_OUT, seed=0, causal=causal)
    weights = {
        name: getattr(attention, name).astype(dtype) for name in ("W_query", "W_key", "W_value")
    }
    attention = SelfAttention(**weights, causal=causal)
    inputs = np.stack([INPUTS, INPUTS[::-1]]).astype(dtype)  # (2, 6, 3): a batch of two
    context, attn = attention(inputs, return_weights=True)

    x = to_torch(torch, inputs)
    queries, keys, values = (x @ to_torch(torch, w) for w in weights.values())
    expected = torch.nn.functional.scaled_dot_product_attention(
        queries, keys, values, is_causal=causal
    )
    assert context.shape == (2, 6, D_OUT)
    assert context.dtype == dtype
    np.testing.assert_allclose(context, expected.numpy(), **TOL[dtype])
    reference = torch_weights(
        torch, queries, keys, to_torch(torch, causal_mask(6)) if causal else None, D_OUT**-0.5
    )
    np.testing.assert_allclose(attn, reference.numpy(), **TOL[dtype])


def test_self_attention_is_the_three_projections_then_attention() -> None:
    attention = SelfAttention.random(D_IN, D_OUT, seed=1)
    queries, keys, values = attention.project(INPUTS)
    assert queries.shape == keys.shape == values.shape == (6, D_OUT)
    assert np.array_equal(queries, INPUTS @ attention.W_query)
    assert np.array_equal(keys, INPUTS @ attention.W_key)
    assert np.array_equal(values, INPUTS @ attention.W_value)
    assert np.array_equal(attention(INPUTS), scaled_dot_product_attention(queries, keys, values))


def test_self_attention_with_fourth_root_identity_is_the_weight_free_attention() -> None:
    # Q = K = d^(1/4) X makes Q K^T / sqrt(d) = X X^T; with V = X this is the story.
    root = D_IN**0.25 * np.eye(D_IN)
    attention = SelfAttention(root, root, np.eye(D_IN))
    np.testing.assert_allclose(attention(INPUTS), context_vectors(INPUTS), rtol=1e-14, atol=0)


def test_self_attention_batched_equals_one_by_one() -> None:
    attention = SelfAttention.random(4, 5, seed=2, causal=True)
    inputs = random((2, 3, 7, 4))
    batched = attention(inputs)
    for index in np.ndindex(2, 3):
        np.testing.assert_allclose(batched[index], attention(inputs[index]), rtol=1e-14)


def test_self_attention_random_is_reproducible() -> None:
    first, again = SelfAttention.random(3, 2, seed=7), SelfAttention.random(3, 2, seed=7)
    for name in ("W_query", "W_key", "W_value"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.W_query, first.W_key)  # three different draws
    assert not np.array_equal(first.W_query, SelfAttention.random(3, 2, seed=8).W_query)
    # A Generator is drawn from, so two draws from one generator differ.
    rng = np.random.default_rng(7)
    one, two = SelfAttention.random(3, 2, seed=rng), SelfAttention.random(3, 2, seed=rng)
    assert np.array_equal(one.W_query, first.W_query)
    assert not np.array_equal(one.W_query, two.W_query)
    # Uniform in [-1/sqrt(d_in), 1/sqrt(d_in)), like torch.nn.Linear's initialisation.
    big = SelfAttention.random(16, 64, seed=0)
    assert np.abs(big.W_value).max() < 0.25
    assert np.abs(big.W_value).max() > 0.24  # 1024 draws come close to the bound


def test_self_attention_weights_are_read_only_copies() -> None:
    w = np.eye(3)
    attention = SelfAttention(w, w, w)
    w[0, 0] = 5.0  # the caller's array changes; the model's copy does not
    assert attention.W_query[0, 0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        attention.W_key[0, 0] = 5.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        attention.causal = True  # type: ignore[misc]
    causal = dataclasses.replace(attention, causal=True)
    assert causal.causal
    assert not attention.causal


def test_self_attention_dtype_and_attributes() -> None:
    f32 = np.ones((3, 2), np.float32)
    attention = SelfAttention(f32, f32, f32)
    assert (attention.d_in, attention.d_out) == (3, 2)
    assert attention.W_query.dtype == np.float32
    assert attention(INPUTS.astype(np.float32)).dtype == np.float32
    assert attention(INPUTS).dtype == np.float64
    mixed = SelfAttention(f32, f32, [[1, 2], [3, 4], [5, 6]])  # ints: float64 for all
    assert mixed.W_query.dtype == mixed.W_value.dtype == np.float64
    assert repr(attention) == "SelfAttention(d_in=3, d_out=2, causal=False)"


# --- MultiHeadAttention against torch.nn.MultiheadAttention ---------------------------


def torch_mha(torch: ModuleType, heads: MultiHeadAttention, dtype: type) -> object:
    """A torch.nn.MultiheadAttention holding the same weights.

    PyTorch needs d_in == d_out (embed_dim) for self-attention: its query projection
    is (E, E), and kdim/vdim change only the key and value inputs. It stores weights
    as (out, in) and applies them as x @ W.T, so ours are transposed going in.
    """
    assert heads.d_in == heads.d_out
    module = torch.nn.MultiheadAttention(
        heads.d_out, heads.num_heads, bias=False, batch_first=True, dtype=torch.float64
    ).to({np.float64: torch.float64, np.float32: torch.float32}[dtype])
    with torch.no_grad():
        in_proj = np.concatenate([heads.W_query.T, heads.W_key.T, heads.W_value.T])  # (3E, E)
        module.in_proj_weight.copy_(to_torch(torch, in_proj))
        module.out_proj.weight.copy_(to_torch(torch, heads.W_out.T))
    return module.eval()


@pytest.mark.parametrize(("d_model", "num_heads"), [(4, 2), (6, 3), (4, 1), (8, 8)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_multi_head_matches_torch(
    torch: ModuleType, d_model: int, num_heads: int, causal: bool, dtype: type
) -> None:
    heads = MultiHeadAttention.random(d_model, d_model, num_heads, seed=d_model, causal=causal)
    weights = {
        name: getattr(heads, name).astype(dtype)
        for name in ("W_query", "W_key", "W_value", "W_out")
    }
    heads = MultiHeadAttention(num_heads, **weights, causal=causal)
    inputs = random((2, 5, d_model), dtype, seed=3)  # (batch, N, d_in)
    output, attn = heads(inputs, return_weights=True)

    module = torch_mha(torch, heads, dtype)
    x = to_torch(torch, inputs)
    # torch.nn.MultiheadAttention's boolean attn_mask is the opposite of ours:
    # True there means "may NOT attend".
    not_allowed = to_torch(torch, ~causal_mask(5)) if causal else None
    with torch.no_grad():
        expected, expected_attn = module(
            x, x, x, attn_mask=not_allowed, need_weights=True, average_attn_weights=False
        )
        _, expected_mean = module(x, x, x, attn_mask=not_allowed, need_weights=True)
    assert output.shape == (2, 5, d_model)
    assert attn.shape == (2, num_heads, 5, 5)
    assert output.dtype == dtype
    np.testing.assert_allclose(output, expected.numpy(), **TOL[dtype])
    np.testing.assert_allclose(attn, expected_attn.numpy(), **TOL[dtype])
    np.testing.assert_allclose(attn.mean(axis=-3), expected_mean.numpy(), **TOL[dtype])


def test_multi_head_unbatched_matches_torch(torch: ModuleType) -> None:
    heads = MultiHeadAttention.random(6, 6, 2, seed=5, causal=True)
    inputs = random((7, 6), seed=4)  # (N, d_in): no batch axis
    module = torch_mha(torch, heads, np.float64)
    x = to_torch(torch, inputs)
    with torch.no_grad():
        expected, _ = module(x, x, x, attn_mask=to_torch(torch, ~causal_mask(7)))
    np.testing.assert_allclose(heads(inputs), expected.numpy(), **TOL[np.float64])


@pytest.mark.parametrize(("d_in", "d_out", "num_heads"), [(3, 2, 2), (3, 4, 2), (5, 6, 3)])
@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_with_d_in_not_d_out_matches_torch_step_by_step(
    torch: ModuleType, d_in: int, d_out: int, num_heads: int, causal: bool
) -> None:
    # torch.nn.MultiheadAttention cannot take d_in != d_out for self-attention, so
    # this builds the same computation from PyTorch's pieces: project, split with
    # view/transpose, its scaled_dot_product_attention, merge, project.
    heads = MultiHeadAttention.random(d_in, d_out, num_heads, seed=9, causal=causal)
    inputs = np.stack([INPUTS, INPUTS[::-1]]) if d_in == 3 else random((2, 6, d_in))
    x = to_torch(torch, inputs)
    batch, num_tokens, d_head = x.shape[0], x.shape[1], d_out // num_heads

    def split(t):
        return t.view(batch, num_tokens, num_heads, d_head).transpose(1, 2)

    queries, keys, values = (
        split(x @ to_torch(torch, w)) for w in (heads.W_query, heads.W_key, heads.W_value)
    )
    context = torch.nn.functional.scaled_dot_product_attention(
        queries, keys, values, is_causal=causal
    )
    merged = context.transpose(1, 2).reshape(batch, num_tokens, d_out)
    expected = merged @ to_torch(torch, heads.W_out)
    np.testing.assert_allclose(heads(inputs), expected.numpy(), **TOL[np.float64])


def test_multi_head_with_one_head_is_self_attention_then_output_projection() -> None:
    heads = MultiHeadAttention.random(D_IN, D_OUT, 1, seed=3, causal=True)
    single = SelfAttention(heads.W_query, heads.W_key, heads.W_value, causal=True)
    np.testing.assert_allclose(heads(INPUTS), single(INPUTS) @ heads.W_out, rtol=1e-14, atol=1e-16)


def test_multi_head_each_head_is_self_attention_on_its_columns() -> None:
    heads = MultiHeadAttention.random(3, 6, 3, seed=4)
    _, weights = heads(INPUTS, return_weights=True)
    for h in range(3):
        block = slice(2 * h, 2 * h + 2)
        head = SelfAttention(
            heads.W_query[:, block], heads.W_key[:, block], heads.W_value[:, block]
        )
        np.testing.assert_allclose(weights[h], head(INPUTS, return_weights=True)[1], rtol=1e-14)


def test_multi_head_batched_equals_one_by_one() -> None:
    heads = MultiHeadAttention.random(4, 6, 2, seed=6)
    inputs = random((3, 5, 4))
    batched = heads(inputs)
    for i in range(3):
        np.testing.assert_allclose(batched[i], heads(inputs[i]), rtol=1e-13, atol=1e-15)


def test_multi_head_attributes_and_read_only_weights() -> None:
    heads = MultiHeadAttention.random(4, 6, 3, seed=0)
    assert (heads.num_heads, heads.d_in, heads.d_out, heads.d_head) == (3, 4, 6, 2)
    assert heads.W_out.shape == (6, 6)
    assert not heads.W_out.flags.writeable
    assert repr(heads) == "MultiHeadAttention(num_heads=3, d_in=4, d_out=6, d_head=2, causal=False)"
    again = MultiHeadAttention.random(4, 6, 3, seed=0)
    assert np.array_equal(heads.W_out, again.W_out)
    assert np.abs(heads.W_out).max() < 1 / math.sqrt(6)  # fan-in d_out for W_out


# --- properties -------------------------------------------------------------------------

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def sequence_and_cut(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """Inputs (N, D), a different version of them after token t, and t."""
    num_tokens = draw(st.integers(2, 7))
    dim = draw(st.integers(1, 4))
    inputs = draw(hnp.arrays(np.float64, (num_tokens, dim), elements=finite))
    t = draw(st.integers(0, num_tokens - 2))
    future = draw(hnp.arrays(np.float64, (num_tokens - t - 1, dim), elements=finite))
    changed = inputs.copy()
    changed[t + 1 :] = future
    return inputs, changed, t


@settings(max_examples=60, deadline=None)
@given(sequence_and_cut(), st.integers(0, 2**32 - 1))
def test_causal_output_for_token_t_ignores_everything_after_t(case, seed) -> None:
    inputs, changed, t = case
    dim = inputs.shape[1]
    # Exact equality: later keys get weight exactly 0 (exp(-inf)), and 0 * v == 0.
    for model in (
        SelfAttention.random(dim, 4, seed=seed, causal=True),
        MultiHeadAttention.random(dim, 4, 2, seed=seed, causal=True),
    ):
        assert np.array_equal(model(inputs)[: t + 1], model(changed)[: t + 1])
    assert np.array_equal(
        scaled_dot_product_attention(inputs, inputs, inputs, causal=True)[: t + 1],
        scaled_dot_product_attention(changed, changed, changed, causal=True)[: t + 1],
    )


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4)), elements=finite),
    st.floats(0.1, 10),
    st.floats(0.05, 2),
)
def test_scaling_queries_and_scale_reciprocally_changes_nothing(query, c, scale) -> None:
    key = np.random.default_rng(0).standard_normal((6, query.shape[1]))
    value = np.random.default_rng(1).standard_normal((6, 3))
    # (c q) . k * (scale / c) = q . k * scale up to rounding: scores of size up to
    # ~10 * 10 * 4 * 2 = 800 carry ~1e-13 absolute error, so exp changes by ~1e-13
    # relatively; the context (values O(1)) agrees to well within 1e-10.
    np.testing.assert_allclose(
        scaled_dot_product_attention(c * query, key, value, scale=scale / c),
        scaled_dot_product_attention(query, key, value, scale=scale),
        rtol=1e-10,
        atol=1e-10,
    )


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.float64, (n, 3), elements=finite),
            hnp.arrays(np.bool_, (n, 4)),
        )
    ),
    st.booleans(),
)
def test_weights_rows_sum_to_one_except_fully_masked_rows(case, causal) -> None:
    query, mask = case
    key = np.random.default_rng(2).standard_normal((4, 3))
    context, weights = scaled_dot_product_attention(
        query, key, key, mask=mask, causal=causal, return_weights=True
    )
    allowed = mask & causal_mask(*mask.shape) if causal else mask
    empty = ~allowed.any(axis=-1)
    assert ((weights >= 0) & (weights <= 1)).all()
    assert np.array_equal(weights[~allowed], np.zeros((~allowed).sum()))
    # A softmax row sums to 1 up to one rounding per term: 4 terms, a few ulp.
    np.testing.assert_allclose(weights[~empty].sum(axis=-1), 1.0, rtol=0, atol=1e-15)
    assert np.array_equal(weights[empty], np.zeros((empty.sum(), 4)))
    assert np.array_equal(context[empty], np.zeros((empty.sum(), 3)))


# --- bad input ------------------------------------------------------------------------

Q, K, V = np.ones((3, 4)), np.ones((5, 4)), np.ones((5, 2))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"key": np.ones((5, 3))},
            ValueError,
            r"key must have the same last axis as query \(E = 4",
        ),
        ({"value": np.ones((6, 2))}, ValueError, r"value must have one row per key \(S = 5"),
        (
            {"query": np.ones((2, 3, 4)), "key": np.ones((3, 5, 4))},
            ValueError,
            r"leading \(batch\) axes that broadcast together; got query \(2, 3, 4\)",
        ),
        ({"query": np.ones(4)}, ValueError, r"query must have shape \(N, D\) .*got shape \(4,\)"),
        ({"key": np.ones((0, 4))}, ValueError, r"key must have shape .*got shape \(0, 4\)"),
        ({"value": [[1.0, np.nan]] * 5}, ValueError, r"value must contain only finite numbers"),
        ({"query": [["a"] * 4] * 3}, TypeError, r"query must contain real numbers"),
        (
            {"mask": np.ones((3, 4), bool)},
            ValueError,
            r"mask must broadcast to the scores' shape \(3, 5\).*got shape \(3, 4\)",
        ),
        (
            {"mask": np.ones((2, 3, 5), bool)},
            ValueError,
            r"mask must broadcast .*\(3, 5\).*got shape \(2, 3, 5\)",
        ),
        (
            {"mask": np.ones((3, 5), int)},
            TypeError,
            r"mask must be boolean \(True = may attend\) or float .*got dtype int64",
        ),
        (
            {"mask": [[0.0, np.nan, 0, 0, 0]]},
            ValueError,
            r"mask must contain only finite numbers or -inf; got nan",
        ),
        (
            {"mask": [[0.0, np.inf, 0, 0, 0]]},
            ValueError,
            r"mask must contain only finite numbers or -inf; got inf",
        ),
        ({"mask": [[True], [True, False]]}, ValueError, r"mask must be a rectangular array"),
        ({"scale": 0.0}, ValueError, r"scale must be a finite number > 0 .*got 0.0"),
        ({"scale": -1}, ValueError, r"scale must be a finite number > 0 .*got -1.0"),
        ({"scale": np.inf}, ValueError, r"scale must be a finite number > 0 .*got inf"),
        ({"scale": np.nan}, ValueError, r"scale must be a finite number > 0 .*got nan"),
        ({"scale": "0.5"}, TypeError, r"scale must be a real number > 0 .*got str '0.5'"),
        ({"scale": True}, TypeError, r"scale must be a real number > 0 .*got bool True"),
        (
            {"causal": np.ones((3, 5), bool)},
            TypeError,
            r"causal must be True or False; got ndarray",
        ),
        ({"causal": "yes"}, TypeError, r"causal must be True or False; got str 'yes'"),
        (
            {"query": np.full((3, 4), 1e200), "key": np.full((5, 4), 1e200)},
            ValueError,
            r"query and key are too large together: a dot product overflows float64 "
            r"\(largest \|query\| is 1e\+200, largest \|key\| is 1e\+200\); scale them down",
        ),
        # Scores 4 * (3e153)^2 / 2 = 1.8e307 are finite; adding 1.7e308 is not.
        (
            {
                "mask": np.full((3, 5), 1.7e308),
                "query": np.full((3, 4), 3e153),
                "key": np.full((5, 4), 3e153),
            },
            ValueError,
            r"mask added to the scores overflows float64",
        ),
    ],
)
def test_sdpa_bad_input(kwargs: dict, error: type, message: str) -> None:
    arguments = {"query": Q, "key": K, "value": V} | kwargs
    query, key, value = arguments.pop("query"), arguments.pop("key"), arguments.pop("value")
    with pytest.raises(error, match=message):
        scaled_dot_product_attention(query, key, value, **arguments)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((0,), ValueError, r"num_queries must be an integer >= 1; got 0"),
        ((-2,), ValueError, r"num_queries must be an integer >= 1; got -2"),
        ((2.5,), TypeError, r"num_queries must be an integer >= 1; got float 2.5"),
        ((True,), TypeError, r"num_queries must be an integer >= 1; got bool True"),
        ((3, 0), ValueError, r"num_keys must be an integer >= 1; got 0"),
    ],
)
def test_causal_mask_bad_input(args: tuple, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        causal_mask(*args)


W = np.ones((3, 2))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"W_query": np.ones(3)},
            ValueError,
            r"W_query must be a matrix of shape \(d_in, d_out\) .*got shape \(3,\)",
        ),
        ({"W_key": np.ones((3, 0))}, ValueError, r"W_key must be a matrix .*got shape \(3, 0\)"),
        (
            {"W_value": [[1.0, np.inf]] * 3},
            ValueError,
            r"W_value must contain only finite numbers; got inf at index \(0, 1\)",
        ),
        (
            {"W_key": np.ones((3, 4))},
            ValueError,
            r"W_key must have the same shape as W_query, \(d_in, d_out\) = \(3, 2\); "
            r"got shape \(3, 4\)",
        ),
        (
            {"W_value": np.ones((2, 2))},
            ValueError,
            r"W_value must have the same shape as W_query.*got shape \(2, 2\)",
        ),
        (
            {"W_query": np.ones((3, 2), bool)},
            TypeError,
            r"W_query must contain real numbers .*got booleans",
        ),
        ({"causal": 1}, TypeError, r"causal must be True or False; got int 1"),
    ],
)
def test_self_attention_bad_weights(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        SelfAttention(**({"W_query": W, "W_key": W, "W_value": W} | kwargs))


def test_attention_bad_inputs_on_call() -> None:
    for model in (SelfAttention(W, W, W), MultiHeadAttention(2, W, W, W, np.eye(2))):
        with pytest.raises(
            ValueError,
            match=r"inputs must have d_in = 3 features in the last axis, to match W_query "
            r"of shape \(3, 2\); got inputs of shape \(6, 4\)",
        ):
            model(np.ones((6, 4)))
        with pytest.raises(ValueError, match=r"inputs must have shape \(N, D\)"):
            model(np.ones(3))
        with pytest.raises(ValueError, match=r"inputs must contain only finite numbers"):
            model([[0.0, np.nan, 1.0]])


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (
            (3, 6, 4),
            {},
            ValueError,
            r"num_heads must divide d_out = 6 \(each head gets d_out / num_heads columns\); "
            r"got num_heads = 4",
        ),
        ((3, 6, 0), {}, ValueError, r"num_heads must be an integer >= 1; got 0"),
        ((3, 6, 1.5), {}, TypeError, r"num_heads must be an integer >= 1; got float 1.5"),
        ((0, 6, 2), {}, ValueError, r"d_in must be an integer >= 1; got 0"),
        ((3, "6", 2), {}, TypeError, r"d_out must be an integer >= 1; got str '6'"),
        (
            (3, 6, 2),
            {"causal": None},
            TypeError,
            r"causal must be True or False; got NoneType None",
        ),
    ],
)
def test_multi_head_random_bad_input(args: tuple, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        MultiHeadAttention.random(*args, seed=0, **kwargs)


def test_multi_head_bad_weights() -> None:
    with pytest.raises(
        ValueError,
        match=r"W_out must have shape \(d_out, d_out\) = \(2, 2\), to map the merged heads "
        r"back to d_out features; got shape \(2, 3\)",
    ):
        MultiHeadAttention(1, W, W, W, np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"num_heads must divide d_out = 2 .*got num_heads = 3"):
        MultiHeadAttention(3, W, W, W, np.eye(2))
    with pytest.raises(ValueError, match=r"W_value must have the same shape as W_query"):
        MultiHeadAttention(1, W, W, np.ones((3, 4)), np.eye(2))
    with pytest.raises(ValueError, match=r"W_out must contain only finite numbers"):
        MultiHeadAttention(1, W, W, W, [[1.0, np.nan], [0.0, 1.0]])


def test_self_attention_random_bad_input() -> None:
    with pytest.raises(ValueError, match=r"d_out must be an integer >= 1; got 0"):
        SelfAttention.random(3, 0, seed=0)
    with pytest.raises(TypeError, match=r"d_in must be an integer >= 1; got float 3.0"):
        SelfAttention.random(3.0, 2, seed=0)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [SelfAttention, MultiHeadAttention])
@pytest.mark.parametrize(
    ("seed", "error", "message"),
    [
        (None, TypeError, r"seed must be an integer >= 0 or a numpy\.random\.Generator .*None"),
        (True, TypeError, r"seed must be an integer .*got bool True"),
        (1.5, TypeError, r"seed must be an integer .*got float 1\.5"),
        (-1, ValueError, r"seed must be an integer >= 0; got -1"),
    ],
)  # fmt: skip
def test_random_weights_need_a_real_seed(cls, seed, error, message) -> None:
    args = (3, 2) if cls is SelfAttention else (3, 2, 1)
    with pytest.raises(error, match=message):
        cls.random(*args, seed=seed)
