"""Step 1: the attention scores of the query "journey" against every token."""

from __future__ import annotations

from _style import Theme, new_figure

from attention_ref import attention_scores
from attention_ref.examples import INPUTS, QUERY, TOKENS


def scores_journey(theme: Theme):
    """One bar per token: its dot product with the query, the query's own bar in accent."""
    scores = attention_scores(INPUTS, query=QUERY)  # (N,)
    fig = new_figure(theme, 5.2, 3.4)  # narrow: readable when shrunk on a phone
    ax = fig.add_subplot()
    colours = [theme.accent if j == QUERY else theme.palette[0] for j in range(len(TOKENS))]
    bars = ax.bar(TOKENS, scores, color=colours, width=0.65)
    labels = [f"{score:.4f}" for score in scores]
    ax.bar_label(bars, labels=labels, padding=3, fontsize=10, color=theme.fg)
    ax.set_ylabel(r"score $\omega_{2j} = x^{(2)} \cdot x^{(j)}$")
    ax.set_ylim(0, scores.max() * 1.15)  # room for the labels above the bars
    ax.set_xlabel('input token $x^{(j)}$ (query: "journey")')
    ax.grid(axis="y", color=theme.muted, linewidth=0.5, alpha=0.6)
    ax.set_axisbelow(True)
    return fig


FIGURES = {"scores-journey": scores_journey}
