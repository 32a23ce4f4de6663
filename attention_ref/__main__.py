"""``python -m attention_ref``: the worked example, step by step, in a terminal.

Usage::

    python -m attention_ref                    # "Your journey starts with one step"
    python -m attention_ref --query starts     # another query: a token or an index
    python -m attention_ref --input mine.csv   # your own embeddings (.npy, .csv, .json)
    python -m attention_ref --json             # every number, machine-readable
    python -m attention_ref vectors -o v.json  # test vectors (attention_ref.vectors)

It prints the three steps for one query (its scores, its weights, its context
vector), then all queries at once (the score, weight and context matrices), as
tables labelled with the tokens. The same command is installed as ``attention-ref``.

Input files hold an N x D array, one row per token:

- ``.npy``: the array (``numpy.save``); tokens are named by their index;
- ``.csv``: one row per token, optionally led by the token's name; a first row
  without any number (a header) is skipped;
- ``.json``: a list of rows, or ``{"tokens": [...], "inputs": [[...], ...]}``.

A bad argument or file is reported in one line on stderr, with exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ._validate import FloatArray, as_inputs, as_token_index
from .examples import INPUTS, TOKENS
from .simple import attention_scores, attention_weights, context_vector, context_vectors

PROG = "attention-ref"
EXAMPLE_QUERY = "journey"  # the query the lecture works through


class UsageError(Exception):
    """A bad argument or input file: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An argument parser that raises `UsageError` instead of printing the usage."""

    def error(self, message: str) -> NoReturn:
        """Raise instead of exiting, so that `main` reports every error the same way."""
        raise UsageError(message)


def build_parser() -> Parser:
    """The command line's arguments."""
    parser = Parser(
        prog=PROG,
        description="Self-attention without trainable weights, step by step: attention "
        "scores, attention weights and context vectors of a query, then of all tokens.",
    )
    parser.add_argument(
        "--query",
        metavar="TOKEN_OR_INDEX",
        help="the query: a token name, or an index (negative counts from the end); default: "
        f'"{EXAMPLE_QUERY}" in the worked example, the first token of an --input file',
    )
    parser.add_argument(
        "--input",
        metavar="FILE",
        type=Path,
        help="your own embeddings: an N x D array in a .npy, .csv or .json file "
        "(default: the worked example)",
    )
    parser.add_argument(
        "--precision",
        metavar="N",
        type=non_negative_int,
        default=4,
        help="decimals shown in the tables (default: 4; --json always gives every digit)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print every quantity as JSON instead of tables"
    )
    return parser


def non_negative_int(text: str) -> int:
    """Parse --precision: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"needs an integer >= 0; got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"needs an integer >= 0; got {value}")
    return value


# Reading the inputs ---------------------------------------------------------------


def read_inputs(path: Path) -> tuple[list[str], FloatArray]:
    """Token names and checked embeddings (N, D) from a .npy, .csv or .json file."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UsageError(
            f"--input {path}: unsupported file type {path.suffix or '(none)'!r}; "
            "use .npy, .csv or .json"
        )
    try:
        tokens, rows = reader(path)
        inputs = as_inputs(rows)  # the package's checks: shape, dtype, NaN, infinity
        if inputs.ndim != 2:
            raise ValueError(
                f"inputs must be an N x D matrix (one row per token); got shape {inputs.shape}"
            )
        return check_tokens(tokens, len(inputs)), inputs
    except OSError as error:
        raise UsageError(f"--input {path}: cannot read it: {error.strerror or error}") from None
    except (ValueError, TypeError) as error:
        raise UsageError(f"--input {path}: {error}") from None


def read_npy(path: Path) -> tuple[None, Any]:
    """A .npy file holds an array and nothing else (no pickled objects)."""
    with path.open("rb") as file:
        try:
            np.lib.format.read_magic(file)
        except ValueError:
            raise ValueError("not a .npy file (numpy.save writes one)") from None
        file.seek(0)
        return None, np.lib.format.read_array(file, allow_pickle=False)


def read_json(path: Path) -> tuple[Any, Any]:
    """A list of rows, or an object with "inputs" and optionally "tokens"."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # -sig: skip a BOM
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON: {error}") from None
    if not isinstance(data, dict):
        return None, data
    if "inputs" not in data or not set(data) <= {"tokens", "inputs"}:
        raise ValueError(
            f'a JSON object needs the key "inputs" and optionally "tokens"; got keys {sorted(data)}'
        )
    return data.get("tokens"), data["inputs"]


def read_csv(path: Path) -> tuple[list[str] | None, list[list[float]]]:
    """Rows of numbers, each optionally led by a token name; a header row is skipped."""
    with path.open(newline="", encoding="utf-8-sig") as file:  # -sig: skip a BOM
        lines = [(n, row) for n, row in enumerate(csv.reader(file), 1) if "".join(row).strip()]
    if lines and not any(is_number(cell) for cell in lines[0][1]):
        lines = lines[1:]  # a header: no number in it
    if not lines:
        raise ValueError("no rows of numbers in the file")
    named = not is_number(lines[0][1][0])  # a first column of token names
    tokens = [row[0].strip() for _, row in lines] if named else None
    width = len(lines[0][1])
    rows = []
    for n, row in lines:
        if len(row) != width:
            raise ValueError(f"line {n} has {len(row)} columns, line {lines[0][0]} has {width}")
        rows.append([parse_number(cell, n) for cell in row[named:]])
    return tokens, rows


def is_number(text: str) -> bool:
    """Whether a CSV cell reads as a number (``float`` allows spaces, nan and inf)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_number(cell: str, line: int) -> float:
    """A CSV cell as a float, or an error that says where it is."""
    if not is_number(cell):
        raise ValueError(f"line {line}: {cell.strip()!r} is not a number")
    return float(cell)


READERS = {".npy": read_npy, ".json": read_json, ".csv": read_csv}


def check_tokens(tokens: object, num_tokens: int) -> list[str]:
    """Token names from a file, one string per row; by default the row indices."""
    if tokens is None:
        return [str(i) for i in range(num_tokens)]
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError(f"tokens must be a list of strings; got {tokens!r}")
    if len(tokens) != num_tokens:
        raise ValueError(
            f"tokens must name each of the {num_tokens} rows of inputs; got {len(tokens)} names"
        )
    return tokens


def find_query(query: str, tokens: Sequence[str]) -> int:
    """The query's index: a token's name, else an integer index (negative from the end)."""
    matches = [i for i, token in enumerate(tokens) if token == query]
    if len(matches) > 1:
        raise UsageError(
            f"--query {query!r} names {len(matches)} tokens (indices "
            f"{', '.join(map(str, matches))}); give an index instead"
        )
    if matches:
        return matches[0]
    try:
        index = int(query)
    except ValueError:
        shown = ", ".join(tokens[:10]) + (", ..." if len(tokens) > 10 else "")
        raise UsageError(
            f"--query {query!r} is neither a token ({shown}) nor an integer index"
        ) from None
    try:
        return as_token_index(index, len(tokens)) % len(tokens)
    except IndexError as error:
        raise UsageError(f"--query {query}: {error}") from None


# The story's numbers ----------------------------------------------------------------


@dataclass(frozen=True)
class Walkthrough:
    """Every number of the story: one query's three steps, then all queries at once."""

    tokens: list[str]
    inputs: FloatArray  # (N, D): one embedding per token
    query: int
    scores: FloatArray  # (N,): step 1, the query's dot product with every input
    weights: FloatArray  # (N,): step 2, softmax of the scores
    context: FloatArray  # (D,): step 3, the weighted sum of the inputs
    all_scores: FloatArray  # (N, N): row i holds the scores of query i
    all_weights: FloatArray  # (N, N): each row sums to 1
    all_context: FloatArray  # (N, D): row i is the context vector of token i


def walk_through(tokens: list[str], inputs: FloatArray, query: int) -> Walkthrough:
    """Compute every quantity with the package's public functions."""
    scores = attention_scores(inputs, query)
    all_scores = attention_scores(inputs)
    return Walkthrough(
        tokens=tokens,
        inputs=inputs,
        query=query,
        scores=scores,
        weights=attention_weights(scores),
        context=context_vector(inputs, query),
        all_scores=all_scores,
        all_weights=attention_weights(all_scores),
        all_context=context_vectors(inputs),
    )


def story_of(args: argparse.Namespace) -> Walkthrough:
    """Everything to print, from the parsed arguments; bad input raises `UsageError`."""
    if args.input is None:
        tokens, inputs, default_query = list(TOKENS), INPUTS, EXAMPLE_QUERY
    else:
        tokens, inputs = read_inputs(args.input)
        default_query = "0"
    query = find_query(default_query if args.query is None else args.query, tokens)
    try:
        return walk_through(tokens, inputs, query)
    except (ValueError, TypeError) as error:  # the package's checks, e.g. overflowing scores
        raise UsageError(f"--input {args.input}: {error}") from None


# Output ----------------------------------------------------------------------------


def table(values: FloatArray, rows: Sequence[str], columns: Sequence[str], precision: int) -> str:
    """A matrix as aligned text: column labels on top, one labelled line per row."""
    cells = [[f"{value:.{precision}f}" for value in row] for row in np.atleast_2d(values)]
    widths = [max(len(label), *(len(row[j]) for row in cells)) for j, label in enumerate(columns)]
    indent = max(len(label) for label in rows)
    lines = [" " * indent + "".join(f"  {c:>{w}}" for c, w in zip(columns, widths, strict=True))]
    for label, row in zip(rows, cells, strict=True):
        numbers = "".join(f"  {c:>{w}}" for c, w in zip(row, widths, strict=True))
        lines.append(f"{label:<{indent}}{numbers}")
    return "\n".join(lines)


def to_text(story: Walkthrough, precision: int) -> str:
    """The walkthrough as titled tables, in the order of the story."""
    tokens, query = story.tokens, story.tokens[story.query]
    dims = [f"d{k}" for k in range(story.inputs.shape[1])]
    n, d = story.inputs.shape
    sections = [
        (f"Inputs: {n} tokens x {d} dimensions", story.inputs, tokens, dims),
        (
            f'Step 1. Attention scores of the query "{query}" (token {story.query}): '
            "its dot product with every input",
            story.scores,
            [query],
            tokens,
        ),
        (
            f'Step 2. Attention weights of "{query}": softmax of its scores, summing to 1',
            story.weights,
            [query],
            tokens,
        ),
        (
            f'Step 3. Context vector of "{query}": the inputs weighted by its weights, summed',
            story.context,
            [query],
            dims,
        ),
        (
            "All queries at once: attention scores, inputs @ inputs.T (row i: query i)",
            story.all_scores,
            tokens,
            tokens,
        ),
        (
            "All queries at once: attention weights, softmax of each row",
            story.all_weights,
            tokens,
            tokens,
        ),
        (
            "All queries at once: context vectors, weights @ inputs (row i: token i)",
            story.all_context,
            tokens,
            dims,
        ),
    ]
    return "\n\n".join(
        f"{title}\n{table(values, rows, columns, precision)}"
        for title, values, rows, columns in sections
    )


def to_json(story: Walkthrough) -> str:
    """The walkthrough as one line of JSON, every number with all its digits."""
    return json.dumps(
        {
            "tokens": story.tokens,
            "inputs": story.inputs.tolist(),
            "query": {
                "index": story.query,
                "token": story.tokens[story.query],
                "scores": story.scores.tolist(),
                "weights": story.weights.tolist(),
                "context": story.context.tolist(),
            },
            "all_queries": {
                "scores": story.all_scores.tolist(),
                "weights": story.all_weights.tolist(),
                "context": story.all_context.tolist(),
            },
        }
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command line with `argv` (default: ``sys.argv[1:]``).

    Parameters
    ----------
    argv : list of str, optional
        The arguments, without the program's name.

    Returns
    -------
    int
        The exit status: 0, or 2 after reporting a bad argument or input file.

    Examples
    --------
    >>> main(["--query", "-1", "--precision", "2"])  # doctest: +ELLIPSIS
    Inputs: 6 tokens x 3 dimensions
    ...
    Step 3. Context vector of "step": the inputs weighted by its weights, summed
            d0    d1    d2
    step  0.42  0.65  0.56
    ...
    0
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["vectors"]:  # its own command, with its own arguments
        from .vectors import main as write_vectors

        return write_vectors(argv[1:])
    try:
        args = build_parser().parse_args(argv)
        story = story_of(args)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    print(to_json(story) if args.json else to_text(story, args.precision))
    return 0


if __name__ == "__main__":
    sys.exit(main())
