"""Theme colours for axes added after ``new_figure`` (shared by context, matrix_form, limits).

``_style.new_figure`` applies the theme's rc settings only while the figure itself is
made, so axes added afterwards get matplotlib's defaults: black ticks and labels and a
white background, unreadable in the dark scheme. ``style_axes`` sets them explicitly.
"""

from __future__ import annotations

from _style import Theme
from matplotlib.axes import Axes


def style_axes(ax: Axes, theme: Theme, *, grid: bool = False, spines: bool = True) -> Axes:
    """Give `ax` a transparent background and the theme's text, tick and spine colours.

    Only the left and bottom spines are kept (none with ``spines=False``, for heatmaps).
    """
    ax.set_facecolor("none")
    ax.tick_params(colors=theme.fg, labelsize=11)
    for label in (ax.xaxis.label, ax.yaxis.label, ax.title):
        label.set_color(theme.fg)
    ax.xaxis.label.set_fontsize(11)
    ax.yaxis.label.set_fontsize(11)
    for side, spine in ax.spines.items():
        spine.set_edgecolor(theme.fg)
        spine.set_visible(spines and side in ("left", "bottom"))
    if grid:
        ax.grid(color=theme.muted, alpha=0.4)
    return ax
