"""``python -m attention_ref``: the worked example, step by step, in a terminal.

Usage::

    python -m attention_ref                    # "Your journey starts with one step"
    python -m attention_ref --query starts     # another query: a token or an index
    python -m attention_ref --input mine.csv   # your own embeddings (.npy, .csv, .json)
    python -m attention_ref --sentence "the cat sat on the mat" --query mat  # GloVe vectors
    python -m attention_ref --json             # every number, machine-readable
    python -m attention_ref vectors -o v.json  # test vectors (attention_ref.vectors)

It prints the three steps for one query (its scores, its weights, its context
vector), then all queries at once (the score, weight and context matrices), as
tables labelled with the tokens. Past `ALL_PAIRS_LIMIT` tokens the two N x N tables
(and their numbers in ``--json``) are left out, saying so, unless ``--all-pairs``
asks for them. The same command is installed as ``attention-ref``.

``--sentence`` embeds the words of a sentence with the GloVe vectors that the package
ships (`attention_ref.examples.glove`: 50 dimensions, the 20,000 most frequent words).

Input files hold an N x D array, one row per token; ``attention_ref._input_files``
reads them and states the formats and the limits.

A bad argument or file is reported in one line on stderr, with exit status 2. If the
reader of the output goes away (``| head``), the command stops quietly with status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from ._input_files import MAX_NUMBERS, MAX_TOKENS, read_inputs
from ._validate import FloatArray, as_token_index
from .examples import INPUTS, TOKENS, glove
from .simple import attention_scores, attention_weights, context_vector, context_vectors

PROG = "attention-ref"
EXAMPLE_QUERY = "journey"  # the query the lecture works through
ALL_PAIRS_LIMIT = 100  # tokens; past it, the N x N tables only with --all-pairs
MAX_PRECISION = 20  # decimals; float64 holds 17 significant digits


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
        epilog="Exit status: 0, or 2 after a bad argument or input file (one line on "
        "stderr), or 1 if the output is cut off (e.g. by | head, or a full disk).",
    )
    parser.add_argument(
        "--query",
        metavar="TOKEN_OR_INDEX",
        help="the query: a token name, or an index (negative counts from the end; a name wins "
        f'where a token is named like an index); default: "{EXAMPLE_QUERY}" in the worked '
        "example, the first token (index 0) of an --input file or a --sentence",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--input",
        metavar="FILE",
        type=Path,
        help="your own embeddings: an N x D array in a .npy, .csv or .json file, at most "
        f"{MAX_TOKENS:,} tokens and {MAX_NUMBERS:,} numbers (default: the worked example)",
    )
    source.add_argument(
        "--sentence",
        metavar="TEXT",
        help="a sentence, embedded with real word vectors: GloVe, 50 dimensions, "
        'e.g. "the cat sat on the mat because it is warm"',
    )
    parser.add_argument(
        "--precision",
        metavar="N",
        type=precision,
        default=4,
        help=f"decimals shown in the tables, 0 to {MAX_PRECISION} (default: 4; --json "
        "always gives every digit)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print every quantity as JSON instead of tables"
    )
    parser.add_argument(
        "--all-pairs",
        action="store_true",
        help=f"show the N x N scores and weights of all queries even past {ALL_PAIRS_LIMIT} "
        "tokens (they are left out there: N x N numbers are too many to read)",
    )
    return parser


def precision(text: str) -> int:
    """Parse --precision: an integer from 0 to `MAX_PRECISION`."""
    shown = shorten(text)
    needs = f"needs an integer from 0 to {MAX_PRECISION}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{needs}; got {shown!r}") from None
    if not 0 <= value <= MAX_PRECISION:
        raise argparse.ArgumentTypeError(f"{needs}; got {shown}")
    return value


def shorten(text: str, limit: int = 40) -> str:
    """`text` for an error message: cut, and saying so, past `limit` characters."""
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text):,} characters)"


def read_sentence(sentence: str) -> tuple[list[str], FloatArray]:
    """The words of a sentence and their GloVe vectors (N, 50)."""
    try:
        tokens, vectors = glove(sentence)
    except (KeyError, ValueError) as error:  # an unknown word, or no word at all
        raise UsageError(f"--sentence: {error}") from None
    return list(tokens), vectors


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
            f"--query {shorten(query)!r} is neither a token ({shown}) nor an integer index"
        ) from None
    try:
        return as_token_index(index, len(tokens)) % len(tokens)
    except IndexError as error:
        raise UsageError(f"--query {query}: {error}") from None


@dataclass(frozen=True)
class Walkthrough:
    """Every number of the story: one query's three steps, then all queries at once."""

    tokens: list[str]
    inputs: FloatArray  # (N, D): one embedding per token
    query: int
    scores: FloatArray  # (N,): step 1, the query's dot product with every input
    weights: FloatArray  # (N,): step 2, softmax of the scores
    context: FloatArray  # (D,): step 3, the weighted sum of the inputs
    all_scores: FloatArray | None  # (N, N): row i holds the scores of query i; or left out
    all_weights: FloatArray | None  # (N, N): each row sums to 1; or left out
    all_context: FloatArray  # (N, D): row i is the context vector of token i

    @classmethod
    def compute(
        cls, tokens: list[str], inputs: FloatArray, query: int, *, all_pairs: bool
    ) -> Walkthrough:
        """Compute every quantity with the package's public functions."""
        scores = attention_scores(inputs, query)
        all_scores = attention_scores(inputs) if all_pairs else None
        return cls(
            tokens=tokens,
            inputs=inputs,
            query=query,
            scores=scores,
            weights=attention_weights(scores),
            context=context_vector(inputs, query),
            all_scores=all_scores,
            all_weights=None if all_scores is None else attention_weights(all_scores),
            all_context=context_vectors(inputs),
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Walkthrough:
        """The walkthrough the parsed arguments ask for; bad input raises `UsageError`."""
        if args.sentence is not None:
            tokens, inputs = read_sentence(args.sentence)
            query = 0 if args.query is None else find_query(args.query, tokens)
        elif args.input is None:
            tokens, inputs = list(TOKENS), INPUTS
            query = find_query(EXAMPLE_QUERY if args.query is None else args.query, tokens)
        else:
            try:
                tokens, inputs = read_inputs(args.input)
            except (ValueError, TypeError) as error:
                raise UsageError(f"--input {args.input}: {error}") from None
            # The first token: index 0 itself, even where a token is named "0".
            query = 0 if args.query is None else find_query(args.query, tokens)
        all_pairs = args.all_pairs or len(tokens) <= ALL_PAIRS_LIMIT
        try:
            return cls.compute(tokens, inputs, query, all_pairs=all_pairs)
        except (ValueError, TypeError) as error:  # the package's checks, e.g. an overflow
            raise UsageError(f"--input {args.input}: {error}") from None
        except MemoryError:
            n = len(tokens)
            raise UsageError(
                f"not enough memory for attention over {n:,} tokens, which makes "
                f"{n:,} x {n:,} numbers ({n * n * inputs.itemsize / 2**20:,.0f} MiB per "
                "matrix); try fewer tokens"
            ) from None


def table(
    values: FloatArray, rows: Sequence[str], columns: Sequence[str], precision: int
) -> Iterator[str]:
    """A matrix as aligned text, a line at a time: column labels, then labelled rows."""
    values = np.atleast_2d(values)

    def cell(value: float) -> str:
        return f"{value:.{precision}f}"

    # A column's widest number is its largest or its most negative one, so the widths
    # need no pass that formats every number twice.
    widths = [
        max(len(label), len(cell(top)), len(cell(bottom)))
        for label, top, bottom in zip(columns, values.max(axis=0), values.min(axis=0), strict=True)
    ]
    indent = max(len(label) for label in rows)
    yield " " * indent + "".join(f"  {c:>{w}}" for c, w in zip(columns, widths, strict=True))
    for label, row in zip(rows, values, strict=True):
        numbers = "".join(f"  {cell(v):>{w}}" for v, w in zip(row, widths, strict=True))
        yield f"{label:<{indent}}{numbers}"


def to_text(walk: Walkthrough, precision: int) -> Iterator[str]:
    """The walkthrough as titled tables, in the order of the story, a line at a time."""
    tokens, one, n = walk.tokens, [walk.tokens[walk.query]], len(walk.tokens)
    dims = [f"d{k}" for k in range(walk.inputs.shape[1])]
    tables = [  # (values, row labels, column labels), in the order of TITLES
        (walk.inputs, tokens, dims),
        (walk.scores, one, tokens),
        (walk.weights, one, tokens),
        (walk.context, one, dims),
        (walk.all_scores, tokens, tokens),
        (walk.all_weights, tokens, tokens),
        (walk.all_context, tokens, dims),
    ]
    for number, (template, (values, rows, columns)) in enumerate(zip(TITLES, tables, strict=True)):
        title = template.format(n=n, d=len(dims), query=one[0], index=walk.query)
        if number:
            yield ""  # a blank line between tables
        if values is None:
            yield f"{title}: left out for {n:,} tokens (over {ALL_PAIRS_LIMIT}; see --all-pairs)"
            continue
        yield title
        yield from table(values, rows, columns, precision)


TITLES = (
    "Inputs: {n} tokens x {d} dimensions",
    'Step 1. Attention scores of the query "{query}" (token {index}): its dot product with '
    "every input",
    'Step 2. Attention weights of "{query}": softmax of its scores, summing to 1',
    'Step 3. Context vector of "{query}": the inputs weighted by its weights, summed',
    "All queries at once: attention scores, inputs @ inputs.T (row i: query i)",
    "All queries at once: attention weights, softmax of each row",
    "All queries at once: context vectors, weights @ inputs (row i: token i)",
)


def to_json(walk: Walkthrough) -> str:
    """The walkthrough as one line of JSON, every number with all its digits.

    Matrices left out (past `ALL_PAIRS_LIMIT` tokens without ``--all-pairs``) are null.
    """
    return json.dumps(
        {
            "tokens": walk.tokens,
            "inputs": walk.inputs.tolist(),
            "query": {
                "index": walk.query,
                "token": walk.tokens[walk.query],
                "scores": walk.scores.tolist(),
                "weights": walk.weights.tolist(),
                "context": walk.context.tolist(),
            },
            "all_queries": {
                "scores": None if walk.all_scores is None else walk.all_scores.tolist(),
                "weights": None if walk.all_weights is None else walk.all_weights.tolist(),
                "context": walk.all_context.tolist(),
            },
        }
    )


def write_lines(lines: Iterable[str]) -> None:
    """Write `lines` to stdout as they come, so that a large output is never held whole."""
    if sys.stdout is None:  # started with stdout closed (>&-): no reader at all
        raise BrokenPipeError(errno.EPIPE, "standard output is closed")
    for line in lines:
        sys.stdout.write(line + "\n")
    sys.stdout.flush()


def silence_stdout() -> None:
    """After a broken pipe, point stdout at devnull so that Python's last flush passes.

    The recipe of Python's documentation (the signal module's note on SIGPIPE).
    """
    with contextlib.suppress(AttributeError, OSError, ValueError):  # None, or not a file
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def report(message: str) -> None:
    """One line on stderr, even for a path or a token with a newline in it.

    Nothing if there is no stderr (``2>&-`` closes it).
    """
    if sys.stderr is not None:
        one_line = message.replace("\r", "\\r").replace("\n", "\\n")
        print(f"{PROG}: error: {one_line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the command line with `argv` (default: ``sys.argv[1:]``).

    Parameters
    ----------
    argv : list of str, optional
        The arguments, without the program's name.

    Returns
    -------
    int
        The exit status: 0; 2 after reporting a bad argument or input file; 1 if the
        output was cut off (a closed pipe, quietly; a write that failed, with a
        message); 130 if interrupted.

    Examples
    --------
    >>> from attention_ref.__main__ import main
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
    try:
        if argv[:1] == ["vectors"]:  # its own command, with its own arguments
            from .vectors import main as write_vectors

            return write_vectors(argv[1:])
        args = build_parser().parse_args(argv)
        walk = Walkthrough.from_args(args)
        write_lines([to_json(walk)] if args.json else to_text(walk, args.precision))
    except UsageError as error:
        report(str(error))
        return 2
    except MemoryError:
        report("not enough memory to print the output")
        return 2
    except BrokenPipeError:  # e.g. | head: the reader has all it wants
        silence_stdout()
        return 1
    except OSError as error:  # writing failed, e.g. a full disk: the output is cut short
        silence_stdout()
        report(f"cannot write the output: {error.strerror or error}")
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
