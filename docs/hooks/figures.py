"""MkDocs hook: draw the site's figures from the package at build time.

Every module in docs/figures/ (except those starting with "_") has a ``FIGURES`` dict
mapping a name to a function ``draw(theme) -> matplotlib Figure``. Each figure is drawn
for the light and the dark colour scheme, inside one ``plt.rc_context`` holding that
theme's colours, spines and grid (``Theme.rc``), and added to the build as
``assets/figures/<name>-light.svg`` and ``assets/figures/<name>-dark.svg``; nothing is
written to docs/, so no image can go stale.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

FIGURES_DIR = Path(__file__).resolve().parent.parent / "figures"
sys.path.insert(0, str(FIGURES_DIR))  # figure modules import each other by name

from _style import THEMES, Theme, render_svg  # noqa: E402


def draw_svg(draw: Callable, theme: Theme) -> bytes:
    """The SVG of ``draw(theme)``, drawn and saved with the theme's matplotlib settings."""
    with plt.rc_context(theme.rc):
        return render_svg(draw(theme))


def load_figures() -> dict[str, Callable]:
    """Import every figure module and merge their ``FIGURES`` dicts."""
    if str(FIGURES_DIR) not in sys.path:  # mkdocs restores sys.path after loading hooks
        sys.path.insert(0, str(FIGURES_DIR))
    figures: dict[str, Callable] = {}
    for path in sorted(FIGURES_DIR.glob("[!_]*.py")):
        module = importlib.reload(importlib.import_module(path.stem))  # fresh on serve
        for name, draw in module.FIGURES.items():
            if name in figures:
                raise ValueError(f"figure {name!r} is defined twice (again in {path.name})")
            figures[name] = draw
    return figures


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add each figure, drawn for both colour schemes, to the files of the build."""
    for name, draw in load_figures().items():
        for theme in THEMES:
            path = f"assets/figures/{name}-{theme.name}.svg"
            files.append(File.generated(config, path, content=draw_svg(draw, theme)))
    return files
