r"""Test vectors: reference cases that any attention implementation can check itself against.

``python -m attention_ref vectors --output attention-ref-vectors.json`` writes them as one
versioned JSON file; the site offers the same file for download. Each case holds the
inputs of scaled dot-product attention (query, key, value, scale, mask, causal flag), the
scores, weights and context vectors this package computes for them, and the largest
difference from those numbers that a correct implementation may show.

The cases are the worked example (Raschka, *Build a Large Language Model (From
Scratch)*, chapter 3) in float64 and float32, seeded random cases of several shapes,
extreme values (scores shifted by 1000, wide gaps, tiny inputs), padding and causal
masks, rows and matrices with every key masked, and the small corner cases (one token,
one dimension, ties) where implementations tend to differ.

What a case means: with the query $Q$ (L x E), key $K$ (S x E), value $V$ (S x Ev)
and scale $s$,

$$
\text{scores} = s\, Q K^\top, \qquad
\text{weights}_{i} = \operatorname{softmax}_{j \in A_i}(\text{scores}_{ij}), \qquad
\text{context} = \text{weights}\, V
$$

where $A_i$, the keys query $i$ may attend to, are those with ``mask[i][j]`` true (all
keys without a mask) and, with ``causal``, $j \le i$. Weights outside $A_i$ are 0, and
a query with $A_i$ empty gets weights 0 and a context of 0 (as PyTorch's
``scaled_dot_product_attention`` since 2.5). The scores are stored before any masking, so
that every number in the file is finite and the file is plain JSON.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from ._validate import FloatArray
from .examples import INPUTS
from .trainable import scaled_dot_product_attention

__all__ = ["SCHEMA_VERSION", "build_vectors", "main", "to_json", "tolerances"]

SCHEMA_VERSION = 1  # raised whenever a field changes meaning or is removed
FORMAT = "attention-ref test vectors"
COMMAND = "python -m attention_ref vectors"
# Multiplies the round-off bounds of `tolerances`: room for a libm whose exp is off by an
# ulp or two, and for a different order of summation, without hiding a real mistake.
SAFETY = 4

DEFINITION = {
    "scores": "scale * query @ key.T, shape (L, S), before any masking",
    "allowed": "key j is allowed for query i if mask is null or mask[i][j] is true, "
    "and, when causal is true, j <= i (aligned at the top left, also when L != S)",
    "weights": "shape (L, S): softmax of each row of the scores over its allowed keys; "
    "0 for keys that are not allowed; a row with no allowed key is all 0",
    "context": "weights @ value, shape (L, Ev); 0 for a query with no allowed key",
    "tolerance": "a case passes when every entry of the implementation's scores, weights "
    "and context differs from the case's by at most tolerance.scores, tolerance.weights "
    "and tolerance.context respectively (absolute differences)",
    "numbers": "arrays are nested lists, one inner list per row; float32 cases hold "
    "float32 values written out exactly as float64 decimals",
}


@dataclass(frozen=True)
class Case:
    """The inputs of one test case, and the Python that makes them again."""

    name: str
    description: str
    # Statements that recreate query, key and value, given numpy as np and INPUTS
    # (attention_ref.examples.INPUTS): the seed and shapes of a random case.
    source: str
    query: FloatArray  # (L, E)
    key: FloatArray  # (S, E)
    value: FloatArray  # (S, Ev)
    scale: float
    causal: bool = False
    mask: np.ndarray | None = None  # (L, S) bool: True = may attend


X = np.asarray(INPUTS)  # (6, 3): "Your journey starts with one step"
X32 = X.astype(np.float32)
TO_FLOAT32 = "; query, key, value = (a.astype(np.float32) for a in (query, key, value))"


def worked_example_cases() -> list[Case]:
    """The running example of the site, as weight-free self-attention and beyond."""
    source = "query = key = value = INPUTS"
    credit = " (Raschka, Build a Large Language Model (From Scratch), chapter 3)"
    return [
        Case(
            "worked-example",
            "the site's worked example, weight-free self-attention (scale 1), as "
            "context_vectors(INPUTS)" + credit,
            source,
            X,
            X,
            X,
            1.0,
        ),
        Case(
            "worked-example-scaled",
            "the worked example with the default scale 1/sqrt(3)",
            source,
            X,
            X,
            X,
            1 / math.sqrt(3),
        ),
        Case(
            "worked-example-causal",
            "the worked example with a causal mask: each token sees itself and the tokens "
            "before it",
            source,
            X,
            X,
            X,
            1.0,
            causal=True,
        ),
        Case(
            "worked-example-float32",
            "the worked example in float32",
            source + TO_FLOAT32,
            X32,
            X32,
            X32,
            1.0,
        ),
    ]


def random_case(
    name: str,
    description: str,
    seed: int,
    shape: tuple[int, int, int, int],
    *,
    dtype: type[np.floating] = np.float64,
    causal: bool = False,
    mask: np.ndarray | None = None,
) -> Case:
    """Query (L, E), key (S, E), value (S, Ev) drawn in that order; the default scale."""
    num_queries, num_keys, dim, value_dim = shape
    rng = np.random.default_rng(seed)
    query = rng.standard_normal((num_queries, dim))  # (L, E)
    key = rng.standard_normal((num_keys, dim))  # (S, E)
    value = rng.standard_normal((num_keys, value_dim))  # (S, Ev)
    source = (
        f"rng = np.random.default_rng({seed}); "
        f"query = rng.standard_normal(({num_queries}, {dim})); "
        f"key = rng.standard_normal(({num_keys}, {dim})); "
        f"value = rng.standard_normal(({num_keys}, {value_dim}))"
    )
    if dtype is np.float32:
        source += TO_FLOAT32
    return Case(
        name,
        description,
        source,
        query.astype(dtype),
        key.astype(dtype),
        value.astype(dtype),
        1 / math.sqrt(dim),  # the default scale
        causal=causal,
        mask=mask,
    )


def random_cases() -> list[Case]:
    """Seeded random cases: square and not, float64 and float32, causal."""
    return [
        random_case("random-4x2", "random, 4 tokens of 2 features", 0, (4, 4, 2, 2)),
        random_case("random-8x16", "random, 8 tokens of 16 features", 1, (8, 8, 16, 16)),
        random_case("random-12x32", "random, 12 tokens of 32 features", 2, (12, 12, 32, 8)),
        random_case(
            "random-8x16-float32", "random-8x16 in float32", 1, (8, 8, 16, 16), dtype=np.float32
        ),
        random_case("random-cross-3x5", "3 queries, 5 keys", 3, (3, 5, 4, 2)),
        random_case("causal-5x5", "causal self-attention", 4, (5, 5, 4, 3), causal=True),
        random_case(
            "causal-3x5",
            "causal with fewer queries than keys: query i sees keys 0 to i",
            5,
            (3, 5, 4, 3),
            causal=True,
        ),
        random_case(
            "causal-5x3",
            "causal with more queries than keys: queries 2 to 4 see every key",
            6,
            (5, 3, 4, 3),
            causal=True,
        ),
        random_case(
            "causal-6x6-float32",
            "causal self-attention in float32",
            7,
            (6, 6, 8, 4),
            dtype=np.float32,
            causal=True,
        ),
    ]


def extreme_cases() -> list[Case]:
    """Scores where the textbook softmax overflows or underflows, wide gaps, tiny inputs."""
    cases = []
    for name, shift, dtype, lesson in [
        ("shifted-up-1000", 1000.0, np.float64, "exp overflows in float64 (above 709.78)"),
        ("shifted-down-1000", -1000.0, np.float64, "exp underflows to 0 in float64"),
        ("shifted-up-100-float32", 100.0, np.float32, "exp overflows in float32 (above 88.72)"),
    ]:
        # A 4th feature, 10 in the query and shift / 10 in the key, adds shift to every
        # score: softmax must give the worked example's weights unchanged.
        query = np.hstack([X, np.full((6, 1), 10.0)])  # (6, 4)
        key = np.hstack([X, np.full((6, 1), shift / 10)])  # (6, 4)
        source = (
            f"query = np.hstack([INPUTS, np.full((6, 1), 10.0)]); "
            f"key = np.hstack([INPUTS, np.full((6, 1), {shift / 10})]); value = INPUTS"
        )
        cases.append(
            Case(
                name,
                f"the worked example's scores {shift:+g} (a 4th feature): the same weights, "
                f"but the textbook softmax fails: {lesson}",
                source + (TO_FLOAT32 if dtype is np.float32 else ""),
                query.astype(dtype),
                key.astype(dtype),
                X.astype(dtype),
                1.0,
            )
        )
    tiny32 = np.float32(1e-20) * X32
    return [
        *cases,
        Case(
            "wide-gaps",
            "inputs 30 times the worked example's: scores hundreds apart, weights nearly one-hot",
            "query = key = 30 * INPUTS; value = INPUTS",
            30 * X,
            30 * X,
            X,
            1.0,
        ),
        Case(
            "tiny-inputs",
            "inputs 1e-20 times the worked example's: scores near 1e-40, weights uniform",
            "query = key = value = 1e-20 * INPUTS",
            1e-20 * X,
            1e-20 * X,
            1e-20 * X,
            1.0,
        ),
        Case(
            "tiny-inputs-float32",
            "tiny-inputs in float32, where scores near 1e-40 are subnormal",
            "query = key = value = np.float32(1e-20) * INPUTS.astype(np.float32)",
            tiny32,
            tiny32,
            tiny32,
            1.0,
        ),
    ]


def corner_cases() -> list[Case]:
    """One token, one feature, tied keys and a zero query."""
    rng = np.random.default_rng(8)
    tied_key = np.tile(rng.standard_normal(4), (5, 1))  # (5, 4): five identical keys
    return [
        Case(
            "single-token",
            "one token: its weight is 1 and its context is its value",
            "query = key = value = INPUTS[1:2]",
            X[1:2],
            X[1:2],
            X[1:2],
            1.0,
        ),
        random_case("one-feature", "E = 1: every token is one number", 9, (5, 5, 1, 1)),
        Case(
            "tied-keys",
            "five identical keys: every weight is 1/5, every context the mean of the values",
            "rng = np.random.default_rng(8); key = np.tile(rng.standard_normal(4), (5, 1)); "
            "query = rng.standard_normal((2, 4)); value = rng.standard_normal((5, 3))",
            rng.standard_normal((2, 4)),
            tied_key,
            rng.standard_normal((5, 3)),
            0.5,
        ),
        Case(
            "zero-query",
            "queries of zeros score 0 against every key: uniform weights",
            "query = np.zeros((2, 3)); key = value = INPUTS",
            np.zeros((2, 3)),
            X,
            X,
            1.0,
        ),
    ]


def masked_cases() -> list[Case]:
    """Boolean masks: padding, a row with every key masked, everything masked."""
    padding = np.ones((4, 4), dtype=bool)
    padding[:, 3] = False  # the last key is padding: nobody attends to it
    empty_row = np.ones((4, 4), dtype=bool)
    empty_row[2] = False  # query 2 may attend to nothing
    first_key_masked = np.ones((5, 5), dtype=bool)
    first_key_masked[:, 0] = False  # with causal, query 0 is left with nothing
    nothing = np.zeros((3, 4), dtype=bool)
    empty = ": its weights and context are 0"
    return [
        random_case(
            "padding-mask", "the last key is masked for every query", 10, (4, 4, 4, 3), mask=padding
        ),
        random_case(
            "all-masked-row",
            "query 2 may attend to no key" + empty,
            11,
            (4, 4, 4, 3),
            mask=empty_row,
        ),
        random_case(
            "all-masked-row-float32",
            "all-masked-row in float32",
            11,
            (4, 4, 4, 3),
            dtype=np.float32,
            mask=empty_row,
        ),
        random_case(
            "causal-and-mask",
            "causal, and the first key masked: query 0 is left with no key" + empty,
            12,
            (5, 5, 4, 3),
            causal=True,
            mask=first_key_masked,
        ),
        random_case(
            "every-key-masked", "a mask that is all false" + empty, 13, (3, 4, 4, 3), mask=nothing
        ),
    ]


def all_cases() -> list[Case]:
    """Every case, in the order of the file."""
    return [
        *worked_example_cases(),
        *random_cases(),
        *extreme_cases(),
        *corner_cases(),
        *masked_cases(),
    ]


def raw_scores(case: Case) -> FloatArray:
    """``scale * query @ key.T`` in the case's dtype, as `scaled_dot_product_attention`."""
    scores = case.query @ case.key.T  # (L, S): one row of scores per query
    scores *= case.scale
    return scores


def tolerances(case: Case) -> dict[str, float]:
    r"""The largest differences from the case's numbers that a correct implementation shows.

    Bounds on the round-off of two implementations that both compute in the case's dtype,
    with machine epsilon $\varepsilon$ and smallest subnormal number $\tau$, times
    `SAFETY`:

    - scores: a dot product of E terms, times the scale $s$, is off by at most
      $E (\varepsilon s \sum_m |q_m k_m| + \tau)$ ($\tau$: below the normal range
      the steps between numbers are absolute);
    - weights: an error of at most $\delta$ in each score moves a weight by at most
      $\delta / 2$ (we allow $\delta$), and exp, the sum and the division add
      $(S + 3) \varepsilon$;
    - context: the errors of a row of weights add up to at most twice the weights'
      bound; times the largest $|v|$, plus $S (\varepsilon |v| + \tau)$ for the
      weighted sum.

    Each is rounded up to two significant digits.

    Parameters
    ----------
    case : Case
        The inputs of a case (its dtype, shapes, scale and magnitudes matter).

    Returns
    -------
    dict
        ``{"scores": ..., "weights": ..., "context": ...}``: the largest absolute
        difference allowed in each.

    Examples
    --------
    >>> from attention_ref.vectors import all_cases, tolerances
    >>> tolerances(all_cases()[0])  # the worked example, float64
    {'scores': 4e-15, 'weights': 1.2e-14, 'context': 2.7e-14}
    """
    info = np.finfo(case.query.dtype)
    eps, tiny = float(info.eps), float(info.smallest_subnormal)
    num_keys, dim = case.key.shape
    q, k, v = (np.abs(a).astype(np.float64) for a in (case.query, case.key, case.value))
    magnitude = float((q @ k.T).max())  # the largest sum of |q_m k_m|
    largest_value = float(v.max())
    scores = SAFETY * dim * (eps * magnitude * case.scale + tiny)
    weights = scores + SAFETY * (num_keys + 3) * eps
    context = 2 * weights * largest_value + SAFETY * num_keys * (eps * largest_value + tiny)
    return {
        "scores": _round_up(scores),
        "weights": _round_up(weights),
        "context": _round_up(context),
    }


def _round_up(x: float) -> float:
    """`x` rounded up to two significant digits (0 stays 0)."""
    shortest = Decimal(repr(float(x)))  # the decimal that reads back as x: 3.6e-12 stays 3.6e-12
    if shortest == 0:
        return 0.0
    unit = Decimal(1).scaleb(shortest.adjusted() - 1)  # the second significant digit
    return float(shortest.quantize(unit, rounding=ROUND_CEILING))  # float() keeps the order


def case_record(case: Case) -> dict[str, Any]:
    """One case as it appears in the file: inputs, results and tolerances."""
    context, weights = scaled_dot_product_attention(
        case.query,
        case.key,
        case.value,
        mask=case.mask,
        causal=case.causal,
        scale=case.scale,
        return_weights=True,
    )
    return {
        "name": case.name,
        "description": case.description,
        "source": case.source,
        "dtype": case.query.dtype.name,
        "shapes": {
            "query": list(case.query.shape),
            "key": list(case.key.shape),
            "value": list(case.value.shape),
        },
        "query": case.query.tolist(),
        "key": case.key.tolist(),
        "value": case.value.tolist(),
        "scale": case.scale,
        "causal": case.causal,
        "mask": None if case.mask is None else case.mask.tolist(),
        "scores": raw_scores(case).tolist(),
        "weights": weights.tolist(),
        "context": context.tolist(),
        "tolerance": tolerances(case),
    }


def build_vectors() -> dict[str, Any]:
    """Every test case, with its results, as the JSON document the command writes.

    Returns
    -------
    dict
        ``format``, ``schema_version``, ``generated_by`` (package and numpy versions, the
        command), ``definition`` (what each field means) and ``cases``, a list of dicts
        with the inputs (``query``, ``key``, ``value``, ``scale``, ``causal``, ``mask``),
        the results (``scores``, ``weights``, ``context``) and ``tolerance``.

    Examples
    --------
    >>> from attention_ref.vectors import build_vectors
    >>> vectors = build_vectors()
    >>> vectors["schema_version"]
    1
    >>> first = vectors["cases"][0]
    >>> first["name"], first["dtype"], first["shapes"]["query"]
    ('worked-example', 'float64', [6, 3])
    >>> [round(w, 4) for w in first["weights"][1]]  # "journey"
    [0.1385, 0.2379, 0.2333, 0.124, 0.1082, 0.1581]
    """
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "generated_by": {
            "package": "attention-ref",
            "version": __version__,
            "numpy": np.__version__,
            "command": COMMAND,
        },
        "definition": DEFINITION,
        "cases": [case_record(case) for case in all_cases()],
    }


# A list of numbers, booleans or nulls (a matrix row), as json.dumps indents it.
_ITEM = r"(?:-?[0-9][0-9.eE+-]*|true|false|null)"
ROW = re.compile(rf"\[\s*({_ITEM}(?:,\s*{_ITEM})*)\s*\]")


def to_json(vectors: dict[str, Any]) -> str:
    """The document as JSON text: indented, one matrix row per line, no NaN or infinity.

    Parameters
    ----------
    vectors : dict
        The document, as `build_vectors` makes it (any JSON-able dict works).

    Returns
    -------
    str
        JSON that every parser reads: ``allow_nan=False``, so a NaN or an infinity
        raises ``ValueError`` here instead of writing ``NaN`` into the file.

    Examples
    --------
    >>> print(to_json({"schema_version": 1, "weights": [[0.5, 0.5], [1.0, 0.0]]}))
    {
      "schema_version": 1,
      "weights": [
        [0.5, 0.5],
        [1.0, 0.0]
      ]
    }
    """
    text = json.dumps(vectors, indent=2, allow_nan=False, ensure_ascii=False)
    return ROW.sub(lambda m: "[" + re.sub(r",\s*", ", ", m.group(1)) + "]", text)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m attention_ref vectors``: write the test vectors as JSON.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``vectors`` (default: none): ``--output FILE`` writes the
        file there instead of printing it.

    Returns
    -------
    int
        The exit status, 0; a bad argument exits with status 2 (argparse).

    Raises
    ------
    OSError
        If the output cannot be written: `BrokenPipeError` when the reader has gone
        (``| head``) or stdout is closed. ``python -m attention_ref`` turns these into
        exit status 1, quietly for a closed pipe.
    """
    parser = argparse.ArgumentParser(
        prog="attention-ref vectors",
        description="Write attention-ref's test vectors: reference cases of scaled "
        "dot-product attention with their scores, weights, context vectors and "
        f"tolerances, as JSON (schema version {SCHEMA_VERSION}).",
    )
    parser.add_argument(
        "--output", "-o", type=Path, metavar="FILE", help="write to FILE instead of stdout"
    )
    args = parser.parse_args(argv)
    text = to_json(build_vectors()) + "\n"
    if args.output is None:
        if sys.stdout is None:  # started with stdout closed (>&-)
            raise BrokenPipeError(errno.EPIPE, "standard output is closed")
        sys.stdout.write(text)
        sys.stdout.flush()  # here, so that a closed pipe is the caller's BrokenPipeError
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0
