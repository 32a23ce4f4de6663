"""Tests for attention_ref.padding_mask: padded batches, against PyTorch and one by one.

PyTorch has the same thing twice: ``attn_mask`` of ``F.scaled_dot_product_attention``
(True = may attend, as here) and ``key_padding_mask`` of ``nn.MultiheadAttention``
(True = ignore, the opposite). The property that matters is that each sentence of a
padded batch gets exactly what it gets on its own.
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention_ref import (
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    softmax,
)

from .arrays import DTYPES, TOL, random


def test_padding_mask_values_and_shape() -> None:
    mask = padding_mask([3, 1, 4, 0], num_keys=4)
    assert mask.shape == (4, 1, 4)
    assert mask.dtype == np.bool_
    expected = [[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]]
    np.testing.assert_array_equal(mask[:, 0], np.array(expected, dtype=bool))


def test_padding_mask_takes_numpy_integers_of_any_width() -> None:
    for dtype in (np.int8, np.uint16, np.int64):
        lengths = np.array([2, 3], dtype=dtype)
        np.testing.assert_array_equal(padding_mask(lengths, 3), padding_mask([2, 3], 3))
    assert padding_mask((np.int32(2),), np.int64(3)).shape == (1, 1, 3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("causal", [False, True])
def test_padding_mask_matches_torch_sdpa_attn_mask(
    torch: ModuleType, dtype: type, causal: bool
) -> None:
    B, S, E = 3, 5, 4
    lengths = [5, 2, 3]
    q, k, v = (random((B, S, E), dtype, seed) for seed in range(3))
    mask = padding_mask(lengths, S)  # (B, 1, S)
    ours = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)
    torch_mask = torch.tensor(mask)
    if causal:  # torch refuses attn_mask with is_causal: combine them by hand
        torch_mask = torch_mask & torch.tensor(causal_mask(S))
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in (q, k, v)), attn_mask=torch_mask
    )
    np.testing.assert_allclose(ours, expected.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_padding_mask_with_heads_matches_torch_sdpa(torch: ModuleType, dtype: type) -> None:
    B, H, S, E = 2, 3, 6, 4
    q, k, v = (random((B, H, S, E), dtype, seed) for seed in range(3))
    mask = padding_mask([4, 6], S)[:, None]  # (B, 1, 1, S): broadcast over the heads
    ours = scaled_dot_product_attention(q, k, v, mask=mask)
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in (q, k, v)), attn_mask=torch.tensor(mask)
    )
    np.testing.assert_allclose(ours, expected.numpy(), **TOL[dtype])


def multi_head_with_mask(heads: MultiHeadAttention, x: np.ndarray, mask: np.ndarray):
    """Multi-head attention under a (B, 1, 1, S) mask, from the package's public parts."""
    B, N, _ = x.shape
    H, d = heads.num_heads, heads.d_head
    split = [a.reshape(B, N, H, d).swapaxes(1, 2) for a in heads.project(x)]  # (B, H, N, d)
    context = scaled_dot_product_attention(*split, mask=mask)  # (B, H, N, d)
    merged = context.swapaxes(1, 2).reshape(B, N, H * d)  # (B, N, d_out)
    return merged @ heads.W_out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("causal", [False, True])
def test_padding_mask_matches_torch_key_padding_mask(
    torch: ModuleType, dtype: type, causal: bool
) -> None:
    B, S, d_model, H = 3, 6, 8, 2
    heads = MultiHeadAttention.random(d_model, d_model, H, seed=7, dtype=dtype)
    x = random((B, S, d_model), dtype, seed=3)
    lengths = [6, 3, 1]
    mask = padding_mask(lengths, S)
    if causal:
        mask = mask & causal_mask(S)  # (B, S, S)
    ours = multi_head_with_mask(heads, x, mask[:, None])

    module = torch.nn.MultiheadAttention(
        d_model, H, bias=False, batch_first=True, dtype=torch.float64
    ).to({np.float64: torch.float64, np.float32: torch.float32}[dtype])
    with torch.no_grad():
        in_proj = np.concatenate([heads.W_query.T, heads.W_key.T, heads.W_value.T])
        module.in_proj_weight.copy_(torch.tensor(in_proj))
        module.out_proj.weight.copy_(torch.tensor(heads.W_out.T))
    tx = torch.tensor(x)
    key_padding = ~torch.tensor(padding_mask(lengths, S)[:, 0])  # (B, S): True = ignore
    attn_mask = ~torch.tensor(causal_mask(S)) if causal else None  # True = not allowed
    with torch.no_grad():
        expected, _ = module(
            tx, tx, tx, key_padding_mask=key_padding, attn_mask=attn_mask, need_weights=False
        )
    np.testing.assert_allclose(ours, expected.numpy(), **TOL[dtype])


@settings(max_examples=50, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 7), min_size=1, max_size=4),
    extra=st.integers(0, 3),
    causal=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_each_sentence_of_a_padded_batch_gets_what_it_gets_alone(
    lengths: list[int], extra: int, causal: bool, seed: int
) -> None:
    S = max(lengths) + extra  # padded beyond the longest, too
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((len(lengths), S, 3)) for _ in range(3))
    padded = scaled_dot_product_attention(q, k, v, mask=padding_mask(lengths, S), causal=causal)
    for b, n in enumerate(lengths):
        alone = scaled_dot_product_attention(q[b, :n], k[b, :n], v[b, :n], causal=causal)
        # The padded keys get weight exactly 0; the real ones the same softmax, up to
        # the order of a sum over n or S terms.
        np.testing.assert_allclose(padded[b, :n], alone, rtol=1e-12, atol=1e-14)


def test_the_padding_values_do_not_matter() -> None:
    q, k, v = (random((2, 5, 3), seed=s) for s in range(3))
    mask = padding_mask([2, 4], 5)
    before = scaled_dot_product_attention(q, k, v, mask=mask)
    k2, v2 = k.copy(), v.copy()
    k2[0, 2:], v2[0, 2:] = 1e3, -1e3  # garbage in the padding of sentence 0
    k2[1, 4:], v2[1, 4:] = -50.0, 7.0
    after = scaled_dot_product_attention(q, k2, v2, mask=mask)
    # Up to rounding: the garbage raises the bound on the scores, so the kernel shifts
    # them by their maximum before exp where it skipped that before (needs_shift).
    np.testing.assert_allclose(after, before, rtol=1e-14, atol=1e-15)


def test_padding_mask_with_a_float_bias() -> None:
    q, k, v = (random((2, 4, 3), seed=s) for s in range(3))
    pad = padding_mask([4, 2], 4)
    bias = random((4, 4), seed=9)  # e.g. a learned relative-position bias, (L, S)
    float_mask = np.where(pad, bias, -np.inf)  # (2, 4, 4)
    ours = scaled_dot_product_attention(q, k, v, mask=float_mask)
    scores = q @ k.swapaxes(-1, -2) / math.sqrt(3) + bias
    scores = np.where(pad, scores, -np.inf)
    np.testing.assert_allclose(ours, softmax(scores) @ v, rtol=1e-12, atol=1e-14)


def test_length_zero_gives_zeros_as_torch_sdpa_and_nan_in_torch_softmax(
    torch: ModuleType,
) -> None:
    q, k, v = (random((2, 3, 2), seed=s) for s in range(3))
    mask = padding_mask([3, 0], 3)  # the second sequence is all padding
    ours, weights = scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True)
    np.testing.assert_array_equal(ours[1], 0.0)
    np.testing.assert_array_equal(weights[1], 0.0)
    tq, tk, tv = (torch.tensor(a) for a in (q, k, v))
    sdpa = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=torch.tensor(mask)
    )
    np.testing.assert_array_equal(sdpa[1].numpy(), 0.0)
    scores = (tq @ tk.transpose(-1, -2) / math.sqrt(2)).masked_fill(
        ~torch.tensor(mask), float("-inf")
    )
    assert torch.softmax(scores, dim=-1)[1].isnan().all()
    np.testing.assert_allclose(ours[0], sdpa[0].numpy(), **TOL[np.float64])


@pytest.mark.parametrize(
    ("lengths", "num_keys", "error", "message"),
    [
        ([2, 5], 4, ValueError, "lengths must be between 0 and num_keys = 4 .*got 5 at index 1"),
        ([-1], 4, ValueError, "lengths must be between 0 and num_keys = 4 .*got -1 at index 0"),
        ([], 4, ValueError, r"lengths must be a 1-D sequence .*got shape \(0,\)"),
        (3, 4, ValueError, r"lengths must be a 1-D sequence .*got shape \(\)"),
        ([[1, 2]], 4, ValueError, r"lengths must be a 1-D sequence .*got shape \(1, 2\)"),
        ([1.0, 2.0], 4, TypeError, "lengths must contain integers .*got dtype float64"),
        ([True, False], 4, TypeError, "lengths must contain integers .*got booleans"),
        ([1, True], 4, TypeError, "lengths mixes booleans with numbers"),
        (["3"], 4, TypeError, "lengths must contain integers .*got strings"),
        (None, 4, TypeError, "lengths must be an array of real numbers; got None"),
        ([1, 2], 0, ValueError, "num_keys must be an integer >= 1; got 0"),
        ([1, 2], 4.0, TypeError, "num_keys must be an integer >= 1; got float 4.0"),
        ([1, 2], True, TypeError, "num_keys must be an integer >= 1; got bool True"),
    ],
)
def test_padding_mask_bad_arguments(lengths, num_keys, error, message) -> None:
    with pytest.raises(error, match=message):
        padding_mask(lengths, num_keys)


def test_huge_python_integer_length_is_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"got 1000000000000000000000 at index 0"):
        padding_mask([10**21], 4)


def test_padding_mask_of_the_wrong_batch_size_is_refused_by_attention() -> None:
    q = random((3, 4, 2))
    with pytest.raises(ValueError, match=r"mask must broadcast to the scores' shape \(3, 4, 4\)"):
        scaled_dot_product_attention(q, q, q, mask=padding_mask([4, 2], 4))
