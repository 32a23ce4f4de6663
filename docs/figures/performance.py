"""Performance: speed relative to the peers and peak memory, from the committed benchmark run.

Drawn from benchmarks/results/latest.json, which `python3 dev.py bench` writes, so the
figures always show the same run as the table on the page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from _style import Theme, new_figure
from matplotlib.figure import Figure

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "latest.json"
PEERS = {"scipy": ("scipy pipeline", "o-"), "torch": ("PyTorch", "s--")}


def load_results() -> dict[str, Any]:
    """The committed benchmark results."""
    return json.loads(RESULTS.read_text(encoding="utf-8"))


def series(results: dict[str, Any], dtype: str, d: int, value) -> tuple[list[int], list[float]]:
    """(N, value(case)) for the cases of one dtype and D, in increasing N."""
    cases = sorted(
        (case for case in results["cases"] if case["dtype"] == dtype and case["d"] == d),
        key=lambda case: case["n"],
    )
    return [case["n"] for case in cases], [value(case) for case in cases]


def grid_axes(ax, theme: Theme, sizes: list[int]) -> None:
    """Log2 N on x with every measured N labelled, and the theme's colours."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, labels=[str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("N, the number of tokens")
    ax.grid(True)


def plot_speed(results: dict[str, Any], theme: Theme) -> Figure:
    """Peer time ÷ our time against N: one panel per dtype, one colour per D."""
    grid = results["settings"]["grid"]
    peers = [peer for peer in PEERS if peer in results["settings"]["peers"]]
    fig = new_figure(theme, 8.0, 4.6)
    axes = fig.subplots(1, len(grid["dtype"]), sharey=True, squeeze=False)[0]
    ratios = [case["ratios"][peer] for case in results["cases"] for peer in peers]
    low, high = np.log2(min(ratios)), np.log2(max(ratios))
    ticks = 2.0 ** np.arange(np.floor(low), np.ceil(high) + 1)  # powers of 2 around the data
    for ax, dtype in zip(axes, grid["dtype"], strict=True):
        ax.axhline(1.0, color=theme.fg, linewidth=1.0)
        for colour, d in zip(theme.palette, grid["d"], strict=False):
            for peer in peers:
                label, style = PEERS[peer]
                sizes, values = series(results, dtype, d, lambda case, p=peer: case["ratios"][p])
                ax.plot(sizes, values, style, color=colour, label=f"{label}, D={d}", markersize=4)
        ax.set_yscale("log", base=2)
        ax.set_yticks(ticks, labels=[f"{tick:g}" for tick in ticks])
        ax.set_title(dtype, fontsize=11)
        grid_axes(ax, theme, grid["n"])
    axes[0].set_ylabel("peer's time ÷ our time\n(above 1: ours is faster)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside lower center", ncols=len(grid["d"]), frameon=False,
        fontsize=9, labelcolor=theme.fg,
    )  # fmt: skip
    return fig


def plot_memory(results: dict[str, Any], theme: Theme) -> Figure:
    """Peak memory in units of one N x N array against N, ours and scipy's, float64."""
    grid = results["settings"]["grid"]
    dtype = "float64" if "float64" in grid["dtype"] else grid["dtype"][0]
    fig = new_figure(theme, 6.4, 4.0)
    ax = fig.add_subplot()
    for colour, d in zip(theme.palette, grid["d"], strict=False):
        for impl, label, style in (("ours", "ours", "o-"), ("scipy", "scipy pipeline", "s--")):
            sizes, peaks = series(
                results, dtype, d, lambda case, i=impl: case["memory"][i]["nxn_multiple"]
            )
            ax.plot(sizes, peaks, style, color=colour, label=f"{label}, D={d}", markersize=4)
    ax.set_ylim(0, None)
    ax.set_ylabel(f"peak memory ÷ one N\N{MULTIPLICATION SIGN}N {dtype} array")
    grid_axes(ax, theme, grid["n"])
    ax.legend(frameon=False, fontsize=8, labelcolor=theme.fg, ncols=2)
    return fig


def performance_speed(theme: Theme) -> Figure:
    """The speed figure of the committed run."""
    return plot_speed(load_results(), theme)


def performance_memory(theme: Theme) -> Figure:
    """The memory figure of the committed run."""
    return plot_memory(load_results(), theme)


FIGURES = {"performance-speed": performance_speed, "performance-memory": performance_memory}
