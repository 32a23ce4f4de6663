"""The GloVe figures (docs/figures/glove.py): numbers on cells are readable in both schemes.

Every number drawn on a heatmap cell must reach WCAG AA contrast, 4.5:1, against the
colour of its cell, in the light and the dark scheme.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="matplotlib draws the figures: pip install -e .[docs]")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs" / "figures"))

import glove as figures
from _style import THEMES
from matplotlib import colormaps, colors


@pytest.mark.parametrize(
    ("a", "b", "ratio"),
    [("black", "white", 21.0), ("white", "white", 1.0), ("#767676", "white", 4.54)],
)
def test_contrast_matches_wcag(a: str, b: str, ratio: float) -> None:
    got = figures.contrast(colors.to_rgb(a), colors.to_rgb(b))
    assert got == pytest.approx(ratio, abs=0.01)


@pytest.mark.parametrize("theme", THEMES, ids=lambda theme: theme.name)
def test_every_colour_of_the_map_gets_readable_text(theme) -> None:
    for rgba in colormaps[theme.cmap](np.linspace(0, 1, 256)):
        text = colors.to_rgb(figures.cell_text_colour(rgba))
        assert figures.contrast(tuple(rgba[:3]), text) >= 4.5


def unreadable_cells(fig) -> list[str]:
    """The numbers on heatmap cells whose contrast with their cell is below 4.5:1."""
    bad = []
    for ax in fig.axes:
        for image in ax.get_images():
            values = image.get_array()
            for text in ax.texts:
                j, i = (round(c) for c in text.get_position())
                cell = image.cmap(image.norm(values[i, j]))[:3]
                if figures.contrast(cell, colors.to_rgb(text.get_color())) < 4.5:
                    bad.append(text.get_text())
    return bad


@pytest.mark.parametrize("theme", THEMES, ids=lambda theme: theme.name)
def test_numbers_on_the_cosine_heatmap_are_readable(theme) -> None:
    fig = figures.glove_cosine(theme)
    texts = fig.axes[0].texts
    assert len(texts) == 100  # one number per cell
    assert unreadable_cells(fig) == []
    for text in texts:  # the check can fail: all-black numbers are unreadable somewhere
        text.set_color("black" if theme.name == "light" else "white")
    assert unreadable_cells(fig) != []
