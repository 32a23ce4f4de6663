"""The six 3-D token embeddings of "Your journey starts with one step"."""

from __future__ import annotations

from _style import Theme, new_figure

from attention_ref.examples import INPUTS, TOKENS


def embeddings_3d(theme: Theme):
    """Each token as an arrow from the origin in 3-D space."""
    fig = new_figure(theme, 6.0, 5.0)
    ax = fig.add_subplot(projection="3d")
    ax.set_facecolor("none")
    for (x, y, z), token, colour in zip(INPUTS, TOKENS, theme.palette, strict=True):
        ax.quiver(0, 0, 0, x, y, z, color=colour, arrow_length_ratio=0.08, linewidth=2)
        ax.text(x, y, z, f" {token}", color=colour, fontsize=11)
    ax.set(xlim=(0, 1), ylim=(0, 1), zlim=(0, 1), xlabel="dim 1", ylabel="dim 2", zlabel="dim 3")
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_pane_color((0, 0, 0, 0))
        axis.label.set_color(theme.fg)
        axis._axinfo["grid"]["color"] = theme.muted  # no public setter for 3-D grid colour
    ax.tick_params(colors=theme.fg)
    ax.view_init(elev=20, azim=-60)
    return fig


FIGURES = {"embeddings-3d": embeddings_3d}
