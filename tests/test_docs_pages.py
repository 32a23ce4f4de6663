"""The pages' shared conventions: notation linked where it is used, references cited well.

- Every page with math links to the notation page, which states the symbols, shapes and
  the one indexing convention (formulas count from 1, code and text from 0).
- A page that cites a work (a link to its own ``#references``) ends with a References
  section, made of the bibliography's entries (``--8<-- "references/<key>.md"``), and
  every entry is on the bibliography page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "snippets" not in p.parts)
ENTRIES = sorted((DOCS / "snippets" / "references").glob("*.md"))
ENTRY = re.compile(r'^--8<-- "references/(?P<key>[\w-]+)\.md"$', re.M)
FENCE = re.compile(r"^(?P<indent>[ \t]*)(`{3,}).*?^(?P=indent)\2[ \t]*$", re.M | re.S)
MATH = re.compile(r"\$[^$\n]+\$")


def prose(page: Path) -> str:
    return FENCE.sub("", page.read_text(encoding="utf-8"))


MATH_PAGES = [
    page
    for page in PAGES
    if page.name not in ("notation.md", "bibliography.md") and MATH.search(prose(page))
]


def test_most_pages_have_math() -> None:
    assert len(MATH_PAGES) >= len(PAGES) - 5, [p.name for p in MATH_PAGES]


@pytest.mark.parametrize("page", MATH_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_a_page_with_math_links_to_the_notation(page: Path) -> None:
    assert re.search(r"\]\((\.\./)*notation\.md(#[\w-]+)?\)", prose(page)), page.name


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_citations_have_a_references_section(page: Path) -> None:
    text = prose(page)
    cited = "](#references)" in text
    section = text.split("\n## References\n", 1)
    assert cited == (len(section) == 2), f"{page.name}: citations and References disagree"
    if cited:
        keys = ENTRY.findall(section[1])
        assert keys, f"{page.name}: its References section lists no entry"
        assert section[1].strip().count("\n") + 1 == len(keys), "only entries in References"


def test_every_entry_is_in_the_bibliography() -> None:
    listed = set(ENTRY.findall((DOCS / "bibliography.md").read_text(encoding="utf-8")))
    assert listed == {entry.stem for entry in ENTRIES}


def test_the_repository_comes_from_the_edit_links_setting() -> None:
    import importlib.util

    from mkdocs.exceptions import PluginError

    spec = importlib.util.spec_from_file_location("repo_hook", DOCS / "hooks" / "repository.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    values = hook.repository("https://git.example.org/me/my-fork/edit/dev/docs/")
    assert values == {
        "repository_url": "https://git.example.org/me/my-fork",
        "repository_name": "my-fork",
        "branch": "dev",
    }
    page = "git clone {{ repository_url }}.git\ncd {{ repository_name }} # {{ branch }}"
    assert hook.fill_in(page, values) == (
        "git clone https://git.example.org/me/my-fork.git\ncd my-fork # dev"
    )
    with pytest.raises(PluginError, match="edit_uri must be"):
        hook.repository("edit/main/docs/")  # relative: no repository to name
