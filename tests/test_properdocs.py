"""The site builds with ProperDocs, the maintained fork of MkDocs 1.x, exactly as with MkDocs.

MkDocs 1.6.1 is the last MkDocs 1.x and Material for MkDocs reaches its end of life on
5 May 2027 (the README's development notes say what a move would take). ProperDocs
reads the same mkdocs.yml and runs the same theme, plugins and hooks. This test builds
the site with both, with the same strict settings, at the same time (one per core): the
ProperDocs build must succeed without a warning and write the same files as MkDocs',
byte for byte apart from the generator tag that names the tool. That catches a plugin or
hook that ProperDocs silently skips, which a strict build alone would not.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import require

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = re.compile(rb'<meta name="generator" content="[^"]*">')


def start_build(tool: str, site: Path) -> subprocess.Popen:
    """Start `tool build --strict` of mkdocs.yml into `site`."""
    env = {**os.environ, "SITE_URL": "http://127.0.0.1:8000/", "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", tool, "build", "--strict", "--config-file", "mkdocs.yml"]
    return subprocess.Popen(
        [*command, "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def built_files(site: Path) -> dict[str, bytes]:
    """Every file of a built site, HTML pages without their generator tag."""
    files = {}
    for path in sorted(site.rglob("*")):
        if path.is_file():
            content = path.read_bytes()
            if path.suffix == ".html":
                content = GENERATOR.sub(b"", content)
            files[path.relative_to(site).as_posix()] = content
    return files


def test_properdocs_builds_the_same_site_as_mkdocs(tmp_path: Path) -> None:
    require("properdocs", "pip install properdocs==1.6.7, or run python3 dev.py test")
    builds = {tool: start_build(tool, tmp_path / tool) for tool in ("mkdocs", "properdocs")}
    for tool, build in builds.items():
        _, log = build.communicate(timeout=600)
        assert build.returncode == 0, f"{tool} build --strict failed:\n{log}"
        assert "WARNING" not in log, f"{tool} build warned:\n{log}"
    mkdocs, properdocs = (built_files(tmp_path / tool) for tool in builds)
    assert sorted(properdocs) == sorted(mkdocs)
    differ = [name for name in mkdocs if properdocs[name] != mkdocs[name]]
    assert not differ, f"ProperDocs built these differently from MkDocs: {differ}"
