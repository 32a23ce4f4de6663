"""MkDocs hook: the playground's data and the test vectors, made from the package at build time.

Adds to the build (nothing is written to docs/, so nothing can go stale):

- ``assets/attention-ref-vectors.json``: the test vectors, exactly as
  ``python -m attention_ref vectors`` writes them, for download;
- ``assets/javascripts/playground/data.js``: an ES module with the worked example (its
  tokens, embeddings and query) and the figures' colours and colour maps
  (docs/figures/_style.py), for the widgets;
- ``assets/stylesheets/figure-colors.css``: the same colours as CSS variables, one set
  per colour scheme;
- ``assets/javascripts/playground/scaling-draw.json``: the seeded random query and keys
  of the widget on "Why divide by sqrt(d_k)".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib
import numpy as np
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from attention_ref.examples import INPUTS, TOKENS
from attention_ref.vectors import build_vectors, to_json

FIGURES_DIR = Path(__file__).resolve().parent.parent / "figures"
VECTORS = "assets/attention-ref-vectors.json"
SCALING_SEED = 5  # the draw of the d_k widget, stated on its page
SCALING_KEYS = 6  # as many keys as the worked example has tokens
SCALING_MAX_DIM = 1024
MATERIAL_SCHEMES = {"light": "default", "dark": "slate"}  # our theme names -> Material's
EXAMPLE_QUERY = "journey"  # the query the story works through


def figure_themes() -> dict:
    """The figures' colours per scheme, with the 256 colours of the heatmap colour map."""
    if str(FIGURES_DIR) not in sys.path:  # mkdocs restores sys.path after loading hooks
        sys.path.insert(0, str(FIGURES_DIR))
    from _style import THEMES

    themes = {}
    for theme in THEMES:
        lut = matplotlib.colormaps[theme.cmap].resampled(256)(np.arange(256))  # (256, 4)
        themes[theme.name] = {
            "fg": theme.fg,
            "muted": theme.muted,
            "accent": theme.accent,
            "palette": list(theme.palette),
            "colormap": theme.cmap,
            "colors": [matplotlib.colors.to_hex(rgba) for rgba in lut],
        }
    return themes


def data_module(themes: dict) -> str:
    """The ES module the widgets import: the worked example and the figures' colours."""
    exports = {
        "TOKENS": list(TOKENS),
        "INPUTS": INPUTS.tolist(),
        "QUERY": TOKENS.index(EXAMPLE_QUERY),
        "THEMES": themes,
    }
    lines = ["// Generated at build time by docs/hooks/playground.py from the package and"]
    lines.append("// docs/figures/_style.py; not in the repository.")
    lines += [f"export const {name} = {json.dumps(value)};" for name, value in exports.items()]
    return "\n".join(lines) + "\n"


def color_variables(themes: dict) -> str:
    """CSS variables with the figures' colours, for each of Material's colour schemes."""
    source = "docs/hooks/playground.py from docs/figures/_style.py"
    blocks = [f"/* Generated at build time by {source}. */"]
    for name, theme in themes.items():
        variables = [
            f"--ar-fg: {theme['fg']};",
            f"--ar-muted: {theme['muted']};",
            f"--ar-accent: {theme['accent']};",
            *(f"--ar-series-{i}: {colour};" for i, colour in enumerate(theme["palette"])),
        ]
        body = "\n".join(f"  {line}" for line in variables)
        blocks.append(f'[data-md-color-scheme="{MATERIAL_SCHEMES[name]}"] {{\n{body}\n}}')
    return "\n".join(blocks) + "\n"


def scaling_draw() -> str:
    """One random query and six keys of 1024 features; the widget uses the first d_k."""
    rng = np.random.default_rng(SCALING_SEED)
    query = rng.standard_normal(SCALING_MAX_DIM)  # (1024,)
    keys = rng.standard_normal((SCALING_KEYS, SCALING_MAX_DIM))  # (6, 1024)
    source = (
        f"rng = np.random.default_rng({SCALING_SEED}); "
        f"query = rng.standard_normal({SCALING_MAX_DIM}); "
        f"keys = rng.standard_normal(({SCALING_KEYS}, {SCALING_MAX_DIM}))"
    )
    return json.dumps({"source": source, "query": query.tolist(), "keys": keys.tolist()})


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated files to the build."""
    themes = figure_themes()
    generated = {
        VECTORS: to_json(build_vectors()) + "\n",
        "assets/javascripts/playground/data.js": data_module(themes),
        "assets/stylesheets/figure-colors.css": color_variables(themes),
        "assets/javascripts/playground/scaling-draw.json": scaling_draw(),
    }
    for path, content in generated.items():
        files.append(File.generated(config, path, content=content))
    return files
