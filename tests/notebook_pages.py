"""Which notebooks the site must have: the build hook's own rules, read from the sources.

Used by test_notebooks.py and test_site.py. The teaching pages are those under the
nav sections the hook names (docs/hooks/notebooks.py, ``TEACHING_SECTIONS``); each has
one notebook per distinct reader view (docs/hooks/page_notebook.py, ``reader_views``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml
from mkdocs.utils.yaml import get_yaml_loader

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def load_hook():
    """docs/hooks/notebooks.py, which imports page_notebook.py beside it."""
    spec = importlib.util.spec_from_file_location("notebooks_hook", DOCS / "hooks" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = load_hook()
page_notebook = hook.page_notebook


def nav() -> list:
    """The nav of mkdocs.yml, read as MkDocs reads it."""
    with open(ROOT / "mkdocs.yml", encoding="utf-8") as config:
        return yaml.load(config, Loader=get_yaml_loader())["nav"]


TEACHING_PAGES = page_notebook.teaching_pages(nav(), hook.TEACHING_SECTIONS)


def expected_notebooks() -> dict[str, str]:
    """Each notebook the teaching pages call for (file name: page), from their Markdown."""
    expected = {}
    for page in TEACHING_PAGES:
        blocks = page_notebook.parse_blocks((DOCS / page).read_text(encoding="utf-8"))
        for view in page_notebook.reader_views(blocks, page):
            expected[view.filename] = page
    return expected


def page_url(site_url: str, page: str) -> str:
    """The address of the page built from docs/`page` (directory URLs)."""
    path = page.removesuffix(".md").removesuffix("index")
    return site_url + (path + "/" if path and not path.endswith("/") else path)
