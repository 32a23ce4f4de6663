"""The built site, as a reader's browser sees it.

The site is built with ``mkdocs build --strict``, served over http on 127.0.0.1 and loaded
in headless Chromium (see the fixtures in conftest.py). Each page must make no request to
another host, log no console error, render all its math, load all its images and link
only to pages that exist; in both colour schemes and at phone width.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import re
from urllib.parse import urljoin, urlsplit
from urllib.request import urlopen

import pytest

from .conftest import PageWatch
from .notebook_pages import TEACHING_PAGES, expected_notebooks, hook, page_url

PAGE_CHECKS = """() => {
  const problems = [];
  for (const el of document.querySelectorAll(".arithmatex")) {
    if (!el.querySelector(".katex")) problems.push("unrendered math: " + el.textContent);
  }
  const walker = document.createTreeWalker(document.querySelector("article"), NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode()); ) {
    if (node.parentElement.closest("pre, code, .katex")) continue;
    const text = node.textContent;
    if (/\\$\\$|\\\\\\(|\\\\\\[/.test(text)) problems.push("raw TeX: " + text);
  }
  for (const img of document.querySelectorAll("article img")) {
    if (!img.complete || img.naturalWidth === 0) problems.push("broken image: " + img.src);
    if (!img.alt) problems.push("image without alt text: " + img.src);
  }
  for (const code of document.querySelectorAll(".language-pycon code")) {
    const copied = code.dataset.copy || "";
    if (!copied.trim() || copied.includes(">>>")) problems.push("pycon copy text: " + copied);
  }
  if (document.querySelector("article").innerText.includes("<BLANKLINE>")) {
    problems.push("a doctest's <BLANKLINE> is visible");
  }
  return problems;
}"""

MATH_CHECK = """() => [...document.querySelectorAll(".arithmatex")]
  .filter(el => !el.querySelector(".katex")).map(el => "unrendered math: " + el.textContent)"""

SETTLED = """() =>
  [...document.querySelectorAll("article img")].every(img => img.complete) &&
  [...document.querySelectorAll(".arithmatex")].every(el => el.querySelector(".katex"))"""


def settle(page) -> None:
    """Wait until the page's images are loaded and its math is rendered, or 20 s pass.

    The load state alone is not enough: after instant navigation it is the first
    page's, and on a busy machine KaTeX can finish after the network goes idle.
    If the page never settles, PAGE_CHECKS reports what is missing.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(SETTLED, timeout=20_000)


SWAPPED = """([target, previous]) => location.href.split("#")[0] === target &&
  document.querySelector("a.md-footer__link--prev")?.href.split("#")[0] === previous"""

LINKS = """() => [...document.querySelectorAll("a[href]")].map(a => a.href)"""


def check_pages(browser, pages: list[str], site_url: str, **context_options) -> list[str]:
    """Load each page; return every problem found, prefixed with its page."""
    watch = PageWatch(browser, **context_options)
    problems: list[str] = []
    links: set[str] = set()
    try:
        for url in pages:
            watch.page.goto(url, wait_until="networkidle")
            settle(watch.page)
            problems += [f"{url}: {p}" for p in watch.page.evaluate(PAGE_CHECKS)]
            links.update(watch.page.evaluate(LINKS))
            problems += [f"{url}: {e}" for e in watch.errors]
            watch.errors.clear()
    finally:
        watch.close()
    problems += [f"request to another host: {r}" for r in watch.foreign_requests]
    problems += [f"failed request: {r}" for r in watch.failed]
    for link in sorted(link for link in links if link.startswith(site_url)):
        with urlopen(link.split("#")[0]) as response:  # raises on 404
            if response.status != 200:
                problems.append(f"broken link {link}: HTTP {response.status}")
    return problems


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_renders_offline(browser, pages, site_url, scheme):
    assert check_pages(browser, pages, site_url, color_scheme=scheme) == []


def test_every_page_fits_a_phone(browser, pages, site_url):
    watch = PageWatch(browser, viewport={"width": 390, "height": 844}, is_mobile=True)
    too_wide = []
    try:
        for url in pages:
            watch.page.goto(url, wait_until="networkidle")
            settle(watch.page)
            width = watch.page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                too_wide.append(f"{url}: {width}px wide")
    finally:
        watch.close()
    assert too_wide == []
    assert watch.foreign_requests == []


def test_math_renders_after_instant_navigation(browser, pages, site_url):
    """Follow the footer's "next" links from the home page to the last page.

    Instant navigation swaps the page without reloading it; the math must still be
    rendered on each new page (the KaTeX script is hooked to Material's document$).
    """
    watch = PageWatch(browser)
    visited = [site_url]
    try:
        watch.page.goto(site_url, wait_until="networkidle")
        watch.page.evaluate("window.sameDocument = true")  # gone if the page reloads
        next_link = watch.page.locator("a.md-footer__link--next")
        while next_link.count():
            previous = watch.page.url.split("#")[0]
            target = urljoin(watch.page.url, next_link.get_attribute("href"))
            next_link.click()
            # navigation.tracking may append the heading in view, so compare without it;
            # the address can change before the page is swapped, so wait for the new
            # footer too (its "previous" link leads back), or the next round reads the old.
            watch.page.wait_for_function(SWAPPED, arg=[target, previous])
            settle(watch.page)
            assert watch.page.evaluate("window.sameDocument") is True, f"{target} reloaded"
            # Images are checked on full page loads above; here the point is the math.
            assert watch.page.evaluate(MATH_CHECK) == [], target
            visited.append(target)
    finally:
        watch.close()
    assert watch.errors == []
    assert watch.foreign_requests == []
    assert len(visited) == len(pages), "the footer links do not reach every page"


EDIT_LINK = re.compile(r'href="(?P<repository>[^"]+)/edit/(?P<branch>[^/"]+)/docs/[^"]+"')


@pytest.mark.parametrize("page", ["", "run-locally/"])
def test_home_and_run_locally_say_where_the_code_is(site_url, page):
    """The repository, how to clone it and the licence, as the edit links name them."""
    with urlopen(site_url + page) as response:
        html = response.read().decode()
    edit = EDIT_LINK.search(html)
    assert edit, "no edit link"
    repository, branch = edit["repository"], edit["branch"]
    text = re.sub(r"<[^>]+>", "", html)
    assert f'href="{repository}"' in html, "no link to the repository"
    assert f"git clone {repository}.git" in text
    assert f"cd {repository.rsplit('/', 1)[-1]}" in text
    assert "pip install -e ." in text
    assert f'href="{repository}/blob/{branch}/LICENSE">MIT licence</a>' in html
    assert "{{" not in html


RAW_TEX = re.compile(r"\\\(|\\\[|\$\$|\\frac|\\operatorname")


def test_the_search_index_holds_no_raw_tex(site_url):
    with urlopen(urljoin(site_url, "search/search_index.json")) as response:
        entries = json.load(response)["docs"]
    raw = [entry["location"] for entry in entries if RAW_TEX.search(entry["text"])]
    assert raw == []
    assert any("e^a / e^b = e^a-b" in entry["text"] for entry in entries), "math not indexed"


def test_searching_softmax_finds_the_story_first(browser, site_url):
    watch = PageWatch(browser, viewport={"width": 1280, "height": 900})
    try:
        watch.page.goto(site_url, wait_until="networkidle")
        watch.page.locator("input.md-search__input").click()
        watch.page.keyboard.type("softmax")
        results = watch.page.locator(".md-search-result__item > a")
        results.first.wait_for(timeout=20_000)
        first = results.first.get_attribute("href")
        snippets = watch.page.locator(".md-search-result").inner_text()
    finally:
        watch.close()
    assert urlsplit(urljoin(site_url, first)).path == "/weights/", first
    assert not RAW_TEX.search(snippets), snippets
    assert watch.errors == []


# Code that scrolls sideways or hides under the copy button, and (on a wide screen) tables
# wider than the column; on a phone a wide table scrolls in its own box, as Material makes
# it. Source listings with line numbers (API reference) keep their long lines.
LAYOUT_CHECKS = """(wide) => {
  const problems = [];
  for (const details of document.querySelectorAll("article details")) details.open = true;
  for (const code of document.querySelectorAll("article pre > code")) {
    if (!code.checkVisibility() || code.closest(".highlighttable")) continue;
    const line = code.innerText.split("\\n")[0].slice(0, 50);
    if (code.scrollWidth > code.clientWidth + 1) problems.push("code scrolls sideways: " + line);
    const button = code.closest("pre").querySelector("button[data-md-type=copy]");
    if (!button) continue;
    const b = button.getBoundingClientRect();
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode()); ) {
      if (!node.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const covered = [...range.getClientRects()].some(
        (r) => r.right > b.left && r.left < b.right && r.bottom > b.top && r.top < b.bottom);
      if (covered) { problems.push("copy button covers code: " + line); break; }
    }
  }
  if (wide) {
    for (const table of document.querySelectorAll("article table")) {
      const column = table.closest(".md-typeset__scrollwrap") || table.parentElement;
      if (table.scrollWidth > column.clientWidth + 1) {
        problems.push(`table ${table.scrollWidth}px wide in a ${column.clientWidth}px column`);
      }
    }
  }
  return problems;
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_code_and_tables_fit_their_column(browser, pages, width):
    phone = width < 500
    watch = PageWatch(browser, viewport={"width": width, "height": 900}, is_mobile=phone)
    problems = []
    try:
        for url in pages:
            watch.page.goto(url, wait_until="networkidle")
            settle(watch.page)
            found = watch.page.evaluate(LAYOUT_CHECKS, not phone)
            problems += [f"{url}: {problem}" for problem in found]
    finally:
        watch.close()
    assert not problems, "\n".join(problems)


# The API reference's parameter, return and exception tables, as mkdocstrings renders them.
REFERENCE_TABLES = """() => {
  const problems = [];
  for (const table of document.querySelectorAll("article .doc-contents table")) {
    const heading = table.closest(".doc-object").querySelector(".doc-heading");
    const where = heading.id + ", " + table.rows[0].innerText.trim().replace(/\\s+/g, " ");
    const headers = [...table.rows[0].cells].map((cell) => cell.innerText.trim());
    const description = headers.indexOf("Description");
    for (const row of [...table.rows].slice(1)) {
      const cells = [...row.cells];
      if (description >= 0 && !cells[description].innerText.trim()) {
        problems.push(`${where}: empty Description beside ${cells[0].innerText.trim()}`);
      }
      for (const cell of cells) {
        const text = cell.innerText;
        if (/[`$]/.test(text)) problems.push(`${where}: raw markup in ${JSON.stringify(text)}`);
      }
    }
  }
  return problems;
}"""


def test_reference_tables_render_cleanly(browser, site_url):
    """No empty Description cell, no literal backtick or raw $ in any cell."""
    watch = PageWatch(browser)
    try:
        watch.page.goto(urljoin(site_url, "reference/"), wait_until="networkidle")
        settle(watch.page)
        problems = watch.page.evaluate(REFERENCE_TABLES)
    finally:
        watch.close()
    assert not problems, "\n".join(problems)


NOTEBOOK_LINKS = re.compile(r'</h1>\s*<p class="ar-notebooks"[^>]*>(?P<line>.*?)</p>', re.S)
HREF = re.compile(r'href="(?P<href>[^"]+)"')


def test_every_teaching_page_links_to_its_notebooks(site_url, pages):
    """Right under its title, each teaching page links to each of its notebooks, which
    the site serves, and to the archive of all of them; other pages link to none."""
    nbformat = pytest.importorskip("nbformat")
    expected = expected_notebooks()
    urls = {page_url(site_url, page): page for page in TEACHING_PAGES}
    assert set(urls) <= set(pages)
    problems = []
    for url in pages:
        with urlopen(url) as response:
            html = response.read().decode("utf-8")
        line = NOTEBOOK_LINKS.search(html)
        page = urls.get(url)
        if page is None:
            if "ar-notebooks" in html:
                problems.append(f"{url}: links to notebooks, but is not a teaching page")
            continue
        if line is None or "Download this page as a notebook" not in line["line"]:
            problems.append(f"{url}: no 'Download this page as a notebook' under its title")
            continue
        links = [urljoin(url, href) for href in HREF.findall(line["line"])]
        if urljoin(site_url, hook.ARCHIVE) not in links:
            problems.append(f"{url}: no link to the archive")
        notebooks = [link for link in links if link.endswith(".ipynb")]
        wanted = sorted(name for name, source in expected.items() if source == page)
        if sorted(posixpath.basename(link) for link in notebooks) != wanted:
            problems.append(f"{url}: links to {notebooks}, wants {wanted}")
        for link in notebooks:
            with urlopen(link) as response:
                notebook = nbformat.reads(response.read().decode("utf-8"), as_version=4)
            if notebook.metadata["attention_ref"]["page"] != page:
                problems.append(f"{link} is not the notebook of {page}")
    assert not problems, "\n".join(problems)


def test_a_reader_downloads_a_notebook_by_clicking_its_link(browser, site_url):
    """The link downloads the file, under its own name: instant navigation leaves it alone."""
    watch = PageWatch(browser, accept_downloads=True)
    try:
        watch.page.goto(site_url + "scores/", wait_until="networkidle")
        with watch.page.expect_download() as download:
            watch.page.get_by_role("link", name="PyTorch").first.click()
        path = download.value.path()
        assert download.value.suggested_filename == "scores-pytorch.ipynb"
        with urlopen(site_url + "notebooks/scores-pytorch.ipynb") as response:
            assert path.read_bytes() == response.read()
    finally:
        watch.close()
    assert watch.errors == []
    assert watch.foreign_requests == []
