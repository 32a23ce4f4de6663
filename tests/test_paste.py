"""Every code block runs where a reader pastes it: a fresh classic Python prompt.

For each page of the built site and each tab label on it (attention_ref, NumPy,
PyTorch...), a reader who follows that label sees:

- every code block outside tab sets, and
- in each tab set, the tab with that label, or the set's first tab if it has none.

(Details such as the exercises' solutions count as open. The API reference's signatures
and "Source code" listings are there to be read, not pasted.) That reader clicks each visible
block's copy button in turn, in Chromium, and pastes what it copied into one fresh
``code.InteractiveConsole``, which reads input as the classic REPL of Python 3.11 does
(see paste_session.py). Every ``python`` and ``pycon`` block must run without error, and
each statement of a ``pycon`` block must print what the page shows for it (compared as
doctest does, with NORMALIZE_WHITESPACE and ELLIPSIS). Shell blocks are not pasted.

So a tab may use what the blocks outside tabs and the earlier tabs of the same label
defined, never what only another label's tab did.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .conftest import IN_CI, PageWatch

DOCS = Path(__file__).resolve().parent.parent / "docs"
SESSION = Path(__file__).resolve().parent / "paste_session.py"
PAGES = sorted(
    str(page.relative_to(DOCS)) for page in DOCS.rglob("*.md") if "snippets" not in page.parts
)
PASTED = {"python", "pycon"}
HAVE_TORCH = importlib.util.find_spec("torch") is not None

# Show one reader's view: pick the tab of `label` in every tab set (the first tab where a
# set has none), open every details block, and list the visible code blocks in order.
# Code blocks are the pages' fenced blocks (pymdownx.highlight wraps each in .highlight);
# code a script writes into the page, such as the playground's snippet, has its own test.
READER_VIEW = """(label) => {
  const READ_ONLY = ".doc-signature, .mkdocstrings-source";
  for (const set of document.querySelectorAll("article .tabbed-set")) {
    const inputs = [...set.children].filter((el) => el.tagName === "INPUT");
    const labels = [...set.querySelector(":scope > .tabbed-labels").children];
    const index = labels.findIndex((el) => el.textContent.trim() === label);
    inputs[Math.max(index, 0)].checked = true;
  }
  for (const details of document.querySelectorAll("article details")) details.open = true;
  const codes = [...document.querySelectorAll("article .highlight pre > code")];
  return codes.flatMap((code, index) => {
    if (!code.checkVisibility() || code.closest(READ_ONLY)) return [];
    const box = code.closest("[class*=language-]");
    const language = box ? [...box.classList].find((c) => c.startsWith("language-")) : "";
    return [{ index, language: language.replace("language-", ""), shown: code.innerText }];
  });
}"""

TAB_LABELS = """() => [...new Set([...document.querySelectorAll(
  "article .tabbed-set > .tabbed-labels > label")].map((el) => el.textContent.trim()))]"""

# Click the copy button of code block `index` and return what it put on the clipboard.
COPY = """async (index) => {
  const code = document.querySelectorAll("article .highlight pre > code")[index];
  const sentinel = "\\u0000nothing copied";
  await navigator.clipboard.writeText(sentinel);
  // Material adds the buttons when it mounts the page's components, which on a busy
  // machine can come after the page is loaded: wait for this one (up to 10 s).
  let button = null;
  for (let attempt = 0; attempt < 1000 && !button; attempt++) {
    button = code.closest("pre").querySelector("button[data-md-type=copy]");
    if (!button) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (!button) return null;
  button.click();
  for (let attempt = 0; attempt < 100; attempt++) {
    const text = await navigator.clipboard.readText();
    if (text !== sentinel) return text;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return null;
}"""


def page_url(site_url: str, page: str) -> str:
    """The address of the page built from docs/`page` (directory URLs)."""
    path = page.removesuffix(".md")
    path = path.removesuffix("index")
    return site_url + (path + "/" if path and not path.endswith("/") else path)


def shown_outputs(session: str) -> list[str]:
    """What a pycon block shows after each statement, as doctest reads the session."""
    outputs: list[str] = []
    in_source = False
    for line in session.split("\n"):
        if line.startswith(">>> ") or line == ">>>":
            outputs.append("")
            in_source = True
        elif in_source and (line.startswith("... ") or line == "..."):
            continue
        elif outputs:
            outputs[-1] += line + "\n"
            in_source = False
    return outputs


def first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")[:60]


def reader_sessions(watch: PageWatch, url: str) -> dict[str, list[dict]]:
    """The blocks each tab label's reader pastes, with their copied text, by label."""
    watch.page.goto(url, wait_until="networkidle")
    labels = watch.page.evaluate(TAB_LABELS) or [""]
    sessions = {}
    for label in labels:
        blocks = []
        for block in watch.page.evaluate(READER_VIEW, label):
            if block["language"] not in PASTED:
                continue
            copied = watch.page.evaluate(COPY, block["index"])
            assert copied is not None, f"{url}: the copy button of block {block['index']} failed"
            where = f"block {block['index']} ({first_line(copied)!r})"
            shown = shown_outputs(block["shown"]) if block["language"] == "pycon" else None
            blocks.append({"where": where, "copied": copied, "shown": shown})
        sessions[label] = blocks
    return sessions


def paste_all(blocks: list[dict], cwd: Path) -> list[str]:
    """Paste `blocks` into one fresh Python prompt; return the problems it reports."""
    result = subprocess.run(
        [sys.executable, str(SESSION)],
        input=json.dumps(blocks),
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def clipboard_watch(browser, site_url):
    """One browser page that may read and write the clipboard, for the whole module."""
    watch = PageWatch(browser, permissions=["clipboard-read", "clipboard-write"])
    yield watch
    watch.close()
    assert watch.foreign_requests == []


def test_every_page_is_checked(pages, site_url) -> None:
    assert sorted(page_url(site_url, page) for page in PAGES) == sorted(pages)


@pytest.mark.parametrize("page", PAGES)
def test_every_block_runs_where_a_reader_pastes_it(page, clipboard_watch, site_url, tmp_path):
    sessions = reader_sessions(clipboard_watch, page_url(site_url, page))
    assert clipboard_watch.errors == []
    uses_torch = any(re.search(r"\btorch\b", b["copied"]) for v in sessions.values() for b in v)
    if uses_torch and not HAVE_TORCH and not IN_CI:
        pytest.skip("PyTorch is not installed: pip install torch==2.13.0 (CI requires it)")
    # Labels whose readers see the same blocks need only one run.
    runs = {json.dumps(blocks): blocks for blocks in sessions.values()}
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = dict(
            zip(runs, pool.map(lambda b: paste_all(b, tmp_path), runs.values()), strict=True)
        )
    problems = [
        f"{label or 'no tabs'}: {problem}"
        for label, blocks in sessions.items()
        for problem in found[json.dumps(blocks)]
    ]
    assert not problems, "\n".join(problems)
