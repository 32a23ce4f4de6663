"""Dropout of the attention weights in scaled_dot_product_attention.

The contract: ``keep = numpy.random.default_rng(rng).random(weights.shape) >= p``, one
draw per weight in C order over (..., L, S); the kept weights are divided by 1 - p and
the dropped ones are 0. PyTorch's generator differs, so against PyTorch only p = 0 and
the statistics are compared.
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pytest

from attention_ref import scaled_dot_product_attention

B, H, L, S, E, EV = 2, 3, 5, 7, 4, 3


def random(shape: tuple[int, ...], seed: int, dtype: type = np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


Q, K, V = random((B, H, L, E), 1), random((B, H, S, E), 2), random((B, H, S, EV), 3)


def undropped(**kwargs: object) -> tuple[np.ndarray, np.ndarray]:
    return scaled_dot_product_attention(Q, K, V, return_weights=True, **kwargs)


@pytest.mark.parametrize("causal", [False, True])
def test_the_same_seed_gives_the_same_result(causal: bool) -> None:
    first = scaled_dot_product_attention(Q, K, V, causal=causal, dropout_p=0.3, rng=5)
    again = scaled_dot_product_attention(Q, K, V, causal=causal, dropout_p=0.3, rng=5)
    other = scaled_dot_product_attention(Q, K, V, causal=causal, dropout_p=0.3, rng=6)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_generator_advances_and_equals_its_seed() -> None:
    generator = np.random.default_rng(11)
    first = scaled_dot_product_attention(Q, K, V, dropout_p=0.4, rng=generator)
    second = scaled_dot_product_attention(Q, K, V, dropout_p=0.4, rng=generator)
    np.testing.assert_array_equal(
        first, scaled_dot_product_attention(Q, K, V, dropout_p=0.4, rng=11)
    )
    assert not np.array_equal(first, second)  # the generator moved on


def test_no_seed_draws_fresh_entropy() -> None:
    results = [scaled_dot_product_attention(Q, K, V, dropout_p=0.5) for _ in range(3)]
    assert not all(np.array_equal(results[0], r) for r in results[1:])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("mask_kind", ["none", "bool", "causal"])
def test_kept_weights_are_scaled_exactly_and_dropped_ones_are_zero(
    dtype: type, p: float, mask_kind: str
) -> None:
    q, k, v = (a.astype(dtype) for a in (Q, K, V))
    mask = np.random.default_rng(4).random((L, S)) < 0.6 if mask_kind == "bool" else None
    causal = mask_kind == "causal"
    _, weights = scaled_dot_product_attention(
        q, k, v, mask=mask, causal=causal, return_weights=True
    )
    context, dropped = scaled_dot_product_attention(
        q, k, v, mask=mask, causal=causal, dropout_p=p, rng=9, return_weights=True
    )
    # The documented draw: C order over the whole (..., L, S) shape of the weights.
    keep = np.random.default_rng(9).random((B, H, L, S)) >= p
    expected = np.where(keep, weights / dtype(1 - p), 0)
    np.testing.assert_array_equal(dropped, expected)
    assert dropped.dtype == dtype
    # The context is made from the dropped weights (only summation order may differ).
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-5}
    np.testing.assert_allclose(context, dropped @ v, **tol)


def test_the_mean_over_many_seeds_tends_to_the_undropped_result() -> None:
    p, seeds = 0.3, 4000
    context, weights = undropped()
    total = np.zeros_like(context)
    for seed in range(seeds):
        total += scaled_dot_product_attention(Q, K, V, dropout_p=p, rng=seed)
    mean = total / seeds
    # Each dropped weight w / (1 - p) * Bernoulli(1 - p) has variance w^2 p / (1 - p),
    # so each context entry has standard deviation at most
    # sqrt(sum_j w_j^2 v_j^2 p / (1 - p)); the mean of `seeds` draws divides it by
    # sqrt(seeds). Five standard deviations: a false alarm once in ~1.7 million runs
    # per entry (here 90 entries), and a fixed seed range makes it deterministic.
    sd = np.sqrt((weights**2 @ V**2) * p / (1 - p) / seeds)
    assert np.all(np.abs(mean - context) <= 5 * sd)
    assert np.abs(mean - context).max() > 0  # dropout did something


def test_zero_dropout_is_the_undropped_result_bit_for_bit_and_draws_nothing() -> None:
    generator = np.random.default_rng(3)
    state = generator.bit_generator.state
    for causal in (False, True):
        context, weights = undropped(causal=causal)
        got_context, got_weights = scaled_dot_product_attention(
            Q, K, V, causal=causal, dropout_p=0.0, rng=generator, return_weights=True
        )
        np.testing.assert_array_equal(got_context, context)
        np.testing.assert_array_equal(got_weights, weights)
        np.testing.assert_array_equal(
            scaled_dot_product_attention(Q, K, V, causal=causal, dropout_p=0, rng=generator),
            scaled_dot_product_attention(Q, K, V, causal=causal),
        )
    assert generator.bit_generator.state == state  # nothing drawn


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"dropout_p": 1.0}, ValueError, r"dropout_p must be in \[0, 1\) .*got 1\.0"),
        ({"dropout_p": 1}, ValueError, r"dropout_p must be in \[0, 1\) .*got 1\.0"),
        ({"dropout_p": -0.1}, ValueError, r"dropout_p must be in \[0, 1\) .*got -0\.1"),
        ({"dropout_p": math.nan}, ValueError, r"dropout_p must be in \[0, 1\) .*got nan"),
        ({"dropout_p": math.inf}, ValueError, r"dropout_p must be in \[0, 1\) .*got inf"),
        ({"dropout_p": "0.1"}, TypeError, r"dropout_p must be a real number in \[0, 1\); got str"),
        ({"dropout_p": True}, TypeError, r"dropout_p must be a real number .*got bool True"),
        ({"dropout_p": None}, TypeError, r"dropout_p must be a real number .*got NoneType"),
        (
            {"dropout_p": 0.5, "rng": "seed"},
            TypeError,
            r"rng must be an integer >= 0 or a numpy\.random\.Generator, or None for fresh "
            r"entropy .*got str 'seed'",
        ),
        ({"dropout_p": 0.5, "rng": 1.5}, TypeError, r"rng must be an integer .*got float 1\.5"),
        ({"dropout_p": 0.5, "rng": -1}, ValueError, r"rng must be an integer >= 0; got -1"),
        # A bad rng is refused even when nothing would be drawn.
        ({"dropout_p": 0.0, "rng": "seed"}, TypeError, r"rng must be an integer"),
    ],
)
def test_bad_dropout_arguments(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        scaled_dot_product_attention(Q, K, V, **kwargs)


# --- against PyTorch: p = 0 exactly, and the statistics --------------------------------


@pytest.mark.parametrize("causal", [False, True])
def test_zero_dropout_matches_torch(torch: ModuleType, causal: bool) -> None:
    expected = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(Q), torch.tensor(K), torch.tensor(V), dropout_p=0.0, is_causal=causal
    ).numpy()
    got = scaled_dot_product_attention(Q, K, V, causal=causal, dropout_p=0.0, rng=0)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


def test_dropped_weights_have_torch_s_scaling_and_rate(torch: ModuleType) -> None:
    """torch.nn.MultiheadAttention in training mode returns its dropped weights.

    Both keep each weight with probability 1 - p and divide the kept ones by 1 - p:
    the ratio of a kept weight to the undropped one is 1 / (1 - p) in both, and the
    fraction kept over many weights is 1 - p in both, within 5 standard deviations.
    """
    p, n, d = 0.25, 64, 8
    x = random((n, d), 7)
    mha = torch.nn.MultiheadAttention(d, 1, bias=False, dropout=p, dtype=torch.float64)
    mha.train()
    torch.manual_seed(0)
    xt = torch.tensor(x)
    _, torch_dropped = mha(xt, xt, xt, need_weights=True)
    mha.eval()
    _, torch_weights = mha(xt, xt, xt, need_weights=True)
    torch_dropped, torch_weights = torch_dropped.detach().numpy(), torch_weights.detach().numpy()
    w_q, w_k, w_v = (w.T for w in np.split(mha.in_proj_weight.detach().numpy(), 3))
    _, weights = scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, return_weights=True)
    _, dropped = scaled_dot_product_attention(
        x @ w_q, x @ w_k, x @ w_v, dropout_p=p, rng=0, return_weights=True
    )
    np.testing.assert_allclose(weights, torch_weights, rtol=1e-12, atol=1e-14)
    for got, reference in ((dropped, weights), (torch_dropped, torch_weights)):
        kept = got != 0
        np.testing.assert_allclose(got[kept] / reference[kept], 1 / (1 - p), rtol=1e-12)
        rate, sd = kept.mean(), math.sqrt(p * (1 - p) / kept.size)
        assert abs(rate - (1 - p)) < 5 * sd


def test_the_mean_output_matches_torch_s_mean_output(torch: ModuleType) -> None:
    p, seeds = 0.5, 2000
    q, k, v = (torch.tensor(a) for a in (Q, K, V))
    context, weights = undropped()
    ours, theirs = np.zeros_like(context), np.zeros_like(context)
    for seed in range(seeds):
        ours += scaled_dot_product_attention(Q, K, V, dropout_p=p, rng=seed)
        torch.manual_seed(seed)
        theirs += torch.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=p).numpy()
    # Two independent means, each with the standard deviation of the test above:
    # their difference has sqrt(2) times it; five of those.
    sd = np.sqrt((weights**2 @ V**2) * p / (1 - p) / seeds)
    np.testing.assert_array_less(np.abs(ours / seeds - theirs / seeds), 5 * math.sqrt(2) * sd)
    np.testing.assert_array_less(np.abs(theirs / seeds - context), 5 * sd)
