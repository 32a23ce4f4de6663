#!/usr/bin/env python3
"""Time `attention_ref.context_vectors` against its peers and write the results.

Peers, all computing softmax(X Xᵀ) X for the same inputs X (N tokens x D dimensions),
each as its users call it (benchmarks/peers.py):

- ``scipy``: ``scipy.special.softmax(x @ x.T, axis=-1) @ x``, the obvious pipeline;
- ``torch``: PyTorch CPU ``scaled_dot_product_attention(x, x, x, scale=1.0)``, in its
  own process (its idle OpenMP threads would slow numpy down in a shared one);
- ``loop``: ``attention_ref.context_vectors_loop``, the prose as code (small N only).

Every implementation runs with the same number of threads and in the same dtype. Each
repetition runs every implementation once, in a rotating order (interleaved), so a
slow spell of the machine hits all of them alike; the table reports medians, and each
ratio is the median of the per-repetition ratios, all from the same run. Peak memory
comes from tracemalloc, which numpy reports its arrays to. Agreement with PyTorch is
max |ours - torch| / max(1, max |torch|).

    python benchmarks/bench_context_vectors.py             # the full grid (minutes)
    python benchmarks/bench_context_vectors.py --quick     # a small grid, a smoke run
    python benchmarks/bench_context_vectors.py --n 1024 4096 --d 768 --dtype float32

The full grid writes benchmarks/results/latest.json and docs/snippets/benchmark-table.md
(the docs show both); ``--quick`` writes benchmarks/results/quick.json only, unless
``--output``/``--table`` say otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import importlib.util
import json
import math
import multiprocessing
import os
import platform
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
# Set for the worker processes, so that every library starts with `threads` threads.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# --------------------------------------------------------------------------------------
# In a worker process: one for the numpy peers, one for PyTorch. The parent calls these
# functions there; the current case's calls stay in the worker between two of them.
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


START = {"numpy": start_numpy, "torch": start_torch}


def prepare(case: dict[str, Any], names: list[str], min_time: float) -> dict[str, int]:
    """Set the peers `names` up on the case's inputs, warm each up, calibrate its count."""
    _calls.clear()
    gc.collect()  # free the previous case's arrays before making new ones
    inputs = case_inputs(case)
    for name in names:
        call = _calls[name] = PEERS[name].make(inputs)
        started = time.perf_counter()
        call()  # warm-up: caches, pages, threads
        once = time.perf_counter() - started
        _number[name] = max(1, math.ceil(min_time / max(once, 1e-9)))
    return {name: _number[name] for name in names}


def seconds_per_call(name: str) -> float:
    """Seconds per call, from the calibrated number of back-to-back calls."""
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
    """One call's result, as float64 numpy."""
    return np.asarray(_calls[name](), dtype=np.float64)


# --------------------------------------------------------------------------------------
# In the parent: run the grid, interleaving the peers, and write the results.
# --------------------------------------------------------------------------------------


def run_in(worker: ProcessPoolExecutor, function: Callable, *args: Any) -> Any:
    """Call `function(*args)` in the worker process and wait for its answer."""
    return worker.submit(function, *args).result()


def measure(
    case: dict[str, Any], workers: dict[str, ProcessPoolExecutor], settings: dict[str, Any]
) -> dict[str, Any]:
    """Time, measure and compare every peer that applies to one case."""
    names = [
        name
        for name, peer in PEERS.items()
        if peer.process in workers and peer.applies(case, settings)
    ]
    process = {name: PEERS[name].process for name in names}
    number: dict[str, int] = {}
    for kind, worker in workers.items():
        mine = [name for name in names if process[name] == kind]
        number |= run_in(worker, prepare, case, mine, settings["min_time"])

    runs: dict[str, list[float]] = {name: [] for name in names}
    previous = None
    for repetition in range(settings["repeats"]):
        shift = repetition % len(names)
        for name in names[shift:] + names[:shift]:  # rotate: no one always goes first
            if previous not in (None, process[name]):
                time.sleep(settings["settle"])  # let the other process's threads stop spinning
            runs[name].append(run_in(workers[process[name]], seconds_per_call, name))
            previous = process[name]

    def run_peer(function: Callable, name: str) -> Any:
        return run_in(workers[process[name]], function, name)

    peaks = {name: run_peer(peak_bytes, name) for name in names if PEERS[name].memory}
    error = None
    if REFERENCE in names:
        ours, reference = run_peer(result, BASELINE), run_peer(result, REFERENCE)
        error = float(np.abs(ours - reference).max()) / max(1.0, float(np.abs(reference).max()))

    itemsize = np.dtype(case["dtype"]).itemsize
    square = case["n"] ** 2 * itemsize
    return {
        **case,
        "seconds": {
            name: {
                "median": statistics.median(times),
                "min": min(times),
                "runs": times,
                "number": number[name],
            }
            for name, times in runs.items()
        },
        "ratios": {
            name: statistics.median(t / o for t, o in zip(times, runs[BASELINE], strict=True))
            for name, times in runs.items()
            if name != BASELINE
        },
        "memory": {
            "nxn_bytes": square,
            "output_bytes": case["n"] * case["d"] * itemsize,
            **{
                name: {"peak_bytes": peak, "nxn_multiple": peak / square}
                for name, peak in peaks.items()
            },
        },
        "error_vs_torch": error,
    }


def machine_info(started: dict[str, dict[str, Any]], threads: int) -> dict[str, Any]:
    """What the numbers depend on: CPU, library versions, BLAS, threads, tuning variables."""
    numpy_info, torch_info = started["numpy"], started.get("torch", {})
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy_info["numpy"],
        "scipy": numpy_info["scipy"],
        "torch": torch_info.get("torch"),
        "blas": {"numpy": numpy_info["blas"], "torch": torch_info.get("blas")},
        "threads": threads,
        "thread_control": {
            "numpy": "threadpoolctl",
            "torch": "torch.set_num_threads" if torch_info else None,
        },
        "torch_threads": torch_info.get("threads"),
        "env": {name: os.environ.get(name) for name in RECORDED_ENV},
    }


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole grid; return the results as written to JSON."""
    defaults = QUICK_GRID if args.quick else FULL_GRID
    grid = {key: getattr(args, key) or default for key, default in defaults.items()}
    settings = {
        "grid": grid,
        "repeats": args.repeats,
        "min_time": args.min_time,
        "settle": args.settle,
        "loop_max_n": args.loop_max_n,
    }
    kinds = ["numpy"]
    if not args.no_torch and importlib.util.find_spec("torch") is None:
        print("PyTorch is not installed: skipping it (pip install torch==2.13.0)", file=sys.stderr)
    elif not args.no_torch:
        kinds.append("torch")
    # The workers inherit these, and their libraries read them as they load.
    os.environ.update(dict.fromkeys(THREAD_ENV, str(args.threads)))
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited threads
    workers = {kind: ProcessPoolExecutor(1, mp_context=spawn) for kind in kinds}
    began = datetime.datetime.now(datetime.UTC)
    load_before = os.getloadavg()
    try:
        started = {kind: run_in(worker, START[kind], args.threads) for kind, worker in workers.items()}
        grid_cases = [
            {"dtype": dtype, "n": n, "d": d}
            for dtype in grid["dtype"]
            for n in grid["n"]
            for d in grid["d"]
        ]
        cases = []
        for case in grid_cases:
            cases.append(measure(case, workers, settings))
            print(progress_line(len(cases), len(grid_cases), cases[-1]), file=sys.stderr, flush=True)
    finally:
        for worker in workers.values():
            worker.shutdown()
    machine = machine_info(started, args.threads)
    machine["loadavg"] = {"before": list(load_before), "after": list(os.getloadavg())}
    results: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "benchmark": "attention_ref.context_vectors",
        "date": began.isoformat(timespec="seconds"),
        "seconds_total": round((datetime.datetime.now(datetime.UTC) - began).total_seconds(), 1),
        "machine": machine,
        "settings": {
            **settings,
            "peers": sorted({name for case in cases for name in case["ratios"]}),
            "inputs": "standard normal x D^-1/4, seeded per (N, D)",
            "seed": SEED,
        },
        "cases": cases,
    }
    results["targets"] = evaluate_targets(results)
    return results


def progress_line(done: int, total: int, case: dict[str, Any]) -> str:
    ratios = "  ".join(f"{peer} {ratio:.2f}x" for peer, ratio in case["ratios"].items())
    ours = case["seconds"][BASELINE]["median"] * 1e3
    where = f"{case['dtype']} N={case['n']} D={case['d']}"
    return f"[{done}/{total}] {where}: ours {ours:.2f} ms, peer time / ours: {ratios}"


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
    option("--min-time", type=float, default=0.05, help="seconds one timed run lasts at least")
    option(
        "--settle",
        type=float,
        default=0.15,
        help="pause in seconds before switching process, while the other's threads "
        "stop spinning (0.15; OpenBLAS spins about 0.1 s)",
    )
    option("--loop-max-n", type=int, default=512, help="time the loop form up to this N (512)")
    option("--threads", type=int, default=os.cpu_count() or 1, help="threads for every library")
    option("--no-torch", action="store_true", help="leave PyTorch out")
    option("--output", type=Path, help="results JSON (default results/latest.json)")
    option("--table", type=Path, help="Markdown table for the docs")
    option(
        "--render-only",
        action="store_true",
        help="measure nothing: re-check the targets in the results JSON and rewrite it "
        "and the table (after a change to benchmarks/report.py)",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1; got {args.repeats}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1; got {args.threads}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    output = args.output or (QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT)
    table_path = args.table or (None if args.quick else DEFAULT_TABLE)
    if args.render_only:
        results = load_results(output)
        results["targets"] = evaluate_targets(results)
    else:
        results = run(args)
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
