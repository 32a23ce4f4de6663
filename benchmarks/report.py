"""Turn benchmark results (results/latest.json) into the targets' verdicts and a Markdown table.

The docs never hold a hand-typed number: `render_table` writes
docs/snippets/benchmark-table.md from the JSON, and a test re-renders it from the
committed JSON to prove the two agree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
PEER_NAMES = {"scipy": "scipy", "torch": "PyTorch", "loop": "loop form"}
TIMES = "\N{MULTIPLICATION SIGN}"  # as in 1.3×
SQUARE = f"N{TIMES}N"  # one N x N array


# --------------------------------------------------------------------------------------
# Targets (issue 2, "Performance"): each is checked on the cases it applies to.
# --------------------------------------------------------------------------------------


def _scipy_ratio(case: dict[str, Any]) -> float:
    return case["ratios"]["scipy"]


def _torch_slowdown(case: dict[str, Any]) -> float:
    return 1 / case["ratios"]["torch"]  # our time / PyTorch's time


def memory_excess(case: dict[str, Any]) -> int:
    """Bytes of peak memory beyond one N x N array plus the output."""
    memory = case["memory"]
    return memory["ours"]["peak_bytes"] - memory["nxn_bytes"] - memory["output_bytes"]


def memory_slack(case: dict[str, Any]) -> int:
    """Bytes allowed beyond that: 8 length-N vectors (row maxima, row sums) and 128 KiB.

    The 128 KiB cover numpy's internal ufunc buffers (8192 elements, 64 KiB in float64)
    and small Python objects: constant, whatever N is.
    """
    itemsize = case["memory"]["nxn_bytes"] // case["n"] ** 2
    return 8 * case["n"] * itemsize + 128 * 1024


def _slack_used(case: dict[str, Any]) -> float:
    return memory_excess(case) / memory_slack(case)


TARGETS: list[dict[str, Any]] = [
    {
        "id": "scipy-never-slower",
        "text": "never slower than the scipy pipeline (scipy ÷ ours ≥ 1)",
        "applies": lambda case: "scipy" in case["ratios"],
        "value": _scipy_ratio,
        "threshold": 1.0,
        "better": "higher",
    },
    {
        "id": "scipy-1.3x-large-n",
        "text": f"at least 1.3{TIMES} faster than the scipy pipeline for N ≥ 4096",
        "applies": lambda case: "scipy" in case["ratios"] and case["n"] >= 4096,
        "value": _scipy_ratio,
        "threshold": 1.3,
        "better": "higher",
    },
    {
        "id": "torch-within-1.15x",
        "text": f"within 1.15{TIMES} of PyTorch's time for D ≥ 256 and N ≥ 1024 "
        "(ours ÷ PyTorch ≤ 1.15)",
        "applies": lambda case: (
            "torch" in case["ratios"] and case["d"] >= 256 and case["n"] >= 1024
        ),
        "value": _torch_slowdown,
        "threshold": 1.15,
        "better": "lower",
    },
    {
        "id": "memory-one-nxn",
        "text": f"peak memory one {SQUARE} array plus the output, "
        "give or take 8 length-N vectors and 128 KiB",
        "applies": lambda case: True,
        "value": _slack_used,  # the share of that slack used
        "threshold": 1.0,
        "better": "lower",
    },
    {
        "id": "torch-agreement-float64",
        "text": "agrees with PyTorch in float64: "
        f"max abs(ours - torch) ≤ 1e-13 {TIMES} max(1, max abs(Z))",
        "applies": lambda case: case["dtype"] == "float64" and case["error_vs_torch"] is not None,
        "value": lambda case: case["error_vs_torch"],
        "threshold": 1e-13,
        "better": "lower",
    },
]


def _meets(target: dict[str, Any], value: float) -> bool:
    if target["better"] == "higher":
        return value >= target["threshold"]
    return value <= target["threshold"]


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Check each target on the cases it applies to; report the worst case of each."""
    verdicts = []
    for target in TARGETS:
        cases = [case for case in results["cases"] if target["applies"](case)]
        values = [target["value"](case) for case in cases]
        verdict: dict[str, Any] = {
            "id": target["id"],
            "text": target["text"],
            "threshold": target["threshold"],
            "cases": len(cases),
            "missed": sum(not _meets(target, value) for value in values),
            "met": None,  # no case measured it
            "worst": None,
            "worst_case": None,
        }
        if cases:
            pick: Callable = min if target["better"] == "higher" else max
            worst = pick(range(len(cases)), key=values.__getitem__)
            verdict.update(
                met=verdict["missed"] == 0,
                worst=values[worst],
                worst_case={key: cases[worst][key] for key in ("dtype", "n", "d")},
            )
        verdicts.append(verdict)
    return verdicts


# --------------------------------------------------------------------------------------
# Checking the JSON's shape, so a hand-edited or truncated file fails loudly.
# --------------------------------------------------------------------------------------

_TOP_KEYS = {"schema", "benchmark", "date", "machine", "settings", "cases", "targets"}
_MACHINE_KEYS = {"cpu", "cores", "numpy", "scipy", "torch", "blas", "threads", "env"}
_CASE_KEYS = {"dtype", "n", "d", "seconds", "ratios", "memory", "error_vs_torch"}


def check_results(results: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first key that is missing or of the wrong kind."""

    def need(mapping: Any, keys: set[str], where: str) -> None:
        if not isinstance(mapping, dict):
            raise ValueError(f"{where} must be an object; got {type(mapping).__name__}")
        missing = sorted(keys - mapping.keys())
        if missing:
            raise ValueError(f"{where} lacks {', '.join(missing)}")

    need(results, _TOP_KEYS, "results")
    if results["schema"] != SCHEMA_VERSION:
        raise ValueError(
            f"results schema is {results['schema']!r}; this code reads {SCHEMA_VERSION}"
        )
    need(results["machine"], _MACHINE_KEYS, "machine")
    if not isinstance(results["cases"], list) or not results["cases"]:
        raise ValueError("cases must be a non-empty list")
    for i, case in enumerate(results["cases"]):
        where = f"cases[{i}]"
        need(case, _CASE_KEYS, where)
        if case["dtype"] not in ("float32", "float64"):
            raise ValueError(f"{where}.dtype must be float32 or float64; got {case['dtype']!r}")
        need(case["seconds"], {"ours", "scipy"}, f"{where}.seconds")
        for impl, timing in case["seconds"].items():
            need(timing, {"median", "runs", "number"}, f"{where}.seconds.{impl}")
            if not timing["median"] > 0:
                raise ValueError(
                    f"{where}.seconds.{impl}.median must be > 0; got {timing['median']}"
                )
        need(case["ratios"], set(case["seconds"]) - {"ours"}, f"{where}.ratios")
        need(case["memory"], {"nxn_bytes", "output_bytes", "ours", "scipy"}, f"{where}.memory")
        for impl in ("ours", "scipy"):
            need(case["memory"][impl], {"peak_bytes", "nxn_multiple"}, f"{where}.memory.{impl}")
    if not isinstance(results["targets"], list) or len(results["targets"]) != len(TARGETS):
        raise ValueError(f"targets must list the {len(TARGETS)} targets")


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and check a results file."""
    results = json.loads(Path(path).read_text(encoding="utf-8"))
    check_results(results)
    return results


# --------------------------------------------------------------------------------------
# The Markdown the docs include.
# --------------------------------------------------------------------------------------


def _milliseconds(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3g} ms" if ms < 1000 else f"{ms:,.0f} ms"


def _ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3g}{TIMES}" if value < 100 else f"{value:,.0f}{TIMES}"


def _bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.3g} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def _memory(entry: dict[str, Any]) -> str:
    return f"{entry['nxn_multiple']:.2f} ({_bytes(entry['peak_bytes'])})"


def _worst(verdict: dict[str, Any], cases: list[dict[str, Any]]) -> str:
    if verdict["worst"] is None:
        return "—"
    where = verdict["worst_case"]
    case = next(case for case in cases if all(case[key] == where[key] for key in where))
    value = verdict["worst"]
    if verdict["id"] == "torch-agreement-float64":
        shown = f"{value:.1e}"
    elif verdict["id"] == "memory-one-nxn":
        shown = f"{_bytes(memory_excess(case))} over, of {_bytes(memory_slack(case))} allowed"
    else:
        shown = f"{value:.2f}{TIMES}"
    return f"{shown} ({where['dtype']}, N={where['n']}, D={where['d']})"


def _met(verdict: dict[str, Any]) -> str:
    if verdict["met"] is None:
        return "not measured"
    if verdict["met"]:
        return "yes"
    return f"**no** ({verdict['missed']} of {verdict['cases']} cases)"


def render_table(results: dict[str, Any]) -> str:
    """The Markdown the performance page includes: machine, targets, then every case."""
    machine, settings = results["machine"], results["settings"]
    blas = machine["blas"]["numpy"]
    runtime = blas.get("runtime") or {}
    core = f", {runtime['core']} kernels" if runtime.get("core") else ""
    torch = f", PyTorch {machine['torch']} ({machine['blas']['torch']})" if machine["torch"] else ""
    how = [f"medians of {settings['repeats']} interleaved repetitions"]
    if load := machine.get("loadavg"):
        how.append(f"load average {load['before'][0]:.1f} before, {load['after'][0]:.1f} after")
    how += [f"{name}={value}" for name, value in machine["env"].items() if value]
    lines = [
        f"Measured {results['date'][:10]} on {machine['cpu']} ({machine['cores']} cores), "
        f"{machine['threads']} threads for every library: numpy {machine['numpy']} "
        f"({blas['name']} {blas['version']}{core}), scipy {machine['scipy']}{torch}; "
        + "; ".join(how)
        + ".",
        "",
        "| Target | Cases | Worst case | Met |",
        "| --- | --: | --- | --- |",
    ]
    for verdict in results["targets"]:
        worst = _worst(verdict, results["cases"])
        lines.append(f"| {verdict['text']} | {verdict['cases']} | {worst} | {_met(verdict)} |")

    peers = [peer for peer in ("scipy", "torch", "loop") if peer in settings["peers"]]
    header = ["dtype", "N", "D", "ours"]
    header += [f"{PEER_NAMES[peer]} ÷ ours" for peer in peers]
    header += [f"peak memory, {name} ({SQUARE})" for name in ("ours", "scipy")]
    header += ["error vs PyTorch"]
    lines += [
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(["---"] + ["--:"] * (len(header) - 1)) + " |",
    ]
    for case in results["cases"]:
        error = case["error_vs_torch"]
        cells = [
            case["dtype"],
            str(case["n"]),
            str(case["d"]),
            _milliseconds(case["seconds"]["ours"]["median"]),
            *(_ratio(case["ratios"].get(peer)) for peer in peers),
            _memory(case["memory"]["ours"]),
            _memory(case["memory"]["scipy"]),
            "—" if error is None else f"{error:.1e}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
