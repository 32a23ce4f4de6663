"""Step 2: sum-normalisation and softmax on the same scores, side by side."""

from __future__ import annotations

import numpy as np
from _style import Theme, new_figure

from attention_ref import attention_scores, normalize_sum, softmax
from attention_ref.examples import INPUTS, QUERY, TOKENS

SHIFT = 1.0  # subtracted from every score in the lower panel: some scores turn negative


def weights_compare(theme: Theme):
    """Grouped bars of both normalisations, for the scores and for the scores minus 1."""
    scores = attention_scores(INPUTS, query=QUERY)  # (N,)
    cases = [
        ('scores of "journey"', scores),
        (f"the same scores minus {SHIFT:g}", scores - SHIFT),
    ]
    fig = new_figure(theme, 5.2, 5.0)  # narrow: readable when shrunk on a phone
    axes = fig.subplots(2, 1, sharex=True)
    positions = np.arange(len(TOKENS))  # (N,)
    width = 0.38
    for ax, (title, case) in zip(axes, cases, strict=True):
        ax.bar(
            positions - width / 2,
            normalize_sum(case),
            width,
            color=theme.palette[0],
            label="normalize_sum: score / sum",
        )
        ax.bar(
            positions + width / 2,
            softmax(case),
            width,
            color=theme.accent,
            label="softmax",
        )
        ax.axhline(0, color=theme.fg, linewidth=0.8)
        ax.set_title(title, fontsize=11, loc="left", color=theme.fg)
        ax.set_ylabel("weight")
        ax.spines["bottom"].set_visible(False)  # the zero line takes its place
        ax.grid(axis="y", color=theme.muted, linewidth=0.5, alpha=0.6)
        ax.set_axisbelow(True)
        ax.tick_params(axis="x", length=0)
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        loc="outside upper center",
        ncols=2,
        frameon=False,
        fontsize=10,
        labelcolor=theme.fg,
    )
    axes[-1].set_xticks(positions, labels=TOKENS)
    return fig


FIGURES = {"weights-compare": weights_compare}
