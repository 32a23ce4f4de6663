"""The command line, ``python -m attention_ref``: output, input files and errors.

Most tests call `main` in-process and read its output with ``capsys``; one runs the
real command in a subprocess. Numbers in the output are compared with the package's
own results: tables to within half a unit of the last printed decimal, JSON to within
an ulp (JSON floats round-trip exactly).
"""

from __future__ import annotations

import doctest
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import attention_ref.__main__ as cli
from attention_ref import attention_scores, attention_weights, context_vector, context_vectors
from attention_ref.__main__ import main
from attention_ref.examples import INPUTS, TOKENS

ROOT = Path(__file__).resolve().parents[1]

TITLES = [
    "Inputs",
    "Step 1. Attention scores",
    "Step 2. Attention weights",
    "Step 3. Context vector",
    "All queries at once: attention scores",
    "All queries at once: attention weights",
    "All queries at once: context vectors",
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


Table = tuple[str, list[str], list[tuple[str, list[float]]]]


def parse_tables(out: str) -> list[Table]:
    """The printed tables as (title, column labels, [(row label, numbers), ...])."""
    tables = []
    for block in out.strip().split("\n\n"):
        title, header, *lines = block.split("\n")
        rows = [(label, [float(n) for n in numbers]) for label, *numbers in map(str.split, lines)]
        tables.append((title, header.split(), rows))
    return tables


def assert_tables_show(
    out: str, tokens: list[str], inputs: np.ndarray, query: int, precision: int = 4
) -> None:
    """The seven tables, in order, with their labels and the package's numbers."""
    dims = [f"d{k}" for k in range(inputs.shape[1])]
    one = [tokens[query]]
    scores = attention_scores(inputs, query)  # (N,)
    all_scores = attention_scores(inputs)  # (N, N)
    expected = [  # (rows, columns, numbers) of each table
        (tokens, dims, inputs),
        (one, tokens, [scores]),
        (one, tokens, [attention_weights(scores)]),
        (one, dims, [context_vector(inputs, query)]),
        (tokens, tokens, all_scores),
        (tokens, tokens, attention_weights(all_scores)),
        (tokens, dims, context_vectors(inputs)),
    ]
    tables = parse_tables(out)
    assert len(tables) == len(expected)
    # Rounding to `precision` decimals moves a number by at most half a unit of the
    # last decimal (1e-12 more for the binary representation of the printed value).
    atol = 0.5 * 10.0**-precision + 1e-12
    for (title, columns, rows), start, (row_labels, column_labels, numbers) in zip(
        tables, TITLES, expected, strict=True
    ):
        assert title.startswith(start)
        assert [label for label, _ in rows] == row_labels, title
        assert columns == column_labels, title
        printed = [values for _, values in rows]
        np.testing.assert_allclose(printed, numbers, rtol=0, atol=atol, err_msg=title)


# The worked example ------------------------------------------------------------------


def test_default_prints_the_worked_example_for_journey(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 0
    assert err == ""
    assert 'Step 1. Attention scores of the query "journey"' in out
    assert_tables_show(out, list(TOKENS), INPUTS, query=1)


def test_journey_scores_line_is_exact(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys)
    # The scores of "journey", exact at 4 decimals (worked out in tests/test_simple.py).
    assert "journey  0.9544   1.4950  1.4754  0.8434  0.7070  1.0865" in out.splitlines()


def test_tables_are_aligned(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys)
    for block in out.strip().split("\n\n"):
        _, header, *rows = block.split("\n")
        label_ends = [word.end() for word in re.finditer(r"\S+", header)]
        for row in rows:
            assert len(row) == len(header)
            # Right-aligned: each number ends where its column's label ends.
            assert [word.end() for word in re.finditer(r"\S+", row)][1:] == label_ends


@pytest.mark.parametrize("query", ["starts", "2", "-4"])
def test_query_by_name_index_or_negative_index(
    capsys: pytest.CaptureFixture[str], query: str
) -> None:
    code, out, _ = run(capsys, "--query", query)
    assert code == 0
    assert 'Attention scores of the query "starts" (token 2)' in out
    assert_tables_show(out, list(TOKENS), INPUTS, query=2)


@pytest.mark.parametrize("precision", [0, 2, 7])
def test_precision(capsys: pytest.CaptureFixture[str], precision: int) -> None:
    code, out, _ = run(capsys, "--precision", str(precision), "--query", "one")
    assert code == 0
    assert_tables_show(out, list(TOKENS), INPUTS, query=4, precision=precision)
    number = re.compile(rf"-?\d+\.\d{{{precision}}}" if precision else r"-?\d+")
    for block in out.strip().split("\n\n"):
        for row in block.split("\n")[2:]:
            assert all(number.fullmatch(word) for word in row.split()[1:]), row


def test_json_round_trip(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--json", "--query", "with")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["tokens"] == list(TOKENS)
    assert data["query"]["index"] == 3
    assert data["query"]["token"] == "with"
    assert_json_matches(data, INPUTS, query=3)


def assert_json_matches(data: dict, inputs: np.ndarray, query: int) -> None:
    # JSON floats are written with repr, which round-trips exactly; allow one ulp.
    close = {"rtol": float(np.finfo(np.float64).eps), "atol": 0}
    scores = attention_scores(inputs, query)
    np.testing.assert_allclose(data["inputs"], inputs, **close)
    np.testing.assert_allclose(data["query"]["scores"], scores, **close)
    np.testing.assert_allclose(data["query"]["weights"], attention_weights(scores), **close)
    np.testing.assert_allclose(data["query"]["context"], context_vector(inputs, query), **close)
    every = data["all_queries"]
    np.testing.assert_allclose(every["scores"], attention_scores(inputs), **close)
    weights = attention_weights(attention_scores(inputs))
    np.testing.assert_allclose(every["weights"], weights, **close)
    np.testing.assert_allclose(every["context"], context_vectors(inputs), **close)


def test_json_ignores_precision(capsys: pytest.CaptureFixture[str]) -> None:
    _, full, _ = run(capsys, "--json")
    _, rounded, _ = run(capsys, "--json", "--precision", "1")
    assert full == rounded


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--query", "--input", "--precision", "--json"):
        assert option in out


def test_docstring_examples_run() -> None:
    # pytest's --doctest-modules skips __main__.py, so run its examples here.
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(cli, optionflags=flags)
    assert result.attempted > 0
    assert result.failed == 0


# Input files ----------------------------------------------------------------------

EMBEDDINGS = np.array([[1.0, 0.5, -0.25], [0.0, 2.0, 1.0], [-1.5, 0.25, 0.75], [0.5, 0.5, 0.5]])
NAMES = ["the", "cat", "sat", "down"]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def csv_text(names: list[str] | None, rows: np.ndarray, header: str | None = None) -> str:
    lines = [header] if header else []
    for i, row in enumerate(rows):
        cells = [repr(float(v)) for v in row]
        lines.append(",".join([names[i], *cells] if names else cells))
    return "\n".join(lines) + "\n"


def input_files(tmp_path: Path) -> dict[str, tuple[Path, list[str]]]:
    """The same embeddings in every format the command reads, with the names it should use."""
    by_index = [str(i) for i in range(len(EMBEDDINGS))]
    np.save(tmp_path / "plain.npy", EMBEDDINGS)
    return {
        "npy": (tmp_path / "plain.npy", by_index),
        "csv": (write(tmp_path / "plain.csv", csv_text(None, EMBEDDINGS)), by_index),
        "csv-names": (write(tmp_path / "named.csv", csv_text(NAMES, EMBEDDINGS)), NAMES),
        "csv-header": (
            write(tmp_path / "header.csv", csv_text(NAMES, EMBEDDINGS, "token,x,y,z")),
            NAMES,
        ),
        "csv-spaces-blank-lines": (
            write(tmp_path / "spaced.csv", "\n" + csv_text(NAMES, EMBEDDINGS).replace(",", ", ")),
            NAMES,
        ),
        "csv-bom": (
            write(tmp_path / "bom.csv", "\ufeff" + csv_text(NAMES, EMBEDDINGS)),
            NAMES,
        ),
        "json-list": (write(tmp_path / "list.json", json.dumps(EMBEDDINGS.tolist())), by_index),
        "json-object": (
            write(
                tmp_path / "object.json",
                json.dumps({"tokens": NAMES, "inputs": EMBEDDINGS.tolist()}),
            ),
            NAMES,
        ),
        "json-object-without-tokens": (
            write(tmp_path / "bare.json", json.dumps({"inputs": EMBEDDINGS.tolist()})),
            by_index,
        ),
    }


FORMATS = [
    "npy",
    "csv",
    "csv-names",
    "csv-header",
    "csv-spaces-blank-lines",
    "csv-bom",
    "json-list",
    "json-object",
    "json-object-without-tokens",
]


@pytest.mark.parametrize("kind", FORMATS)
def test_every_input_format_as_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    path, tokens = input_files(tmp_path)[kind]
    code, out, err = run(capsys, "--input", str(path), "--json", "--query", "-2")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["tokens"] == tokens
    assert data["query"] == data["query"] | {"index": 2, "token": tokens[2]}
    assert_json_matches(data, EMBEDDINGS, query=2)


@pytest.mark.parametrize("kind", FORMATS)
def test_every_input_format_as_tables(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    path, tokens = input_files(tmp_path)[kind]
    code, out, _ = run(capsys, "--input", str(path))
    assert code == 0
    assert_tables_show(out, tokens, EMBEDDINGS, query=0)  # a file's default: token 0


def test_query_by_token_name_from_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path, _ = input_files(tmp_path)["json-object"]
    code, out, _ = run(capsys, "--input", str(path), "--query", "sat")
    assert code == 0
    assert 'Attention scores of the query "sat" (token 2)' in out
    assert_tables_show(out, NAMES, EMBEDDINGS, query=2)


def test_float32_npy_is_computed_in_float32(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    np.save(tmp_path / "f32.npy", EMBEDDINGS.astype(np.float32))
    code, out, _ = run(capsys, "--input", str(tmp_path / "f32.npy"), "--json")
    assert code == 0
    single = EMBEDDINGS.astype(np.float32)
    expected = context_vectors(single)
    assert expected.dtype == np.float32
    # float32 values written as float64 reprs: equal to the float32 results exactly.
    np.testing.assert_array_equal(json.loads(out)["all_queries"]["context"], expected)


# Errors: one line on stderr, exit status 2 -------------------------------------------


def assert_one_line_error(
    capsys: pytest.CaptureFixture[str], argv: list[str], *phrases: str
) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.endswith("\n")
    assert err.count("\n") == 1, err
    assert err.startswith("attention-ref: error: ")
    assert "Traceback" not in err
    for phrase in phrases:
        assert phrase in err
    return err


@pytest.mark.parametrize(
    ("argv", "phrases"),
    [
        (["--query", "voyage"], ["'voyage' is neither a token", "journey", "integer index"]),
        (["--query", "6"], ["--query 6", "out of range for 6 token(s)", "-6 <= query < 6"]),
        (["--query", "-7"], ["out of range"]),
        (["--query", "1.5"], ["'1.5' is neither a token"]),
        (["--query"], ["--query", "expected one argument"]),
        (["--precision", "-1"], ["--precision", "integer from 0 to 20", "-1"]),
        (["--precision", "two"], ["--precision", "'two'"]),
        (["--verbose"], ["unrecognized arguments: --verbose"]),
        (["extra"], ["unrecognized arguments: extra"]),
    ],
)
def test_bad_arguments(capsys: pytest.CaptureFixture[str], argv, phrases) -> None:
    assert_one_line_error(capsys, argv, *phrases)


BAD_FILES = {
    # name: (file name, content, phrases the message must contain)
    "missing": ("missing.csv", None, ["missing.csv", "cannot read it", "No such file"]),
    "extension": ("inputs.txt", "1,2\n", ["inputs.txt", "unsupported file type '.txt'", ".npy"]),
    "no-extension": ("inputs", "1,2\n", ["unsupported file type"]),
    "ragged-csv": ("ragged.csv", "a,1,2\nb,3\n", ["ragged.csv", "line 2 has 2 columns"]),
    "csv-not-a-number": ("word.csv", "1,2\n3,x\n", ["line 2: 'x' is not a number"]),
    "csv-nan": ("nan.csv", "1,2\n3,nan\n", ["nan.csv", "finite", "got nan at index (1, 1)"]),
    "csv-inf": ("inf.csv", "1,inf\n", ["got inf at index (0, 1)"]),
    "csv-empty": ("empty.csv", "", ["no rows of numbers"]),
    "csv-only-names": ("names.csv", "a\nb\n", ["N >= 1 and D >= 1", "(1, 0)"]),
    "json-nan": ("nan.json", "[[1, 2], [NaN, 0]]", ["got nan at index (1, 0)"]),
    "json-invalid": ("broken.json", "[[1, 2], [3,", ["not valid JSON"]),
    "json-ragged": ("ragged.json", "[[1, 2], [3]]", ["rectangular", "ragged"]),
    "json-strings": ("text.json", '[["1", "2"]]', ["inputs must contain real numbers", "strings"]),
    "json-1d": ("flat.json", "[1, 2, 3]", ["shape (N, D)", "got shape (3,)"]),
    "json-3d": ("cube.json", "[[[1, 2]], [[3, 4]]]", ["N x D matrix", "(2, 1, 2)"]),
    "json-empty": ("empty.json", "[]", ["got shape (0,)"]),
    "json-wrong-key": ("key.json", '{"input": [[1]]}', ['needs the key "inputs"', "'input'"]),
    "json-token-count": (
        "count.json",
        '{"tokens": ["a"], "inputs": [[1], [2]]}',
        ["tokens must name each of the 2 rows", "got 1"],
    ),
    "json-token-type": (
        "type.json",
        '{"tokens": [1, 2], "inputs": [[1], [2]]}',
        ["tokens must be a list of strings"],
    ),
    "json-too-large": ("huge.json", "[[1e200, 1e200]]", ["inputs are too large", "overflows"]),
    "npy-garbage": ("garbage.npy", "not numpy", ["not a .npy file"]),
    "npy-empty": ("empty.npy", "", ["not a .npy file"]),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_input_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str) -> None:
    name, content, phrases = BAD_FILES[case]
    path = tmp_path / name
    if content is not None:
        write(path, content)
    err = assert_one_line_error(capsys, ["--input", str(path)], "--input", *phrases)
    assert str(path) in err


def test_npy_with_nan(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]]))
    assert_one_line_error(capsys, ["--input", str(tmp_path / "nan.npy")], "got nan at index (0, 1)")


def test_npy_of_objects_is_refused_without_unpickling(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    np.save(tmp_path / "objects.npy", np.array([[1, None]], dtype=object), allow_pickle=True)
    assert_one_line_error(capsys, ["--input", str(tmp_path / "objects.npy")], "allow_pickle=False")


def test_directory_as_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "folder.json").mkdir()
    assert_one_line_error(capsys, ["--input", str(tmp_path / "folder.json")], "cannot read it")


def test_query_out_of_range_for_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path, _ = input_files(tmp_path)["csv-names"]
    assert_one_line_error(
        capsys, ["--input", str(path), "--query", "4"], "out of range for 4 token(s)"
    )


def test_unknown_token_in_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path, _ = input_files(tmp_path)["csv-names"]
    assert_one_line_error(
        capsys, ["--input", str(path), "--query", "dog"], "'dog'", "the, cat, sat, down"
    )


def test_ambiguous_token_name(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write(tmp_path / "twice.csv", "the,1,0\ncat,0,1\nthe,1,1\n")
    assert_one_line_error(
        capsys, ["--input", str(path), "--query", "the"], "names 2 tokens", "indices 0, 2"
    )
    assert main(["--input", str(path), "--query", "2"]) == 0  # an index is never ambiguous
    capsys.readouterr()


# The real command -----------------------------------------------------------------


def test_runs_as_a_module_in_a_subprocess(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "attention_ref"]
    done = subprocess.run(
        [*command, "--query", "starts"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert_tables_show(done.stdout, list(TOKENS), INPUTS, query=2)

    failed = subprocess.run(
        [*command, "--input", str(tmp_path / "absent.npy")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert failed.returncode == 2
    assert failed.stdout == ""
    assert failed.stderr.count("\n") == 1
    assert failed.stderr.startswith("attention-ref: error: --input ")


# Hostile files, arguments and readers: still one line, never a traceback -------------


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def npy_header_only(path: Path, shape: tuple[int, ...], data: bytes = b"") -> Path:
    """A .npy file whose header promises `shape` (float64), followed by `data` only."""
    with path.open("wb") as file:
        header = {"descr": "<f8", "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(file, header)
        file.write(data)
    return path


HOSTILE_FILES = {
    # name: (make the file in tmp_path, phrases the one-line message must contain)
    "json-nested-100000-deep": (
        lambda d: write(d / "deep.json", "[" * 100_000 + "]" * 100_000),
        ["not valid JSON for the command: nested too deeply"],
    ),
    "json-nested-deeper-than-numpy": (
        lambda d: write(d / "deep.json", "[" * 100 + "1" + "]" * 100),
        ["inputs cannot be read as an array", "dimension"],
    ),
    "json-5000-digit-integer": (
        lambda d: write(d / "digits.json", "[[" + "1" * 5000 + "]]"),
        ["not valid JSON", "4300 digits"],
    ),
    "csv-field-over-csv-limit": (
        lambda d: write(d / "field.csv", "a," + "1" * 200_000 + "\n"),
        ["line 1: field larger than field limit (131072)"],
    ),
    "csv-not-utf8": (
        lambda d: write_bytes(d / "latin.csv", b"caf\xe9,1,2\n"),
        ["not UTF-8 text", "can't decode byte 0xe9"],
    ),
    "npy-header-promises-10^12-numbers": (
        lambda d: npy_header_only(d / "huge.npy", (10**6, 10**6)),
        ["header promises an array of shape (1000000, 1000000)", "at most 1,000,000 numbers"],
    ),
    "npy-truncated": (
        lambda d: npy_header_only(d / "short.npy", (3, 3), np.ones(2).tobytes()),
        ["Failed to read all data", "could only read 2 elements"],
    ),
    "npy-20000-tokens": (
        lambda d: np.save(d / "long.npy", np.ones((20_000, 1))) or d / "long.npy",
        ["20,000 tokens are more than the 10,000 the command reads"],
    ),
    "csv-10002-rows": (
        lambda d: write(d / "long.csv", "1,2\n" * 10_002),
        ["over 10,000 tokens are more than the 10,000 the command reads"],
    ),
    "json-5000-bad-token-names": (
        lambda d: write(
            d / "names.json", json.dumps({"tokens": [1] * 5000, "inputs": [[1]] * 5000})
        ),
        ["tokens must be a list of strings; got [1, 1, 1, 1, 1, 1, ...]"],
    ),
}


@pytest.mark.parametrize("case", HOSTILE_FILES)
def test_hostile_input_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str) -> None:
    make, phrases = HOSTILE_FILES[case]
    path = make(tmp_path)
    err = assert_one_line_error(capsys, ["--input", str(path)], f"--input {path}: ", *phrases)
    assert len(err) < 400, err  # a message, not a dump of the file


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_that_never_ends_is_read_no_further_than_the_limit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    assert_one_line_error(
        capsys, ["--input", str(tmp_path / "zero.json")], "larger than 32 MiB, the most"
    )


@pytest.mark.parametrize(
    ("precision", "shown"),
    [
        ("10000000000", "got 10000000000"),
        ("100000000000000000000", "got 100000000000000000000"),
        ("21", "got 21"),
        ("9" * 5000, "got '99999999999999999999... (5,000 characters)'"),
    ],
)
def test_precision_is_bounded_in_the_parser(
    capsys: pytest.CaptureFixture[str], precision: str, shown: str
) -> None:
    assert_one_line_error(
        capsys,
        ["--precision", precision],
        "argument --precision: needs an integer from 0 to 20; " + shown,
    )


def test_precision_20_is_the_largest(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--precision", "20")
    assert code == 0
    assert_tables_show(out, list(TOKENS), INPUTS, query=1, precision=20)


def test_the_default_query_of_a_file_is_index_0_even_if_a_token_is_named_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path / "zero.csv", "a,1,2\nb,3,4\n0,5,6\n")
    code, out, _ = run(capsys, "--input", str(path))
    assert code == 0
    assert 'Attention scores of the query "a" (token 0)' in out
    code, out, _ = run(capsys, "--input", str(path), "--query", "0")  # a name wins, as documented
    assert 'Attention scores of the query "0" (token 2)' in out


def long_input(tmp_path: Path, num_tokens: int) -> Path:
    np.save(tmp_path / "long.npy", np.random.default_rng(0).standard_normal((num_tokens, 4)))
    return tmp_path / "long.npy"


def test_past_100_tokens_the_all_pairs_tables_are_left_out_and_say_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = long_input(tmp_path, 3000)
    code, out, err = run(capsys, "--input", str(path))
    assert (code, err) == (0, "")
    for what in ("attention scores", "attention weights"):
        assert f"All queries at once: {what}, " in out
    assert "left out for 3,000 tokens (over 100; see --all-pairs)" in out
    assert out.count("left out for 3,000 tokens") == 2
    # N x D and 1 x N tables only: about 80 bytes per token, not 8 per pair of tokens.
    assert len(out) < 200 * 3000
    assert "All queries at once: context vectors" in out

    code, out, _ = run(capsys, "--input", str(path), "--json")
    data = json.loads(out)
    assert data["all_queries"]["scores"] is None
    assert data["all_queries"]["weights"] is None
    np.testing.assert_allclose(data["all_queries"]["context"], context_vectors(np.load(path)))


@pytest.mark.parametrize("num_tokens", [100, 101])
def test_all_pairs_shows_them_past_the_limit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, num_tokens: int
) -> None:
    path = long_input(tmp_path, num_tokens)
    inputs, tokens = np.load(path), [str(i) for i in range(num_tokens)]
    _, default, _ = run(capsys, "--input", str(path))
    _, out, _ = run(capsys, "--input", str(path), "--all-pairs")
    assert ("left out" in default) == (num_tokens > 100)
    assert_tables_show(out, tokens, inputs, query=0)
    _, out, _ = run(capsys, "--input", str(path), "--all-pairs", "--json")
    assert_json_matches(json.loads(out), inputs, query=0)


def test_out_of_memory_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_memory(inputs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(cli, "context_vectors", no_memory)
    assert_one_line_error(
        capsys, [], "not enough memory for attention over 6 tokens", "6 x 6 numbers"
    )


def test_ctrl_c_ends_without_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "context_vectors", interrupted)
    assert main([]) == 130
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is Linux's")
def test_a_memory_limit_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    # 10,000 tokens (the most the command reads) with --all-pairs need 10,000 x 10,000
    # tables of 763 MiB; under a 600 MiB address-space limit that allocation fails.
    # (Without --all-pairs the context vectors run in blocks, which fit: see below.)
    import resource

    limit = 600 * 2**20
    np.save(tmp_path / "n.npy", np.ones((10_000, 2)))

    def run(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "attention_ref", "--input", str(tmp_path / "n.npy"), *options],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
            check=False,
        )

    done = run("--all-pairs")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(
        "attention-ref: error: not enough memory for attention over 10,000 tokens"
    )
    # The context vectors alone never make the 10,000 x 10,000 matrix.
    done = run()
    assert done.returncode == 0, done.stderr


def cut_off(argv: list[str], lines_read: int) -> tuple[int, str]:
    """Run the command, read `lines_read` lines of its output, close the pipe.

    Returns the exit status and what the command wrote on stderr.
    """
    with subprocess.Popen(
        [sys.executable, "-m", "attention_ref", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    ) as process:
        out, err = process.stdout, process.stderr
        assert out is not None
        assert err is not None
        for _ in range(lines_read):
            out.readline()
        out.close()  # like `| head`: the reader goes away
        message = err.read()
        return process.wait(timeout=60), message


def test_a_closed_pipe_ends_quietly_every_time(tmp_path: Path) -> None:
    # `| head -1`, many times, four at a time: before the fix a traceback appeared in
    # most runs, so one run proves nothing. The big output (two 300 x 300 tables) is
    # far more than a pipe holds, so the command is always mid-write when the reader
    # goes; the small one is cut before the command writes at all.
    big = str(long_input(tmp_path, 300))
    runs = [(["--input", big, "--all-pairs"], 1)] * 12 + [([], 0)] * 12
    runs += [(["vectors"], 0)] * 8  # its own command too, cut before it writes
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda run: cut_off(*run), runs))
    for code, err in results:
        assert err == ""
        assert code == 1


def run_with(*argv: str, **popen: object) -> subprocess.CompletedProcess[str]:
    """The real command (the worked example, or `argv`), its streams as `popen` sets them."""
    return subprocess.run(
        [sys.executable, "-m", "attention_ref", *argv], cwd=ROOT, text=True, check=False, **popen
    )


@pytest.mark.skipif(sys.platform != "linux", reason="closes a file descriptor for the child")
@pytest.mark.parametrize("argv", [[], ["vectors"]])
def test_started_with_stdout_closed_ends_quietly(argv: list[str]) -> None:
    done = run_with(*argv, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    assert (done.returncode, done.stderr) == (1, "")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [[], ["vectors"], ["vectors", "--output", "/dev/full"]])
def test_a_write_that_fails_is_one_line(argv: list[str]) -> None:
    with open("/dev/full", "w") as full:
        done = run_with(*argv, stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == 1
    assert done.stderr == "attention-ref: error: cannot write the output: No space left on device\n"


@pytest.mark.skipif(sys.platform != "linux", reason="closes a file descriptor for the child")
def test_an_error_with_stderr_closed_still_exits_2_and_prints_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "attention_ref", "--query", "nope"],
        cwd=ROOT,
        capture_output=False,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
        preexec_fn=lambda: os.close(2),
    )
    assert (done.returncode, done.stdout) == (2, "")


def test_a_newline_in_a_path_or_a_token_name_keeps_the_error_on_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert_one_line_error(capsys, ["--input", str(tmp_path / "two\nlines.csv")], "two\\nlines")
    named = write(tmp_path / "names.json", json.dumps({"tokens": ["a\nb"], "inputs": [[1.0]]}))
    assert_one_line_error(capsys, ["--input", str(named), "--query", "c"], "(a\\nb)")
