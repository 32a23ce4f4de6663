"""MkDocs hook: where the code is, from the same setting as the "edit this page" links.

``edit_uri`` in mkdocs.yml (or the ``EDIT_URI`` environment variable, which the Pages
workflow sets to the repository it runs in) has the form
``<repository>/edit/<branch>/docs/``. Pages and the footer's ``copyright`` write
``{{ repository_url }}``, ``{{ repository_name }}`` (the folder ``git clone`` makes) and
``{{ branch }}``; this hook puts in the values of that setting, so the clone
instructions, the licence link and the edit links always name the same repository.
(``repo_url`` stays unset: with it, Material asks the GitHub API for stars and forks
from every page.)
"""

from __future__ import annotations

import re

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError

EDIT_URI = re.compile(r"^(?P<repository_url>https?://[^\s]+?)/edit/(?P<branch>[^/\s]+)/docs/$")
PLACEHOLDER = re.compile(r"\{\{ (repository_url|repository_name|branch) \}\}")


def repository(edit_uri: str | None) -> dict[str, str]:
    """The repository's URL, name and branch, from an absolute ``edit_uri``."""
    match = EDIT_URI.match(edit_uri or "")
    if match is None:
        raise PluginError(
            f"edit_uri must be <repository>/edit/<branch>/docs/ (an absolute URL); got {edit_uri!r}"
        )
    return {**match.groupdict(), "repository_name": match["repository_url"].rsplit("/", 1)[-1]}


def fill_in(text: str, values: dict[str, str]) -> str:
    """`text` with each placeholder (``{{ repository_url }}``...) replaced."""
    return PLACEHOLDER.sub(lambda match: values[match[1]], text)


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Read the repository from ``edit_uri``; fill it into the footer's copyright."""
    config.extra["repository"] = repository(config.edit_uri)
    if config.copyright:
        config.copyright = fill_in(config.copyright, config.extra["repository"])
    return config


def on_page_markdown(markdown: str, page, config: MkDocsConfig, files) -> str:
    """Fill the repository into the page's Markdown, code blocks included."""
    return fill_in(markdown, config.extra["repository"])
