"""The command line's input files: token names and an N x D array of embeddings.

Three formats, one row per token:

- ``.npy``: the array (``numpy.save``); tokens are named by their index;
- ``.csv``: one row per token, optionally led by the token's name; a first row
  without any number (a header) is skipped;
- ``.json``: a list of rows, or ``{"tokens": [...], "inputs": [[...], ...]}``.

A hostile file is refused with a ``ValueError`` that says why, before anything large is
allocated: at most `MAX_TOKENS` rows and `MAX_NUMBERS` numbers, and for the text formats
at most `MAX_TEXT_BYTES` bytes (checked while reading, so a device or a pipe cannot
make it read forever).
"""

from __future__ import annotations

import csv
import io
import json
import math
import reprlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._validate import FloatArray, as_inputs

# N: attention over all tokens at once makes N x N numbers, 800 MB in float64 here.
MAX_TOKENS = 10_000
MAX_NUMBERS = 1_000_000  # N x D
# Room for MAX_NUMBERS numbers written with every digit (about 25 characters each).
MAX_TEXT_BYTES = 32 * 2**20
TOO_MANY_TOKENS = (
    f"tokens are more than the {MAX_TOKENS:,} the command reads "
    "(attention over all of them at once makes N x N numbers)"
)


def read_inputs(path: Path) -> tuple[list[str], FloatArray]:
    """Token names and checked embeddings (N, D) from a .npy, .csv or .json file.

    Raises
    ------
    ValueError
        For a file that cannot be read or is not N x D numbers (the message does not
        repeat the path); ``TypeError`` from the package's checks, for what is not a
        number.
    """
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(
            f"unsupported file type {path.suffix or '(none)'!r}; use .npy, .csv or .json"
        )
    try:
        tokens, rows = reader(path)
    except OSError as error:
        raise ValueError(f"cannot read it: {error.strerror or error}") from None
    inputs = as_inputs(rows)  # the package's checks: shape, dtype, NaN, infinity
    if inputs.ndim != 2:
        raise ValueError(
            f"inputs must be an N x D matrix (one row per token); got shape {inputs.shape}"
        )
    if len(inputs) > MAX_TOKENS:
        raise ValueError(f"{len(inputs):,} {TOO_MANY_TOKENS}")
    return check_tokens(tokens, len(inputs)), inputs


def read_npy(path: Path) -> tuple[None, Any]:
    """A .npy file holds an array and nothing else (no pickled objects).

    Its header is checked before the data is read: a header that promises a huge
    array is refused, not allocated.
    """
    with path.open("rb") as file:
        try:
            version = np.lib.format.read_magic(file)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(file)
        except ValueError as error:
            raise ValueError(f"not a .npy file (numpy.save writes one): {error}") from None
        count = math.prod(shape)
        if count > MAX_NUMBERS or count * dtype.itemsize > MAX_NUMBERS * 8:
            raise ValueError(
                f"its header promises an array of shape {shape} and dtype {dtype}; "
                f"the command reads at most {MAX_NUMBERS:,} numbers"
            )
        file.seek(0)
        return None, np.lib.format.read_array(file, allow_pickle=False)


def read_text(path: Path) -> str:
    """The text of a .csv or .json file, at most `MAX_TEXT_BYTES` of UTF-8."""
    with path.open("rb") as file:
        data = file.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        raise ValueError(
            f"the file is larger than {MAX_TEXT_BYTES // 2**20} MiB, the most the command "
            "reads from a .csv or .json file"
        )
    try:
        return data.decode("utf-8-sig")  # -sig: skip a BOM
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text ({error})") from None


def read_json(path: Path) -> tuple[Any, Any]:
    """A list of rows, or an object with "inputs" and optionally "tokens"."""
    try:
        data = json.loads(read_text(path))
    except RecursionError:
        raise ValueError("not valid JSON for the command: nested too deeply") from None
    except ValueError as error:  # invalid JSON, or an integer of over 4300 digits
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
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    lines = []  # (line number, cells) of the rows that are not blank
    try:
        for row in reader:
            if "".join(row).strip():
                lines.append((reader.line_num, row))
            if len(lines) > MAX_TOKENS + 1:  # + 1: a header
                raise ValueError(f"over {MAX_TOKENS:,} {TOO_MANY_TOKENS}")
    except csv.Error as error:  # e.g. a field longer than csv's limit of 131,072 characters
        raise ValueError(f"line {reader.line_num}: {error}") from None
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


READERS: dict[str, Callable[[Path], tuple[Any, Any]]] = {
    ".npy": read_npy,
    ".json": read_json,
    ".csv": read_csv,
}


def check_tokens(tokens: object, num_tokens: int) -> list[str]:
    """Token names from a file, one string per row; by default the row indices."""
    if tokens is None:
        return [str(i) for i in range(num_tokens)]
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise ValueError(f"tokens must be a list of strings; got {reprlib.repr(tokens)}")
    if len(tokens) != num_tokens:
        raise ValueError(
            f"tokens must name each of the {num_tokens} rows of inputs; got {len(tokens)} names"
        )
    return tokens
