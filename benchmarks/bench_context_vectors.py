#!/usr/bin/env python3
"""Time `attention_ref.context_vectors` against its peers and write the results.

Peers, all computing softmax(X Xᵀ) X for the same inputs X (N tokens x D dimensions):

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
import ctypes
import datetime
import gc
import glob
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# benchmarks/report.py: a script's own folder comes first on sys.path.
from report import SCHEMA_VERSION, check_results, evaluate_targets, render_table

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "latest.json"
QUICK_OUTPUT = ROOT / "benchmarks" / "results" / "quick.json"
DEFAULT_TABLE = ROOT / "docs" / "snippets" / "benchmark-table.md"

FULL_GRID = {"n": [2**k for k in range(8, 14)], "d": [3, 64, 768], "dtype": ["float32", "float64"]}
QUICK_GRID = {"n": [256, 1024], "d": [3, 768], "dtype": ["float32", "float64"]}
SEED = 20240601
# Recorded, never changed: OpenBLAS tuning some machines set for themselves.
RECORDED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Set in each worker's environment only, so every library starts with `threads` threads.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def make_inputs(n: int, d: int, dtype: str) -> np.ndarray:
    """The (N, D) inputs of one case, the same in every process.

    Standard normal entries scaled by D^(-1/4), so the off-diagonal scores x_i . x_j
    have variance 1 whatever D is (as scaled attention has) and exp never underflows
    to subnormal numbers, which would time the CPU's slow path instead of the code.
    """
    rng = np.random.default_rng([SEED, n, d])
    return (rng.standard_normal((n, d)) * d**-0.25).astype(dtype)


# --------------------------------------------------------------------------------------
# Workers: one process for the numpy implementations, one for PyTorch. Each reads one
# JSON command per line on stdin and answers with one JSON line on stdout.
# --------------------------------------------------------------------------------------


def numpy_implementations() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Ours, the scipy pipeline and the loop form, each a function of the inputs."""
    import scipy.special

    from attention_ref import context_vectors, context_vectors_loop

    def scipy_pipeline(x: np.ndarray) -> np.ndarray:
        return scipy.special.softmax(x @ x.T, axis=-1) @ x

    return {"ours": context_vectors, "scipy": scipy_pipeline, "loop": context_vectors_loop}


def torch_implementations(threads: int) -> dict[str, Callable[[Any], Any]]:
    """PyTorch's scaled_dot_product_attention with no scaling, as the peer."""
    import torch

    torch.set_num_threads(threads)
    attention = torch.nn.functional.scaled_dot_product_attention

    def sdpa(x: Any) -> Any:
        with torch.inference_mode():
            return attention(x, x, x, scale=1.0)

    return {"torch": sdpa}


class WorkerState:
    """What a worker keeps between commands: its implementations and the case's inputs."""

    def __init__(self, kind: str, threads: int) -> None:
        self.kind = kind
        self.threads = threads
        self.thread_control = "environment"
        if kind == "numpy":
            self.thread_control = limit_blas_threads(threads)
            self.implementations = numpy_implementations()
        else:
            self.implementations = torch_implementations(threads)
        self.inputs: Any = None
        self.number: dict[str, int] = {}

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        """Carry out one command and return the answer."""
        action = command["cmd"]
        if action == "info":
            return self.info()
        if action == "setup":
            return self.setup(command)
        if action == "time":
            return {"seconds": self.time(command["impl"])}
        if action == "memory":
            return {"peak_bytes": self.peak_memory(command["impl"])}
        if action == "save":
            result = self.implementations[command["impl"]](self.inputs)
            np.save(command["path"], np.asarray(result))
            return {}
        if action == "error":
            return {"error": self.error(command["impl"], command["path"])}
        raise ValueError(f"unknown command {action!r}")

    def info(self) -> dict[str, Any]:
        if self.kind == "numpy":
            import scipy

            return {
                "numpy": np.__version__,
                "scipy": scipy.__version__,
                "blas": numpy_blas_info(),
                "threads": self.threads,
                "thread_control": self.thread_control,
            }
        import torch

        return {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "blas": "MKL" if torch.backends.mkl.is_available() else "not MKL",
            "parallel_backend": torch.__config__.parallel_info().splitlines()[-1].strip(),
        }

    def setup(self, command: dict[str, Any]) -> dict[str, Any]:
        """Make the inputs, warm every implementation up and calibrate its loop count."""
        self.inputs = None
        gc.collect()
        inputs = make_inputs(command["n"], command["d"], command["dtype"])
        if self.kind == "torch":
            import torch

            inputs = torch.from_numpy(inputs)
        self.inputs = inputs
        self.number = {}
        for impl in command["impls"]:
            started = time.perf_counter()
            self.implementations[impl](self.inputs)  # warm-up: caches, pages, threads
            once = time.perf_counter() - started
            self.number[impl] = max(1, math.ceil(command["min_time"] / max(once, 1e-9)))
        return {"number": self.number}

    def time(self, impl: str) -> float:
        """Seconds per call, from `number` back-to-back calls."""
        function, inputs, number = self.implementations[impl], self.inputs, self.number[impl]
        started = time.perf_counter()
        for _ in range(number):
            function(inputs)
        return (time.perf_counter() - started) / number

    def peak_memory(self, impl: str) -> int:
        """Peak bytes allocated by one call, the result included (numpy reports to tracemalloc)."""
        gc.collect()
        tracemalloc.start()
        try:
            result = self.implementations[impl](self.inputs)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        del result
        return peak

    def error(self, impl: str, path: str) -> float:
        """max |ours - reference| / max(1, max |reference|), the reference read from `path`."""
        reference = np.load(path).astype(np.float64)
        ours = np.asarray(self.implementations[impl](self.inputs), dtype=np.float64)
        scale = max(1.0, float(np.abs(reference).max()))
        return float(np.abs(ours - reference).max()) / scale


def limit_blas_threads(threads: int) -> str:
    """Limit numpy's BLAS to `threads`: by threadpoolctl if installed, else the environment."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return "environment"  # the parent set OPENBLAS_NUM_THREADS etc. for this process
    threadpool_limits(threads)
    return "threadpoolctl"


def numpy_blas_info() -> dict[str, Any]:
    """numpy's BLAS as built (numpy.show_config) and, for OpenBLAS, as running."""
    config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    info: dict[str, Any] = {
        "name": config.get("name"),
        "version": config.get("version"),
        "configuration": " ".join(str(config.get("openblas configuration", "")).split()),
    }
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                info["runtime"] = {
                    "core": pool.get("architecture"),
                    "threads": pool.get("num_threads"),
                }
                return info
    except ImportError:
        pass
    info["runtime"] = openblas_runtime()
    return info


def openblas_runtime() -> dict[str, Any]:
    """The core type and thread count numpy's bundled OpenBLAS runs with, if it can tell."""
    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for path in sorted(glob.glob(str(libs / "libscipy_openblas*.so*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for suffix in ("64_", ""):
            corename = getattr(lib, f"scipy_openblas_get_corename{suffix}", None)
            num_threads = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None)
            if corename is None or num_threads is None:
                continue
            corename.restype = ctypes.c_char_p
            return {"core": corename().decode(), "threads": int(num_threads())}
    return {}


def worker_main(kind: str, threads: int) -> None:
    """Serve commands from the parent until stdin closes."""
    state = WorkerState(kind, threads)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["cmd"] == "quit":
            break
        try:
            answer = state.handle(command)
        except Exception as error:  # report to the parent, which stops the run
            answer = {"failed": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), flush=True)


class Worker:
    """The parent's handle on a worker process."""

    def __init__(self, kind: str, threads: int) -> None:
        env = dict(os.environ)
        env.update(dict.fromkeys(THREAD_ENV, str(threads)))
        self.kind = kind
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", kind, "--threads", str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.receive()  # {"ready": true} once imports are done

    def call(self, cmd: str, **arguments: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **arguments}) + "\n")
        self.process.stdin.flush()
        return self.receive()

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            raise RuntimeError(f"the {self.kind} worker exited with code {code}")
        answer = json.loads(line)
        if "failed" in answer:
            raise RuntimeError(f"the {self.kind} worker failed: {answer['failed']}")
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.process.stdin.close()
            self.process.wait(timeout=60)


# --------------------------------------------------------------------------------------
# The parent: runs the grid, interleaving the implementations, and writes the results.
# --------------------------------------------------------------------------------------


def run_case(
    workers: dict[str, Worker], n: int, d: int, dtype: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Time, measure and compare every implementation on one (N, D, dtype)."""
    impls = {"numpy": ["ours", "scipy"], "torch": ["torch"]}
    if n <= args.loop_max_n:
        impls["numpy"].append("loop")
    owner = {impl: kind for kind in workers for impl in impls[kind]}
    number = {}
    for kind, worker in workers.items():
        answer = worker.call(
            "setup", n=n, d=d, dtype=dtype, impls=impls[kind], min_time=args.min_time
        )
        number.update(answer["number"])

    order = list(owner)
    runs: dict[str, list[float]] = {impl: [] for impl in order}
    previous = None
    for repetition in range(args.repeats):
        shift = repetition % len(order)
        for impl in order[shift:] + order[:shift]:  # rotate: no one always goes first
            if previous is not None and owner[impl] != previous:
                time.sleep(args.settle)  # let the other process's spinning threads sleep
            runs[impl].append(workers[owner[impl]].call("time", impl=impl)["seconds"])
            previous = owner[impl]

    numpy_worker = workers["numpy"]
    memory = {
        impl: numpy_worker.call("memory", impl=impl)["peak_bytes"] for impl in ("ours", "scipy")
    }
    error = None
    if "torch" in workers:
        with tempfile.TemporaryDirectory() as folder:
            path = str(Path(folder) / "torch.npy")
            workers["torch"].call("save", impl="torch", path=path)
            error = numpy_worker.call("error", impl="ours", path=path)["error"]

    itemsize = np.dtype(dtype).itemsize
    square = n * n * itemsize
    return {
        "dtype": dtype,
        "n": n,
        "d": d,
        "seconds": {
            impl: {
                "median": statistics.median(times),
                "min": min(times),
                "runs": times,
                "number": number[impl],
            }
            for impl, times in runs.items()
        },
        "ratios": {
            impl: statistics.median(t / o for t, o in zip(times, runs["ours"], strict=True))
            for impl, times in runs.items()
            if impl != "ours"
        },
        "memory": {
            "nxn_bytes": square,
            "output_bytes": n * d * itemsize,
            **{
                impl: {"peak_bytes": peak, "nxn_multiple": peak / square}
                for impl, peak in memory.items()
            },
        },
        "error_vs_torch": error,
    }


def machine_info(workers: dict[str, Worker], threads: int) -> dict[str, Any]:
    """What the numbers depend on: CPU, library versions, BLAS, threads, tuning variables."""
    numpy_info = workers["numpy"].call("info")
    torch_info = workers["torch"].call("info") if "torch" in workers else None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy_info["numpy"],
        "scipy": numpy_info["scipy"],
        "torch": torch_info["torch"] if torch_info else None,
        "blas": {"numpy": numpy_info["blas"], "torch": torch_info["blas"] if torch_info else None},
        "threads": threads,
        "thread_control": {
            "numpy": numpy_info["thread_control"],
            "torch": "torch.set_num_threads" if torch_info else None,
        },
        "torch_threads": torch_info["threads"] if torch_info else None,
        "env": {name: os.environ.get(name) for name in RECORDED_ENV},
    }


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def have_torch() -> bool:
    """Whether PyTorch is installed here (it is in the `bench` extra)."""
    return importlib.util.find_spec("torch") is not None


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the whole grid; return the results as written to JSON."""
    grid = QUICK_GRID if args.quick else FULL_GRID
    grid = {
        "n": args.n or grid["n"],
        "d": args.d or grid["d"],
        "dtype": args.dtype or grid["dtype"],
    }
    use_torch = not args.no_torch and have_torch()
    if not use_torch and not args.no_torch:
        print("PyTorch is not installed: skipping it (pip install torch==2.13.0)", file=sys.stderr)
    started = datetime.datetime.now(datetime.UTC)
    load_before = os.getloadavg()
    workers = {"numpy": Worker("numpy", args.threads)}
    if use_torch:
        workers["torch"] = Worker("torch", args.threads)
    try:
        machine = machine_info(workers, args.threads)
        cases = []
        total = len(grid["dtype"]) * len(grid["n"]) * len(grid["d"])
        for dtype in grid["dtype"]:
            for n in grid["n"]:
                for d in grid["d"]:
                    case = run_case(workers, n, d, dtype, args)
                    cases.append(case)
                    print(progress_line(len(cases), total, case), file=sys.stderr, flush=True)
    finally:
        for worker in workers.values():
            worker.close()
    machine["loadavg"] = {"before": list(load_before), "after": list(os.getloadavg())}
    results: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "benchmark": "attention_ref.context_vectors",
        "date": started.isoformat(timespec="seconds"),
        "seconds_total": round((datetime.datetime.now(datetime.UTC) - started).total_seconds(), 1),
        "machine": machine,
        "settings": {
            "grid": grid,
            "repeats": args.repeats,
            "min_time": args.min_time,
            "settle": args.settle,
            "loop_max_n": args.loop_max_n,
            "peers": sorted({impl for case in cases for impl in case["ratios"]}),
            "inputs": "standard normal x D^-1/4, seeded per (N, D)",
            "seed": SEED,
        },
        "cases": cases,
    }
    results["targets"] = evaluate_targets(results)
    check_results(results)
    return results


def progress_line(done: int, total: int, case: dict[str, Any]) -> str:
    ratios = "  ".join(f"{peer} {ratio:.2f}x" for peer, ratio in case["ratios"].items())
    ours = case["seconds"]["ours"]["median"] * 1e3
    where = f"{case['dtype']} N={case['n']} D={case['d']}"
    return f"[{done}/{total}] {where}: ours {ours:.2f} ms, peer time / ours: {ratios}"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small grid for a smoke run")
    parser.add_argument("--n", type=int, nargs="+", help="token counts N (default 256 ... 8192)")
    parser.add_argument("--d", type=int, nargs="+", help="dimensions D (default 3 64 768)")
    parser.add_argument("--dtype", nargs="+", choices=["float32", "float64"], help="default both")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repetitions (5)")
    parser.add_argument(
        "--min-time", type=float, default=0.05, help="seconds one timed run lasts at least (0.05)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0.15,
        help="pause in seconds before switching process, while the other's threads "
        "stop spinning (0.15; OpenBLAS spins about 0.1 s)",
    )
    parser.add_argument(
        "--loop-max-n", type=int, default=512, help="time the loop form up to this N (512)"
    )
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="threads for every library"
    )
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--output", type=Path, help="results JSON (default results/latest.json)")
    parser.add_argument("--table", type=Path, help="Markdown table for the docs")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: re-check the targets in the results JSON and rewrite it "
        "and the table (after a change to benchmarks/report.py)",
    )
    parser.add_argument("--worker", choices=["numpy", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1; got {args.repeats}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1; got {args.threads}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.worker:
        worker_main(args.worker, args.threads)
        return
    output = args.output or (QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT)
    table_path = args.table or (None if args.quick else DEFAULT_TABLE)
    if args.render_only:
        results = json.loads(output.read_text(encoding="utf-8"))
        results["targets"] = evaluate_targets(results)
        check_results(results)
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
