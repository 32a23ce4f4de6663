#!/usr/bin/env python3
"""Time attention_ref against its peers, as their users call them, and write the results.

The peers (benchmarks/peers.py) run in two worker processes, numpy's and PyTorch's (its
idle threads would slow numpy down in a shared one), with the same number of threads.
Each repetition runs every peer once, in a rotating order, so a slow spell of the
machine hits all of them alike; the results keep medians, and each ratio is the median
of the per-repetition ratios. Peak memory comes from tracemalloc (which numpy reports
its arrays to) and, for every peer on the memory line and the long sequences, from the
growth of a fresh process's maximum resident set over one call (PyTorch's allocations
are invisible to tracemalloc). The long sequences are timed in those fresh processes.

    python benchmarks/bench_context_vectors.py             # everything (about 15 minutes)
    python benchmarks/bench_context_vectors.py --quick     # small sizes, a smoke run
    python benchmarks/bench_context_vectors.py --n 1024 4096 --d 768 --dtype float32

The full run writes benchmarks/results/latest.json and docs/snippets/benchmark-table.md
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
from peers import BASELINE, BLOCK, HEAD_PRODUCT, PEERS, REFERENCE, SEED, Case
from report import SCHEMA_VERSION, evaluate_targets, load_results, render_table

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "latest.json"
QUICK_OUTPUT = ROOT / "benchmarks" / "results" / "quick.json"
DEFAULT_TABLE = ROOT / "docs" / "snippets" / "benchmark-table.md"

FLOATS = ["float32", "float64"]
FULL_GRID = {  # the trainable shapes first: short; the long sequences last
    "sdpa": {"shape": [[8, 12, *HEAD_PRODUCT]], "causal": [False, True], "dtype": FLOATS},
    "mha": {"batch": [8], "n": [512], "d": [768], "heads": [12], "weights": [True, False]},
    "context": {"n": [2**k for k in range(8, 14)], "d": [3, 64, 768], "dtype": FLOATS},
    "long": {"n": [16384, 65536], "d": [64], "dtype": ["float64"]},
}
FULL_GRID["mha"]["dtype"] = FLOATS
QUICK_GRID = {
    "sdpa": {"shape": [[2, 4, 128, 16]], "causal": [False, True], "dtype": ["float64"]},
    "mha": {"batch": [2], "n": [128], "d": [64], "heads": [4], "weights": [True, False]},
    "context": {"n": [256, 1024], "d": [3, 64], "dtype": FLOATS},
    "long": {"n": [4096], "d": [64], "dtype": ["float64"]},
}
QUICK_GRID["mha"]["dtype"] = ["float64"]
# Seconds a timing lasts at least, by suite (--min-time sets one for all). This virtual
# machine's kernel hands freed 2 MiB blocks back to its host (free page reporting), and
# every 2 s or so, as it does, a call runs slower: MultiHeadAttention in float64 took
# either about 250 or about 350 ms. Timed one call at a time, its median of five moved
# between 1.04x and 1.51x PyTorch's time in four runs; timings of 2 s average over it.
MIN_TIME = {"sdpa": 2.0, "mha": 2.0, "context": 0.05}
MEMORY_LINE = {"d": 64, "dtype": "float64"}  # context cases whose every peer gets an RSS run
# Recorded, never changed: OpenBLAS tuning some machines set for themselves.
RECORDED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Set for the workers, so that every library starts with `threads` threads.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# --------------------------------------------------------------------------------------
# Run in a worker process, which keeps the current case's calls between two of them.
# --------------------------------------------------------------------------------------

_calls: dict[str, Callable[[], Any]] = {}
_number: dict[str, int] = {}


def best_seconds(call: Callable[[], Any], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def head_product_rate(multiply: Callable[[Any, Any, Any], Any], make: Callable) -> float:
    """Flop/s of one head's ``q @ k.T``, (L x E) by (E x L) at `HEAD_PRODUCT`, on one core.

    `make` turns a numpy array into the library's own; `multiply(a, b, out)` is its
    matmul. Each head's product runs on one core in both libraries' attention.
    """
    rows, features = HEAD_PRODUCT
    rng = np.random.default_rng(SEED)
    a, b = (make(rng.standard_normal((rows, features))) for _ in range(2))
    out = make(np.empty((rows, rows)))
    b_t = b.T
    return 2 * rows * rows * features / best_seconds(lambda: multiply(a, b_t, out), 50)


def start_numpy(threads: int) -> dict[str, Any]:
    """Limit numpy's BLAS to `threads`; say which numpy, scipy and BLAS run here.

    Also measure the machine's rates, per dtype: a GEMM of two 2048 x 2048 matrices
    (2 n^3 flops, on `threads` threads), np.exp in place on 2^22 numbers (one core)
    and one head's product (`head_product_rate`).
    """
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
    rates = {}
    for dtype in FLOATS:
        a = np.random.default_rng(SEED).standard_normal((2, 2048, 2048)).astype(dtype)
        x = np.random.default_rng(SEED).uniform(-10, 0, 2**22).astype(dtype)
        out = np.empty_like(x)
        gemm = 2 * 2048**3 / best_seconds(lambda a=a: a[0] @ a[1])
        exp = x.size / best_seconds(lambda x=x, out=out: np.exp(x, out=out))
        with threadpool_limits(1):
            head = head_product_rate(
                lambda a, b, out: np.matmul(a, b, out=out), lambda x, t=dtype: x.astype(t)
            )
        rates[dtype] = {
            "gemm_flops_per_second": gemm,
            "exp_per_second_one_core": exp,
            "head_product_flops_per_second_one_core": head,
        }
    return {"numpy": np.__version__, "scipy": scipy.__version__, "blas": blas, "rates": rates}


def start_torch(threads: int) -> dict[str, Any]:
    """Limit PyTorch to `threads`; say which PyTorch runs here, and its `head_product_rate`."""
    import torch

    blas = "MKL" if torch.backends.mkl.is_available() else "not MKL"
    torch.set_num_threads(1)
    rates = {
        dtype: head_product_rate(
            lambda a, b, out: torch.matmul(a, b, out=out),
            lambda x, t=dtype: torch.from_numpy(x.astype(t)),
        )
        for dtype in FLOATS
    }
    torch.set_num_threads(threads)
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas,
        "head_product_rates": rates,
    }


START = {"numpy": start_numpy, "torch": start_torch}  # one worker process each


def prepare(case: Case, names: list[str], min_time: float) -> dict[str, int]:
    """Set the peers `names` up on the case's inputs; warm each up and count its calls."""
    _calls.clear()
    gc.collect()  # free the previous case's arrays before making new ones
    for name in names:
        call = _calls[name] = PEERS[name].make(case)
        call()  # warm-up: caches, pages, threads
        # A second call sets the number. The first, on a new case's cold memory, once
        # took over 10 times as long (N = 256, D = 768, float32): its timings then made
        # 3 calls each, and came out 14 % slower than the same call's, 30 at a time.
        started = time.perf_counter()
        call()
        once = time.perf_counter() - started
        _number[name] = max(1, math.ceil(min_time / max(once, 1e-9)))  # calls per timing
    return {name: _number[name] for name in names}


def seconds_per_call(name: str) -> float:
    call, number = _calls[name], _number[name]
    # One untimed call first, so that every timing starts warm whatever ran before it.
    # It does not undo all of it: right after the full form had freed its N x N array,
    # the next calls were measured about a fifth slower (N = 4096 and 8192, in one
    # process), through the untimed call and several more.
    call()
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


def status_bytes(field: str) -> int:
    """A size from /proc/self/status (VmRSS, VmHWM: the current and the peak RSS)."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s*(\d+) kB", text, re.M)[1]) * 1024  # type: ignore[index]


def fresh_run(case: Case, name: str, threads: int) -> dict[str, float]:
    """In a fresh process: one call's time, and how far it raised the peak resident set.

    Writing 5 to /proc/self/clear_refs resets the peak (VmHWM) to the current RSS, so
    the growth is the call's own, its result and any memory its library keeps included.
    """
    if PEERS[name].process == "torch":
        import torch

        torch.set_num_threads(threads)
    else:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    call = PEERS[name].make(case)
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    before = status_bytes("VmRSS")
    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rss_growth_bytes": status_bytes("VmHWM") - before}


# --------------------------------------------------------------------------------------
# Run in the parent: the grid, each case's peers interleaved, and the results.
# --------------------------------------------------------------------------------------


def in_fresh_process(case: Case, name: str, settings: dict[str, Any]) -> dict[str, float]:
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as worker:
        return worker.submit(fresh_run, case, name, settings["threads"]).result()


def peers_of(case: Case, workers: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    return [
        name
        for name, peer in PEERS.items()
        if case["suite"] in peer.suites and peer.process in workers and peer.applies(case, settings)
    ]


def measure(case: Case, workers: dict[str, ProcessPoolExecutor], settings) -> dict:
    """Time, measure and compare every peer that applies to one case."""
    names = peers_of(case, workers, settings)
    fresh = case["suite"] == "long"  # one call per fresh process: time and memory

    def run(function: Callable, name: str) -> Any:  # in the peer's worker
        return workers[PEERS[name].process].submit(function, name).result()

    number: dict[str, int] = dict.fromkeys(names, 1)
    if not fresh:
        for kind, worker in workers.items():
            mine = [name for name in names if PEERS[name].process == kind]
            min_time = settings["min_time"][case["suite"]]
            number |= worker.submit(prepare, case, mine, min_time).result()
    repeats = settings["repeats"] if not fresh else settings["long_repeats"]
    repeats = 1 if fresh and case["n"] > settings["trace_max_n"] else repeats  # one at 65536
    runs: dict[str, list[float]] = {name: [] for name in names}
    memory: dict[str, Any] = {}
    previous = None
    for repetition in range(repeats if names else 0):
        shift = repetition % len(names)
        for name in names[shift:] + names[:shift]:  # rotate: no one always goes first
            if fresh:
                done = in_fresh_process(case, name, settings)
                runs[name].append(done["seconds"])
                growth = memory.setdefault(name, {}).get("rss_growth_bytes", 0)
                memory[name]["rss_growth_bytes"] = max(growth, done["rss_growth_bytes"])
            else:
                if previous not in (None, PEERS[name].process):
                    time.sleep(settings["settle"])  # while the other's threads stop spinning
                runs[name].append(run(seconds_per_call, name))
                previous = PEERS[name].process

    error = None
    baseline, reference = BASELINE[case["suite"]], REFERENCE[case["suite"]]
    if not fresh and {baseline, reference} <= set(names):
        ours, theirs = run(result, baseline), run(result, reference)
        error = float(np.abs(ours - theirs).max()) / max(1.0, float(np.abs(theirs).max()))
    if case["suite"] in ("context", "long"):
        itemsize = np.dtype(case["dtype"]).itemsize
        memory["nxn_bytes"] = case["n"] ** 2 * itemsize
        memory["output_bytes"] = case["n"] * case["d"] * itemsize
        on_line = not fresh and all(case[key] == value for key, value in MEMORY_LINE.items())
        for name in names:
            entry = memory.setdefault(name, {})
            if PEERS[name].memory and case["n"] <= settings["trace_max_n"]:
                if fresh:  # set it up in the numpy worker, for tracemalloc only
                    workers["numpy"].submit(prepare, case, [name], 0.0).result()
                entry["peak_bytes"] = run(peak_bytes, name)
            if on_line and name != "loop":
                entry["rss_growth_bytes"] = in_fresh_process(case, name, settings)[
                    "rss_growth_bytes"
                ]
        workers["numpy"].submit(prepare, case, [], 0.0).result()  # free the arrays
    seconds = {
        name: {"median": statistics.median(t), "min": min(t), "runs": t, "number": number[name]}
        for name, t in runs.items()
    }
    ratios = {
        name: statistics.median(t / o for t, o in zip(times, runs[baseline], strict=True))
        for name, times in runs.items()
        if name != baseline and baseline in runs
    }
    return {**case, "seconds": seconds, "ratios": ratios, "memory": memory, "error": error}


def machine_info(started: dict[str, dict[str, Any]], threads: int) -> dict[str, Any]:
    """What the numbers depend on: CPU, library versions, BLAS, threads, rates, tuning."""
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
        "rates": numpy["rates"],
        "torch_head_product_flops_per_second_one_core": torch.get("head_product_rates"),
        "env": {name: os.environ.get(name) for name in RECORDED_ENV},
    }


def grid_cases(grid: dict[str, dict[str, list[Any]]]) -> list[Case]:
    """Every case of every suite: the product of each suite's lists."""
    cases = []
    for suite, axes in grid.items():
        for values in itertools.product(*axes.values()):
            cases.append({"suite": suite, **dict(zip(axes, values, strict=True))})
    return cases


def run_grid(args: argparse.Namespace) -> dict[str, Any]:
    """Run every suite; return the results as written to JSON."""
    grid = json.loads(json.dumps(QUICK_GRID if args.quick else FULL_GRID))  # a copy
    for key in ("n", "d", "dtype"):
        grid["context"][key] = getattr(args, key) or grid["context"][key]
    grid["long"]["n"] = args.long_n or grid["long"]["n"]
    grid = {suite: axes for suite, axes in grid.items() if suite in args.suites}
    # By suite; the long suite has none: one call per fresh process.
    min_time = {
        suite: seconds if args.min_time is None else args.min_time
        for suite, seconds in MIN_TIME.items()
        if suite in grid
    }
    settings = {"grid": grid, "repeats": args.repeats, "min_time": min_time}
    settings |= {"settle": args.settle, "loop_max_n": args.loop_max_n, "threads": args.threads}
    settings |= {"long_repeats": args.long_repeats, "full_max_bytes": 4 * 2**30, "block": BLOCK}
    settings["trace_max_n"] = 4096 if args.quick else 16384
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
        todo = grid_cases(grid)
        for case in todo:
            cases.append(measure(case, workers, settings))
            print_progress(len(cases), len(todo), cases[-1])
    finally:
        for worker in workers.values():
            worker.shutdown()
    machine = machine_info(started, args.threads)
    machine["loadavg"] = {"before": list(load_before), "after": list(os.getloadavg())}
    settings["peers"] = [name for name in PEERS if any(name in case["seconds"] for case in cases)]
    settings |= {"inputs": "standard normal (x D^-1/4 for context vectors), seeded", "seed": SEED}
    results: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "benchmark": "attention_ref: context_vectors, scaled_dot_product_attention, heads",
        "date": began.isoformat(timespec="seconds"),
        "seconds_total": round((datetime.datetime.now(datetime.UTC) - began).total_seconds(), 1),
        "machine": machine,
        "settings": settings,
        "cases": cases,
    }
    results["targets"] = evaluate_targets(results)
    return results


def print_progress(done: int, total: int, case: dict[str, Any]) -> None:
    baseline = BASELINE[case["suite"]]
    ratios = "  ".join(f"{peer} {ratio:.2f}x" for peer, ratio in case["ratios"].items())
    ours = case["seconds"].get(baseline, {"median": math.nan})["median"] * 1e3
    where = " ".join(f"{k}={v}" for k, v in list(case.items())[:-4])  # the case's keys
    print(
        f"[{done}/{total}] {where}: {baseline} {ours:.2f} ms, peer ÷ {baseline}: {ratios}",
        file=sys.stderr,
        flush=True,
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    option = parser.add_argument
    option("--quick", action="store_true", help="small sizes, for a smoke run")
    option("--suites", nargs="+", choices=list(FULL_GRID), default=list(FULL_GRID))
    option("--n", type=int, nargs="+", help="context vectors: token counts N (256 ... 8192)")
    option("--d", type=int, nargs="+", help="context vectors: dimensions D (default 3 64 768)")
    option("--dtype", nargs="+", choices=FLOATS, help="context vectors: default both")
    option("--repeats", type=int, default=5, help="interleaved repetitions (5)")
    option("--long-n", type=int, nargs="+", help="long sequences: N (16384 65536)")
    option("--long-repeats", type=int, default=3, help="fresh-process runs, N <= 16384 (3)")
    option("--min-time", type=float, help="seconds a timing lasts at least (2; context: 0.05)")
    option("--settle", type=float, default=0.15, help="pause to switch process (0.15 s)")
    option("--loop-max-n", type=int, default=512, help="time the loop form up to this N (512)")
    option("--threads", type=int, default=2, help="threads for every library (2)")
    option("--no-torch", action="store_true", help="leave PyTorch out")
    option("--output", type=Path, help="results JSON (default results/latest.json)")
    option("--table", type=Path, help="Markdown tables for the docs")
    option("--render-only", action="store_true", help="rewrite verdicts and table from --output")
    args = parser.parse_args(argv)
    for name in ("repeats", "threads", "long_repeats"):
        if getattr(args, name) < 1:
            parser.error(
                f"--{name.replace('_', '-')} must be at least 1; got {getattr(args, name)}"
            )
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
