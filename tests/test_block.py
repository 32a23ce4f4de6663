"""The whole attention block of docs/trainable/block.md, in NumPy, against PyTorch.

The block is pre-norm: ``x + MHA(LN(x))``, then ``x + FFN(LN(x))``, with the package's
`MultiHeadAttention` and sinusoidal positions. PyTorch's ``nn.TransformerEncoderLayer``
with ``norm_first=True`` (and ``norm_first=False`` for post-norm) is the same block when
its attention biases are zero and dropout is off; the attention half alone is
``nn.LayerNorm`` followed by ``nn.MultiheadAttention(bias=False)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pytest

from attention_ref import MultiHeadAttention, sinusoidal_positions

# A block is about ten dependent steps of O(1) values (two layer norms, projections,
# softmax, sums of at most d_ff = 32 terms), so numpy and PyTorch, summing in other
# orders, differ by some tens of ulp: ~1e-14 in float64, ~1e-6 in float32. The
# tolerances leave a margin of about 100x.
TOL = {
    np.float64: {"rtol": 1e-11, "atol": 1e-12},
    np.float32: {"rtol": 1e-4, "atol": 1e-5},
}
DTYPES = [np.float64, np.float32]
EPS = 1e-5  # torch.nn.LayerNorm's default


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The page's layer norm: each token to mean 0, variance 1, then gamma and beta."""
    mean = x.mean(axis=-1, keepdims=True)  # (..., N, 1)
    var = x.var(axis=-1, keepdims=True)  # (..., N, 1): biased, as torch
    return gamma * (x - mean) / np.sqrt(var + EPS) + beta


@dataclass
class Block:
    """The weights of one block, and its forward pass as on the page."""

    attention: MultiHeadAttention
    gamma_1: np.ndarray
    beta_1: np.ndarray
    gamma_2: np.ndarray
    beta_2: np.ndarray
    W_1: np.ndarray
    b_1: np.ndarray
    W_2: np.ndarray
    b_2: np.ndarray

    @classmethod
    def random(
        cls, d_model: int, num_heads: int, d_ff: int, causal: bool, dtype: type, seed: int
    ) -> Block:
        rng = np.random.default_rng(seed)

        def draw(*shape: int, scale: float = 1.0) -> np.ndarray:
            return (rng.normal(size=shape) * scale).astype(dtype)

        attention = MultiHeadAttention.random(
            d_model, d_model, num_heads, seed=rng, causal=causal, dtype=dtype
        )
        return cls(
            attention,
            gamma_1=1 + draw(d_model, scale=0.3),  # "trained": not the 1 and 0 of the start
            beta_1=draw(d_model, scale=0.3),
            gamma_2=1 + draw(d_model, scale=0.3),
            beta_2=draw(d_model, scale=0.3),
            W_1=draw(d_model, d_ff, scale=d_model**-0.5),
            b_1=draw(d_ff, scale=0.1),
            W_2=draw(d_ff, d_model, scale=d_ff**-0.5),
            b_2=draw(d_model, scale=0.1),
        )

    def feed_forward(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x @ self.W_1 + self.b_1, 0) @ self.W_2 + self.b_2

    def attention_half(self, x: np.ndarray) -> np.ndarray:
        return x + self.attention(layer_norm(x, self.gamma_1, self.beta_1))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = self.attention_half(x)
        return x + self.feed_forward(layer_norm(x, self.gamma_2, self.beta_2))

    def post_norm(self, x: np.ndarray) -> np.ndarray:
        x = layer_norm(x + self.attention(x), self.gamma_1, self.beta_1)
        return layer_norm(x + self.feed_forward(x), self.gamma_2, self.beta_2)


def torch_dtype(torch: ModuleType, dtype: type) -> object:
    return {np.float64: torch.float64, np.float32: torch.float32}[dtype]


def set_weights(torch: ModuleType, parameter: object, value: np.ndarray) -> None:
    with torch.no_grad():
        parameter.copy_(torch.tensor(np.ascontiguousarray(value)))


def torch_layer(torch: ModuleType, block: Block, norm_first: bool, dtype: type) -> object:
    """A TransformerEncoderLayer holding the block's weights (attention biases zero)."""
    attention = block.attention
    d_model, d_ff = attention.d_out, block.W_1.shape[1]
    layer = torch.nn.TransformerEncoderLayer(
        d_model,
        attention.num_heads,
        dim_feedforward=d_ff,
        dropout=0.0,
        layer_norm_eps=EPS,
        norm_first=norm_first,
        batch_first=True,
        dtype=torch_dtype(torch, dtype),
    )
    in_proj = np.concatenate([attention.W_query, attention.W_key, attention.W_value], axis=1)
    set_weights(torch, layer.self_attn.in_proj_weight, in_proj.T)
    set_weights(torch, layer.self_attn.in_proj_bias, np.zeros(3 * d_model, dtype))
    set_weights(torch, layer.self_attn.out_proj.weight, attention.W_out.T)
    set_weights(torch, layer.self_attn.out_proj.bias, np.zeros(d_model, dtype))
    set_weights(torch, layer.norm1.weight, block.gamma_1)
    set_weights(torch, layer.norm1.bias, block.beta_1)
    set_weights(torch, layer.norm2.weight, block.gamma_2)
    set_weights(torch, layer.norm2.bias, block.beta_2)
    set_weights(torch, layer.linear1.weight, block.W_1.T)
    set_weights(torch, layer.linear1.bias, block.b_1)
    set_weights(torch, layer.linear2.weight, block.W_2.T)
    set_weights(torch, layer.linear2.bias, block.b_2)
    return layer


def inputs(batch: int, n: int, d_model: int, dtype: type, seed: int = 1) -> np.ndarray:
    """Token embeddings plus sinusoidal positions, (B, N, d_model)."""
    tokens = np.random.default_rng(seed).normal(size=(batch, n, d_model))
    return (tokens + sinusoidal_positions(n, d_model)).astype(dtype)


def run_torch(torch: ModuleType, layer: object, x: np.ndarray, causal: bool) -> np.ndarray:
    n = x.shape[-2]
    mask = None
    if causal:
        mask = torch.nn.Transformer.generate_square_subsequent_mask(
            n, dtype=torch_dtype(torch, x.dtype.type)
        )
    with torch.no_grad():
        result = layer(torch.tensor(x), src_mask=mask, is_causal=causal)
    return result.numpy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize(("d_model", "num_heads", "d_ff"), [(4, 2, 16), (8, 4, 32), (6, 1, 24)])
def test_pre_norm_block_matches_torch_encoder_layer(
    torch: ModuleType, dtype: type, causal: bool, d_model: int, num_heads: int, d_ff: int
) -> None:
    block = Block.random(d_model, num_heads, d_ff, causal, dtype, seed=d_model)
    x = inputs(3, 7, d_model, dtype)
    ours = block(x)
    assert ours.shape == x.shape
    assert ours.dtype == dtype
    expected = run_torch(torch, torch_layer(torch, block, True, dtype), x, causal)
    np.testing.assert_allclose(ours, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("causal", [True, False])
def test_post_norm_block_matches_torch_norm_first_false(
    torch: ModuleType, dtype: type, causal: bool
) -> None:
    block = Block.random(4, 2, 16, causal, dtype, seed=5)
    x = inputs(2, 6, 4, dtype)
    expected = run_torch(torch, torch_layer(torch, block, False, dtype), x, causal)
    np.testing.assert_allclose(block.post_norm(x), expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("causal", [True, False])
def test_attention_half_matches_layer_norm_then_multihead_attention(
    torch: ModuleType, dtype: type, causal: bool
) -> None:
    d_model, num_heads = 8, 2
    block = Block.random(d_model, num_heads, 32, causal, dtype, seed=11)
    x = inputs(2, 5, d_model, dtype)
    norm = torch.nn.LayerNorm(d_model, eps=EPS, dtype=torch_dtype(torch, dtype))
    set_weights(torch, norm.weight, block.gamma_1)
    set_weights(torch, norm.bias, block.beta_1)
    mha = torch.nn.MultiheadAttention(
        d_model, num_heads, bias=False, batch_first=True, dtype=torch_dtype(torch, dtype)
    )
    attention = block.attention
    in_proj = np.concatenate([attention.W_query, attention.W_key, attention.W_value], axis=1)
    set_weights(torch, mha.in_proj_weight, in_proj.T)
    set_weights(torch, mha.out_proj.weight, attention.W_out.T)
    tx = torch.tensor(x)
    future = torch.ones(5, 5, dtype=torch.bool).triu(1) if causal else None  # True: hidden
    with torch.no_grad():
        h = norm(tx)
        attended, _ = mha(h, h, h, attn_mask=future, need_weights=False)
    np.testing.assert_allclose(layer_norm(x, block.gamma_1, block.beta_1), h.numpy(), **TOL[dtype])
    np.testing.assert_allclose(block.attention_half(x), (tx + attended).numpy(), **TOL[dtype])


def test_the_causal_block_is_causal() -> None:
    block = Block.random(4, 2, 16, True, np.float64, seed=3)
    x = inputs(2, 6, 4, np.float64)
    changed = x.copy()
    changed[:, 4:] += 5.0  # change the last two tokens of both sentences
    before, after = block(x), block(changed)
    np.testing.assert_array_equal(after[:, :4], before[:, :4])
    assert not np.allclose(after[:, 4:], before[:, 4:])


def test_the_block_keeps_the_shape_and_works_token_by_token_batched() -> None:
    block = Block.random(8, 4, 32, True, np.float64, seed=9)
    x = inputs(3, 5, 8, np.float64)
    together = block(x)
    assert together.shape == (3, 5, 8)
    for b in range(3):  # each sentence alone: the batch axis mixes nothing
        np.testing.assert_allclose(block(x[b]), together[b], rtol=1e-13, atol=1e-14)
