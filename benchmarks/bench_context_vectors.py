#!/usr/bin/env python3
"""Time `attention_ref.context_vectors` against its peers and write the results.

The peers (benchmarks/peers.py) run in two worker processes, numpy's and PyTorch's (its
idle threads would slow numpy down in a shared one), with the same number of threads.
Each repetition runs every peer once, in a rotating order, so a slow spell of the
machine hits all of them alike; the results keep medians, and each ratio is the median
of the per-repetition ratios. Peak memory comes from tracemalloc, which numpy reports
its arrays to.

    python benchmarks/bench_context_vectors.py             # the full grid (minutes)
    python benchmarks/bench_context_vectors.py --quick     # a small grid, a smoke run
    python benchmarks/bench_context_vectors.py --n 1024 4096 --d 768 --dtype float32

The full grid writes benchmarks/results/latest.json and docs/snippets/benchmark-table.md
(the docs show both); ``--quick`` writes results/quick.json only, unless ``--output``
and ``--table`` say otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.util
import itertools
import json
import math
import multiprocessing
import os
import platform
import re
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

# Siblings of this script (a script's own folder comes first on sys.path).
from peers import BASELINE, PEERS, REFERENCE, SEED, case_inputs
from report import SCHEMA_VERSION, evaluate_targets, load_results, render_table

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "latest.json"
QUICK_OUTPUT = ROOT / "benchmarks" / "results" / "quick.json"
DEFAULT_TABLE = ROOT / "docs" / "snippets" / "benchmark-table.md"

FULL_GRID = {"n": [2**k for k in range(8, 14)], "d": [3, 64, 768], "dtype": ["float32", "float64"]}
QUICK_GRID = {"n": [256, 1024], "d": [3, 768], "dtype": ["float32", "float64"]}
# Recorded, never changed: OpenBLAS tuning some machines set for themselves.
RECORDED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Set for the workers, so that every library starts with `threads` threads.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# --------------------------------------------------------------------------------------
# Run in a worker process, which keeps the current case's calls between two of them.
# --------------------------------------------------------------------------------------

_calls: dict[str, Callable[[], Any]] = {}
_number: dict[str, int] = {}


def start_numpy(threads: int) -> dict[str, Any]:
    """Limit numpy's BLAS to `threads`; say which numpy, scipy and BLAS run here."""
    import scipy
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(threads)
    built = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    running = next(pool for pool in threadpool_info() if pool["user_api"] == "blas")
    blas = {
        "name": built.get("name"),
        "version": built.get("version"),
        "configuration": " ".join(str(built.get("openblas configuration", "")).split()),
        "runtime": {"core": running.get("architecture"), "threads": running["num_threads"]},
    }
    return {"numpy": np.__version__, "scipy": scipy.__version__, "blas": blas}


def start_torch(threads: int) -> dict[str, Any]:
    """Limit PyTorch to `threads`; say which PyTorch runs here."""
    import torch

    torch.set_num_threads(threads)
    blas = "MKL" if torch.backends.mkl.is_available() else "not MKL"
    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas}


START = {"numpy": start_numpy, "torch": start_torch}  # one worker process each


def prepare(case: dict[str, Any], names: list[str], min_time: float) -> dict[str, int]:
    """Set the peers `names` up on the case's inputs; warm each up and count its calls."""
    _calls.clear()
    gc.collect()  # free the previous case's arrays before making new ones
    inputs = case_inputs(case)
    for name in names:
        call = _calls[name] = PEERS[name].make(inputs)
        started = time.perf_counter()
        call()  # warm-up: caches, pages, threads
        once = time.perf_counter() - started
        _number[name] = max(1, math.ceil(min_time / max(once, 1e-9)))  # calls per timing
    return {name: _number[name] for name in names}


def seconds_per_call(name: str) -> float:
    call, number = _calls[name], _number[name]
    started = time.perf_counter()
    for _ in range(number):
        call()
    return (time.perf_counter() - started) / number


def peak_bytes(name: str) -> int:
    """Peak bytes allocated by one call, the result included."""
    gc.collect()
    tracemalloc.start()
    try:
        _calls[name]()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def result(name: str) -> np.ndarray:
    return np.asarray(_calls[name](), dtype=np.float64)


# --------------------------------------------------------------------------------------
# Run in the parent: the grid, each case's peers interleaved, and the results.
# --------------------------------------------------------------------------------------


def measure(case: dict[str, Any], workers: dict[str, ProcessPoolExecutor], settings) -> dict:
    """Time, measure and compare every peer that applies to one case."""
    names = [n for n, p in PEERS.items() if p.process in workers and p.applies(case, settings)]

    def run(function: Callable, name: str) -> Any:  # in the peer's worker
        return workers[PEERS[name].process].submit(function, name).result()

    number: dict[str, int] = {}
    for kind, worker in workers.items():
        mine = [name for name in names if PEERS[name].process == kind]
        number |= worker.submit(prepare, case, mine, settings["min_time"]).result()
    runs: dict[str, list[float]] = {name: [] for name in names}
    previous = None
    for repetition in range(settings["repeats"]):
        shift = repetition % len(names)
        for name in names[shift:] + names[:shift]:  # rotate: no one always goes first
            if previous not in (None, PEERS[name].process):
                time.sleep(settings["settle"])  # while the other's threads stop spinning
            runs[name].append(run(seconds_per_call, name))
            previous = PEERS[name].process

    error = None
    if REFERENCE in names:
        ours, reference = run(result, BASELINE), run(result, REFERENCE)
        error = float(np.abs(ours - reference).max()) / max(1.0, float(np.abs(reference).max()))
    itemsize = np.dtype(case["dtype"]).itemsize
    square = case["n"] ** 2 * itemsize
    memory = {"nxn_bytes": square, "output_bytes": case["n"] * case["d"] * itemsize}
    for name in (name for name in names if PEERS[name].memory):
        peak = run(peak_bytes, name)
        memory[name] = {"peak_bytes": peak, "nxn_multiple": peak / square}
    seconds = {
        name: {"median": statistics.median(t), "min": min(t), "runs": t, "number": number[name]}
        for name, t in runs.items()
    }
    ratios = {
        name: statistics.median(t / o for t, o in zip(times, runs[BASELINE], strict=True))
        for name, times in runs.items()
        if name != BASELINE
    }
    return {**case, "seconds": seconds, "ratios": ratios, "memory": memory, "error_vs_torch": error}


def machine_info(started: dict[str, dict[str, Any]], threads: int) -> dict[str, Any]:
    """What the numbers depend on: CPU, library versions, BLAS, threads, tuning variables."""
    numpy, torch = started["numpy"], started.get("torch", {})
    cpuinfo = Path("/proc/cpuinfo")
    model = re.search(
        r"^model name\s*: (.*)$", cpuinfo.read_text() if cpuinfo.exists() else "", re.M
    )
    return {
        "cpu": model[1] if model else platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy["numpy"],
        "scipy": numpy["scipy"],
        "torch": torch.get("torch"),
        "blas": {"numpy": numpy["blas"], "torch": torch.get("blas")},
        "threads": threads,
        "thread_control": {
            "numpy": "threadpoolctl",
            "torch": "torch.set_num_threads" if torch else None,
        },
        "torch_threads": torch.get("threads"),
        "env": {name: os.environ.get(name) for name in RECORDED_ENV},
    }


def run_grid(args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole grid; return the results as written to JSON."""
    defaults = QUICK_GRID if args.quick else FULL_GRID
    grid = {key: getattr(args, key) or default for key, default in defaults.items()}
    settings = {"grid": grid, "repeats": args.repeats, "min_time": args.min_time}
    settings |= {"settle": args.settle, "loop_max_n": args.loop_max_n}
    kinds = ["numpy"]
    if not args.no_torch and importlib.util.find_spec("torch") is None:
        print("PyTorch is not installed: skipping it (pip install torch==2.13.0)", file=sys.stderr)
    elif not args.no_torch:
        kinds.append("torch")
    os.environ.update(dict.fromkeys(THREAD_ENV, str(args.threads)))  # the workers inherit it
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter for each worker
    workers = {kind: ProcessPoolExecutor(1, mp_context=spawn) for kind in kinds}
    began, load_before = datetime.datetime.now(datetime.UTC), os.getloadavg()
    cases: list[dict[str, Any]] = []
    try:
        started = {
            kind: w.submit(START[kind], args.threads).result() for kind, w in workers.items()
        }
        values = itertools.product(grid["dtype"], grid["n"], grid["d"])
        grid_cases = [dict(zip(("dtype", "n", "d"), case, strict=True)) for case in values]
        for case in grid_cases:
            cases.append(measure(case, workers, settings))
            print_progress(len(cases), len(grid_cases), cases[-1])
    finally:
        for worker in workers.values():
            worker.shutdown()
    machine = machine_info(started, args.threads)
    machine["loadavg"] = {"before": list(load_before), "after": list(os.getloadavg())}
    settings["peers"] = sorted({name for case in cases for name in case["ratios"]})
    settings |= {"inputs": "standard normal x D^-1/4, seeded per (N, D)", "seed": SEED}
    results: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "benchmark": "attention_ref.context_vectors",
        "date": began.isoformat(timespec="seconds"),
        "seconds_total": round((datetime.datetime.now(datetime.UTC) - began).total_seconds(), 1),
        "machine": machine,
        "settings": settings,
        "cases": cases,
    }
    results["targets"] = evaluate_targets(results)
    return results


def print_progress(done: int, total: int, case: dict[str, Any]) -> None:
    ratios = "  ".join(f"{peer} {ratio:.2f}x" for peer, ratio in case["ratios"].items())
    ours = case["seconds"][BASELINE]["median"] * 1e3
    where = f"[{done}/{total}] {case['dtype']} N={case['n']} D={case['d']}"
    print(f"{where}: ours {ours:.2f} ms, peer time / ours: {ratios}", file=sys.stderr, flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    option = parser.add_argument
    option("--quick", action="store_true", help="a small grid for a smoke run")
    option("--n", type=int, nargs="+", help="token counts N (default 256 ... 8192)")
    option("--d", type=int, nargs="+", help="dimensions D (default 3 64 768)")
    option("--dtype", nargs="+", choices=["float32", "float64"], help="default both")
    option("--repeats", type=int, default=5, help="interleaved repetitions (5)")
    option("--min-time", type=float, default=0.05, help="seconds a timing lasts at least (0.05)")
    option(
        "--settle",
        type=float,
        default=0.15,
        help="pause before switching process (0.15 s; spinning threads sleep)",
    )
    option("--loop-max-n", type=int, default=512, help="time the loop form up to this N (512)")
    option("--threads", type=int, default=os.cpu_count() or 1, help="threads for every library")
    option("--no-torch", action="store_true", help="leave PyTorch out")
    option("--output", type=Path, help="results JSON (default results/latest.json)")
    option("--table", type=Path, help="Markdown table for the docs")
    option("--render-only", action="store_true", help="rewrite verdicts and table from --output")
    args = parser.parse_args(argv)
    for name in ("repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1; got {getattr(args, name)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    output = args.output or (QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT)
    table_path = args.table or (None if args.quick else DEFAULT_TABLE)
    if args.render_only:
        results = load_results(output)
        results["targets"] = evaluate_targets(results)
    else:
        results = run_grid(args)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    table = render_table(results)
    if table_path is not None:
        table_path.parent.mkdir(parents=True, exist_ok=True)
        table_path.write_text(table, encoding="utf-8")
    print(table)
    print(f"Results: {output}" + (f"\nTable: {table_path}" if table_path else ""))


if __name__ == "__main__":
    main()
