"""Turn benchmark results (results/latest.json) into the targets' verdicts and Markdown tables.

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

SCHEMA_VERSION = 2
TIMES = "\N{MULTIPLICATION SIGN}"  # as in 1.3×
SQUARE = f"N{TIMES}N"  # one N x N array
MIB = 2**20

Case = dict[str, Any]


def bound_seconds(case: Case, machine: dict[str, Any]) -> float:
    """The time two GEMMs and N^2 exps take at this machine's rates, on its threads.

    4 N^2 D flops (X X^T and the weights times X) at the GEMM rate, plus N^2
    exponentials at the one-core np.exp rate times the number of threads.
    """
    rates, n, d = machine["rates"][case["dtype"]], case["n"], case["d"]
    exps = rates["exp_per_second_one_core"] * machine["threads"]
    return 4 * n * n * d / rates["gemm_flops_per_second"] + n * n / exps


def label(case: Case) -> str:
    """A case as the tables name it."""
    if case["suite"] == "sdpa":
        causal = "causal" if case["causal"] else "not causal"
        return f"{case['dtype']}, {tuple(case['shape'])}, {causal}"
    if case["suite"] == "mha":
        weights = "with weights" if case["weights"] else "without weights"
        size = f"{case['d']}{TIMES}{case['heads']} heads"
        return f"{case['dtype']}, batch {case['batch']}, N={case['n']}, {size}, {weights}"
    return f"{case['dtype']}, N={case['n']}, D={case['d']}"


def slower(case: Case, peer: str) -> float:
    """The baseline's time ÷ `peer`'s (the stored ratios are peer ÷ baseline)."""
    return 1 / case["ratios"][peer]


def memory_excess(case: Case) -> int:
    """Bytes of the full form's peak beyond one N x N array plus the output."""
    memory = case["memory"]
    return memory["full"]["peak_bytes"] - memory["nxn_bytes"] - memory["output_bytes"]


def memory_slack(case: Case) -> int:
    """Bytes allowed beyond that: 8 length-N vectors (row maxima, row sums) and 128 KiB.

    The 128 KiB cover numpy's internal ufunc buffers (8192 elements, 64 KiB in float64)
    and small Python objects: constant, whatever N is.
    """
    itemsize = case["memory"]["nxn_bytes"] // case["n"] ** 2
    return 8 * case["n"] * itemsize + 128 * 1024


def where(suite: str, **values: Any) -> Callable[[Case], bool]:
    return lambda case: case["suite"] == suite and all(case[k] == v for k, v in values.items())


def ratio_to(peer: str, suite: str, test: Callable[[Case], bool] = lambda case: True):
    return lambda case: case["suite"] == suite and peer in case["ratios"] and test(case)


def measured(peer: str, key: str, test: Callable[[Case], bool]) -> Callable[[Case], bool]:
    return lambda case: test(case) and case["memory"].get(peer, {}).get(key) is not None


@dataclass(frozen=True)
class Target:
    issue: int
    text: str
    applies: Callable[[Case], bool]
    value: Callable[[Case], float]
    threshold: float
    higher_is_better: bool = False
    show: Callable[[float, Case], str] = lambda value, case: f"{value:.2f}{TIMES}"

    def meets(self, value: float) -> bool:
        return value >= self.threshold if self.higher_is_better else value <= self.threshold


LONG_16K = where("long", n=16384, d=64, dtype="float64")
LONG_64K = where("long", n=65536, d=64, dtype="float64")
TARGETS = {
    "blocked-16k-memory": Target(
        11,
        "N=16384, D=64, float64: the blocked form's peak memory ≤ 64 MiB (tracemalloc)",
        measured("blocked", "peak_bytes", LONG_16K),
        lambda case: case["memory"]["blocked"]["peak_bytes"] / MIB,
        64,
        show=lambda value, case: f"{value:.3g} MiB",
    ),
    "blocked-16k-time": Target(
        11,
        f"N=16384, D=64, float64: the blocked form's time ≤ 1.2{TIMES} the full form's",
        ratio_to("full", "long", LONG_16K),
        lambda case: slower(case, "full"),
        1.2,
    ),
    "blocked-64k-memory": Target(
        11,
        "N=65536, D=64, float64: the blocked form completes within 4 GiB (RSS growth)",
        measured("blocked", "rss_growth_bytes", LONG_64K),
        lambda case: case["memory"]["blocked"]["rss_growth_bytes"] / MIB,
        4096,
        show=lambda value, case: f"{value:,.0f} MiB",
    ),
    "blocked-64k-time": Target(
        11,
        f"N=65536, D=64, float64: the blocked form ≤ 2{TIMES} PyTorch fused's time",
        ratio_to("torch_fused", "long", LONG_64K),
        lambda case: slower(case, "torch_fused"),
        2.0,
    ),
    "default-fused-small-d": Target(
        11,
        f"ours (block_size=None) ≤ 1.5{TIMES} PyTorch fused's time for N ≥ 4096, D = 3 and 64",
        ratio_to("torch_fused", "context", lambda case: case["n"] >= 4096 and case["d"] < 768),
        lambda case: slower(case, "torch_fused"),
        1.5,
    ),
    "default-fused-768": Target(
        11,
        f"ours (block_size=None) ≤ 1.1{TIMES} PyTorch fused's time for N ≥ 4096, D = 768",
        ratio_to("torch_fused", "context", lambda case: case["n"] >= 4096 and case["d"] == 768),
        lambda case: slower(case, "torch_fused"),
        1.1,
    ),
    "sdpa-1.5x": Target(
        16,
        f"scaled_dot_product_attention ≤ 1.5{TIMES} PyTorch's time",
        ratio_to("torch_sdpa", "sdpa"),
        lambda case: slower(case, "torch_sdpa"),
        1.5,
    ),
    "mha-1.2x": Target(
        16,
        f"MultiHeadAttention ≤ 1.2{TIMES} torch.nn.MultiheadAttention's time",
        ratio_to("torch_mha", "mha"),
        lambda case: slower(case, "torch_mha"),
        1.2,
    ),
    "trainable-agreement-float64": Target(
        16,
        f"trainable path agrees with PyTorch in float64: max abs error ≤ 1e-12 {TIMES} max(1, max abs)",
        lambda case: case["suite"] in ("sdpa", "mha") and case["dtype"] == "float64",
        lambda case: case["error"],
        1e-12,
        show=lambda value, case: f"{value:.1e}",
    ),
    "scipy-never-slower": Target(
        2,
        "ours never slower than the scipy pipeline (scipy ÷ ours ≥ 1)",
        ratio_to("scipy", "context"),
        lambda case: case["ratios"]["scipy"],
        1.0,
        higher_is_better=True,
    ),
    "scipy-1.3x-large-n": Target(
        2,
        f"ours at least 1.3{TIMES} faster than the scipy pipeline for N ≥ 4096",
        ratio_to("scipy", "context", lambda case: case["n"] >= 4096),
        lambda case: case["ratios"]["scipy"],
        1.3,
        higher_is_better=True,
    ),
    "memory-one-nxn": Target(
        2,
        f"the full form's peak: one {SQUARE} array plus the output, "
        "give or take 8 length-N vectors and 128 KiB",
        measured("full", "peak_bytes", where("context")),
        lambda case: memory_excess(case) / memory_slack(case),  # the share of slack used
        1.0,
        show=lambda value, case: (
            f"{_bytes(memory_excess(case))} over, of {_bytes(memory_slack(case))} allowed"
        ),
    ),
    "context-agreement-float64": Target(
        2,
        f"ours agrees with PyTorch in float64: max abs error ≤ 1e-13 {TIMES} max(1, max abs Z)",
        lambda case: case["suite"] == "context" and case["dtype"] == "float64",
        lambda case: case["error"],
        1e-13,
        show=lambda value, case: f"{value:.1e}",
    ),
}


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Check each target on the cases it applies to; report the worst case of each."""
    verdicts = []
    for name, target in TARGETS.items():
        cases = [case for case in results["cases"] if target.applies(case)]
        values = [target.value(case) for case in cases]
        verdict: dict[str, Any] = {"id": name, "issue": target.issue, "text": target.text}
        verdict |= {"threshold": target.threshold, "cases": len(cases)}
        verdict |= {"missed": sum(not target.meets(value) for value in values), "met": None}
        verdict |= {"worst": None, "worst_case": None}
        if cases:
            pick = min if target.higher_is_better else max
            worst = pick(range(len(cases)), key=values.__getitem__)
            shown = target.show(values[worst], cases[worst])
            verdict.update(
                met=verdict["missed"] == 0,
                worst=values[worst],
                worst_case=f"{shown} ({label(cases[worst])})",
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


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    ms = seconds * 1e3
    return f"{ms:.3g} ms" if ms < 1000 else f"{ms:,.0f} ms"


def _ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3g}{TIMES}" if value < 100 else f"{value:,.0f}{TIMES}"


def _bytes(count: float | None) -> str:
    if count is None:
        return "—"
    for unit in ("B", "KiB", "MiB"):
        if abs(count) < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.3g} {unit}"
        count /= 1024
    return f"{count:.3g} GiB"


def _met(verdict: dict[str, Any]) -> str:
    if verdict["met"] is None:
        return "not measured"
    return "yes" if verdict["met"] else f"**no** ({verdict['missed']} of {verdict['cases']} cases)"


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: list[str], rows: list[list[str]], left: int = 1) -> list[str]:
    rule = ["---"] * left + ["--:"] * (len(header) - left)
    return ["", _row(header), _row(rule), *map(_row, rows)]


def median(case: Case, peer: str) -> float | None:
    return case["seconds"].get(peer, {}).get("median")


def _error(case: Case) -> str:
    return "—" if case["error"] is None else f"{case['error']:.1e}"


def render_table(results: dict[str, Any]) -> str:
    """The Markdown the performance page includes: machine, targets, then each suite."""
    machine, settings, cases = results["machine"], results["settings"], results["cases"]
    blas = machine["blas"]["numpy"]
    core = (blas.get("runtime") or {}).get("core")
    torch = f", PyTorch {machine['torch']} ({machine['blas']['torch']})" if machine["torch"] else ""
    how = [f"medians of {settings['repeats']} interleaved repetitions"]
    if load := machine.get("loadavg"):
        how.append(f"load average {load['before'][0]:.1f} before, {load['after'][0]:.1f} after")
    how += [f"{name}={value}" for name, value in machine["env"].items() if value]
    rates = ", ".join(
        f"{dtype} GEMM {rate['gemm_flops_per_second'] / 1e9:.3g} Gflop/s on "
        f"{machine['threads']} threads and np.exp {rate['exp_per_second_one_core'] / 1e9:.3g} "
        "G/s on one core"
        for dtype, rate in machine["rates"].items()
    )
    lines = [
        f"Measured {results['date'][:10]} on {machine['cpu']} ({machine['cores']} cores), "
        f"{machine['threads']} threads for every library: numpy {machine['numpy']} "
        f"({blas['name']} {blas['version']}{f', {core} kernels' if core else ''}), "
        f"scipy {machine['scipy']}{torch}; " + "; ".join(how) + f". Rates: {rates}.",
        "",
        "| Issue | Target | Cases | Worst case | Met |",
        "| --: | --- | --: | --- | --- |",
    ]
    for v in results["targets"]:
        cells = [f"#{v['issue']}", v["text"], str(v["cases"]), v["worst_case"] or "—", _met(v)]
        lines.append(_row(cells))

    context = [case for case in cases if case["suite"] == "context"]
    names = [n for n in PEERS if n in settings["peers"] and "context" in PEERS[n].suites]
    peers = [name for name in names if name != "ours"]
    lines += ["", "**Context vectors**: each peer's time ÷ ours (above 1, ours is faster)."]
    header = ["dtype", "N", "D", "bound", "ours", "ours ÷ bound"]
    header += [f"{PEERS[name].label} ÷ ours" for name in peers] + ["error vs fused"]
    rows = []
    for case in context:
        bound, ours = bound_seconds(case, machine), median(case, "ours")
        cells = [case["dtype"], str(case["n"]), str(case["d"]), _ms(bound), _ms(ours)]
        cells.append(_ratio(None if ours is None else ours / bound))
        cells += [_ratio(case["ratios"].get(name)) for name in peers]
        rows.append([*cells, _error(case)])
    lines += _table(header, rows)

    traced = [name for name in names if PEERS[name].memory]
    lines += ["", f"**Peak memory** of one call (tracemalloc), in {SQUARE} arrays of the dtype."]
    header = ["dtype", "N", "D"] + [PEERS[name].label for name in traced]
    rows = []
    for case in context:
        memory = case["memory"]
        cells = [case["dtype"], str(case["n"]), str(case["d"])]
        for name in traced:
            peak = memory.get(name, {}).get("peak_bytes")
            cells.append("—" if peak is None else f"{peak / memory['nxn_bytes']:.2f}")
        rows.append(cells)
    lines += _table(header, rows)

    line = [case for case in cases if case["suite"] in ("context", "long") and case["d"] == 64]
    line = [case for case in line if case["dtype"] == "float64"]
    lines += ["", "**Long sequences** (D=64, float64): time, and the growth of a fresh "]
    lines[-1] += "process's maximum resident set over one call (RSS), for every form."
    header = ["N", "form", "time", f"{TIMES} bound", "÷ PyTorch fused", "tracemalloc", "RSS"]
    rows = []
    for case in sorted(line, key=lambda case: case["n"]):
        fused = median(case, "torch_fused")
        for name in case["seconds"]:
            memory = case["memory"].get(name, {})
            if case["suite"] == "context" and "rss_growth_bytes" not in memory:
                continue
            seconds = median(case, name)
            cells = [str(case["n"]), PEERS[name].label, _ms(seconds)]
            cells.append(_ratio(seconds / bound_seconds(case, machine)))
            cells.append(_ratio(seconds / fused if fused else None))
            cells += [_bytes(memory.get("peak_bytes")), _bytes(memory.get("rss_growth_bytes"))]
            rows.append(cells)
    lines += _table(header, rows, left=2)

    lines += ["", "**Trainable shapes**: ours against PyTorch, in one run."]
    header = ["function", "case", "ours", "PyTorch", "ours ÷ PyTorch", "error"]
    rows = []
    for case in (case for case in cases if case["suite"] in ("sdpa", "mha")):
        ours, theirs = BASELINE[case["suite"]], f"torch_{case['suite']}"
        what = "scaled_dot_product_attention" if case["suite"] == "sdpa" else "MultiHeadAttention"
        cells = [f"`{what}`", label(case), _ms(median(case, ours)), _ms(median(case, theirs))]
        ratio = case["ratios"].get(theirs)
        rows.append([*cells, _ratio(None if ratio is None else 1 / ratio), _error(case)])
    lines += _table(header, rows, left=2)
    return "\n".join(lines) + "\n"
