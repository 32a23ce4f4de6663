"""The test vectors: what the command writes, what it holds, and that it can tell right from wrong.

- The file ``python -m attention_ref vectors`` writes equals what the package computes,
  case by case and bit for bit (JSON floats round-trip exactly).
- Every case is complete and consistent (shapes, dtypes, masks) and its ``source``
  recreates its inputs exactly.
- The tolerances are honest: an exact computation (float64 from the definition, no
  package code), PyTorch in the case's dtype and the package itself all pass; typical
  mistakes (no scale, the wrong causal alignment, NaN for an empty row, the textbook
  softmax, a float32 error in a float64 case) each fail.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from attention_ref import scaled_dot_product_attention, softmax_naive
from attention_ref.examples import INPUTS
from attention_ref.vectors import (
    SCHEMA_VERSION,
    _round_up,
    all_cases,
    build_vectors,
    main,
    to_json,
)

ROOT = Path(__file__).resolve().parents[1]
# An implementation: (case as loaded from JSON) -> (scores, weights, context)
Implementation = Callable[[dict], tuple[np.ndarray, np.ndarray, np.ndarray]]


@pytest.fixture(scope="module")
def vectors() -> dict:
    """The document as a reader loads the downloaded file: parsed JSON."""
    return json.loads(to_json(build_vectors()))


def arrays(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dtype = np.dtype(case["dtype"])
    return tuple(np.array(case[name], dtype=dtype) for name in ("query", "key", "value"))


def allowed(case: dict) -> np.ndarray:
    """(L, S) bool: the keys each query may attend to, from the definition."""
    (num_queries, _), (num_keys, _) = case["shapes"]["query"], case["shapes"]["key"]
    keys = np.ones((num_queries, num_keys), dtype=bool)
    if case["mask"] is not None:
        keys &= np.array(case["mask"], dtype=bool)
    if case["causal"]:
        keys &= np.arange(num_keys)[None, :] <= np.arange(num_queries)[:, None]
    return keys


def failures(implementation: Implementation, vectors: dict) -> list[str]:
    """Every (case, array) where `implementation` is off by more than the tolerance."""
    found = []
    for case in vectors["cases"]:
        results = implementation(case)
        for name, result in zip(("scores", "weights", "context"), results, strict=True):
            expected = np.array(case[name], dtype=np.float64)
            error = np.abs(np.asarray(result, dtype=np.float64) - expected)
            if not (error <= case["tolerance"][name]).all():  # NaN fails too
                found.append(f"{case['name']}: {name} off by {np.nanmax(error, initial=0):.3g}")
    return found


# The file ---------------------------------------------------------------------------


def test_the_command_writes_what_the_package_computes(tmp_path: Path) -> None:
    path = tmp_path / "vectors.json"
    command = [sys.executable, "-m", "attention_ref", "vectors", "--output", str(path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout == done.stderr == ""
    written = path.read_text(encoding="utf-8")
    assert written == to_json(build_vectors()) + "\n"
    printed = subprocess.run(command[:-2], cwd=ROOT, capture_output=True, text=True, check=True)
    assert printed.stdout == written

    for case in json.loads(written)["cases"]:
        query, key, value = arrays(case)
        scale = case["scale"]
        mask = None if case["mask"] is None else np.array(case["mask"])
        context, weights = scaled_dot_product_attention(
            query, key, value, mask=mask, causal=case["causal"], scale=scale, return_weights=True
        )
        scores = (query @ key.T) * np.asarray(scale, dtype=query.dtype)
        for name, computed in [("scores", scores), ("weights", weights), ("context", context)]:
            stored = np.array(case[name], dtype=query.dtype)
            assert np.array_equal(stored, computed), (case["name"], name)
            # float32 results are stored as exact float64 decimals of float32 values
            assert np.array_equal(np.array(case[name]), computed.astype(np.float64))


def test_the_file_is_plain_json_with_one_row_per_line(vectors: dict) -> None:
    text = to_json(build_vectors())
    assert "NaN" not in text
    assert "Infinity" not in text
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the file"))
    # One row a line, each number as repr prints it (the last digit is the kernel's).
    assert re.search(r'"weights": \[\n {8}\[0\.2098347574154352\d?, 0\.2005814405432205\d?,', text)
    assert text.count("\n") < 3000  # rows on one line each, not one number per line


def test_a_bad_argument_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--outptu", "x.json"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --outptu" in capsys.readouterr().err


# What the cases hold ------------------------------------------------------------------


def test_the_document_says_what_it_is(vectors: dict) -> None:
    assert vectors["format"] == "attention-ref test vectors"
    assert vectors["schema_version"] == SCHEMA_VERSION == 1
    assert vectors["generated_by"]["command"] == "python -m attention_ref vectors"
    assert vectors["generated_by"]["numpy"] == np.__version__
    assert set(vectors["definition"]) == {
        "scores", "allowed", "weights", "context", "tolerance", "numbers",
    }  # fmt: skip


CASE_FIELDS = {
    "name", "description", "source", "dtype", "shapes", "query", "key", "value", "scale",
    "causal", "mask", "scores", "weights", "context", "tolerance",
}  # fmt: skip


def test_every_case_is_complete_and_consistent(vectors: dict) -> None:
    names = [case["name"] for case in vectors["cases"]]
    assert len(set(names)) == len(names)
    for case in vectors["cases"]:
        assert set(case) == CASE_FIELDS, case["name"]
        assert case["description"]
        assert case["dtype"] in ("float32", "float64")
        query, key, value = arrays(case)
        (num_queries, dim), (num_keys, _), (_, value_dim) = (a.shape for a in (query, key, value))
        assert [list(a.shape) for a in (query, key, value)] == list(case["shapes"].values())
        assert key.shape[1] == dim
        assert value.shape[0] == num_keys
        assert np.array(case["scores"]).shape == (num_queries, num_keys)
        assert np.array(case["weights"]).shape == (num_queries, num_keys)
        assert np.array(case["context"]).shape == (num_queries, value_dim)
        if case["mask"] is not None:
            assert np.array(case["mask"]).dtype == bool
            assert np.array(case["mask"]).shape == (num_queries, num_keys)
        assert isinstance(case["causal"], bool)
        assert math.isfinite(case["scale"])
        assert case["scale"] > 0
        assert all(t >= 0 for t in case["tolerance"].values())
        # Tight enough to tell a float32 result from a float64 one, and a 1e-3 mistake.
        assert case["tolerance"]["weights"] <= (1e-3 if case["dtype"] == "float32" else 1e-10)
        if case["dtype"] == "float32":  # inputs are float32 numbers
            assert np.array_equal(np.array(case["query"]), query.astype(np.float64))


def test_each_source_recreates_its_inputs_exactly() -> None:
    for case in all_cases():
        namespace = {"np": np, "INPUTS": INPUTS}
        exec(case.source, namespace)
        for name in ("query", "key", "value"):
            made, stored = namespace[name], getattr(case, name)
            assert made.dtype == stored.dtype, case.name
            assert np.array_equal(made, stored), case.name


def test_the_cases_cover_what_implementations_get_wrong(vectors: dict) -> None:
    cases = vectors["cases"]
    by_name = {case["name"]: case for case in cases}
    assert {case["dtype"] for case in cases} == {"float32", "float64"}
    worked = by_name["worked-example"]
    assert np.array_equal(worked["query"], INPUTS)
    assert worked["scale"] == 1.0
    assert "Raschka" in worked["description"]
    assert any("default_rng(" in case["source"] for case in cases)
    assert any(
        case["causal"] and case["shapes"]["query"] != case["shapes"]["key"] for case in cases
    )
    empty_rows = [c for c in cases if (~allowed(c)).all(axis=1).any()]
    assert {c["dtype"] for c in empty_rows} == {"float32", "float64"}
    assert any((~allowed(c)).all() for c in empty_rows)  # nothing allowed at all
    for case in empty_rows:
        weights, context = np.array(case["weights"]), np.array(case["context"])
        empty = (~allowed(case)).all(axis=1)
        assert (weights[empty] == 0).all()
        assert (context[empty] == 0).all()
    # Scores beyond exp's range, where the textbook softmax gives NaN: both dtypes.
    overflows = {
        c["dtype"]
        for c in cases
        if np.isnan(naive(c)[1]).any() and not np.isnan(c["weights"]).any()
    }
    assert overflows == {"float32", "float64"}


def test_masked_weights_are_exactly_zero_and_rows_sum_to_one(vectors: dict) -> None:
    for case in vectors["cases"]:
        weights, keys = np.array(case["weights"]), allowed(case)
        assert (weights[~keys] == 0).all(), case["name"]
        rows = keys.any(axis=1)
        np.testing.assert_allclose(weights[rows].sum(axis=1), 1, rtol=0, atol=1e-6)


def test_shifted_scores_give_the_worked_examples_weights(vectors: dict) -> None:
    by_name = {case["name"]: case for case in vectors["cases"]}
    reference = np.array(by_name["worked-example"]["weights"])
    for name in ("shifted-up-1000", "shifted-down-1000", "shifted-up-100-float32"):
        case = by_name[name]
        np.testing.assert_allclose(
            case["weights"], reference, rtol=0, atol=case["tolerance"]["weights"]
        )


# The tolerances --------------------------------------------------------------------------


def exact(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The definition in float64 (or better) from the case's inputs, without the package."""
    query, key, value = (a.astype(np.float64) for a in arrays(case))
    scores = case["scale"] * np.einsum("ie,je->ij", query, key)  # (L, S)
    keys = allowed(case)
    shifted = np.where(keys, scores, -np.inf)
    top = np.where(keys.any(axis=1), shifted.max(axis=1), 0.0)[:, None]  # (L, 1)
    exps = np.where(keys, np.exp(np.where(keys, scores, 0.0) - top), 0.0)
    totals = exps.sum(axis=1, keepdims=True)
    weights = np.divide(exps, totals, out=np.zeros_like(exps), where=totals > 0)
    return scores, weights, weights @ value


def package(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    query, key, value = arrays(case)
    mask = None if case["mask"] is None else np.array(case["mask"])
    context, weights = scaled_dot_product_attention(
        query, key, value, mask=mask, causal=case["causal"], scale=case["scale"],
        return_weights=True,
    )  # fmt: skip
    return query @ key.T * case["scale"], weights, context


def naive(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The textbook softmax, exp(x) / sum exp(x), with masked scores at -inf."""
    query, key, value = arrays(case)
    scores = query @ key.T * case["scale"]
    keys = allowed(case)
    with np.errstate(over="ignore", invalid="ignore"):
        weights = np.where(keys, softmax_naive(np.where(keys, scores, -np.inf)), 0.0)
        weights[~keys.any(axis=1)] = 0.0
        return scores, weights, weights @ value


def test_an_exact_computation_passes(vectors: dict) -> None:
    assert failures(exact, vectors) == []


def test_the_package_passes(vectors: dict) -> None:
    assert failures(package, vectors) == []


def test_pytorch_passes(vectors: dict, torch: ModuleType) -> None:
    def pytorch(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        query, key, value = (torch.from_numpy(a) for a in arrays(case))
        keys = torch.from_numpy(allowed(case))
        scores = query @ key.T * case["scale"]
        weights = torch.softmax(scores.masked_fill(~keys, -math.inf), dim=-1).nan_to_num(0.0)
        context = torch.nn.functional.scaled_dot_product_attention(
            query, key, value, attn_mask=keys, scale=case["scale"]
        )  # zero for a query with no key, since PyTorch 2.5
        return scores.numpy(), weights.numpy(), context.numpy()

    assert failures(pytorch, vectors) == []


def mistaken(mistake: str) -> Implementation:
    """`exact`, with one of the mistakes that the vectors must catch."""

    def implementation(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        case = dict(case)
        if mistake == "no scale":
            case["scale"] = 1.0
        if mistake == "causal aligned at the bottom right" and case["causal"]:
            (num_queries, _), (num_keys, _) = case["shapes"]["query"], case["shapes"]["key"]
            offset = num_keys - num_queries
            case["causal"], mask = False, np.tri(num_queries, num_keys, offset, dtype=bool)
            if case["mask"] is not None:
                mask &= np.array(case["mask"])
            case["mask"] = mask.tolist()
        scores, weights, context = exact(case)
        if mistake == "NaN for a row with no key":
            empty = ~allowed(case).any(axis=1)
            weights[empty], context[empty] = np.nan, np.nan
        if mistake == "softmax over the wrong axis":  # each column sums to 1
            exps = np.exp(scores - scores.max(axis=0))
            weights = exps / exps.sum(axis=0)
            context = weights @ arrays(case)[2].astype(np.float64)
        if mistake == "float32 arithmetic" and case["dtype"] == "float64":
            scores, weights, context = (a.astype(np.float32) for a in (scores, weights, context))
        if mistake.startswith("weights off by "):
            weights = weights + float(mistake.split()[-1])
        return scores, weights, context

    return implementation


@pytest.mark.parametrize(
    ("mistake", "caught_by"),
    [
        ("no scale", "worked-example-scaled"),
        ("causal aligned at the bottom right", "causal-3x5"),
        ("NaN for a row with no key", "all-masked-row"),
        ("softmax over the wrong axis", "random-8x16"),
        ("float32 arithmetic", "worked-example"),
        ("weights off by 1e-5", "worked-example-float32"),
        ("weights off by 1e-9", "shifted-up-1000"),
        ("weights off by 1e-13", "worked-example"),
    ],
)
def test_a_mistake_fails(vectors: dict, mistake: str, caught_by: str) -> None:
    found = failures(mistaken(mistake), vectors)
    assert any(failure.startswith(f"{caught_by}:") for failure in found), found


def test_the_textbook_softmax_fails_where_it_overflows(vectors: dict) -> None:
    found = {failure.split(":")[0] for failure in failures(naive, vectors)}
    assert {"shifted-up-1000", "shifted-down-1000", "shifted-up-100-float32"} <= found
    assert "worked-example" not in found


def test_tolerances_round_up_to_two_digits() -> None:
    assert _round_up(0.0) == 0.0
    assert _round_up(1.21e-14) == 1.3e-14
    assert _round_up(1.2e-14) == 1.2e-14
    assert _round_up(3.6e-12) == 3.6e-12
    assert _round_up(9.96) == 10.0
    assert all(_round_up(x) >= x for x in np.geomspace(1e-300, 1e300, 1000))
