"""Shared look of the site's figures: one theme per colour scheme, deterministic SVG.

Figure modules in this folder define ``FIGURES = {"name": draw}`` where ``draw(theme)``
returns a matplotlib Figure. The build hook (docs/hooks/figures.py) draws each once per
theme, as ``assets/figures/<name>-light.svg`` and ``-dark.svg``, and a page shows them
with Material's ``#only-light`` / ``#only-dark`` suffixes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure


@dataclass(frozen=True)
class Theme:
    """Colours for one of Material's colour schemes (backgrounds stay transparent)."""

    name: str  # "light" or "dark": the file suffix
    fg: str  # text, axes and outlines
    muted: str  # grid lines and secondary text
    accent: str  # the thing the figure is about (the query, the context vector)
    palette: tuple[str, ...]  # one colour per series or token
    cmap: str  # heatmaps


LIGHT = Theme(
    name="light",
    fg="#1f2328",
    muted="#8c959f",
    accent="#d9480f",
    palette=("#3b5bdb", "#2f9e44", "#ae3ec9", "#e8590c", "#0c8599", "#c2255c"),
    cmap="Blues",
)
DARK = Theme(
    name="dark",
    fg="#e6edf3",
    muted="#6e7681",
    accent="#ff922b",
    palette=("#91a7ff", "#8ce99a", "#e599f7", "#ffc078", "#66d9e8", "#faa2c1"),
    cmap="viridis",
)
THEMES = (LIGHT, DARK)


def new_figure(theme: Theme, width: float = 6.4, height: float = 4.0, **kwargs) -> Figure:
    """A figure whose text, spines and ticks use the theme's colours."""
    rc = {
        "text.color": theme.fg,
        "axes.labelcolor": theme.fg,
        "axes.edgecolor": theme.fg,
        "axes.titlecolor": theme.fg,
        "xtick.color": theme.fg,
        "ytick.color": theme.fg,
        "grid.color": theme.muted,
        "font.size": 11,
        "axes.facecolor": "none",
        "figure.facecolor": "none",
        "savefig.transparent": True,
    }
    with plt.rc_context(rc):
        fig = plt.figure(figsize=(width, height), layout="constrained", **kwargs)
    fig.set_facecolor("none")
    return fig


def heatmap(
    ax: Axes,
    theme: Theme,
    matrix: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    decimals: int = 2,
    vmin: float | None = None,
    vmax: float | None = None,
) -> None:
    """Draw `matrix` as labelled cells with each value written in its cell.

    Cells that are NaN (e.g. masked out) are left blank.
    """
    cmap = matplotlib.colormaps[theme.cmap].with_extremes(bad=(0.0, 0.0, 0.0, 0.0))
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(col_labels)), labels=col_labels, rotation=45, ha="right")
    ax.set_yticks(range(len(row_labels)), labels=row_labels)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for (i, j), value in np.ndenumerate(matrix):
        if np.isnan(value):
            continue
        r, g, b, _ = image.cmap(image.norm(value))
        dark_cell = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
        ax.text(
            j,
            i,
            f"{value:.{decimals}f}",
            ha="center",
            va="center",
            fontsize=9,
            color="white" if dark_cell else "black",
        )


def render_svg(fig: Figure) -> bytes:
    """SVG bytes of `fig`, identical from one build to the next."""
    buffer = io.BytesIO()
    with plt.rc_context({"svg.hashsalt": "attention-ref", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None}, transparent=True)
    plt.close(fig)
    return buffer.getvalue()
