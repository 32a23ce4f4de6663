"""What the benchmark measures: the inputs of a case, and each peer as its users call it.

A peer is a function ``make(x) -> call``: given a case's inputs it does the setting up
that a user does once (imports, conversions, weights) and returns the call to time, with
no arguments. Adding a peer is one such function and one line in ``PEERS``. Libraries
are imported inside ``make``, so that each worker process loads only its own peers'
libraries (PyTorch's idle threads would slow numpy down in a shared process).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SEED = 20240601


def make_inputs(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Seeded inputs of `shape` (..., N, D), the same in every process.

    Standard normal entries scaled by D^(-1/4), so the off-diagonal scores x_i . x_j
    have variance 1 whatever D is (as scaled attention has) and exp never underflows
    to subnormal numbers, which would time the CPU's slow path instead of the code.
    """
    rng = np.random.default_rng([SEED, *shape])
    return (rng.standard_normal(shape) * shape[-1] ** -0.25).astype(dtype)


def case_inputs(case: dict[str, Any]) -> np.ndarray:
    """The inputs X of one case of the grid: (N, D) in the case's dtype."""
    return make_inputs((case["n"], case["d"]), case["dtype"])


def ours(x: np.ndarray) -> Callable[[], Any]:
    from attention_ref import context_vectors

    return lambda: context_vectors(x)


def scipy_pipeline(x: np.ndarray) -> Callable[[], Any]:
    import scipy.special

    return lambda: scipy.special.softmax(x @ x.T, axis=-1) @ x


def loop_form(x: np.ndarray) -> Callable[[], Any]:
    from attention_ref import context_vectors_loop

    return lambda: context_vectors_loop(x)


def torch_sdpa(x: np.ndarray) -> Callable[[], Any]:
    """PyTorch's scaled_dot_product_attention with no scaling, on the (N, D) inputs."""
    import torch

    inputs = torch.from_numpy(x)  # shares x's memory
    attention = torch.nn.functional.scaled_dot_product_attention

    def call() -> Any:
        with torch.inference_mode():
            return attention(inputs, inputs, inputs, scale=1.0)

    return call


def always(case: dict[str, Any], settings: dict[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class Peer:
    """One implementation: how to set it up, where it runs and what is measured of it."""

    label: str  # as the docs' table names it
    process: str  # the worker process it runs in: "numpy" or "torch"
    make: Callable[[np.ndarray], Callable[[], Any]]
    applies: Callable[[dict[str, Any], dict[str, Any]], bool] = always  # (case, settings)
    memory: bool = False  # measure its peak memory (tracemalloc sees numpy's arrays)


BASELINE = "ours"  # every ratio is a peer's time ÷ this one's, per repetition
REFERENCE = "torch"  # the independent result that ours is compared with
PEERS = {
    "ours": Peer("ours", "numpy", ours, memory=True),
    "scipy": Peer("scipy", "numpy", scipy_pipeline, memory=True),
    "torch": Peer("PyTorch", "torch", torch_sdpa),
    "loop": Peer(
        "loop form", "numpy", loop_form, lambda case, settings: case["n"] <= settings["loop_max_n"]
    ),
}
