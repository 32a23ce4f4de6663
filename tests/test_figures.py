"""The site's figures: drawn from the package at build time, for both colour schemes.

The build hook (docs/hooks/figures.py) draws every figure registered in docs/figures/.
Here: every figure a page shows is registered and every registered one is shown (in
both schemes, with alt text), and drawing is deterministic, so a build is reproducible.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
IMAGE = re.compile(
    r"!\[(?P<alt>[^\]]*)\]\((?:\.\./)*assets/figures/(?P<name>[\w-]+?)-(?P<scheme>light|dark)\.svg(?P<suffix>#only-(?:light|dark))?\)"
)


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
    sys.path.insert(0, str(DOCS / "figures"))
    from _style import THEMES, render_svg

    for name, draw in figures.items():
        for theme in THEMES:
            first, second = render_svg(draw(theme)), render_svg(draw(theme))
            assert b"<svg" in first[:500], name
            assert first == second, f"{name}-{theme.name} differs between two draws"
