"""Why divide by sqrt(d_k): the entropy of the weights against d_k, with and without it."""

from __future__ import annotations

import numpy as np
from _style import Theme, new_figure

from attention_ref import scaled_dot_product_attention

NUM_TOKENS = 6  # as in the worked example
NUM_SETS = 500  # random sets of queries and keys averaged over, per d_k
DIMENSIONS = 2 ** np.arange(11)  # d_k = 1, 2, 4, ..., 1024
SEED = 2


def entropy(weights: np.ndarray) -> np.ndarray:
    """Entropy of each row of weights, in nats (0 ln 0 counts as 0)."""
    logs = np.log(weights, out=np.zeros_like(weights), where=weights > 0)
    return -(weights * logs).sum(axis=-1)


def mean_entropies() -> tuple[np.ndarray, np.ndarray]:
    """Mean entropy of the weights at each d_k: (unscaled, scaled by 1/sqrt(d_k))."""
    rng = np.random.default_rng(SEED)
    unscaled, scaled = [], []
    for d_k in DIMENSIONS:
        # (2, sets, N, d_k): unit-variance queries and keys; the keys serve as values
        query, key = rng.standard_normal((2, NUM_SETS, NUM_TOKENS, d_k))
        _, raw = scaled_dot_product_attention(query, key, key, scale=1.0, return_weights=True)
        _, fair = scaled_dot_product_attention(query, key, key, return_weights=True)
        unscaled.append(entropy(raw).mean())
        scaled.append(entropy(fair).mean())
    return np.array(unscaled), np.array(scaled)


def scaling_entropy(theme: Theme):
    """Two lines over log2(d_k), with the uniform weights' entropy ln N as a dashed line."""
    unscaled, scaled = mean_entropies()
    fig = new_figure(theme, 5.0, 3.8)
    ax = fig.add_subplot()
    uniform = np.log(NUM_TOKENS)
    ax.axhline(uniform, color=theme.muted, linestyle="--", linewidth=1.2)
    ax.text(1, uniform - 0.04, f"uniform weights: ln {NUM_TOKENS}", color=theme.fg, va="top")
    ax.plot(DIMENSIONS, scaled, "o-", color=theme.palette[0], label=r"scaled by $1/\sqrt{d_k}$")
    ax.plot(DIMENSIONS, unscaled, "o-", color=theme.accent, label="unscaled")
    ax.set_xscale("log", base=2)
    ax.set_xticks(DIMENSIONS[::2], labels=[str(d) for d in DIMENSIONS[::2]])
    ax.set(
        ylim=(0, 1.9),
        xlabel="$d_k$, the length of each query and key",
        ylabel="mean entropy of the weights",
    )
    ax.legend(frameon=False, loc="lower left", labelcolor=theme.fg)
    ax.grid(True)
    return fig


FIGURES = {"scaling-entropy": scaling_entropy}
