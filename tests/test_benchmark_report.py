"""The benchmark under benchmarks/: its committed results, the docs' table, a smoke run.

No test here times anything. They check that the table the docs include is exactly
what `render_table` makes of the committed results (so the two cannot drift), that the
committed results cover the grid the issue asks for, and that the script runs end to
end on a tiny grid and writes results of the documented shape.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
LATEST = BENCHMARKS / "results" / "latest.json"
SNIPPET = ROOT / "docs" / "snippets" / "benchmark-table.md"


def load_report() -> ModuleType:
    """benchmarks/report.py, which imports its sibling peers.py: scripts, not a package."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module("report")


report = load_report()


@pytest.fixture(scope="module")
def latest() -> dict:
    return report.load_results(LATEST)


def test_docs_table_is_rendered_from_the_committed_results(latest) -> None:
    assert report.render_table(latest) == SNIPPET.read_text(encoding="utf-8"), (
        "docs/snippets/benchmark-table.md differs from render_table(latest.json): "
        "rerun python3 dev.py bench, or commit both files from the same run"
    )


def test_committed_verdicts_follow_from_the_committed_cases(latest) -> None:
    # json writes floats with repr, which reads back exactly: the comparison can be exact.
    assert latest["targets"] == report.evaluate_targets(latest)


def test_committed_results_cover_the_issues_grid(latest) -> None:
    cases = {(case["dtype"], case["n"], case["d"]) for case in latest["cases"]}
    grid = {
        (dtype, 2**k, d)
        for dtype in ("float32", "float64")
        for k in range(8, 14)
        for d in (3, 64, 768)
    }
    assert cases == grid
    assert latest["machine"]["torch"], "the committed run must include PyTorch"
    assert all("torch" in case["ratios"] for case in latest["cases"])
    assert latest["machine"]["threads"] == latest["machine"]["torch_threads"]


def test_a_peer_missing_from_a_case_shows_a_dash(latest, monkeypatch) -> None:
    # A peer added after the committed run (or one that applies to some cases only).
    added = importlib.import_module("peers").Peer("added", "numpy", len, memory=True)
    monkeypatch.setattr(report, "PEERS", {**report.PEERS, "added": added})
    settings = {**latest["settings"], "peers": [*latest["settings"]["peers"], "added"]}
    lines = report.render_table({**latest, "settings": settings}).splitlines()
    header, _, *rows = lines[-len(latest["cases"]) - 2 :]
    first = dict(zip(header.split(" | "), rows[0].split(" | "), strict=True))
    assert first["added ÷ ours"] == first[f"peak memory, added ({report.SQUARE})"] == "—"
    assert first["scipy ÷ ours"] == f"2.73{report.TIMES}"  # the committed run's first case


def test_results_of_another_schema_are_refused(latest, tmp_path) -> None:
    older = tmp_path / "older.json"
    older.write_text(json.dumps({**latest, "schema": 0}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"older\.json has results schema 0; this code reads 1"):
        report.load_results(older)


def run_benchmark(tmp_path: Path, *extra: str) -> dict:
    """Run the script on one tiny case into tmp_path; return its checked results."""
    output, table = tmp_path / "results.json", tmp_path / "table.md"
    # Tiny and quick: N=64, two repetitions, one call per timed run, no pause.
    command = [
        sys.executable,
        str(BENCHMARKS / "bench_context_vectors.py"),
        *("--n", "64", "--d", "8", "--dtype", "float64", "--repeats", "2"),
        *("--min-time", "0", "--settle", "0", "--threads", "1"),
        *("--output", str(output), "--table", str(table)),
        *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    results = report.load_results(output)
    assert table.read_text(encoding="utf-8") == report.render_table(results)
    assert table.read_text(encoding="utf-8") in done.stdout  # the table is printed too
    return results


def check_tiny_case(results: dict, peers: set[str]) -> dict:
    (case,) = results["cases"]
    assert (case["dtype"], case["n"], case["d"]) == ("float64", 64, 8)
    assert set(case["seconds"]) == {"ours", *peers}
    assert set(case["ratios"]) == peers
    for timing in case["seconds"].values():
        assert len(timing["runs"]) == 2
        assert timing["number"] == 1
    memory = case["memory"]
    assert memory["nxn_bytes"] == 64 * 64 * 8
    # tracemalloc sees numpy's arrays: ours holds at least the N x N weights and the
    # output, scipy's pipeline at least three N x N arrays.
    assert memory["ours"]["peak_bytes"] >= memory["nxn_bytes"] + memory["output_bytes"]
    assert memory["scipy"]["peak_bytes"] >= 3 * memory["nxn_bytes"]
    assert results["machine"]["threads"] == 1
    # numpy's BLAS ran with the one thread asked for, as threadpoolctl reports it.
    assert results["machine"]["blas"]["numpy"]["runtime"]["threads"] == 1
    assert [t["id"] for t in results["targets"]] == list(report.TARGETS)
    return case


def test_smoke_run_without_torch(tmp_path) -> None:
    results = run_benchmark(tmp_path, "--no-torch")
    case = check_tiny_case(results, {"scipy", "loop"})
    assert case["error_vs_torch"] is None
    assert results["machine"]["torch"] is None


def test_smoke_run_with_torch(tmp_path, torch) -> None:
    results = run_benchmark(tmp_path)
    case = check_tiny_case(results, {"scipy", "loop", "torch"})
    assert results["machine"]["torch"] == torch.__version__
    assert results["machine"]["torch_threads"] == 1
    # Both are exact up to float64 rounding on N=64 values of size ~1: well below 1e-13.
    assert case["error_vs_torch"] <= 1e-13
