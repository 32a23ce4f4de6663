"""Turn benchmark results (results/latest.json) into the targets' verdicts and a Markdown table.

The docs never hold a hand-typed number: `render_table` writes
docs/snippets/benchmark-table.md from the JSON, and a test re-renders it from the
committed JSON to prove the two agree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peers import BASELINE, PEERS

SCHEMA_VERSION = 1
TIMES = "\N{MULTIPLICATION SIGN}"  # as in 1.3×
SQUARE = f"N{TIMES}N"  # one N x N array

Case = dict[str, Any]


# --------------------------------------------------------------------------------------
# Targets (issue 2, "Performance"): each is checked on the cases it applies to.
# --------------------------------------------------------------------------------------


def memory_excess(case: Case) -> int:
    """Bytes of peak memory beyond one N x N array plus the output."""
    memory = case["memory"]
    return memory["ours"]["peak_bytes"] - memory["nxn_bytes"] - memory["output_bytes"]


def memory_slack(case: Case) -> int:
    """Bytes allowed beyond that: 8 length-N vectors (row maxima, row sums) and 128 KiB.

    The 128 KiB cover numpy's internal ufunc buffers (8192 elements, 64 KiB in float64)
    and small Python objects: constant, whatever N is.
    """
    itemsize = case["memory"]["nxn_bytes"] // case["n"] ** 2
    return 8 * case["n"] * itemsize + 128 * 1024


@dataclass(frozen=True)
class Target:
    text: str
    applies: Callable[[Case], bool]
    value: Callable[[Case], float]
    threshold: float
    higher_is_better: bool
    show: Callable[[float, Case], str] = lambda value, case: f"{value:.2f}{TIMES}"

    def meets(self, value: float) -> bool:
        return value >= self.threshold if self.higher_is_better else value <= self.threshold


TARGETS = {
    "scipy-never-slower": Target(
        "never slower than the scipy pipeline (scipy ÷ ours ≥ 1)",
        applies=lambda case: "scipy" in case["ratios"],
        value=lambda case: case["ratios"]["scipy"],
        threshold=1.0,
        higher_is_better=True,
    ),
    "scipy-1.3x-large-n": Target(
        f"at least 1.3{TIMES} faster than the scipy pipeline for N ≥ 4096",
        applies=lambda case: "scipy" in case["ratios"] and case["n"] >= 4096,
        value=lambda case: case["ratios"]["scipy"],
        threshold=1.3,
        higher_is_better=True,
    ),
    "torch-within-1.15x": Target(
        f"within 1.15{TIMES} of PyTorch's time for D ≥ 256 and N ≥ 1024 (ours ÷ PyTorch ≤ 1.15)",
        applies=lambda case: "torch" in case["ratios"] and case["d"] >= 256 and case["n"] >= 1024,
        value=lambda case: 1 / case["ratios"]["torch"],  # our time / PyTorch's time
        threshold=1.15,
        higher_is_better=False,
    ),
    "memory-one-nxn": Target(
        f"peak memory one {SQUARE} array plus the output, "
        "give or take 8 length-N vectors and 128 KiB",
        applies=lambda case: True,
        value=lambda case: memory_excess(case) / memory_slack(case),  # the share of slack used
        threshold=1.0,
        higher_is_better=False,
        show=lambda value, case: (
            f"{_bytes(memory_excess(case))} over, of {_bytes(memory_slack(case))} allowed"
        ),
    ),
    "torch-agreement-float64": Target(
        f"agrees with PyTorch in float64: max abs(ours - torch) ≤ 1e-13 {TIMES} max(1, max abs(Z))",
        applies=lambda case: case["dtype"] == "float64" and case["error_vs_torch"] is not None,
        value=lambda case: case["error_vs_torch"],
        threshold=1e-13,
        higher_is_better=False,
        show=lambda value, case: f"{value:.1e}",
    ),
}


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Check each target on the cases it applies to; report the worst case of each."""
    verdicts = []
    for name, target in TARGETS.items():
        cases = [case for case in results["cases"] if target.applies(case)]
        values = [target.value(case) for case in cases]
        verdict: dict[str, Any] = {
            "id": name,
            "text": target.text,
            "threshold": target.threshold,
            "cases": len(cases),
            "missed": sum(not target.meets(value) for value in values),
            "met": None,  # no case measured it
            "worst": None,
            "worst_case": None,
        }
        if cases:
            pick = min if target.higher_is_better else max
            worst = pick(range(len(cases)), key=values.__getitem__)
            verdict.update(
                met=verdict["missed"] == 0,
                worst=values[worst],
                worst_case={key: cases[worst][key] for key in ("dtype", "n", "d")},
            )
        verdicts.append(verdict)
    return verdicts


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results file written by this version of the benchmark."""
    results = json.loads(Path(path).read_text(encoding="utf-8"))
    if results.get("schema") != SCHEMA_VERSION:
        raise ValueError(
            f"{path} has results schema {results.get('schema')!r}; this code reads "
            f"{SCHEMA_VERSION}: rerun python3 dev.py bench"
        )
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
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.3g} {unit}"
        count /= 1024
    return f"{count:.3g} GiB"


def _memory(entry: dict[str, Any] | None) -> str:
    return "—" if entry is None else f"{entry['nxn_multiple']:.2f} ({_bytes(entry['peak_bytes'])})"


def _worst(verdict: dict[str, Any], cases: list[Case]) -> str:
    where = verdict["worst_case"]
    if where is None:
        return "—"
    case = next(case for case in cases if all(case[key] == where[key] for key in where))
    shown = TARGETS[verdict["id"]].show(verdict["worst"], case)
    return f"{shown} ({where['dtype']}, N={where['n']}, D={where['d']})"


def _met(verdict: dict[str, Any]) -> str:
    if verdict["met"] is None:
        return "not measured"
    return "yes" if verdict["met"] else f"**no** ({verdict['missed']} of {verdict['cases']} cases)"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_table(results: dict[str, Any]) -> str:
    """The Markdown the performance page includes: machine, targets, then every case."""
    machine, settings = results["machine"], results["settings"]
    blas = machine["blas"]["numpy"]
    core = (blas.get("runtime") or {}).get("core")
    torch = f", PyTorch {machine['torch']} ({machine['blas']['torch']})" if machine["torch"] else ""
    how = [f"medians of {settings['repeats']} interleaved repetitions"]
    if load := machine.get("loadavg"):
        how.append(f"load average {load['before'][0]:.1f} before, {load['after'][0]:.1f} after")
    how += [f"{name}={value}" for name, value in machine["env"].items() if value]
    lines = [
        f"Measured {results['date'][:10]} on {machine['cpu']} ({machine['cores']} cores), "
        f"{machine['threads']} threads for every library: numpy {machine['numpy']} "
        f"({blas['name']} {blas['version']}{f', {core} kernels' if core else ''}), "
        f"scipy {machine['scipy']}{torch}; " + "; ".join(how) + ".",
        "",
        "| Target | Cases | Worst case | Met |",
        "| --- | --: | --- | --- |",
    ]
    for verdict in results["targets"]:
        worst = _worst(verdict, results["cases"])
        lines.append(_row([verdict["text"], str(verdict["cases"]), worst, _met(verdict)]))

    peers = [name for name in PEERS if name != BASELINE and name in settings["peers"]]
    measured = [name for name in PEERS if PEERS[name].memory]
    header = ["dtype", "N", "D", PEERS[BASELINE].label]
    header += [f"{PEERS[name].label} ÷ ours" for name in peers]
    header += [f"peak memory, {PEERS[name].label} ({SQUARE})" for name in measured]
    header += ["error vs PyTorch"]
    lines += ["", _row(header), _row(["---"] + ["--:"] * (len(header) - 1))]
    for case in results["cases"]:
        memory, error = case["memory"], case["error_vs_torch"]
        cells = [case["dtype"], str(case["n"]), str(case["d"])]
        cells.append(_milliseconds(case["seconds"][BASELINE]["median"]))
        cells += [_ratio(case["ratios"].get(name)) for name in peers]
        cells += [_memory(memory.get(name)) for name in measured]  # "—" where not run
        cells.append("—" if error is None else f"{error:.1e}")
        lines.append(_row(cells))
    return "\n".join(lines) + "\n"
