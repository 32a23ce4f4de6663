"""Shared look of the site's figures: one theme per colour scheme, deterministic SVG.

Figure modules in this folder define ``FIGURES = {"name": draw}`` where ``draw(theme)``
returns a matplotlib Figure. The build hook (docs/hooks/figures.py) draws each once per
theme, inside ``plt.rc_context(theme.rc)``, so every axes gets the theme's colours, a
transparent background and only its left and bottom spines without any styling call;
it writes them as ``assets/figures/<name>-light.svg`` and ``-dark.svg``, and a page shows
them with Material's ``#only-light`` / ``#only-dark`` suffixes.

Text drawn over a coloured area (a heatmap cell) takes black or white, whichever
contrasts more with it (``label_colour``): at least 4.58:1, above WCAG AA's 4.5:1.
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
    background: str  # the page behind the figure: Material's default or slate background
    fg: str  # text, axes and outlines
    muted: str  # grid lines and secondary text
    accent: str  # the thing the figure is about (the query, the context vector)
    palette: tuple[str, ...]  # one colour per series or token
    cmap: str  # heatmaps

    @property
    def rc(self) -> dict[str, object]:
        """Matplotlib settings for every figure of this theme (see docs/hooks/figures.py)."""
        return {
            "text.color": self.fg,
            "axes.labelcolor": self.fg,
            "axes.edgecolor": self.fg,
            "axes.titlecolor": self.fg,
            "axes.titlesize": 11,
            "axes.facecolor": "none",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "xtick.color": self.fg,
            "ytick.color": self.fg,
            "grid.color": self.muted,
            "grid.alpha": 0.4,
            "legend.frameon": False,
            "legend.labelcolor": self.fg,
            "font.size": 11,
            "figure.facecolor": "none",
            "savefig.transparent": True,
            "svg.hashsalt": "attention-ref",  # the same ids in every build
            "svg.fonttype": "path",  # text as shapes: no font needed to view it
        }


LIGHT = Theme(
    name="light",
    background="#ffffff",
    fg="#1f2328",
    muted="#8c959f",
    accent="#c4450c",  # every colour that text may take: >= 4.5:1 on white
    palette=("#3b5bdb", "#267d39", "#ae3ec9", "#a85d00", "#0b7285", "#c2255c"),
    cmap="Blues",
)
DARK = Theme(
    name="dark",
    background="#1e2129",  # hsl(225, 15%, 14%)
    fg="#e6edf3",
    muted="#6e7681",
    accent="#ff922b",
    palette=("#91a7ff", "#8ce99a", "#e599f7", "#ffc078", "#66d9e8", "#faa2c1"),
    cmap="viridis",
)
THEMES = (LIGHT, DARK)

# Numbers in heatmap cells: 13 pt stays legible when a 4.8-inch figure shrinks to a
# phone's column (about 360 px, so about 10 px tall digits).
CELL_FONTSIZE = 13


def new_figure(theme: Theme, width: float = 6.4, height: float = 4.0, **kwargs) -> Figure:
    """A figure of `width` x `height` inches with constrained layout (theme from the hook)."""
    return plt.figure(figsize=(width, height), layout="constrained", **kwargs)


def relative_luminance(colour) -> float:
    """WCAG 2 relative luminance of a matplotlib colour, from 0 (black) to 1 (white)."""
    channels = np.array(matplotlib.colors.to_rgb(colour))
    linear = np.where(channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return float(linear @ [0.2126, 0.7152, 0.0722])


def contrast_ratio(first, second) -> float:
    """WCAG 2 contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    lighter, darker = sorted(map(relative_luminance, (first, second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def label_colour(background) -> str:
    """Black or white, whichever contrasts more with `background` (always >= 4.58:1)."""
    return max(("black", "white"), key=lambda text: contrast_ratio(text, background))


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

    Cells that are NaN (e.g. masked out) are left blank. Values outside [vmin, vmax]
    take the colour of the nearer end of the scale (their label still says the value).
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
        cell = image.cmap(image.norm(value))
        text = f"{value:.{decimals}f}"
        colour = label_colour(cell)
        ax.text(j, i, text, ha="center", va="center", fontsize=CELL_FONTSIZE, color=colour)


def render_svg(fig: Figure) -> bytes:
    """SVG bytes of `fig`, identical from one build to the next (with the theme's rc)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, transparent=True)
    plt.close(fig)
    return buffer.getvalue()
