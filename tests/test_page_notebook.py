"""How a page becomes notebooks (docs/hooks/page_notebook.py), on small made-up pages.

The build's notebooks are run and compared with their pages in test_notebooks.py; here,
the rules themselves: which readers see which tabs, how a session becomes cells, what
prose becomes, and what the first cell installs.
"""

from __future__ import annotations

import subprocess
import textwrap

import pytest

import attention_ref

from .notebook_pages import page_notebook as pn

VERSION = attention_ref.__version__
ORIGIN = pn.Origin(VERSION, "https://github.com/someone/attention-ref", "main", "ab" * 20)
PAGES = {
    "scores.md": "https://example.org/site/scores/",
    "notation.md": "https://example.org/site/notation/",
    "trainable/qkv.md": "https://example.org/site/trainable/qkv/",
}


def context(src_uri: str = "scores.md", image=lambda path: None) -> pn.PageContext:
    return pn.PageContext(src_uri, "A page", PAGES[src_uri], PAGES.get, image)


def page(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


TABS = page("""
    # A page

    === "attention_ref"

        ```pycon
        >>> 1 + 1
        2
        ```

    === "NumPy"

        ```pycon
        >>> 2 + 2
        4
        ```

    Between the sets.

    === "attention_ref"

        ```python
        a = 1
        ```

    === "PyTorch"

        ```python
        import torch
        ```
""")


def code_sources(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells[1:] if cell.cell_type == "code"]


def test_one_notebook_per_tab_label_each_seeing_its_tab_or_the_first() -> None:
    notebooks = {
        view.filename: (view, nb) for view, nb in pn.page_notebooks(TABS, context(), ORIGIN)
    }
    assert list(notebooks) == ["scores.ipynb", "scores-numpy.ipynb", "scores-pytorch.ipynb"]
    assert code_sources(notebooks["scores.ipynb"][1]) == ["1 + 1", "a = 1"]
    assert code_sources(notebooks["scores-numpy.ipynb"][1]) == ["2 + 2", "a = 1"]
    assert code_sources(notebooks["scores-pytorch.ipynb"][1]) == ["1 + 1", "import torch"]
    assert notebooks["scores-pytorch.ipynb"][1].metadata["attention_ref"]["uses_torch"]
    assert not notebooks["scores.ipynb"][1].metadata["attention_ref"]["uses_torch"]


def test_labels_that_see_the_same_blocks_share_a_notebook() -> None:
    # "Mine" is the first tab of the only set it is in: its readers see what those of
    # attention_ref see.
    text = page("""
        === "attention_ref"

            ```python
            a = 1
            ```

        === "PyTorch"

            ```python
            import torch
            ```

        Text.

        === "Mine"

            ```python
            b = 2
            ```

        === "PyTorch"

            ```python
            c = 3
            ```
    """)
    views = pn.reader_views(pn.parse_blocks(text), "trainable/qkv.md")
    assert [(view.labels, view.filename) for view in views] == [
        (("attention_ref", "Mine"), "trainable-qkv.ipynb"),
        (("PyTorch",), "trainable-qkv-pytorch.ipynb"),
    ]


def test_a_new_tab_set_starts_at_text_or_at_an_exclamation_mark() -> None:
    text = page("""
        === "A"
            a
        === "B"
            b
        ===! "A"
            c
    """)
    sets = [block for block in pn.parse_blocks(text) if isinstance(block, pn.TabSet)]
    assert [[tab.label for tab in tab_set.tabs] for tab_set in sets] == [["A", "B"], ["A"]]
    assert len([b for b in pn.parse_blocks(TABS) if isinstance(b, pn.TabSet)]) == 2


def test_a_session_becomes_cells_that_end_at_each_output() -> None:
    session = page("""
        >>> import math
        >>> x = 2
        >>> x
        2
        >>> for i in range(2):
        ...     print(i)
        0
        1
        >>> print("a")
        a
        <BLANKLINE>
        >>> math.sqrt(-1)
        Traceback (most recent call last):
            ...
        ValueError: math domain error
        >>> y = 3
    """)
    cells = pn.session_cells(session)
    assert [cell.source for cell in cells] == [
        "import math\nx = 2\nx",
        "for i in range(2):\n    print(i)",
        'print("a")',
        "math.sqrt(-1)",
        "y = 3",
    ]
    kinds = [[output["output_type"] for output in cell.outputs] for cell in cells]
    assert kinds == [["execute_result"], ["stream"], ["stream"], ["error"], []]
    assert cells[0].outputs[0]["data"]["text/plain"] == "2"
    assert cells[1].outputs[0]["text"] == "0\n1\n"
    assert cells[2].outputs[0]["text"] == "a\n\n"  # <BLANKLINE> is the empty line it stands for
    assert cells[3].raises
    assert cells[3].outputs[0]["ename"] == "ValueError"
    assert cells[3].outputs[0]["evalue"] == "math domain error"
    assert not any(cell.raises for cell in cells[:3] + cells[4:])


def test_prose_becomes_markdown_that_jupyter_renders() -> None:
    text = page(r"""
        # Title

        ## Stable softmax { #stable-softmax }

        See [notation](notation.md#indexing), [below](#stable-softmax), the
        [paper](https://arxiv.org/abs/1706.03762) and `$x$` in code; $\omega_{2j}$,
        and \(a\) or
        \[
        b
        \]

        *[HTML]: HyperText Markup Language
    """)
    notebook = pn.page_notebooks(text, context(), ORIGIN)[0][1]
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert markdown == [
        "# Title",
        "## Stable softmax\n\n"
        "See [notation](https://example.org/site/notation/#indexing), "
        "[below](https://example.org/site/scores/#stable-softmax), the\n"
        "[paper](https://arxiv.org/abs/1706.03762) and `$x$` in code; $\\omega_{2j}$,\n"
        "and $a$ or\n$$\nb\n$$",
    ]


def test_a_link_to_a_page_the_site_does_not_have_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"no page or file 'missing\.md'"):
        pn.page_notebooks("[gone](missing.md)", context(), ORIGIN)


def test_admonitions_become_quotes_or_headings_and_figures_attachments() -> None:
    text = page("""
        ## Exercises

        !!! note "A note"
            Some $x$ and

            $$
            y = 1
            $$

        ??? question "Exercise 1"
            Do it.

            ??? success "Solution"
                ```pycon
                >>> 1
                1
                ```

        <figure markdown="span">
          ![A chart.](../assets/figures/chart-light.svg#only-light)
          ![A chart.](../assets/figures/chart-dark.svg#only-dark)
          <figcaption>The chart, with $z$.</figcaption>
        </figure>

        <div class="ar-widget" data-attention-widget="softmax">
          <p class="ar-note">This widget needs JavaScript.</p>
        </div>
    """)
    seen = []
    notebook = pn.page_notebooks(
        text, context("trainable/qkv.md", lambda path: seen.append(path) or b"PNG"), ORIGIN
    )[0][1]
    cells = [(cell.cell_type, cell.source) for cell in notebook.cells[1:]]
    assert cells[:5] == [
        ("markdown", "## Exercises\n\n> **A note**\n>\n> Some $x$ and\n>\n> $$y = 1$$"),
        ("markdown", "### Exercise 1\n\nDo it."),
        ("markdown", "#### Solution"),
        ("code", "1"),
        (
            "markdown",
            "![A chart.](attachment:chart-light.png)\n\n*The chart, with $z$.*\n\n"
            "*At this point [the page](https://example.org/site/trainable/qkv/) has an "
            "interactive widget, which runs in the browser: try it there.*",
        ),
    ]
    assert seen == ["assets/figures/chart-light.svg"]  # the dark one is not drawn
    assert notebook.cells[5].attachments == {"chart-light.png": {"image/png": "UE5H"}}


def test_the_first_cell_says_where_the_notebook_comes_from_and_installs_what_is_missing(
    monkeypatch,
) -> None:
    view = pn.View(("PyTorch",), "scores-pytorch.ipynb")
    cell = pn.setup_cell(context(), view, ORIGIN, uses_torch=True)
    header = " ".join(line.removeprefix("# ") for line in cell.source.split("\n\n")[0].split("\n"))
    assert f"attention_ref {VERSION} (commit abababababab of" in header
    assert "for readers of its PyTorch tabs: https://example.org/site/scores/" in header
    assert cell.outputs[0]["text"] == f"Ready: attention_ref {VERSION}, torch 2.13.0\n"
    calls = []
    monkeypatch.setattr(subprocess, "check_call", calls.append)
    exec(pn.setup_cell(context(), view, ORIGIN, uses_torch=False).source, {})
    assert calls == []  # this attention_ref is that version: nothing to install
    older = pn.Origin("0.0.1", ORIGIN.repository_url, "main", None)
    exec(pn.setup_cell(context(), view, older, uses_torch=True).source, {})
    assert len(calls) == 1
    pip = calls[0][calls[0].index("pip") :]
    assert pip[:3] == [
        "pip",
        "install",
        "attention-ref @ git+https://github.com/someone/attention-ref@main",
    ]
    assert pip[-2:] == ["--extra-index-url", "https://download.pytorch.org/whl/cpu"]
