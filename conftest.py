"""Run every code block of the site and of the README as a test (Sybil).

- ```python blocks run as scripts; ```pycon blocks (and python blocks starting with
  ">>>") run as doctests, so the output a page shows is the output the code gives.
- The blocks of one page share a namespace, top to bottom, as a reader's session would.
- A block that uses PyTorch is skipped with a clear reason where torch is missing,
  except in CI (CI=true), where it must run.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re

import numpy as np
import pytest
from sybil import Example, Sybil
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.abstract.doctest import DocTestStringParser
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer
from sybil.sybil import SybilCollection

# The figure and hook modules under docs/ are build inputs, not tests.
collect_ignore_glob = ["docs/**/*.py"]

IN_CI = os.environ.get("CI", "").lower() == "true"
HAVE_TORCH = importlib.util.find_spec("torch") is not None
OPTIONFLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


class CodeBlockParser:
    """Find ```python and ```pycon fences (with or without attributes such as a title)."""

    def __init__(self) -> None:
        self.lexer = FencedCodeBlockLexer(language=r"[\w-]+(?:[ \t][^\n]*)?")
        self.doctests = DocTestStringParser(DocTestEvaluator(OPTIONFLAGS))
        self.script = PythonEvaluator()

    def __call__(self, document):
        for region in self.lexer(document):
            language = region.lexemes["language"].split()[0]
            source = region.lexemes["source"]
            if language == "pycon" or (language == "python" and source.startswith(">>>")):
                for doctest_region in self.doctests(source, document.path):
                    doctest_region.adjust(region, source)
                    doctest_region.evaluator = skip_without_torch(doctest_region.evaluator)
                    yield doctest_region
            elif language == "python":
                region.parsed = source
                region.evaluator = skip_without_torch(self.script)
                yield region


def skip_without_torch(evaluate):
    """Skip a block that mentions torch when torch is missing (never in CI)."""

    def evaluator(example: Example):
        text = str(getattr(example.parsed, "source", example.parsed))
        if not HAVE_TORCH and not IN_CI and re.search(r"\btorch\b", text):
            pytest.skip("PyTorch is not installed: pip install torch==2.13.0 (CI requires it)")
        return evaluate(example)

    return evaluator


def reset_print_options(namespace: dict) -> None:
    """Start every page from numpy's default printing, whatever the last page set."""
    np.set_printoptions(legacy=False)
    np.set_printoptions(**PRINT_DEFAULTS)


PRINT_DEFAULTS = np.get_printoptions()

pytest_collect_file = SybilCollection(
    [
        Sybil(
            parsers=[CodeBlockParser()],
            patterns=["*.md"],
            path="docs",
            excludes=["snippets/*"],
            setup=reset_print_options,
        ),
        Sybil(parsers=[CodeBlockParser()], patterns=["README.md"], setup=reset_print_options),
    ]
).pytest()
