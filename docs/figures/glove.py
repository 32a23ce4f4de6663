"""Real embeddings: "The cat sat on the mat because it is warm" with GloVe vectors.

Two figures: the cosine similarity of every pair of words, with the numbers in the
cells, and the attention weights of plain, scaled and cosine scores side by side.
"""

from __future__ import annotations

import numpy as np
from _style import Theme, label_colour, new_figure
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from attention_ref import attention_scores, attention_weights, scaled_dot_product_attention
from attention_ref.examples import glove

SENTENCE = "The cat sat on the mat because it is warm"
TOKENS, INPUTS = glove(SENTENCE)  # (10,), (10, 50) float32
QUERY = TOKENS.index("warm")
NEEDED = TOKENS.index("mat")  # what "warm" describes in the sentence


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Each row divided by its length: dot products of these are cosine similarities."""
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def outline_row(ax: Axes, theme: Theme, row: int, width: int) -> None:
    """A frame in the accent colour around one row of a heatmap."""
    frame = Rectangle((-0.5, row - 0.5), width, 1, fill=False, edgecolor=theme.accent, lw=2.2)
    ax.add_patch(frame)


def label_tokens(ax: Axes, theme: Theme, *, rows: bool = True, size: float = 11) -> None:
    """Token names on both axes (rows only if `rows`), "warm" and "mat" in the accent colour."""
    positions = range(len(TOKENS))
    ax.set_xticks(positions, labels=TOKENS, rotation=90)
    ax.set_yticks(positions, labels=TOKENS)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(length=0, labelleft=rows, labelsize=size)
    for label in ax.get_xticklabels() + ax.get_yticklabels():  # no y labels without rows
        if label.get_text() in (TOKENS[QUERY], TOKENS[NEEDED]):
            label.set_color(theme.accent)


def glove_cosine(theme: Theme):
    """Cosine similarity of every pair of words, each cell labelled, "warm" framed."""
    unit = unit_rows(INPUTS)  # (N, 50): each embedding scaled to length 1
    similarity = unit @ unit.T  # (N, N): cosine of the angle between two embeddings
    fig = new_figure(theme, 5.4, 5.0)
    ax = fig.add_subplot()
    image = ax.imshow(similarity, cmap=theme.cmap, vmin=0.0, vmax=1.0)
    for (i, j), value in np.ndenumerate(similarity):
        colour = label_colour(image.cmap(image.norm(value)))
        ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=14.5, color=colour)
    outline_row(ax, theme, QUERY, len(TOKENS))
    label_tokens(ax, theme)
    ax.set_title("cosine similarity of two words' GloVe vectors", fontsize=11)
    return fig


def glove_attention(theme: Theme):
    """Attention weights (rows: queries) of three scores, side by side, "warm" framed."""
    _, scaled = scaled_dot_product_attention(INPUTS, INPUTS, INPUTS, return_weights=True)
    cases = [
        ("dot product", attention_weights(attention_scores(INPUTS))),
        (r"scaled by $1/\sqrt{50}$", scaled),
        ("cosine", attention_weights(attention_scores(unit_rows(INPUTS)))),
    ]
    fig = new_figure(theme, 7.0, 3.9)  # narrow enough that a phone shows legible labels
    axes = fig.subplots(1, 3)
    for k, (ax, (title, weights)) in enumerate(zip(axes, cases, strict=True)):
        image = ax.imshow(weights, cmap=theme.cmap, vmin=0.0, vmax=1.0)
        outline_row(ax, theme, QUERY, len(TOKENS))
        label_tokens(ax, theme, rows=k == 0, size=12)
        for spine in ax.spines.values():  # a frame: near-zero cells match a light page
            spine.set(visible=True, edgecolor=theme.muted)
        ax.set_title(title, fontsize=13)
    bar = fig.colorbar(image, ax=axes, orientation="horizontal", shrink=0.6, aspect=40)
    bar.set_label("attention weight", color=theme.fg)
    bar.ax.tick_params(colors=theme.fg, labelsize=11)
    bar.outline.set_edgecolor(theme.fg)
    return fig


FIGURES = {"glove-cosine": glove_cosine, "glove-attention": glove_attention}
