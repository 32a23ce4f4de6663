"""Padding masks: the second sentence of a padded batch, whose padded keys get weight 0."""

from __future__ import annotations

import numpy as np
from _style import Theme, heatmap, new_figure

from attention_ref import SelfAttention, padding_mask, scaled_dot_product_attention
from attention_ref.examples import INPUTS, TOKENS

SEED = 123  # the projections of the worked example: d_in = 3, d_out = 2


def padded_weights(theme: Theme):
    """The real queries of "starts with one step", padded to 6 tokens, over all 6 keys.

    The batch is the page's: the whole sentence, and its last four tokens with two rows
    of zeros. The padded keys' weights are exactly 0, and labelled so: at the bottom
    of the colour scale, well apart from the real keys' weights near 1/4.
    """
    batch = np.stack([INPUTS, np.vstack([INPUTS[2:], np.zeros((2, 3))])])  # (2, 6, 3)
    mask = padding_mask([6, 4], num_keys=6)  # (2, 1, 6)
    queries, keys, values = SelfAttention.random(3, 2, seed=SEED).project(batch)
    _, weights = scaled_dot_product_attention(
        queries, keys, values, mask=mask, return_weights=True
    )  # (2, 6, 6)
    shown = weights[1, :4]  # (4, 6): the real queries over all six keys
    fig = new_figure(theme, 4.6, 3.4)
    ax = fig.add_subplot()
    keys_shown = [*TOKENS[2:], "(pad)", "(pad)"]
    heatmap(ax, theme, shown, TOKENS[2:], keys_shown, decimals=2, vmin=0.0)
    ax.set_xlabel("key: the token attended to", labelpad=6)
    ax.set_ylabel("query", labelpad=10)
    return fig


FIGURES = {"padding-weights": padded_weights}
