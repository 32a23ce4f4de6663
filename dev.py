#!/usr/bin/env python3
"""Set up and run attention-ref's everyday tasks with nothing but Python.

    python3 dev.py serve   # set up, then serve the site at http://127.0.0.1:8000
    python3 dev.py test    # set up, then lint, type-check and run the whole test suite
    python3 dev.py build   # set up, then build the site into site/ (strict)
    python3 dev.py bench   # set up, then run the benchmarks

Each task first makes a virtual environment in .venv (once) and installs the project
with the extras it needs; it reinstalls only when pyproject.toml changes. Arguments
after `test` go to pytest, e.g. `python3 dev.py test -k softmax`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
EXTRAS = {"serve": "docs", "build": "docs", "test": "test", "bench": "bench,docs"}


def run(*args: str | Path) -> None:
    """Run a command from the project root; stop with its exit code if it fails."""
    print("+", " ".join(str(a) for a in args), flush=True)
    code = subprocess.call([str(a) for a in args], cwd=ROOT)
    if code:
        sys.exit(code)


def setup(extras: str) -> None:
    """Create .venv and install the project with `extras`, unless already done."""
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode())
    stamp = VENV / ".attention-ref-installed"
    installed = stamp.read_text().split() if stamp.exists() else []
    if wanted.hexdigest() in installed:
        return
    run(PYTHON, "-m", "pip", "install", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--editable", f".[{extras}]")
    stamp.write_text("\n".join([*installed, wanted.hexdigest()]) + "\n")


def main(argv: list[str]) -> None:
    """Dispatch `argv[0]` (serve, test, build, bench) with the rest as arguments."""
    if not argv or argv[0] not in EXTRAS:
        sys.exit(__doc__)
    task, rest = argv[0], argv[1:]
    setup(EXTRAS[task])
    if task == "serve":
        run(PYTHON, "-m", "mkdocs", "serve", "--dev-addr", "127.0.0.1:8000", *rest)
    elif task == "build":
        run(PYTHON, "-m", "mkdocs", "build", "--strict", *rest)
    elif task == "bench":
        run(PYTHON, "benchmarks/bench_context_vectors.py", *rest)
    else:
        run(PYTHON, "-m", "ruff", "check", ".")
        run(PYTHON, "-m", "ruff", "format", "--check", ".")
        run(PYTHON, "-m", "mypy")  # --strict over attention_ref/, set in pyproject.toml
        run(PYTHON, "-m", "pytest", *rest)


if __name__ == "__main__":
    main(sys.argv[1:])
