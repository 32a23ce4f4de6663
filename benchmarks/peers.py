"""What the benchmark measures: the inputs of a case, and each peer as its users call it.

A peer is a function ``make(x) -> call``: given a case's inputs, it does what a user
does once (imports, conversions, weights) and returns the call to time, which takes no
arguments. A new peer is one such function and one line in ``PEERS``. Each imports its
library inside, so that a worker process loads only its own peers' libraries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SEED = 20240601
Call = Callable[[], Any]


def case_inputs(case: dict[str, Any]) -> np.ndarray:
    """The case's (N, D) inputs X, the same in every process.

    Standard normal entries scaled by D^(-1/4), so the off-diagonal scores x_i . x_j
    have variance 1 whatever D is (as scaled attention has) and exp never underflows
    to subnormal numbers, which would time the CPU's slow path instead of the code.
    """
    shape = (case["n"], case["d"])
    rng = np.random.default_rng([SEED, *shape])
    return (rng.standard_normal(shape) * shape[-1] ** -0.25).astype(case["dtype"])


def ours(x: np.ndarray) -> Call:
    from attention_ref import context_vectors

    return lambda: context_vectors(x)


def scipy_pipeline(x: np.ndarray) -> Call:
    import scipy.special

    return lambda: scipy.special.softmax(x @ x.T, axis=-1) @ x


def loop_form(x: np.ndarray) -> Call:
    from attention_ref import context_vectors_loop

    return lambda: context_vectors_loop(x)


def torch_sdpa(x: np.ndarray) -> Call:
    """PyTorch's scaled_dot_product_attention, unscaled, called on the (N, D) inputs."""
    import torch

    inputs = torch.from_numpy(x)  # shares x's memory
    attention = torch.nn.functional.scaled_dot_product_attention

    def call() -> Any:
        with torch.inference_mode():
            return attention(inputs, inputs, inputs, scale=1.0)

    return call


@dataclass(frozen=True)
class Peer:
    label: str  # as the docs' table names it
    process: str  # the worker process it runs in: "numpy" or "torch"
    make: Callable[[np.ndarray], Call]
    applies: Callable[[dict, dict], bool] = lambda case, settings: True  # to this case?
    memory: bool = False  # measure its peak memory (tracemalloc sees numpy's arrays)


def small(case: dict[str, Any], settings: dict[str, Any]) -> bool:
    return case["n"] <= settings["loop_max_n"]


BASELINE = "ours"  # every ratio is a peer's time ÷ this one's, per repetition
REFERENCE = "torch"  # the independent result ours is compared with
PEERS = {
    "ours": Peer("ours", "numpy", ours, memory=True),
    "scipy": Peer("scipy", "numpy", scipy_pipeline, memory=True),
    "torch": Peer("PyTorch", "torch", torch_sdpa),
    "loop": Peer("loop form", "numpy", loop_form, applies=small),
}
