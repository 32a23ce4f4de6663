"""Shared fixtures: optional peers that are mandatory in CI, and the built site.

PyTorch and Chromium are installed by `python3 dev.py test` and by `.ci/run`. A reader
who runs pytest in an environment without them gets a skip that says how to get them;
in CI (``CI=true``) a missing peer is a failure, never a skip.

The site is built once per test session with ``mkdocs build --strict`` and served over
http on 127.0.0.1 for the browser tests (test_site.py, test_paste.py). They drive Debian's
``chromium`` with Playwright's ``executable_path``; Playwright never downloads a browser.
"""

from __future__ import annotations

import functools
import http.server
import importlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import urljoin, urlsplit
from urllib.request import urlopen

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(module: str, how_to_get_it: str) -> ModuleType:
    """Import `module`, or skip the test (fail in CI) saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if IN_CI:
            raise
        pytest.skip(f"{module} is not installed: {how_to_get_it} (CI requires it)")


@pytest.fixture(scope="session")
def torch() -> ModuleType:
    """PyTorch CPU, the independent implementation the tests compare against."""
    torch = require("torch", "pip install torch==2.13.0, or run python3 dev.py test")
    torch.set_num_threads(1)  # deterministic reductions; speed is for benchmarks/
    return torch


ROOT = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]"}
CHROMIUM_ARGS = [  # as the machine's notes advise for a closed network
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """The browser to drive: $CHROMIUM, else a chromium or chrome on PATH."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    return next(filter(None, map(shutil.which, names)), None)


@pytest.fixture(scope="session")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Build the site strictly for a free local port and serve it there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    site = tmp_path_factory.mktemp("site")
    env = {**os.environ, "SITE_URL": url, "NO_MKDOCS_2_WARNING": "1"}
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    assert "WARNING" not in build.stderr, build.stderr
    handler = functools.partial(QuietHandler, directory=str(site))
    server = QuietServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield url
    server.shutdown()
    server.server_close()


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # The browser drops connections it no longer needs (a page closed mid-request);
        # anything that matters shows up as a failed request in the browser instead.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def pages(site_url: str) -> list[str]:
    """Every page of the site, from the sitemap mkdocs writes."""
    with urlopen(urljoin(site_url, "sitemap.xml")) as response:
        tree = ET.parse(response)
    urls = [loc.text for loc in tree.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert urls, "the sitemap lists no page"
    assert all(url.startswith(site_url) for url in urls), urls
    return urls


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium: mandatory in CI, a clear skip elsewhere."""
    executable = find_chromium()
    if executable is None:
        message = (
            "no Chromium found: install Debian's chromium (apt-get install chromium) "
            "or set CHROMIUM=/path/to/chromium"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageWatch:
    """Open a browser context that blocks and records every request leaving 127.0.0.1."""

    def __init__(self, browser, **context_options) -> None:
        self.context = browser.new_context(**context_options)
        self.foreign_requests: list[str] = []
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        self.page.on("requestfailed", self._request_failed)
        self.page.on(
            "response",
            lambda response: response.status >= 400 and self.failed.append(response.url),
        )

    def _route(self, route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            self.foreign_requests.append(route.request.url)
            route.abort()

    def _request_failed(self, request) -> None:
        # A request the next navigation cancels (the favicon, late on a busy machine) is
        # not a broken resource; a missing one is a 404, caught by the response handler.
        if request.failure != "net::ERR_ABORTED":
            self.failed.append(f"{request.url} ({request.failure})")

    def _console(self, message) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")

    def close(self) -> None:
        self.context.close()
