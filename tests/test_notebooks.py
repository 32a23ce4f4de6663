"""Every teaching page's notebooks run top to bottom and print what the page shows.

The build hook (docs/hooks/notebooks.py, with docs/hooks/page_notebook.py) makes one
notebook per reader view of each page under the nav's teaching sections and zips them
all. Here, from the site the tests build and serve (conftest.py):

- the archive holds exactly the notebooks the pages call for, and they are valid;
- each notebook runs in a fresh kernel (nbclient with ipykernel, two at a time) from the
  first cell to the last. Its first cell installs nothing (pip would print), since this
  attention_ref (and torch) are the versions it asks for; every cell's output equals what
  the page shows for it, compared as the page's doctests compare (NORMALIZE_WHITESPACE,
  ELLIPSIS), with the same kind (a value, printed text, an exception) and nothing on
  stderr. A notebook that uses PyTorch is skipped without it (never in CI);
- every statement the page shows with its output (read from the built page) is a cell of
  one of its notebooks, with that output;
- the Markdown cells are Markdown that Jupyter renders: math between balanced ``$`` or
  ``$$`` that the site's KaTeX parses (in Chromium), no arithmatex or snippet leftovers,
  no relative links, and every attachment used.
"""

from __future__ import annotations

import copy
import doctest
import html
import importlib.util
import io
import json
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.request import urlopen

import nbformat
import pytest

from .conftest import IN_CI, PageWatch, require
from .notebook_pages import TEACHING_PAGES, expected_notebooks, hook, page_notebook, page_url

HAVE_TORCH = importlib.util.find_spec("torch") is not None
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
WORKERS = 2  # kernels are processes: two at a time keep both cores busy
EXPECTED = expected_notebooks()


@pytest.fixture(scope="session")
def notebooks(site_url) -> dict:
    """Every notebook in the built site's archive, by file name."""
    with urlopen(site_url + hook.ARCHIVE) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    found = {}
    for name in archive.namelist():
        folder, _, filename = name.partition("/")
        assert folder == hook.ARCHIVE_FOLDER, name
        found[filename] = nbformat.reads(archive.read(name).decode("utf-8"), as_version=4)
    return found


def execute(notebook, directory: Path):
    """`notebook` run from its first cell to its last in a fresh kernel of this Python."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    class ThisPython(KernelManager):
        """No kernel directories: "python3" is ipykernel's own kernel, run by this
        interpreter, whatever kernels the machine has installed."""

        def _kernel_spec_manager_default(self):
            return KernelSpecManager(kernel_dirs=[])

    executed = copy.deepcopy(notebook)
    NotebookClient(
        executed,
        kernel_name="python3",
        kernel_manager_class=ThisPython,
        timeout=600,
        resources={"metadata": {"path": str(directory)}},
    ).execute()
    return executed


@pytest.fixture(scope="session")
def executed(notebooks, tmp_path_factory, request) -> dict:
    """The notebooks whose tests run, run two at a time, by file name (an exception where
    one failed, None where it needs PyTorch and PyTorch is missing)."""
    selected = {
        item.callspec.params["name"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_a_notebook_prints_what_its_page_shows"
    }
    names = sorted(selected & set(notebooks))
    for module in ("nbclient", "ipykernel"):
        require(module, "pip install -e .[test], or run python3 dev.py test")

    def run(name):
        uses_torch = notebooks[name].metadata["attention_ref"]["uses_torch"]
        if uses_torch and not HAVE_TORCH and not IN_CI:
            return None
        try:
            return execute(notebooks[name], tmp_path_factory.mktemp(name.removesuffix(".ipynb")))
        except Exception as error:  # reported by the notebook's own test
            return error

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(zip(names, pool.map(run, names), strict=True))


def test_the_archive_holds_every_notebook(notebooks) -> None:
    assert sorted(notebooks) == sorted(EXPECTED)
    for name, notebook in notebooks.items():
        nbformat.validate(notebook)
        assert notebook.metadata["attention_ref"]["page"] == EXPECTED[name]


def outputs(cell) -> list[tuple[str, str]]:
    """A code cell's outputs as (kind, text); streams of one name joined, as shown."""
    found: list[tuple[str, str]] = []
    for output in cell.get("outputs", []):
        kind = output["output_type"]
        if kind == "stream":
            kind, text = output["name"], output["text"]
        elif kind == "execute_result":
            kind, text = "value", output["data"].get("text/plain", "") + "\n"
        elif kind == "error":
            text = f"{output['ename']}: {output['evalue']}\n"
        else:
            text = json.dumps(output.get("data", {}))[:200]
        if found and found[-1][0] == kind and kind in ("stdout", "stderr"):
            found[-1] = (kind, found[-1][1] + text)
        else:
            found.append((kind, text))
    return found


def differences(shown, ran) -> list[str]:
    """Where the run notebook's outputs differ from the page's, cell by cell."""
    checker = doctest.OutputChecker()
    problems = []
    assert len(shown.cells) == len(ran.cells)
    for number, (want_cell, got_cell) in enumerate(zip(shown.cells, ran.cells, strict=True)):
        if want_cell.cell_type != "code":
            continue
        want, got = outputs(want_cell), outputs(got_cell)
        where = f"cell {number} ({want_cell.source.splitlines()[0][:60]!r})"
        if [kind for kind, _ in want] != [kind for kind, _ in got]:
            problems.append(f"{where}: the page shows {want}, the notebook gave {got}")
            continue
        for (_, want_text), (_, got_text) in zip(want, got, strict=True):
            if not checker.check_output(want_text, got_text, FLAGS):
                problems.append(
                    f"{where}: the page shows {want_text!r}, the notebook gave {got_text!r}"
                )
    return problems


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_notebook_prints_what_its_page_shows(name, notebooks, executed) -> None:
    if name not in notebooks:
        pytest.fail(f"{name} is not in the archive")
    result = executed[name]
    if result is None:
        pytest.skip("PyTorch is not installed: pip install torch==2.13.0 (CI requires it)")
    if isinstance(result, Exception):
        raise result
    problems = differences(notebooks[name], result)
    assert not problems, "\n".join(problems)


def test_the_comparison_sees_a_wrong_output_and_a_wrong_kind() -> None:
    cell = nbformat.v4.new_code_cell(
        "1 + 1",
        outputs=[
            nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)
        ],
    )
    shown = nbformat.v4.new_notebook(cells=[cell])
    assert differences(shown, copy.deepcopy(shown)) == []
    wrong = copy.deepcopy(shown)
    wrong.cells[0].outputs[0].data["text/plain"] = "3"
    assert differences(shown, wrong)
    printed = copy.deepcopy(shown)
    printed.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    assert differences(shown, printed)
    warned = copy.deepcopy(shown)
    warned.cells[0].outputs.insert(
        0, nbformat.v4.new_output("stream", name="stderr", text="careful\n")
    )
    assert differences(shown, warned)


# --- Every statement the page shows is in a notebook ---------------------------------------

PYCON_BLOCK = re.compile(r'<div class="language-pycon highlight"><pre>(?P<code>.*?)</pre>', re.S)


def shown_statements(page_html: str) -> list[tuple[str, str]]:
    """(source, output) of each statement with output in the page's pycon blocks."""
    statements = []
    for block in PYCON_BLOCK.finditer(page_html):
        session = html.unescape(re.sub(r"<[^>]+>", "", block["code"]))
        for example in doctest.DocTestParser().get_examples(session):
            if example.want:
                statements.append(
                    (example.source.rstrip("\n"), page_notebook.shown_text(example.want))
                )
    return statements


def stored_text(cell) -> str:
    return "".join(text if kind != "error" else "" for kind, text in outputs(cell))


@pytest.mark.parametrize("page", TEACHING_PAGES)
def test_every_statement_the_page_shows_is_in_a_notebook(page, notebooks, site_url) -> None:
    with urlopen(page_url(site_url, page)) as response:
        shown = shown_statements(response.read().decode("utf-8"))
    assert shown, f"{page} shows no session"
    cells = [
        cell
        for name, notebook in notebooks.items()
        if EXPECTED.get(name) == page
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.outputs
    ]
    missing = []
    for source, output in shown:
        if not any(
            cell.source.endswith(source)
            and (
                stored_text(cell) == output
                or cell.outputs[0].get("traceback") == output.rstrip("\n").split("\n")
            )
            for cell in cells
        ):
            missing.append(f"{source!r} -> {output!r}")
    assert not missing, "in no notebook:\n" + "\n".join(missing)


# --- Markdown that Jupyter renders ---------------------------------------------------------

FENCED = re.compile(
    r"^(?P<quote>(?:> ?)*)(?P<fence>```|~~~).*?^(?P=quote)(?P=fence)[ \t]*$", re.M | re.S
)
CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)
MATH_TOKEN = re.compile(r"(\\\$|\$\$|\$|\n[ \t>]*\n)")
LEFTOVERS = {
    r"\\\(|\\\[|\\\)|\\\]": "arithmatex's \\( \\) or \\[ \\] delimiters",
    r"arithmatex": "an arithmatex span",
    r"--8<--": "a snippet include",
    r"\]\((?!https?://|attachment:|mailto:)[^)]*\)": "a link that is not absolute",
    r"\{:?[ \t]*[#.][\w-]+[^}\n]*\}": "an attribute list",
    r"#only-(?:light|dark)": "a colour-scheme image suffix",
    r"(?m)^(?:> ?)*(?:!!!|\?\?\?\+?|===) ": "admonition or tab syntax",
    r"<figure|<figcaption|ar-widget": "HTML meant for MkDocs",
}


def read_math(markdown: str) -> tuple[list[tuple[str, bool]], list[str]]:
    """The formulas of a Markdown cell as Jupyter finds them (tex, display), and problems.

    Outside code, ``$$`` and ``$`` open and close formulas, ``\\$`` is a dollar sign, and a
    blank line ends a paragraph: a formula still open there is unbalanced. Problems also
    name what MkDocs alone understands, left in the prose.
    """
    text = CODE_SPAN.sub("", FENCED.sub("", markdown))
    formulas: list[tuple[str, bool]] = []
    prose: list[str] = []
    problems: list[str] = []
    opened: str | None = None
    tex: list[str] = []
    for piece in MATH_TOKEN.split(text):
        if piece in ("$$", "$") and opened is None:
            opened, tex = piece, []
        elif piece == opened:
            formula = "".join(tex)
            if "\n>" in formula:
                problems.append(f"a formula runs over quoted lines: {formula!r}")
            formulas.append((formula, opened == "$$"))
            opened = None
        elif opened is not None and piece.strip(" \t>") == "" and piece.count("\n") > 1:
            problems.append(f"an unbalanced {opened}: {''.join(tex)[:80]!r}")
            opened = None
        elif opened is not None:
            tex.append(piece)
        else:
            prose.append(piece)
    if opened is not None:
        problems.append(f"an unbalanced {opened}: {''.join(tex)[:80]!r}")
    for pattern, what in LEFTOVERS.items():
        for match in re.finditer(pattern, "".join(prose)):
            problems.append(f"{what}: {match[0]!r}")
    return formulas, problems


def markdown_problems(notebook) -> list[str]:
    problems = []
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        _, found = read_math(cell.source)
        used = set(re.findall(r"\(attachment:([^)\s]+)\)", cell.source))
        attached = set(cell.get("attachments", {}))
        if used != attached:
            found.append(f"attachments {sorted(attached)} but the text shows {sorted(used)}")
        problems += [f"cell {number}: {problem}" for problem in found]
    return problems


def test_the_markdown_check_sees_what_jupyter_would_not_render() -> None:
    good = "An $x^{(2)}$ and\n\n$$\na = b\n$$\n\n`$HOME` costs \\$5, [a](https://x.org/a/)."
    assert read_math(good) == ([("x^{(2)}", False), ("\na = b\n", True)], [])
    for bad in [
        "an $x^{(2)} alone\n\nand more",
        "$$\na = b",
        "\\(x\\) as arithmatex leaves it",
        '--8<-- "references/vaswani-2017.md"',
        "see [notation](../notation.md)",
        "## Numerically stable softmax { #stable-softmax }",
        "![chart](attachment:x.png#only-light)",
        '??? question "Exercise 1"',
        "> $$\n> a = b\n> $$",
    ]:
        assert read_math(bad)[1], bad


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_notebooks_markdown_renders_in_jupyter(name, notebooks) -> None:
    assert not markdown_problems(notebooks[name])


KATEX_ERRORS = """(formulas) => formulas.flatMap(([tex, display]) => {
  try { katex.renderToString(tex, { displayMode: display, throwOnError: true }); return []; }
  catch (error) { return [`${JSON.stringify(tex)}: ${error.message}`]; }
})"""


def test_every_formula_of_the_notebooks_parses_in_katex(notebooks, browser, site_url) -> None:
    formulas = {
        formula
        for notebook in notebooks.values()
        for cell in notebook.cells
        if cell.cell_type == "markdown"
        for formula in read_math(cell.source)[0]
    }
    assert len(formulas) > 100
    watch = PageWatch(browser)
    try:
        watch.page.goto(site_url + "notation/", wait_until="networkidle")  # loads the site's KaTeX
        assert watch.page.evaluate(KATEX_ERRORS, [["\\frac{1}{", False]]), "KaTeX accepts anything"
        errors = watch.page.evaluate(KATEX_ERRORS, sorted(formulas))
    finally:
        watch.close()
    assert errors == []
