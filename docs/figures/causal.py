"""Causal attention: the worked example's weights, with the future left blank."""

from __future__ import annotations

import numpy as np
from _style import Theme, heatmap, new_figure

from attention_ref import SelfAttention, causal_mask
from attention_ref.examples import INPUTS, TOKENS

SEED = 123  # the projections of the worked example: d_in = 3, d_out = 2


def causal_weights(theme: Theme):
    """Heatmap of the causal weights; the cells above the diagonal are NaN, so blank.

    The colour scale runs from 0 to the largest weight below the first row: the first
    row, a single weight of 1, would otherwise take the top colour alone and leave every
    other row pale. Its cell takes the top colour (its label says 1.00).
    """
    attention = SelfAttention.random(3, 2, seed=SEED, causal=True)
    _, weights = attention(INPUTS, return_weights=True)  # (N, N)
    shown = np.where(causal_mask(len(TOKENS)), weights, np.nan)  # (N, N): future blank
    fig = new_figure(theme, 4.6, 4.2)
    ax = fig.add_subplot()
    top = weights[1:].max()  # the largest weight that has a choice to make
    heatmap(ax, theme, shown, TOKENS, TOKENS, decimals=2, vmin=0.0, vmax=top)
    ax.set_xlabel("key: the token attended to", labelpad=6)
    ax.set_ylabel("query: the token attending", labelpad=10)
    return fig


FIGURES = {"causal-weights": causal_weights}
