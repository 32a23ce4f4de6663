"""Multi-head attention: each head's attention weights over the six tokens, side by side."""

from __future__ import annotations

from _style import Theme, heatmap, new_figure

from attention_ref import MultiHeadAttention
from attention_ref.examples import INPUTS, TOKENS

# The model of docs/trainable/multi-head.md: d_in = 3, d_out = 4, two heads of size 2.
D_IN, D_OUT, NUM_HEADS, SEED = 3, 4, 2, 61


def multi_head_weights(theme: Theme):
    """One heatmap per head (rows: queries, columns: keys), on one shared colour scale.

    The scale runs from 0 to 2/N, twice an even share: an even share 1/N is its middle,
    so weights near uniform look alike, as they are, instead of spanning the colormap.
    """
    heads = MultiHeadAttention.random(D_IN, D_OUT, num_heads=NUM_HEADS, seed=SEED)
    _, weights = heads(INPUTS, return_weights=True)  # (H, N, N)
    # Heads stacked vertically: the same key columns line up, and the figure stays
    # narrow enough to read on a phone.
    fig = new_figure(theme, 4.6, 7.6)
    axes = fig.subplots(NUM_HEADS, 1, sharex=True)
    for head, ax in enumerate(axes):
        heatmap(
            ax,
            theme,
            weights[head],
            TOKENS,
            TOKENS,
            decimals=2,
            vmin=0.0,  # one scale for all heads, so their colours compare
            vmax=2 / len(TOKENS),
        )
        ax.set_title(f"head {head}", fontsize=11)
        ax.set_ylabel("query")
    axes[-1].set_xlabel("key (attended to)")
    return fig


FIGURES = {"multi-head-weights": multi_head_weights}
