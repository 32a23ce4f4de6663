"""Turn a page of the site into Jupyter notebooks, one per reader of its tab labels.

Used by the build hook (docs/hooks/notebooks.py) and by the tests; it knows nothing of
MkDocs. A page's Markdown (after its ``--8<--`` snippets are filled in) is read into
blocks: prose, fenced code, admonitions (``!!!``, ``???``), tab sets (``===``) and HTML
blocks such as ``<figure>``. A reader who follows one tab label sees what the paste rule
of the README says ("Writing a page"): every block outside tab sets and, in each tab set,
the tab with their label, or the set's first tab where it has none. Each distinct view
becomes one notebook:

- a ``pycon`` session becomes code cells without prompts, one ending at each statement
  that shows output, with the page's output as the cell's output (a value as
  ``execute_result``, printed text as a ``stdout`` stream, a traceback as an ``error``
  with the ``raises-exception`` tag, so that running all cells goes on past it);
- a ``python`` block becomes one code cell; any other code stays as Markdown;
- prose becomes Markdown cells, a new one at each heading, with math as ``$...$`` and
  ``$$...$$``, links to other pages turned into links to the published site, MkDocs-only
  syntax (attribute lists, ``#only-dark`` images) dropped, and figures embedded as PNG
  attachments (JupyterLab does not render SVG attachments);
- ``!!!`` admonitions become block quotes with their title in bold, ``???`` ones (the
  exercises and their solutions, collapsed on the page) headings one level down, which
  JupyterLab can fold.

The first cell says which attention_ref the notebook was made from, and installs it
(and torch, for a notebook that uses it) unless those versions are installed already.
"""

from __future__ import annotations

import ast
import base64
import doctest
import posixpath
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import nbformat
from nbformat import v4

TORCH = "2.13.0"  # always pinned: an unpinned torch pulls a multi-GB CUDA build
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
RAISES = "raises-exception"  # the cell tag with which nbclient and Jupyter run on past an error
USES_TORCH = re.compile(r"\btorch\b")  # the rule conftest.py skips page blocks by
DISTRIBUTION = "attention-ref"  # the name pip installs attention_ref by

# --- Reading a page into blocks ------------------------------------------------------------


@dataclass
class Prose:
    text: str


@dataclass
class Code:
    language: str
    source: str


@dataclass
class Admonition:
    kind: str
    title: str
    collapsible: bool
    body: list[Block]


@dataclass
class Tab:
    label: str
    body: list[Block]


@dataclass
class TabSet:
    tabs: list[Tab]


@dataclass
class Html:
    text: str


Block = Prose | Code | Admonition | TabSet | Html

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
ADMONITION = re.compile(  # !!! note, ??? question "Exercise 1", ???+ tip inline end "A tip"
    r"^(?P<marker>!!!|\?\?\?\+?)[ \t]+(?P<kind>[\w-]+)(?:[ \t]+[\w-]+)*"
    r'(?:[ \t]+"(?P<title>.*)")?\s*$'
)
TAB = re.compile(r'^===(?P<new>!?)\+?[ \t]+"(?P<label>.*)"\s*$')
HTML_BLOCK = re.compile(r"^<(?P<tag>figure|div|details|table|p|aside|section)\b")


def parse_blocks(markdown: str) -> list[Block]:
    """The blocks of `markdown`, with the bodies of admonitions and tabs parsed in turn."""
    return _parse(markdown.split("\n"))


def _indented_body(lines: list[str], start: int) -> tuple[list[str], int]:
    """The block indented by 4 spaces from `start`, dedented, and the index after it."""
    end = start
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(("    ", "\t"))):
        end += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return [
        line[4:] if line.startswith("    ") else line.lstrip("\t") for line in lines[start:end]
    ], end


def _fence_end(lines: list[str], start: int, fence: str) -> int:
    """The index of the line that closes the fence opened on line `start`."""
    closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
    for index in range(start + 1, len(lines)):
        if closing.match(lines[index]):
            return index
    raise ValueError(f"a code fence opened on line {start + 1} is never closed")


def _html_end(lines: list[str], start: int, tag: str) -> int:
    """The index of the line that closes the HTML block opened on line `start`."""
    depth = 0
    for index in range(start, len(lines)):
        depth += len(re.findall(rf"<{tag}\b", lines[index]))
        depth -= len(re.findall(rf"</{tag}>", lines[index]))
        if depth <= 0:
            return index
    raise ValueError(f"a <{tag}> opened on line {start + 1} is never closed")


def _dedent(line: str, indent: int) -> str:
    """`line` without the `indent` columns of its fence (or its own, if less)."""
    return line[indent:] if not line[:indent].strip() else line.lstrip()


def _parse(lines: list[str]) -> list[Block]:
    blocks: list[Block] = []
    prose: list[str] = []

    def flush() -> None:
        if any(line.strip() for line in prose):
            blocks.append(Prose("\n".join(prose).strip("\n")))
        prose.clear()

    index = 0
    while index < len(lines):
        line = lines[index]
        if fence := FENCE.match(line):
            end = _fence_end(lines, index, fence["fence"])
            indent = len(fence["indent"])
            body = [_dedent(text, indent) for text in lines[index + 1 : end]]
            language = re.match(r"\{?\s*\.?([\w+-]*)", fence["info"])[1].lower()  # pycon, {.pycon}
            flush()
            blocks.append(Code(language, "\n".join(body)))
            index = end + 1
        elif admonition := ADMONITION.match(line):
            body, index = _indented_body(lines, index + 1)
            kind = admonition["kind"]
            title = admonition["title"] if admonition["title"] is not None else kind.capitalize()
            flush()
            collapsible = admonition["marker"].startswith("???")
            blocks.append(Admonition(kind, title, collapsible, _parse(body)))
        elif tab := TAB.match(line):
            body, index = _indented_body(lines, index + 1)
            continues = not tab["new"] and not any(text.strip() for text in prose)
            flush()
            if continues and blocks and isinstance(blocks[-1], TabSet):
                blocks[-1].tabs.append(Tab(tab["label"], _parse(body)))
            else:
                blocks.append(TabSet([Tab(tab["label"], _parse(body))]))
        elif html := HTML_BLOCK.match(line):
            end = _html_end(lines, index, html["tag"])
            flush()
            blocks.append(Html("\n".join(lines[index : end + 1])))
            index = end + 1
        else:
            prose.append(line)
            index += 1
    flush()
    return blocks


# --- Which pages: the teaching sections of the nav ----------------------------------------


def teaching_pages(nav: list, sections: tuple[str, ...]) -> list[str]:
    """The pages (paths in docs/) under the nav sections titled `sections`, in nav order."""
    pages: list[str] = []
    found = set()
    for entry in nav:
        for title, value in entry.items() if isinstance(entry, dict) else ():
            if title in sections:
                found.add(title)
                pages += _nav_pages(value)
    if missing := [section for section in sections if section not in found]:
        raise ValueError(f"the nav has no section {missing}; it has {nav!r}")
    return pages


def _nav_pages(value: object) -> list[str]:
    if isinstance(value, str):
        return [] if EXTERNAL.match(value) else [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [page for item in value for page in _nav_pages(item)] if isinstance(value, list) else []


# --- Readers: one view of the page per tab label -------------------------------------------


def tab_labels(blocks: list[Block]) -> list[str]:
    """Every tab label of the page, in the order they first appear."""
    labels: dict[str, None] = {}
    for tab_set in _tab_sets(blocks):
        labels.update((tab.label, None) for tab in tab_set.tabs)
    return list(labels)


def _tab_sets(blocks: list[Block]) -> Iterator[TabSet]:
    for block in blocks:
        if isinstance(block, TabSet):
            yield block
            for tab in block.tabs:
                yield from _tab_sets(tab.body)
        elif isinstance(block, Admonition):
            yield from _tab_sets(block.body)


def chosen_tab(tab_set: TabSet, label: str | None) -> Tab:
    """The tab a reader of `label` sees: theirs, or the set's first where it has none."""
    return next((tab for tab in tab_set.tabs if tab.label == label), tab_set.tabs[0])


def _choices(blocks: list[Block], label: str | None) -> Iterator[int]:
    """The index of the tab a reader of `label` sees in each tab set they meet."""
    for block in blocks:
        if isinstance(block, TabSet):
            tab = chosen_tab(block, label)
            yield block.tabs.index(tab)
            yield from _choices(tab.body, label)
        elif isinstance(block, Admonition):
            yield from _choices(block.body, label)


@dataclass
class View:
    """The readers who see the same blocks: their labels, and the notebook's file name."""

    labels: tuple[str, ...]
    filename: str


def page_stem(src_uri: str) -> str:
    """The base name of a page's notebooks: ``trainable/qkv.md`` gives ``trainable-qkv``."""
    return src_uri.removesuffix(".md").replace("/", "-")


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def reader_views(blocks: list[Block], src_uri: str) -> list[View]:
    """One view per distinct set of blocks a reader sees; labels alike share a view.

    The first view (that of the page's first tab label, or the page's only view) is
    named after the page, ``scores.ipynb``; the others add their first label,
    ``scores-pytorch.ipynb``.
    """
    stem = page_stem(src_uri)
    groups: dict[tuple[int, ...], list[str]] = {}
    for label in tab_labels(blocks):
        groups.setdefault(tuple(_choices(blocks, label)), []).append(label)
    if not groups:
        return [View((), f"{stem}.ipynb")]
    views = []
    for number, labels in enumerate(groups.values()):
        suffix = "" if number == 0 else f"-{slug(labels[0])}"
        views.append(View(tuple(labels), f"{stem}{suffix}.ipynb"))
    return views


# --- Prose: Markdown that Jupyter renders --------------------------------------------------

# Code spans and math, which links and attribute lists must not touch. Inline math as
# pymdownx.arithmatex reads it (generic mode, smart dollars): no space after the opening
# or before the closing dollar.
PROTECTED = re.compile(
    r"(?P<code>(?P<ticks>`+)(?!`).+?(?<!`)(?P=ticks)(?!`))"
    r"|\$\$(?P<display>.+?)\$\$"
    r"|\\\[(?P<display_latex>.+?)\\\]"
    r"|\\\((?P<inline_latex>.+?)\\\)"
    r"|(?<![\\$])\$(?!\s)(?P<inline>(?:\\.|[^\\$])+?)(?<!\s)\$",
    re.S,
)
LINK = re.compile(
    r"(?P<image>!?)\[(?P<text>(?:[^\[\]]|\[[^\[\]]*\])*)\]"
    r"\((?P<target>[^()\s]+)(?:\s+(?P<title>\"[^\"]*\"))?\)"
    r"(?P<attrs>\{:?[ \t]*[#.\w][^}\n]*\})?"
)
REFERENCE_DEFINITION = re.compile(r"^(?P<start>[ \t]{0,3}\[[^\]]+\]:[ \t]*)(?P<target>\S+)", re.M)
HEADING = re.compile(
    r"^(?P<hashes>#{1,6})[ \t]+(?P<text>.*?)(?:[ \t]*\{:?[ \t]*[#.][^}\n]*\})?[ \t]*$", re.M
)
ATTR_LIST_LINE = re.compile(r"^[ \t]*\{:?[ \t]*[#.][^}\n]*\}[ \t]*\n?", re.M)
ABBREVIATION = re.compile(r"^\*\[[^\]]+\]:.*\n?", re.M)
FIGURE_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)")
FIGCAPTION = re.compile(r"<figcaption>(?P<caption>.*?)</figcaption>", re.S)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.I)


@dataclass
class PageContext:
    """What the notebook needs to know of the site around the page.

    ``url`` maps a path in docs/ (``notation.md``, ``assets/x.json``) to its absolute
    address on the published site, or None when the site has no such file. ``image``
    maps the path of an image in docs/ to a PNG of it (the light scheme of a figure drawn
    at build time), or None to link to it instead.
    """

    src_uri: str
    title: str
    page_url: str
    url: Callable[[str], str | None]
    image: Callable[[str], bytes | None] = lambda path: None


@dataclass
class Markdown:
    text: str
    attachments: dict[str, bytes] = field(default_factory=dict)


@dataclass
class CodeCell:
    source: str
    outputs: list[dict] = field(default_factory=list)
    raises: bool = False


Item = Markdown | CodeCell


class Renderer:
    """Renders one reader's view of a page's blocks into notebook items."""

    def __init__(self, context: PageContext, label: str | None) -> None:
        self.context = context
        self.label = label
        self.level = 1  # the level of the last heading, for the admonitions made headings
        self.quoted = False  # inside an admonition made a block quote

    # Links and images.

    def in_docs(self, path: str) -> str:
        """The path in docs/ of `path`, written relative to the page."""
        return posixpath.normpath(posixpath.join(posixpath.dirname(self.context.src_uri), path))

    def resolve(self, target: str) -> str:
        """The absolute address of a link target written in the page."""
        if EXTERNAL.match(target):
            return target
        path, _, fragment = target.partition("#")
        fragment = f"#{fragment}" if fragment else ""
        if not path:
            return self.context.page_url + fragment
        resolved = self.in_docs(path)
        url = self.context.url(resolved)
        if url is None:
            raise ValueError(
                f"{self.context.src_uri}: no page or file {resolved!r} for the link {target!r}"
            )
        return url + fragment

    def image(self, alt: str, src: str, attachments: dict[str, bytes]) -> str:
        """An image as Markdown: embedded when the site can give a PNG of it."""
        path, _, suffix = src.partition("#")
        if suffix == "only-dark":
            return ""  # the light-scheme version is the one shown
        if not EXTERNAL.match(path):
            resolved = self.in_docs(path)
            png = self.context.image(resolved)
            if png is not None:
                name = posixpath.basename(resolved).rsplit(".", 1)[0] + ".png"
                attachments[name] = png
                return f"![{alt}](attachment:{name})"
        return f"![{alt}]({self.resolve(path)})"

    def prose(self, text: str) -> Markdown:
        """Prose of the page as notebook Markdown, with its images as attachments."""
        protected: list[str] = []

        def protect(match: re.Match) -> str:
            if match["code"] is not None:
                kept = match[0]
            elif match["display"] is not None or match["display_latex"] is not None:
                tex = match["display"] if match["display"] is not None else match["display_latex"]
                # In a block quote every line starts with "> ", which would land in the
                # formula: keep the formula on one line there. Elsewhere its lines lose
                # their indent, which a renderer that reads Markdown first takes for code.
                lines = [line.strip() for line in tex.split("\n")]
                kept = "$$" + (" ".join(tex.split()) if self.quoted else "\n".join(lines)) + "$$"
            else:
                tex = match["inline"] if match["inline"] is not None else match["inline_latex"]
                kept = "$" + " ".join(tex.split("\n")) + "$"
            protected.append(kept)
            return f"\x00{len(protected) - 1}\x00"

        attachments: dict[str, bytes] = {}

        def link(match: re.Match) -> str:
            if match["image"]:
                return self.image(match["text"], match["target"], attachments)
            title = f" {match['title']}" if match["title"] else ""
            return f"[{match['text']}]({self.resolve(match['target'])}{title})"

        text = PROTECTED.sub(protect, text)
        text = ABBREVIATION.sub("", text)
        text = LINK.sub(link, text)
        text = REFERENCE_DEFINITION.sub(lambda m: m["start"] + self.resolve(m["target"]), text)
        text = HEADING.sub(lambda m: f"{m['hashes']} {m['text']}", text)
        text = ATTR_LIST_LINE.sub("", text)
        for match in HEADING.finditer(text):
            self.level = len(match["hashes"])
        text = re.sub(r"\x00(\d+)\x00", lambda m: protected[int(m[1])], text)
        text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
        return Markdown(text, attachments)

    # Blocks.

    def render(self, blocks: list[Block]) -> list[Item]:
        items: list[Item] = []
        for block in blocks:
            if isinstance(block, Prose):
                items.append(self.prose(block.text))
            elif isinstance(block, Code):
                items += self.code(block)
            elif isinstance(block, Admonition):
                items += self.admonition(block)
            elif isinstance(block, TabSet):
                items += self.render(chosen_tab(block, self.label).body)
            else:
                items.append(self.html(block))
        return items

    def code(self, block: Code) -> list[Item]:
        source = block.source.strip("\n")
        if block.language == "pycon" or (block.language == "python" and source.startswith(">>>")):
            return session_cells(source)
        if block.language in ("python", "py", "python3"):
            return [CodeCell(source)]
        return [Markdown(f"```{block.language}\n{source}\n```")]

    def admonition(self, block: Admonition) -> list[Item]:
        title = self.prose(block.title).text if block.title else ""
        if block.collapsible:  # an exercise or a solution: a heading, which Jupyter can fold
            level = min(self.level + 1, 6)
            outer, self.level = self.level, level
            body = self.render(block.body)
            self.level = outer
            return [Markdown(f"{'#' * level} {title}"), *body] if title else body
        outer, self.quoted = self.quoted, True
        body = self.render(block.body)
        self.quoted = outer
        if title:
            body.insert(0, Markdown(f"**{title}**"))
        return [quote(item) if isinstance(item, Markdown) else item for item in _merged(body)]

    def html(self, block: Html) -> Markdown:
        if block.text.startswith("<figure"):
            return self.figure(block.text)
        if "ar-widget" in block.text:
            return Markdown(
                f"*At this point [the page]({self.context.page_url}) has an interactive "
                "widget, which runs in the browser: try it there.*"
            )
        return Markdown(block.text)

    def figure(self, html: str) -> Markdown:
        attachments: dict[str, bytes] = {}
        images = [
            self.image(match["alt"], match["src"], attachments)
            for match in FIGURE_IMAGE.finditer(html)
        ]
        parts = [image for image in images if image]
        if caption := FIGCAPTION.search(html):
            text = self.prose(" ".join(caption["caption"].split())).text
            parts.append(f"*{text}*" if "*" not in text else text)
        return Markdown("\n\n".join(parts), attachments)


def quote(item: Markdown) -> Markdown:
    lines = [f"> {line}" if line else ">" for line in item.text.split("\n")]
    return Markdown("\n".join(lines), item.attachments)


# --- Sessions: pycon blocks as code cells with the page's output ---------------------------

PARSER = doctest.DocTestParser()


def shows_value(source: str) -> bool:
    """Whether the statement's output is its value (an expression that is not a print)."""
    statement = ast.parse(source).body[-1]
    if not isinstance(statement, ast.Expr):
        return False
    call = statement.value
    return not (
        isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print"
    )


def shown_text(want: str) -> str:
    """A doctest's expected output as the reader sees it (``<BLANKLINE>`` is an empty line)."""
    return "\n".join("" if line == doctest.BLANKLINE_MARKER else line for line in want.split("\n"))


def session_cells(session: str) -> list[Item]:
    """A pycon session as code cells: each one ends with a statement that shows output."""
    cells: list[Item] = []
    sources: list[str] = []
    for example in PARSER.get_examples(session):
        sources.append(example.source)
        if not example.want:
            continue
        source = "".join(sources).rstrip("\n")
        sources = []
        if example.exc_msg is not None:
            exception = example.exc_msg.rstrip("\n")
            name, _, value = exception.partition(": ")
            traceback = shown_text(example.want).rstrip("\n").split("\n")
            error = v4.new_output("error", ename=name, evalue=value, traceback=traceback)
            cells.append(CodeCell(source, [error], raises=True))
        elif shows_value(example.source):
            value = v4.new_output(
                "execute_result", data={"text/plain": shown_text(example.want).removesuffix("\n")}
            )
            cells.append(CodeCell(source, [value]))
        else:
            cells.append(
                CodeCell(
                    source, [v4.new_output("stream", name="stdout", text=shown_text(example.want))]
                )
            )
    if sources:
        cells.append(CodeCell("".join(sources).rstrip("\n")))
    return cells


# --- The notebook ---------------------------------------------------------------------------


@dataclass
class Origin:
    """Where the notebooks come from: the package's version and its repository."""

    version: str
    repository_url: str
    branch: str
    commit: str | None  # None when the build's working tree is not a clean commit

    @property
    def requirement(self) -> str:
        """The pip requirement of attention_ref: its commit where known, else its branch."""
        return f"{DISTRIBUTION} @ git+{self.repository_url}@{self.commit or self.branch}"

    @property
    def made_from(self) -> str:
        where = f"commit {self.commit[:12]}" if self.commit else f"the {self.branch} branch"
        return f"attention_ref {self.version} ({where} of {self.repository_url})"


SETUP = """\
{header}

def _install(needs):  # {{module: (distribution, version, what pip installs)}}
    import importlib, importlib.metadata, importlib.util, subprocess, sys

    def version(module, distribution):  # a local label does not count: 2.13.0+cpu is 2.13.0
        try:
            found = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:  # importable all the same?
            spec = importlib.util.find_spec(module)
            found = spec and getattr(importlib.import_module(module), "__version__", None)
        return found and found.split("+")[0]

    missing = [pip for module, (name, want, pip) in needs.items() if version(module, name) != want]
    if missing:  # PyTorch's CPU build: on Linux, PyPI's torch brings GBs of CUDA libraries
        cpu = ["--extra-index-url", "{torch_index}"] if "torch" in needs else []
        subprocess.check_call([sys.executable, "-m", "pip", "install", *missing, *cpu])
        importlib.invalidate_caches()
    print("Ready:", ", ".join(f"{{module}} {{want}}" for module, (_, want, _) in needs.items()))


_install({{
{needs}
}})"""


def setup_cell(context: PageContext, view: View, origin: Origin, uses_torch: bool) -> CodeCell:
    """The first cell: where the notebook comes from, and the install of what it needs."""
    needs = {"attention_ref": (DISTRIBUTION, origin.version, origin.requirement)}
    if uses_torch:
        needs["torch"] = ("torch", TORCH, f"torch=={TORCH}")
    readers = f" for readers of its {' / '.join(view.labels)} tabs" if view.labels else ""
    at = "at that commit" if origin.commit else f"on its {origin.branch} branch"
    needed = f"attention_ref {origin.version} from the repository, {at}"
    if uses_torch:
        needed += f", and torch=={TORCH}"
    header = [
        f'"{context.title}", a page of attention-ref, as a notebook{readers}: {context.page_url}',
        f"Made from {origin.made_from}.",
        "This cell installs what the notebook needs, unless it is there already (as in a "
        f"clone of the repository after `pip install -e .`): {needed}.",
    ]
    wrap = textwrap.TextWrapper(
        88,
        initial_indent="# ",
        subsequent_indent="# ",
        break_long_words=False,
        break_on_hyphens=False,
    )
    source = SETUP.format(
        header="\n".join(wrap.fill(paragraph) for paragraph in header),
        needs="\n".join(f"    {module!r}: {need!r}," for module, need in needs.items()),
        torch_index=TORCH_CPU_INDEX,
    )
    ready = ", ".join(f"{module} {version}" for module, (_, version, _) in needs.items())
    return CodeCell(source, [v4.new_output("stream", name="stdout", text=f"Ready: {ready}\n")])


def _split_at_headings(text: str) -> list[str]:
    """Markdown split before each heading outside fenced code, so each heading starts a cell."""
    parts: list[list[str]] = [[]]
    fenced = False
    for line in text.split("\n"):
        if re.match(r"^(?:> ?)*(```|~~~)", line):
            fenced = not fenced
        if not fenced and re.match(r"^#{1,6} ", line) and any(part.strip() for part in parts[-1]):
            parts.append([])
        parts[-1].append(line)
    return ["\n".join(part).strip("\n") for part in parts if any(line.strip() for line in part)]


def _merged(items: list[Item]) -> list[Item]:
    """`items` with consecutive Markdown joined into one, and empty Markdown left out."""
    merged: list[Item] = []
    for item in items:
        if isinstance(item, Markdown) and not item.text.strip():
            continue
        if isinstance(item, Markdown) and merged and isinstance(merged[-1], Markdown):
            last = merged[-1]
            merged[-1] = Markdown(
                f"{last.text}\n\n{item.text}", {**last.attachments, **item.attachments}
            )
        else:
            merged.append(item)
    return merged


def _cells(items: list[Item]) -> list[Item]:
    """Consecutive Markdown merged into cells that each start at a heading."""
    cells: list[Item] = []
    for item in _merged(items):
        if isinstance(item, Markdown):
            for text in _split_at_headings(item.text):
                used = {
                    name: png
                    for name, png in item.attachments.items()
                    if f"(attachment:{name})" in text
                }
                cells.append(Markdown(text, used))
        else:
            cells.append(item)
    return cells


def build_notebook(
    blocks: list[Block], view: View, context: PageContext, origin: Origin
) -> nbformat.NotebookNode:
    """The notebook of one reader's view of a page."""
    label = view.labels[0] if view.labels else None
    items = _cells(Renderer(context, label).render(blocks))
    uses_torch = any(
        isinstance(item, CodeCell) and USES_TORCH.search(item.source) for item in items
    )
    cells = []
    count = 0
    for item in [setup_cell(context, view, origin, uses_torch), *items]:
        cell_id = f"{view.filename.removesuffix('.ipynb')}-{len(cells)}"[-64:]
        if isinstance(item, Markdown):
            cell = v4.new_markdown_cell(item.text, id=cell_id)
            if item.attachments:
                cell.attachments = {
                    name: {"image/png": base64.b64encode(png).decode("ascii")}
                    for name, png in item.attachments.items()
                }
        else:
            count += 1
            cell = v4.new_code_cell(item.source, id=cell_id, execution_count=count)
            for output in item.outputs:
                if output["output_type"] == "execute_result":
                    output["execution_count"] = count
            cell.outputs = item.outputs
            if item.raises:
                cell.metadata["tags"] = [RAISES]
        cells.append(cell)
    notebook = v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        },
        "language_info": {"name": "python"},
        "attention_ref": {
            "page": context.src_uri,
            "url": context.page_url,
            "labels": list(view.labels),
            "version": origin.version,
            "commit": origin.commit,
            "uses_torch": uses_torch,
        },
    }
    nbformat.validate(notebook)
    return notebook


def page_notebooks(
    markdown: str, context: PageContext, origin: Origin
) -> list[tuple[View, nbformat.NotebookNode]]:
    """Every notebook of a page: one per distinct reader view, the first one named after it."""
    blocks = parse_blocks(markdown)
    return [
        (view, build_notebook(blocks, view, context, origin))
        for view in reader_views(blocks, context.src_uri)
    ]
