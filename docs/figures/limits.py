"""Limits: what "warm" attends to in "The cat sat on the mat because it is warm"."""

from __future__ import annotations

import numpy as np
from _style import Theme, label_colour, new_figure

from attention_ref import attention_scores, attention_weights
from attention_ref.examples import CAT_INPUTS, CAT_TOKENS

WARM = CAT_TOKENS.index("warm")
NEEDED = CAT_TOKENS.index("mat")  # what "warm" describes in the sentence


def limits_warm(theme: Theme):
    """One horizontal bar per token: the weight "warm" gives it, "mat" in the accent colour."""
    weights = attention_weights(attention_scores(CAT_INPUTS, query=WARM))  # (N,)
    fig = new_figure(theme, 5.0, 4.6)  # narrow: legible on a phone
    ax = fig.add_subplot()
    positions = np.arange(len(CAT_TOKENS))  # (N,): one row per token, in sentence order
    colours = [theme.palette[0]] * len(CAT_TOKENS)
    colours[NEEDED] = theme.accent
    colours[WARM] = theme.muted  # the query scored against itself
    ax.barh(positions, weights, color=colours, height=0.65)
    for position, weight, colour in zip(positions, weights, colours, strict=True):
        ax.text(  # inside the bar's end, clear of the even-share line
            weight - 0.003,
            position,
            f"{weight:.4f}",
            ha="right",
            va="center",
            color=label_colour(colour),
            fontsize=11,
        )
    even = 1 / len(CAT_TOKENS)
    # Behind the bars: it shows where each bar ends against an even share.
    ax.axvline(even, color=theme.muted, linestyle="--", linewidth=1.2, zorder=0.5)
    ax.text(even, -0.9, " even share 1/N", color=theme.fg, fontsize=10, va="bottom")
    ax.text(
        max(weights[NEEDED], even) + 0.005,
        NEEDED,
        "\N{LEFTWARDS ARROW} what the sentence needs",
        va="center",
        color=theme.accent,
        fontsize=11,
    )
    ax.text(weights[WARM] + 0.005, WARM, "(itself)", va="center", color=theme.fg, fontsize=10)
    ax.set_yticks(positions, labels=list(CAT_TOKENS))
    ax.set_ylim(len(CAT_TOKENS) - 0.5, -1.3)  # first token on top, room for the label
    ax.set(xlim=(0, 0.26), xlabel='attention weight of "warm" on each token')
    ax.get_yticklabels()[NEEDED].set_color(theme.accent)
    return fig


FIGURES = {"limits-warm": limits_warm}
