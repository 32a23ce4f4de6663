"""The built site, as a reader's browser sees it.

Build the site with ``mkdocs build --strict``, serve it over http on 127.0.0.1, and load
every page in headless Chromium (Debian's ``chromium``, driven by Playwright with
``executable_path``; Playwright never downloads a browser here). Each page must make no
request to another host, log no console error, render all its math, load all its images
and link only to pages that exist; in both colour schemes and at phone width.
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from urllib.parse import urljoin
from urllib.request import urlopen

import pytest

from .conftest import PageWatch


@pytest.fixture(scope="session")
def pages(site_url: str) -> list[str]:
    """Every page of the site, from the sitemap mkdocs writes."""
    with urlopen(urljoin(site_url, "sitemap.xml")) as response:
        tree = ET.parse(response)
    urls = [loc.text for loc in tree.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert urls, "the sitemap lists no page"
    assert all(url.startswith(site_url) for url in urls), urls
    return urls


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
