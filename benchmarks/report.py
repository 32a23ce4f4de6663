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

from peers import BASELINE, HEAD_PRODUCT, PEERS

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


Test = Callable[[Case], bool]


def long(n: int) -> Test:
    return lambda case: case["n"] == n and case["d"] == 64 and case["dtype"] == "float64"


def faster(issue: int, text: str, suite: str, peer: str, limit: float, test: Test = bool) -> Target:
    """Ours (the suite's baseline) within `limit` times `peer`'s time, where `test` holds."""
    applies = lambda case: case["suite"] == suite and peer in case["ratios"] and test(case)  # noqa: E731
    return Target(issue, text, applies, lambda case: 1 / case["ratios"][peer], limit)


def peak(issue: int, text: str, suite: str, key: str, mib: float, test: Test) -> Target:
    """The blocked form's peak `key` (tracemalloc or RSS) at most `mib` MiB."""
    get = lambda case: case["memory"].get("blocked", {}).get(key)  # noqa: E731
    applies = lambda case: case["suite"] == suite and test(case) and get(case) is not None  # noqa: E731
    return Target(
        issue, text, applies, lambda c: get(c) / MIB, mib, show=lambda v, c: f"{v:,.3g} MiB"
    )


def agrees(issue: int, text: str, suites: tuple[str, ...], limit: float) -> Target:
    applies = lambda c: c["suite"] in suites and c["dtype"] == "float64" and c["error"] is not None  # noqa: E731
    return Target(issue, text, applies, lambda c: c["error"], limit, show=lambda v, c: f"{v:.1e}")


def scipy(text: str, limit: float, test: Test = bool) -> Target:
    target = faster(2, text, "context", "scipy", limit, test)
    return Target(2, text, target.applies, lambda c: c["ratios"]["scipy"], limit, True)


AT = "N=16384, D=64, float64: the blocked form's"
AT64K = "N=65536, D=64, float64: the blocked form"
FUSED = "ours (block_size=None) ≤ {}" + TIMES + " PyTorch fused's time, N ≥ 4096, D = {}"
FUSED_AT = {
    3: lambda c: c["n"] >= 4096 and c["d"] < 768,
    768: lambda c: c["n"] >= 4096 and c["d"] == 768,
}
ERROR = "float64: max abs error vs PyTorch ≤ {} " + TIMES + " max(1, max abs result)"
NXN = f"the full form's peak: one {SQUARE} array and the output, ± 8 length-N vectors and 128 KiB"
TARGETS = {
    "blocked-16k-memory": peak(
        11, f"{AT} peak ≤ 64 MiB (tracemalloc)", "long", "peak_bytes", 64, long(16384)
    ),
    "blocked-16k-time": faster(
        11, f"{AT} time ≤ 1.2{TIMES} the full form's", "long", "full", 1.2, long(16384)
    ),
    "blocked-64k-memory": peak(
        11, f"{AT64K} completes in 4 GiB (RSS)", "long", "rss_growth_bytes", 4096, long(65536)
    ),
    "blocked-64k-time": faster(
        11, f"{AT64K} ≤ 2{TIMES} PyTorch fused's time", "long", "torch_fused", 2.0, long(65536)
    ),
    "default-fused-small-d": faster(
        11, FUSED.format(1.5, "3 and 64"), "context", "torch_fused", 1.5, FUSED_AT[3]
    ),
    "default-fused-768": faster(
        11, FUSED.format(1.1, 768), "context", "torch_fused", 1.1, FUSED_AT[768]
    ),
    "sdpa-1.5x": faster(
        16, f"scaled_dot_product_attention ≤ 1.5{TIMES} PyTorch's time", "sdpa", "torch_sdpa", 1.5
    ),
    "mha-1.2x": faster(
        16, f"MultiHeadAttention ≤ 1.2{TIMES} PyTorch's time", "mha", "torch_mha", 1.2
    ),
    "trainable-agreement-float64": agrees(
        16, "trainable, " + ERROR.format("1e-12"), ("sdpa", "mha"), 1e-12
    ),
    "scipy-never-slower": scipy(
        "ours never slower than the scipy pipeline (scipy ÷ ours ≥ 1)", 1.0
    ),
    "scipy-1.3x-large-n": scipy(
        f"ours ≥ 1.3{TIMES} faster than scipy for N ≥ 4096", 1.3, lambda c: c["n"] >= 4096
    ),
    "memory-one-nxn": Target(
        2,
        NXN,
        lambda c: c["suite"] == "context" and "peak_bytes" in c["memory"].get("full", {}),
        lambda c: memory_excess(c) / memory_slack(c),
        1.0,  # the share of slack used
        show=lambda v, c: f"{_bytes(memory_excess(c))} over, of {_bytes(memory_slack(c))} allowed",
    ),
    "context-agreement-float64": agrees(
        2, "context vectors, " + ERROR.format("1e-13"), ("context",), 1e-13
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
    header += [PEERS[name].label for name in peers]
    rows = []
    for case in context:
        bound, ours = bound_seconds(case, machine), median(case, "ours")
        cells = [case["dtype"], str(case["n"]), str(case["d"]), _ms(bound), _ms(ours)]
        cells.append(_ratio(None if ours is None else ours / bound))
        cells += [_ratio(case["ratios"].get(name)) for name in peers]
        rows.append(cells)
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
    lines += ["", "**Every form at D=64, float64, up to the long sequences**: time, and "]
    lines[-1] += "how far one call raised a fresh process's peak resident set (RSS)."
    header = ["N", "form", "time", "÷ bound", "÷ PyTorch fused", "tracemalloc", "RSS"]
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
    if heads := _head_product_rates(machine):
        lines += ["", f"One head's product of queries and keys, {heads}."]
    return "\n".join(lines) + "\n"


def _head_product_rates(machine: dict[str, Any]) -> str | None:
    """Each library's rate for one head's ``q @ k.T`` on one core, as the table says it."""
    theirs = machine.get("torch_head_product_flops_per_second_one_core")
    if not theirs:
        return None
    rows, features = HEAD_PRODUCT
    rates = "; ".join(
        f"{dtype}: numpy {rate['head_product_flops_per_second_one_core'] / 1e9:.3g} Gflop/s, "
        f"PyTorch {theirs[dtype] / 1e9:.3g}"
        for dtype, rate in machine["rates"].items()
    )
    shape = f"({rows} {TIMES} {features}) by ({features} {TIMES} {rows})"
    return f"{shape} on one core: {rates}"
