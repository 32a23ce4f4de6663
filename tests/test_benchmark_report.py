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
bench = importlib.import_module("bench_context_vectors")  # its sibling, now on sys.path


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
    cases = {
        (case["suite"], case["dtype"], case.get("n"), case.get("d")) for case in latest["cases"]
    }
    floats = ("float32", "float64")
    context = {("context", t, 2**k, d) for t in floats for k in range(8, 14) for d in (3, 64, 768)}
    long = {("long", "float64", n, 64) for n in (16384, 65536)}
    trainable = {("sdpa", t, None, None) for t in floats} | {("mha", t, 512, 768) for t in floats}
    assert cases == context | long | trainable
    sdpa = [case for case in latest["cases"] if case["suite"] == "sdpa"]
    assert {(tuple(c["shape"]), c["causal"]) for c in sdpa} == {
        ((8, 12, 512, 64), False),
        ((8, 12, 512, 64), True),
    }
    assert latest["machine"]["torch"], "the committed run must include PyTorch"
    assert latest["settings"]["min_time"] == bench.MIN_TIME, (
        "the run overrode MIN_TIME with --min-time"
    )
    assert latest["machine"]["threads"] == latest["machine"]["torch_threads"] == 2
    for case in latest["cases"]:
        torch = {"context": "torch_fused", "long": "torch_fused"}.get(case["suite"])
        assert (torch or f"torch_{case['suite']}") in case["seconds"], report.label(case)
    theirs = latest["machine"]["torch_head_product_flops_per_second_one_core"]
    for dtype in floats:  # the rates the bound is made of, and one head's product's
        assert set(latest["machine"]["rates"][dtype]) == {
            "gemm_flops_per_second",
            "exp_per_second_one_core",
            "head_product_flops_per_second_one_core",
        }
        assert theirs[dtype] > 0


def test_every_target_of_issues_11_and_16_is_measured(latest) -> None:
    verdicts = {verdict["id"]: verdict for verdict in latest["targets"]}
    for name, target in report.TARGETS.items():
        assert verdicts[name]["issue"] == target.issue
        if target.issue in (11, 16):
            assert verdicts[name]["met"] is not None, f"{name} was not measured"


def test_the_bound_is_two_gemms_and_the_exponentials_on_every_thread() -> None:
    machine = {"threads": 2, "rates": {"float64": {"gemm_flops_per_second": 1e11}}}
    machine["rates"]["float64"]["exp_per_second_one_core"] = 1e9
    case = {"suite": "context", "dtype": "float64", "n": 1000, "d": 50}
    # 4 N^2 D = 2e8 flops at 1e11/s, plus 1e6 exponentials at 2e9/s.
    assert report.bound_seconds(case, machine) == pytest.approx(2e-3 + 5e-4, rel=1e-12)


def test_a_peer_missing_from_a_case_shows_a_dash(latest, monkeypatch) -> None:
    # A peer added after the committed run (or one that applies to some cases only).
    peers = importlib.import_module("peers")
    added = peers.Peer("added", "numpy", ("context",), len, memory=True)
    monkeypatch.setattr(report, "PEERS", {**report.PEERS, "added": added})
    settings = {**latest["settings"], "peers": [*latest["settings"]["peers"], "added"]}
    table = report.render_table({**latest, "settings": settings})
    lines = table.split("**Context vectors**")[1].splitlines()
    header, first = lines[2], lines[4]  # after the title's line and a blank one
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in (header, first)]
    first_row = dict(zip(*cells, strict=True))
    assert first_row["added"] == "—"
    assert first_row["loop form"] != "—"  # N = 256: the loop form ran


def test_results_of_another_schema_are_refused(latest, tmp_path) -> None:
    older = tmp_path / "older.json"
    older.write_text(json.dumps({**latest, "schema": 1}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"older\.json has results schema 1; this code reads 2"):
        report.load_results(older)


def run_benchmark(tmp_path: Path, *extra: str) -> dict:
    """Run the script's quick mode on tiny sizes into tmp_path; return its checked results."""
    output, table = tmp_path / "results.json", tmp_path / "table.md"
    # Tiny: N=64 context vectors, N=128 long ones, two repetitions, one call per timing.
    command = [
        sys.executable,
        str(BENCHMARKS / "bench_context_vectors.py"),
        *("--quick", "--n", "64", "--d", "8", "--dtype", "float64", "--long-n", "128"),
        *("--repeats", "2", "--long-repeats", "1", "--min-time", "0", "--settle", "0"),
        *("--threads", "1", "--output", str(output), "--table", str(table)),
        *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    results = report.load_results(output)
    assert table.read_text(encoding="utf-8") == report.render_table(results)
    assert table.read_text(encoding="utf-8") in done.stdout  # the tables are printed too
    return results


def check_tiny_cases(results: dict, torch: set[str]) -> dict:
    by_suite: dict[str, list[dict]] = {}
    for case in results["cases"]:
        by_suite.setdefault(case["suite"], []).append(case)
    (case,) = by_suite["context"]
    assert (case["dtype"], case["n"], case["d"]) == ("float64", 64, 8)
    numpy = {"ours", "full", "blocked", "loop", "scipy"}
    assert set(case["seconds"]) == numpy | (torch & {"torch_2d", "torch_fused"})
    assert set(case["ratios"]) == set(case["seconds"]) - {"ours"}
    for timing in case["seconds"].values():
        assert len(timing["runs"]) == 2
        assert timing["number"] == 1
    memory = case["memory"]
    assert memory["nxn_bytes"] == 64 * 64 * 8
    # tracemalloc sees numpy's arrays: the full form holds at least the N x N weights
    # and the output, scipy's pipeline at least three N x N arrays.
    assert memory["full"]["peak_bytes"] >= memory["nxn_bytes"] + memory["output_bytes"]
    assert memory["scipy"]["peak_bytes"] >= 3 * memory["nxn_bytes"]
    (long,) = by_suite["long"]
    assert set(long["seconds"]) == {"full", "blocked"} | (torch & {"torch_fused"})
    for name in long["seconds"]:  # one fresh process each: its peak RSS grew, or not
        assert long["memory"][name]["rss_growth_bytes"] >= 0
    assert {len(by_suite["sdpa"]), len(by_suite["mha"])} == {2}
    assert results["machine"]["threads"] == 1
    assert results["settings"]["min_time"] == {"sdpa": 0, "mha": 0, "context": 0}  # --min-time 0
    # numpy's BLAS ran with the one thread asked for, as threadpoolctl reports it.
    assert results["machine"]["blas"]["numpy"]["runtime"]["threads"] == 1
    assert [t["id"] for t in results["targets"]] == list(report.TARGETS)
    return case


def test_smoke_run_without_torch(tmp_path) -> None:
    results = run_benchmark(tmp_path, "--no-torch")
    case = check_tiny_cases(results, set())
    assert case["error"] is None
    assert results["machine"]["torch"] is None
    assert results["machine"]["torch_head_product_flops_per_second_one_core"] is None
    assert "One head's product" not in report.render_table(results)


def test_smoke_run_with_torch(tmp_path, torch) -> None:
    results = run_benchmark(tmp_path)
    case = check_tiny_cases(results, {"torch_2d", "torch_fused"})
    assert results["machine"]["torch"] == torch.__version__
    assert results["machine"]["torch_threads"] == 1
    rates = results["machine"]["torch_head_product_flops_per_second_one_core"]
    assert set(rates) == {"float32", "float64"}
    assert all(rate > 0 for rate in rates.values())
    assert "One head's product of queries and keys, (512 \N{MULTIPLICATION SIGN} 64)" in (
        report.render_table(results)
    )
    # Both are exact up to float64 rounding on N=64 values of size ~1: well below 1e-13.
    assert case["error"] <= 1e-13
    for trainable in (c for c in results["cases"] if c["suite"] in ("sdpa", "mha")):
        assert trainable["error"] <= 1e-12
