"""The site's figures: drawn from the package at build time, for both colour schemes.

The build hook (docs/hooks/figures.py) draws every figure registered in docs/figures/.
Here: every figure a page shows is registered and every registered one is shown (in
both schemes, with alt text), drawing is deterministic, so a build is reproducible, and
all text drawn on a figure is readable: WCAG AA contrast (4.5:1) against what is behind
it, the heatmap cell it labels or the page of that colour scheme.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
IMAGE = re.compile(
    r"!\[(?P<alt>[^\]]*)\]\((?:\.\./)*assets/figures/(?P<name>[\w-]+?)-(?P<scheme>light|dark)\.svg(?P<suffix>#only-(?:light|dark))?\)"
)


AA_CONTRAST = 4.5
PHONE_COLUMN_PX = 358  # the article's width on a 390 px wide phone, as Material lays it out
SMALLEST_CELL_FONT_PX = 13  # digits about 9.5 px tall; 9 pt in a 4.8-inch figure gave 7


def load_hook():
    spec = importlib.util.spec_from_file_location("figures_hook", DOCS / "hooks" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def figures() -> dict:
    pytest.importorskip("matplotlib", reason="matplotlib draws the figures: pip install -e .[docs]")
    return load_hook().load_figures()


def shown_figures() -> dict[str, list[re.Match]]:
    shown: dict[str, list[re.Match]] = {}
    for page in DOCS.rglob("*.md"):
        for match in IMAGE.finditer(page.read_text(encoding="utf-8")):
            shown.setdefault(match["name"], []).append(match)
    return shown


def test_every_shown_figure_is_drawn_and_every_drawn_figure_is_shown(figures) -> None:
    assert set(shown_figures()) == set(figures)


def test_each_figure_is_shown_in_both_schemes_with_alt_text() -> None:
    for name, images in shown_figures().items():
        assert {m["scheme"] for m in images} == {"light", "dark"}, name
        for image in images:
            assert image["suffix"] == f"#only-{image['scheme']}", image[0]
            assert len(image["alt"].split()) >= 3, f"alt text too thin: {image[0]}"


def test_figures_are_deterministic_svg(figures) -> None:
    hook = load_hook()
    for name, draw in figures.items():
        for theme in hook.THEMES:
            first, second = hook.draw_svg(draw, theme), hook.draw_svg(draw, theme)
            assert b"<svg" in first[:500], name
            assert first == second, f"{name}-{theme.name} differs between two draws"


def text_backgrounds(fig, theme) -> list[tuple[str, object, object]]:
    """(what, text colour, background colour) for every visible text of `fig`.

    A text written in a heatmap cell (an image's pixel) or on a bar (a filled patch) has
    that colour behind its anchor; any other text (labels, ticks, titles, legends,
    annotations) has the page of the theme's colour scheme.
    """
    from matplotlib.colors import to_rgb
    from matplotlib.image import AxesImage
    from matplotlib.text import Text

    fig.canvas.draw()  # lay out ticks and legends
    found = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        background = theme.background
        ax = text.axes
        if ax is not None and text in ax.texts:
            x, y = text.get_position()
            anchor = ax.transData.transform((x, y))
            for patch in sorted(ax.patches, key=lambda p: p.get_zorder()):
                if patch.get_fill() and patch.contains_point(anchor):
                    *face, alpha = patch.get_facecolor()  # blended over what is below
                    below = np.array(to_rgb(background))
                    background = tuple(alpha * np.array(face) + (1 - alpha) * below)
            for image in (a for a in ax.get_children() if isinstance(a, AxesImage)):
                left, right, bottom, top = image.get_extent()
                inside_x = min(left, right) <= x <= max(left, right)
                if inside_x and min(bottom, top) <= y <= max(bottom, top):
                    cell = image.get_array()[round(y), round(x)]  # cell (i, j) is at (j, i)
                    background = image.to_rgba(cell)[:3]
        found.append((text.get_text(), text.get_color(), background))
    return found


def cell_labels(fig) -> list:
    """The texts of `fig` written in heatmap cells."""
    from matplotlib.image import AxesImage

    return [
        text
        for ax in fig.axes
        if any(isinstance(child, AxesImage) for child in ax.get_children())
        for text in ax.texts
        if text.get_position()[0] < len(ax.get_xticks()) - 0.5  # not the row sums beside
    ]


def test_heatmap_numbers_are_legible_on_a_phone(figures) -> None:
    hook = load_hook()
    small = []
    for name, draw in figures.items():
        with hook.plt.rc_context(hook.THEMES[0].rc):
            fig = draw(hook.THEMES[0])
            width_px = fig.get_figwidth() * 96  # CSS pixels: the SVG is sized in inches
            shrink = min(1.0, PHONE_COLUMN_PX / width_px)
            for text in cell_labels(fig):
                size_px = text.get_fontsize() * 96 / 72 * shrink
                if size_px < SMALLEST_CELL_FONT_PX:
                    small.append(f"{name}: {text.get_text()!r} is {size_px:.1f} px")
            hook.plt.close(fig)
    assert not small, "\n".join(small[:10])


def test_text_on_figures_reaches_aa_contrast(figures) -> None:
    hook = load_hook()
    from _style import contrast_ratio

    low = []
    for name, draw in figures.items():
        for theme in hook.THEMES:
            with hook.plt.rc_context(theme.rc):
                fig = draw(theme)
                for text, colour, background in text_backgrounds(fig, theme):
                    ratio = contrast_ratio(colour, background)
                    if ratio < AA_CONTRAST:
                        low.append(f"{name}-{theme.name}: {text!r} {ratio:.2f}:1")
                hook.plt.close(fig)
    assert not low, "\n".join(low)


def test_the_contrast_check_catches_a_pale_label() -> None:
    sys.path.insert(0, str(DOCS / "figures"))
    from _style import contrast_ratio, label_colour

    assert contrast_ratio("white", "black") == pytest.approx(21.0)
    assert contrast_ratio("white", "#21918c") < AA_CONTRAST  # viridis's mid-green, white text
    for cell in ("#21918c", "#777777", "#3b5bdb", "#ffe100", "#440154"):
        assert contrast_ratio(label_colour(cell), cell) >= 4.58
