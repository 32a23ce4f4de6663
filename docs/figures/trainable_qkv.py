"""Queries, keys and values: what "warm" attends to, without and with projections."""

from __future__ import annotations

import numpy as np
from _style import Theme, new_figure

from attention_ref import SelfAttention, softmax
from attention_ref.examples import CAT_INPUTS, CAT_TOKENS

WARM = CAT_TOKENS.index("warm")  # 9
MAT = CAT_TOKENS.index("mat")  # 5
STRENGTH = 3.0  # as on the page: W_q[temperature, 0] = W_k[place, 0] = 3


def hand_chosen() -> SelfAttention:
    """The page's projections: the temperature of a query looks for the place of a key."""
    w_query = np.zeros((3, 3))
    w_query[2, 0] = STRENGTH  # temperature -> direction 1
    w_key = np.zeros((3, 3))
    w_key[1, 0] = STRENGTH  # object/place -> direction 1
    return SelfAttention(w_query, w_key, np.eye(3))


def warm_mat(theme: Theme):
    """Horizontal grouped bars: the weights of "warm", weight-free and hand-chosen."""
    weight_free = softmax(CAT_INPUTS @ CAT_INPUTS[WARM])  # (N,): softmax(X x_warm)
    _, weights = hand_chosen()(CAT_INPUTS, return_weights=True)  # (N, N)
    chosen = weights[WARM]  # (N,)
    fig = new_figure(theme, 5.0, 4.8)
    ax = fig.add_subplot()
    rows = np.arange(len(CAT_TOKENS))  # (N,)
    height = 0.4
    ax.barh(rows - height / 2, weight_free, height, color=theme.palette[0], label="weight-free")
    ax.barh(
        rows + height / 2,
        chosen,
        height,
        color=theme.accent,
        label="hand-chosen $W_q$, $W_k$",
    )
    for value, offset in ((weight_free[MAT], -height / 2), (chosen[MAT], height / 2)):
        ax.text(value + 0.01, MAT + offset, f"{value:.2f}", va="center", color=theme.fg)
    ax.set_yticks(rows, labels=[f'"{token}"' for token in CAT_TOKENS])
    ax.invert_yaxis()  # the sentence reads top to bottom
    ax.set(xlim=(0, 0.85), xlabel='attention weight of "warm" on each token')
    ax.legend(frameon=False, loc="lower right", fontsize=11, labelcolor=theme.fg)
    ax.get_yticklabels()[MAT].set_fontweight("bold")
    return fig


FIGURES = {"qkv-warm-mat": warm_mat}
