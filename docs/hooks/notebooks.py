"""MkDocs hook: every teaching page as Jupyter notebooks, made at build time.

The teaching pages are those under the nav sections named in ``TEACHING_SECTIONS``
(mkdocs.yml). Each one becomes a notebook per reader of its tab labels
(docs/hooks/page_notebook.py says how), added to the build as
``notebooks/<page>.ipynb`` and ``notebooks/<page>-<label>.ipynb``, with the figures drawn
again as PNG (light scheme) inside them. ``notebooks/attention-ref-notebooks.zip`` holds
all of them. Below its title, each teaching page gets the line "Download this page as a
notebook" with a link to each of its notebooks and to the archive. Nothing is written to
docs/, so no notebook can go stale.

The notebooks say which attention_ref they were made from: the package's version and,
when the build runs in a clean git checkout, its commit, which their first cell
installs from the repository named by ``edit_uri`` (see docs/hooks/repository.py).
"""

from __future__ import annotations

import importlib.util
import io
import posixpath
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urljoin

import markdown as python_markdown
import matplotlib.pyplot as plt
import nbformat
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

import attention_ref

HOOKS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(HOOKS_DIR))  # page_notebook.py, the part the tests use too

import page_notebook  # noqa: E402

page_notebook = importlib.reload(page_notebook)  # mkdocs serve reloads hooks: take edits too

TEACHING_SECTIONS = ("Self-attention, step by step", "Beyond weight-free attention")
NOTEBOOKS_DIR = "notebooks"
ARCHIVE = f"{NOTEBOOKS_DIR}/attention-ref-notebooks.zip"
ARCHIVE_FOLDER = "attention-ref-notebooks"  # what unzipping it makes
ARCHIVE_TIME = (1980, 1, 1, 0, 0, 0)  # the same archive from the same notebooks
LINKS_CLASS = "ar-notebooks"
FIGURE = re.compile(r"assets/figures/(?P<name>[\w-]+)-(?:light|dark)\.svg")  # figures.py
PNG_DPI = 100  # a 6.4-inch figure is 640 px wide in the notebook

# This build's notebooks, by page (in nav order): [(file name, JSON)], and its archive.
_built: dict[str, list[tuple[str, str]]] = {}
_state: dict = {}


def load_figures_hook():
    """docs/hooks/figures.py, whose figures the notebooks draw again as PNG."""
    spec = importlib.util.spec_from_file_location("notebook_figures", HOOKS_DIR / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def origin(config: MkDocsConfig) -> page_notebook.Origin:
    """The version, repository and (in a clean checkout) commit the notebooks come from."""
    repository = config.extra.get("repository")
    if repository is None:
        raise PluginError("docs/hooks/repository.py must come before notebooks.py in hooks")

    def git(*args: str) -> str | None:
        try:
            run = subprocess.run(
                ["git", *args], cwd=config.docs_dir, capture_output=True, text=True, check=False
            )
        except OSError:  # no git
            return None
        return run.stdout.strip() if run.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if git("status", "--porcelain", "--untracked-files=no") != "":
        commit = None  # changed files, or not a checkout: no commit has this code
    return page_notebook.Origin(
        attention_ref.__version__, repository["repository_url"], repository["branch"], commit
    )


class FigurePNGs:
    """The light-scheme PNG of each figure the build draws, drawn once per build."""

    def __init__(self) -> None:
        hook = load_figures_hook()
        self.figures = hook.load_figures()
        self.themes = {theme.name: theme for theme in hook.THEMES}
        self.drawn: dict[str, bytes] = {}

    def __call__(self, path: str) -> bytes | None:
        """The PNG of the figure at `path` (either scheme's SVG), or None if not a figure."""
        match = FIGURE.fullmatch(path)
        if match is None or match["name"] not in self.figures:
            return None
        name = match["name"]
        if name not in self.drawn:
            theme = self.themes["light"]
            with plt.rc_context(theme.rc):
                figure = self.figures[name](theme)
                buffer = io.BytesIO()
                figure.savefig(
                    buffer,
                    format="png",
                    dpi=PNG_DPI,
                    facecolor=theme.background,  # opaque: readable in a dark notebook too
                    metadata={"Software": None},
                )
                plt.close(figure)
            self.drawn[name] = buffer.getvalue()
        return self.drawn[name]


def expand_snippets(markdown: str, config: MkDocsConfig) -> str:
    """The page with its ``--8<--`` snippets filled in, as pymdownx.snippets does."""
    settings = config.mdx_configs.get("pymdownx.snippets", {})
    md = python_markdown.Markdown(
        extensions=["pymdownx.snippets"], extension_configs={"pymdownx.snippets": settings}
    )
    return "\n".join(md.preprocessors["snippet"].run(markdown.split("\n")))


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Start a build: find the teaching pages; reserve the archive's place in the site."""
    _built.clear()
    pages = page_notebook.teaching_pages(config.nav or [], TEACHING_SECTIONS)
    missing = [page for page in pages if files.get_file_from_path(page) is None]
    if missing:
        raise PluginError(f"the nav lists teaching pages that do not exist: {missing}")
    _state.update(
        pages=pages,
        origin=origin(config),
        pngs=FigurePNGs(),
        archive=File.generated(config, ARCHIVE, content=b""),  # filled in on_env
    )
    files.append(_state["archive"])
    return files


def download_links(src_uri: str, views: list[page_notebook.View]) -> str:
    """The Markdown of the line under a page's title, linking to its notebooks."""
    here = posixpath.dirname(src_uri) or "."

    def link(text: str, path: str) -> str:
        target = posixpath.relpath(path, here)
        return f'[{text}]({target}){{ download="{posixpath.basename(path)}" }}'

    notebooks = [(view, f"{NOTEBOOKS_DIR}/{view.filename}") for view in views]
    if len(notebooks) == 1:
        line = link("Download this page as a notebook", notebooks[0][1])
    else:
        choices = " · ".join(link(" / ".join(view.labels), path) for view, path in notebooks)
        line = f"Download this page as a notebook, one per tab: {choices}"
    archive = link("every page", ARCHIVE)
    return f"{line} (or {archive} in one zip)\n{{: .{LINKS_CLASS} data-search-exclude }}"


def with_links(markdown: str, links: str) -> str:
    """`markdown` with `links` right under its title (or first, if it has none)."""
    lines = markdown.split("\n")
    fenced = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.startswith("# "):
            return "\n".join([*lines[: index + 1], "", links, "", *lines[index + 1 :]])
    return f"{links}\n\n{markdown}"


def on_page_markdown(markdown: str, page, config: MkDocsConfig, files: Files) -> str:
    """Make the notebooks of a teaching page; link to them under its title."""
    src_uri = page.file.src_uri
    if src_uri not in _state["pages"]:
        return markdown

    def url(path: str) -> str | None:
        file = files.get_file_from_path(path)
        return None if file is None else urljoin(config.site_url, file.url)

    context = page_notebook.PageContext(
        src_uri=src_uri,
        title=page.title,
        page_url=urljoin(config.site_url, page.url),
        url=url,
        image=_state["pngs"],
    )
    try:
        notebooks = page_notebook.page_notebooks(
            expand_snippets(markdown, config), context, _state["origin"]
        )
    except ValueError as error:
        raise PluginError(f"{src_uri}: cannot make its notebook: {error}") from error
    built = []
    for view, notebook in notebooks:
        content = nbformat.writes(notebook) + "\n"
        path = f"{NOTEBOOKS_DIR}/{view.filename}"
        if files.get_file_from_path(path) is not None:
            raise PluginError(f"{src_uri}: another page already makes {path}")
        files.append(File.generated(config, path, content=content))
        built.append((view.filename, content))
    _built[src_uri] = built
    return with_links(markdown, download_links(src_uri, [view for view, _ in notebooks]))


def on_env(env, config: MkDocsConfig, files: Files):
    """Every page has been read: zip all the notebooks, in nav order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for page in _state["pages"]:
            for name, content in _built.get(page, []):
                info = zipfile.ZipInfo(f"{ARCHIVE_FOLDER}/{name}", date_time=ARCHIVE_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16  # -rw-r--r--
                archive.writestr(info, content)
    _state["archive"].content_bytes = buffer.getvalue()
    return env
