"""Shared fixtures: optional peers that are mandatory in CI.

PyTorch and Chromium are installed by `python3 dev.py test` and by `.ci/run`. A reader
who runs pytest in an environment without them gets a skip that says how to get them;
in CI (``CI=true``) a missing peer is a failure, never a skip.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

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
