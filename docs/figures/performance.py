"""Performance: time and peak memory of every form against N, from the committed run.

Drawn from benchmarks/results/latest.json, which `python3 dev.py bench` writes, so the
figures always show the same run as the tables on the page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from _style import Theme, new_figure
from matplotlib.figure import Figure

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "latest.json"
# Each form: its label, the colour's index in the theme's palette, marker and line style.
FORMS = {
    "loop": ("loop form", 3, "v", ":"),
    "full": ("full form", 0, "o", "-"),
    "blocked": ("blocked form", 1, "s", "-"),
    "ours": ("ours (default)", 2, "D", "--"),
    "scipy": ("scipy pipeline", 3, "^", "--"),
    "torch_2d": ("PyTorch (N, D)", 4, "x", ":"),
    "torch_fused": ("PyTorch fused", 5, "P", "-"),
}


def load_results() -> dict[str, Any]:
    """The committed benchmark results."""
    return json.loads(RESULTS.read_text(encoding="utf-8"))


def line_cases(results: dict[str, Any], d: int, dtype: str = "float64") -> list[dict]:
    """The (N, D) cases of one D and dtype, short and long, in increasing N."""
    cases = [c for c in results["cases"] if c["suite"] in ("context", "long")]
    return sorted((c for c in cases if c["d"] == d and c["dtype"] == dtype), key=lambda c: c["n"])


def bound(case: dict[str, Any], machine: dict[str, Any]) -> float:
    """4 N^2 D flops at the GEMM rate plus N^2 exps on all threads (benchmarks/report.py)."""
    rates, n = machine["rates"][case["dtype"]], case["n"]
    exps = rates["exp_per_second_one_core"] * machine["threads"]
    return 4 * n * n * case["d"] / rates["gemm_flops_per_second"] + n * n / exps


def plot_forms(ax, theme: Theme, cases: list[dict], value, forms=FORMS) -> None:
    """One line per form: value(case, form) against N, where the form was measured."""
    for form, (label, colour, marker, style) in forms.items():
        points = [(c["n"], value(c, form)) for c in cases if form in c["seconds"]]
        points = [(n, v) for n, v in points if v is not None]
        if points:
            sizes, values = zip(*points, strict=True)
            ax.plot(sizes, values, linestyle=style, marker=marker, markersize=5,
                    color=theme.palette[colour], label=label)  # fmt: skip


def log_axes(ax, sizes: list[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    # Beyond 7 doublings the labels of a narrow panel run into each other: then only
    # every other power of 2 is labelled (256, 1K, 4K, 16K, 64K).
    crowded = max(sizes) > 2**7 * min(sizes)
    labels = [
        "" if crowded and n.bit_length() % 2 == 0 else f"{n // 1024}K" if n >= 1024 else str(n)
        for n in sizes
    ]
    ax.set_xticks(sizes, labels=labels)
    ax.minorticks_off()
    ax.set_xlabel("N, the number of tokens")
    ax.grid(True)


def median_seconds(case: dict[str, Any], form: str) -> float:
    return case["seconds"][form]["median"]


def plot_speed(results: dict[str, Any], theme: Theme) -> Figure:
    """Time of one call against N, float64, one panel per D, with the bound dotted."""
    machine, ds = results["machine"], results["settings"]["grid"]["context"]["d"]
    fig = new_figure(theme, 9.0, 4.4)
    axes = fig.subplots(1, len(ds), squeeze=False)[0]
    for ax, d in zip(axes, ds, strict=True):
        cases = line_cases(results, d)
        plot_forms(ax, theme, cases, median_seconds)
        sizes = [c["n"] for c in cases]
        ax.plot(sizes, [bound(c, machine) for c in cases], ":", color=theme.fg, label="bound")
        ax.set_title(f"D = {d}, float64")
        log_axes(ax, sizes)
    axes[0].set_ylabel("seconds per call")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize=9)
    return fig


def rss(case: dict[str, Any], form: str) -> float | None:
    return case["memory"].get(form, {}).get("rss_growth_bytes")


def plot_memory(results: dict[str, Any], theme: Theme) -> Figure:
    """Peak memory of one call (RSS growth in a fresh process) against N, D = 64, float64."""
    cases = [c for c in line_cases(results, 64) if any(rss(c, f) for f in FORMS)]
    fig = new_figure(theme, 6.4, 4.4)
    ax = fig.add_subplot()
    plot_forms(ax, theme, cases, lambda c, f: (rss(c, f) or np.nan) / 2**20)
    sizes = [c["n"] for c in cases]
    square = [8 * n * n / 2**20 for n in sizes]
    ax.plot(sizes, square, ":", color=theme.fg, label=f"one N{chr(215)}N float64 array")
    ax.set_ylabel("peak memory of one call, MiB")
    log_axes(ax, sizes)
    ax.legend(fontsize=8, ncols=2)
    return fig


def performance_speed(theme: Theme) -> Figure:
    """The speed figure of the committed run."""
    return plot_speed(load_results(), theme)


def performance_memory(theme: Theme) -> Figure:
    """The memory figure of the committed run."""
    return plot_memory(load_results(), theme)


FIGURES = {"performance-speed": performance_speed, "performance-memory": performance_memory}
