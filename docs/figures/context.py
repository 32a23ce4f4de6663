"""Step 3: the context vector of "journey" among the inputs, and how the sum builds it."""

from __future__ import annotations

import numpy as np
from _style import Theme, new_figure
from matplotlib.patches import Polygon

from attention_ref import attention_scores, attention_weights, context_vector
from attention_ref.examples import INPUTS, QUERY, TOKENS

# Label offsets in points, chosen so that no two labels overlap ("journey" and
# "starts" nearly coincide, so one label goes above and one below).
LABEL_OFFSETS = {
    "Your": (10, -4),
    "journey": (-6, 12),
    "starts": (10, -14),
    "with": (-10, -14),
    "one": (10, -4),
    "step": (10, 2),
}


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Corners of the convex hull of 2-D `points`, counter-clockwise (monotone chain)."""
    ordered = sorted(map(tuple, points))

    def half(sequence):
        chain: list[tuple[float, float]] = []
        for p in sequence:
            while len(chain) >= 2 and _cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    return np.array(half(ordered) + half(reversed(ordered)))


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def context_hull(theme: Theme):
    """Dimensions 1 and 2 seen from above: inputs sized by weight, z(2) inside their hull."""
    weights = attention_weights(attention_scores(INPUTS, QUERY))  # (N,)
    context = context_vector(INPUTS, QUERY)  # (D,)
    flat = INPUTS[:, :2]  # (N, 2): dimension 3 points at the reader
    fig = new_figure(theme, 5.2, 4.4)
    ax = fig.add_subplot()
    hull = Polygon(convex_hull(flat), closed=True, facecolor=theme.muted, alpha=0.18)
    ax.add_patch(hull)
    ax.add_patch(Polygon(convex_hull(flat), closed=True, fill=False, edgecolor=theme.muted))
    for (x, y), token, weight, colour in zip(flat, TOKENS, weights, theme.palette, strict=True):
        ax.scatter(x, y, s=2000 * weight, color=colour, alpha=0.85, linewidths=0)
        dx, dy = LABEL_OFFSETS[token]
        ax.annotate(
            f"{token} ({weight:.2f})",
            (x, y),
            xytext=(dx, dy),
            textcoords="offset points",
            color=colour,
            fontsize=11,
            ha="left" if dx > 0 else "right",
            va="center",
        )
    ax.scatter(*context[:2], marker="*", s=420, color=theme.accent, zorder=3)
    ax.annotate(
        "$z^{(2)}$",
        tuple(context[:2]),
        xytext=(10, -6),
        textcoords="offset points",
        color=theme.accent,
        fontsize=15,
        weight="bold",
    )
    ax.set(xlim=(-0.1, 1.0), ylim=(0.0, 1.05), xlabel="dim 1", ylabel="dim 2", aspect="equal")
    ax.grid(True)
    return fig


def context_sum(theme: Theme):
    """Each coordinate of z(2) as a stack of the weighted inputs' contributions."""
    weights = attention_weights(attention_scores(INPUTS, QUERY))  # (N,)
    scaled = weights[:, None] * INPUTS  # (N, D): row j is alpha_2j x(j)
    starts = np.vstack([np.zeros(3), np.cumsum(scaled, axis=0)[:-1]])  # (N, D)
    fig = new_figure(theme, 5.6, 3.4)
    ax = fig.add_subplot()
    dims = np.arange(3)
    for token, weight, left, width, colour in zip(
        TOKENS, weights, starts, scaled, theme.palette, strict=True
    ):
        ax.barh(
            dims,
            width,
            left=left,
            color=colour,
            height=0.6,
            label=f"{weight:.2f} \N{MULTIPLICATION SIGN} {token}",
        )
    for dim, total in zip(dims, scaled.sum(axis=0), strict=True):
        ax.text(total + 0.01, dim, f"{total:.4f}", va="center", color=theme.accent, fontsize=11)
    ax.set_yticks(dims, labels=[f"$z^{{(2)}}_{d + 1}$" for d in dims])
    ax.invert_yaxis()
    ax.set(xlim=(0, 0.8), xlabel="sum of the weighted inputs' coordinates")
    ax.legend(
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=3,
        fontsize=11,
        frameon=False,
        labelcolor=theme.fg,
    )
    ax.tick_params(axis="y", labelsize=14)
    return fig


FIGURES = {"context-hull": context_hull, "context-sum": context_sum}
