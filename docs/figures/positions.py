"""Order and position: the sinusoidal encodings, and the weights once they are added."""

from __future__ import annotations

import matplotlib
from _style import Theme, heatmap, new_figure

from attention_ref import attention_weights, sinusoidal_positions
from attention_ref.examples import INPUTS, TOKENS

NUM_POSITIONS = 64  # enough rows to see the slow columns move
DIM = 32  # enough columns to see the wavelengths grow from 2 pi to about 10000 * 2 pi

# A diverging map for values in [-1, 1]: 0 in the middle. Light: red-white-blue; on the
# dark page, white would glare, so the map runs through black instead (Matplotlib has
# no such map built in: made from two ends of "RdBu").
_DARK_DIVERGING = matplotlib.colors.LinearSegmentedColormap.from_list(
    "positions-dark",
    ["#ef8a62", "#10151c", "#67a9cf"],  # -1 red, 0 near black, +1 blue
)


def diverging(theme: Theme) -> matplotlib.colors.Colormap:
    """The colour map for signed values on this theme's page."""
    return matplotlib.colormaps["RdBu"] if theme.name == "light" else _DARK_DIVERGING


def sinusoidal_encodings(theme: Theme):
    """The encoding matrix, positions down and columns across, with a colour bar."""
    table = sinusoidal_positions(NUM_POSITIONS, DIM)  # (N, D)
    fig = new_figure(theme, 5.0, 4.0)  # narrow: legible ticks in a phone's column
    ax = fig.add_subplot()
    image = ax.imshow(
        table, cmap=diverging(theme), vmin=-1.0, vmax=1.0, aspect="auto", interpolation="none"
    )
    ax.set_xlabel("column: 2i (sine), 2i + 1 (cosine)")
    ax.set_ylabel("position")
    ax.set_xticks(range(0, DIM, 4))
    ax.set_yticks(range(0, NUM_POSITIONS, 8))
    for spine in ax.spines.values():
        spine.set_visible(False)
    bar = fig.colorbar(image, ax=ax, shrink=0.9, ticks=[-1, -0.5, 0, 0.5, 1])
    bar.outline.set_visible(False)
    return fig


def weights_with_positions(theme: Theme):
    """The worked example's weight-free attention weights after adding the encodings."""
    positions = sinusoidal_positions(len(TOKENS), INPUTS.shape[1])  # (6, 3)
    inputs = INPUTS + positions  # (6, 3): word and position
    weights = attention_weights(inputs @ inputs.T)  # (6, 6): softmax of each row
    fig = new_figure(theme, 4.6, 4.2)
    ax = fig.add_subplot()
    labels = [f"{token} ({pos})" for pos, token in enumerate(TOKENS)]
    heatmap(ax, theme, weights, labels, labels, decimals=2, vmin=0.0, vmax=float(weights.max()))
    ax.set_xlabel("key: the token attended to", labelpad=6)
    ax.set_ylabel("query: the token attending", labelpad=10)
    return fig


FIGURES = {
    "positions-sinusoidal": sinusoidal_encodings,
    "positions-weights": weights_with_positions,
}
