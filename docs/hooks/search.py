"""MkDocs hook: the search index gets math as plain text, never as raw TeX.

pymdownx.arithmatex leaves each formula as TeX in the page, ``<span class="arithmatex">
\\(e^{a} / e^{b} = e^{a-b}\\)</span>`` (a ``div`` for display math), for KaTeX to render in
the browser. Indexed as it is, search results would show the TeX. So each formula is
marked ``data-search-exclude`` (Material's search skips it) and followed by a ``hidden``
twin in plain text, ``e^a / e^b = e^a-b``, which search indexes and nobody sees.

The API reference's "Source code" listings are left out of the index too: they repeat
the docstrings shown above them, TeX and all.
"""

from __future__ import annotations

import html
import re

from pylatexenc.latex2text import LatexNodes2Text

FORMULA = re.compile(r'<(?P<tag>span|div) class="arithmatex">(?P<tex>.*?)</(?P=tag)>', re.S)
SOURCE_LISTING = '<details class="mkdocstrings-source"'
TO_TEXT = LatexNodes2Text(math_mode="text")


def plain_text(tex: str) -> str:
    """A formula as readable text: ``\\omega_{2j}`` becomes ``ω_2j``."""
    return " ".join(TO_TEXT.latex_to_text(tex).split())


def with_plain_twin(match: re.Match) -> str:
    """The formula, excluded from search, then its hidden plain-text twin."""
    tag, shown = match["tag"], match["tex"]
    tex = html.unescape(shown).strip()[2:-2]  # inside \( \) or \[ \]
    twin = "span" if tag == "span" else "p"
    return (
        f'<{tag} class="arithmatex" data-search-exclude>{shown}</{tag}>'
        f"<{twin} hidden>{html.escape(plain_text(tex))}</{twin}>"
    )


def on_page_content(content: str, page, config, files) -> str:
    """Give every formula a plain-text twin in the search index; leave source out of it."""
    content = content.replace(SOURCE_LISTING, SOURCE_LISTING + " data-search-exclude")
    return FORMULA.sub(with_plain_twin, content)
