"""All tokens at once: the 6 x 6 attention weights, and softmax over rows vs columns."""

from __future__ import annotations

from _style import Theme, heatmap, new_figure

from attention_ref import attention_scores, attention_weights, softmax
from attention_ref.examples import INPUTS, TOKENS


def matrix_weights(theme: Theme):
    """The weights of every query (rows) over every input (columns)."""
    weights = attention_weights(attention_scores(INPUTS))  # (N, N): one row per query
    fig = new_figure(theme, 4.8, 4.6)
    ax = fig.add_subplot()
    heatmap(ax, theme, weights, TOKENS, TOKENS, vmin=0.0, vmax=weights.max())
    ax.set(xlabel="input attended to (column j)", ylabel="query (row i)")
    return fig


def matrix_axis(theme: Theme):
    """Softmax over each row (right) above softmax over each column (wrong), with row sums."""
    scores = attention_scores(INPUTS)  # (N, N), symmetric
    cases = [
        ("softmax(scores, axis=-1)\nrows sum to 1", softmax(scores, axis=-1)),
        ("softmax(scores, axis=0)\ncolumns sum to 1", softmax(scores, axis=0)),
    ]
    vmax = max(weights.max() for _, weights in cases)
    fig = new_figure(theme, 4.8, 8.4)  # stacked, so that it stays legible on a phone
    axes = fig.subplots(2, 1)
    for ax, (title, weights) in zip(axes, cases, strict=True):
        heatmap(ax, theme, weights, TOKENS, TOKENS, vmin=0.0, vmax=vmax)
        ax.set_title(title, fontsize=11)
        for i, total in enumerate(weights.sum(axis=1)):
            colour = theme.fg if abs(total - 1) < 1e-12 else theme.accent
            ax.text(len(TOKENS) - 0.35, i, f"Σ {total:.2f}", va="center", color=colour, fontsize=10)
        ax.set_xlim(-0.5, len(TOKENS) + 0.75)  # room for the row sums
    return fig


FIGURES = {"matrix-weights": matrix_weights, "matrix-axis": matrix_axis}
