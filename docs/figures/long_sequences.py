"""Long sequences: memory and time of the full and the blocked form, D = 64, float64.

From the committed benchmark run (benchmarks/results/latest.json), with the formulas of
the page drawn as lines: the full form's N x N scores; the blocked form's blocks and,
as these inputs need no shift and each block is made once, each thread's own N x (D + 1)
sums.
"""

from __future__ import annotations

from _style import Theme, new_figure
from matplotlib.figure import Figure
from performance import (
    FORMS,
    bound,
    line_cases,
    load_results,
    log_axes,
    median_seconds,
    plot_forms,
    rss,
)

SHOWN = {form: FORMS[form] for form in ("full", "blocked", "torch_fused")}
D, ITEMSIZE = 64, 8


def long_sequences(theme: Theme) -> Figure:
    """Left: peak memory, measured and by formula; right: time, with the bound."""
    results = load_results()
    cases = [c for c in line_cases(results, D) if c["n"] >= 1024 and rss(c, "torch_fused")]
    threads, block = results["machine"]["threads"], results["settings"].get("block", 512)
    sizes = [c["n"] for c in cases]
    fig = new_figure(theme, 9.0, 4.2)
    memory, speed = fig.subplots(1, 2)
    plot_forms(memory, theme, cases, lambda c, f: (rss(c, f) or float("nan")) / 2**20, SHOWN)
    output = [ITEMSIZE * n * D for n in sizes]
    full = [ITEMSIZE * n * n + out for n, out in zip(sizes, output, strict=True)]
    blocked = [
        ITEMSIZE * threads * (block * block + block * D + n * (D + 1)) + out
        for n, out in zip(sizes, output, strict=True)
    ]
    for values, colour in ((full, 0), (blocked, 1)):
        memory.plot(sizes, [v / 2**20 for v in values], "-", color=theme.palette[colour],
                    alpha=0.45, linewidth=4)  # fmt: skip
    memory.set_ylabel("peak memory of one call, MiB")
    memory.set_title("memory: markers measured, wide lines the formulas")
    plot_forms(speed, theme, cases, median_seconds, SHOWN)
    machine = results["machine"]
    speed.plot(sizes, [bound(c, machine) for c in cases], ":", color=theme.fg, label="bound")
    speed.set_ylabel("seconds per call")
    speed.set_title("time")
    for ax in (memory, speed):
        log_axes(ax, sizes)
    speed.legend(fontsize=9)
    return fig


FIGURES = {"long-sequences": long_sequences}
