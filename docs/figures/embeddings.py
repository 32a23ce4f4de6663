"""The six 3-D token embeddings of "Your journey starts with one step"."""

from __future__ import annotations

from _style import Theme, new_figure
from matplotlib.transforms import offset_copy

from attention_ref.examples import INPUTS, TOKENS

# A view in which no two arrow tips hide each other (at matplotlib's default azimuth
# of -60, "Your" and "step" project onto the same point).
ELEVATION, AZIMUTH = 25, -120

# Where each label sits relative to its arrow tip, in points, for this view: "journey"
# and "starts" are almost the same vector, so their labels go to opposite sides;
# "with" and "step" go above their tips, clear of the arrows beside them.
LABELS = {
    "Your": (8, 0, "left", "center"),
    "journey": (-5, 7, "right", "bottom"),
    "starts": (5, 7, "left", "bottom"),
    "with": (0, 7, "center", "bottom"),
    "one": (6, -3, "left", "top"),
    "step": (0, 7, "center", "bottom"),
}


def embeddings_3d(theme: Theme):
    """Each token as an arrow from the origin in 3-D space, labelled at its tip."""
    fig = new_figure(theme, 5.0, 4.4)
    ax = fig.add_subplot(projection="3d")
    ax.set_facecolor("none")
    ax.set(xlim=(0, 1), ylim=(0, 1), zlim=(0, 1))
    ax.view_init(elev=ELEVATION, azim=AZIMUTH)
    for (x, y, z), token, colour in zip(INPUTS, TOKENS, theme.palette, strict=True):
        dx, dy, ha, va = LABELS[token]
        ax.quiver(0, 0, 0, x, y, z, color=colour, arrow_length_ratio=0.08, linewidth=2)
        ax.scatter([x], [y], [z], color=colour, s=18, depthshade=False)
        ax.plot([x, x], [y, y], [0, z], color=colour, linewidth=0.8, linestyle=":")
        ax.text(
            x,
            y,
            z,
            token,
            color=colour,
            fontsize=12,
            fontweight="bold",
            ha=ha,
            va=va,
            transform=offset_copy(ax.transData, fig=fig, x=dx, y=dy, units="points"),
        )
    ax.set_xlabel("dim 1", labelpad=6)
    ax.set_ylabel("dim 2", labelpad=6)
    ax.set_zlabel("dim 3", labelpad=0)  # the z axis is at the left edge here
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_pane_color((0, 0, 0, 0))
        axis.label.set_color(theme.fg)
        axis._axinfo["grid"]["color"] = theme.muted  # no public setter for 3-D grid colour
    ax.set_xticks([0.5, 1])  # no 0 on the floor axes: three "0.0" crowd the origin
    ax.set_yticks([0.5, 1])
    ax.set_zticks([0, 0.5, 1])
    ax.tick_params(colors=theme.fg, labelsize=10)
    return fig


FIGURES = {"embeddings-3d": embeddings_3d}
