"""``python -m attention_ref --sentence TEXT``: the worked example on real GloVe vectors.

The tables and the JSON are checked with the helpers of tests/test_cli.py against the
package's own results for ``examples.glove(TEXT)``; the vectors against the source
package where it is installed (skipped otherwise, CI included: it is optional).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from attention_ref.examples import glove

from .test_cli import ROOT, assert_json_matches, assert_one_line_error, assert_tables_show, run
from .test_glove import source

SENTENCE = "The cat sat on the mat because it is warm"
TOKENS = ["the", "cat", "sat", "on", "the", "mat", "because", "it", "is", "warm"]


def test_sentence_runs_the_worked_example_on_its_glove_vectors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "--sentence", SENTENCE, "--query", "warm")
    assert (code, err) == (0, "")
    assert out.startswith("Inputs: 10 tokens x 50 dimensions\n")
    assert 'Step 1. Attention scores of the query "warm" (token 9)' in out
    _, vectors = glove(SENTENCE)
    assert_tables_show(out, TOKENS, vectors, query=9)


def test_sentence_query_defaults_to_the_first_word(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--sentence", "Warm mats, warm cats", "--precision", "2")
    assert code == 0
    assert 'Attention scores of the query "warm" (token 0)' in out
    assert_tables_show(out, ["warm", "mats", "warm", "cats"], glove("warm mats warm cats")[1], 0, 2)


def test_sentence_query_by_index(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--sentence", SENTENCE, "--query", "-5")
    assert code == 0
    assert 'Attention scores of the query "mat" (token 5)' in out


def test_sentence_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--sentence", SENTENCE, "--query", "mat", "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["tokens"] == TOKENS
    assert data["query"]["index"] == 5
    assert data["query"]["token"] == "mat"
    _, vectors = glove(SENTENCE)
    np.testing.assert_array_equal(data["inputs"], vectors)  # float32 values, exactly
    assert_json_matches(data, vectors, query=5)


def test_sentence_vectors_equal_the_source(capsys: pytest.CaptureFixture[str]) -> None:
    words, vectors = source()  # skips without the source package
    _, out, _ = run(capsys, "--sentence", SENTENCE, "--json")
    expected = vectors[[words.index(token) for token in TOKENS]]
    np.testing.assert_array_equal(json.loads(out)["inputs"], expected)


def test_the_installed_command_takes_a_sentence() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "attention_ref",
            "--sentence",
            SENTENCE,
            "--query",
            "warm",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    weights = json.loads(result.stdout)["query"]["weights"]
    assert len(weights) == 10
    assert weights[9] == max(weights)  # "warm" attends most to itself


@pytest.mark.parametrize(
    ("argv", "phrases"),
    [
        (
            ["--sentence", "the kiten sat"],
            ["--sentence: 'kiten' is not among the 20,000", "closest known spelling is 'kitten'"],
        ),
        (["--sentence", "..."], ["--sentence: words must hold at least one word", "'...'"]),
        (
            ["--sentence", "the mat", "--input", "x.csv"],
            ["--input: not allowed with", "--sentence"],
        ),
        (["--sentence", "the cat the", "--query", "the"], ["'the' names 2 tokens (indices 0, 2)"]),
        (["--sentence", "the cat", "--query", "mat"], ["'mat' is neither a token (the, cat)"]),
        (["--sentence"], ["--sentence", "expected one argument"]),
    ],
)
def test_bad_sentences(capsys: pytest.CaptureFixture[str], argv, phrases) -> None:
    assert_one_line_error(capsys, argv, *phrases)


def test_help_lists_the_sentence_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run(capsys, "--help")
    assert "--sentence TEXT" in capsys.readouterr().out
