"""What the benchmark measures: each suite's inputs, and each peer as its users call it.

A peer is a function ``make(case) -> call``: given a case, it does what a user does once
(inputs, conversions, weights) and returns the call to time, which takes no arguments.
A new peer is one such function and one line in ``PEERS``. Each imports its library
inside, so that a worker process loads only its own peers' libraries.

The suites: ``context`` and ``long`` time `context_vectors` in its forms against scipy
and PyTorch on (N, D) inputs; ``sdpa`` and ``mha`` time the trainable path at a model's
shapes against ``torch.nn.functional.scaled_dot_product_attention`` and
``torch.nn.MultiheadAttention``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SEED = 20240601
Call = Callable[[], Any]
Case = dict[str, Any]


def rng(case: Case, *shape: int) -> np.random.Generator:
    return np.random.default_rng([SEED, *shape])


def context_inputs(case: Case) -> np.ndarray:
    """The case's (N, D) inputs X, the same in every process.

    Standard normal entries scaled by D^(-1/4), so the off-diagonal scores x_i . x_j
    have variance 1 whatever D is (as scaled attention has) and exp never underflows
    to subnormal numbers, which would time the CPU's slow path instead of the code.
    """
    shape = (case["n"], case["d"])
    return (rng(case, *shape).standard_normal(shape) * shape[-1] ** -0.25).astype(case["dtype"])


def sdpa_inputs(case: Case) -> list[np.ndarray]:
    """Query, key and value of shape (batch, heads, N, d_head), standard normal."""
    shape = tuple(case["shape"])
    return list(rng(case, *shape).standard_normal((3, *shape)).astype(case["dtype"]))


def mha_inputs(case: Case) -> np.ndarray:
    """Inputs of shape (batch, N, d_model), standard normal."""
    shape = (case["batch"], case["n"], case["d"])
    return rng(case, *shape).standard_normal(shape).astype(case["dtype"])


BLOCK = 512  # the blocked form's block size: the one block_size=None takes for long inputs
# One head's product of queries and keys at the trainable shapes: (L x E) by (E x L).
HEAD_PRODUCT = (512, 64)


def ours(case: Case, **options: Any) -> Call:
    from attention_ref import context_vectors

    x = context_inputs(case)
    return lambda: context_vectors(x, **options)


def full(case: Case) -> Call:
    """The full form, one N x N array: the default with its rule's limits lifted."""
    from attention_ref import simple

    default, limits = ours(case), ("SCORES_BUDGET", "FULL_FORM_KEYS")

    def call() -> Any:
        before = {name: getattr(simple, name) for name in limits if hasattr(simple, name)}
        for name in before:
            setattr(simple, name, math.inf)
        try:
            return default()
        finally:
            for name, value in before.items():
                setattr(simple, name, value)

    return call


def blocked(case: Case) -> Call:
    return ours(case, block_size=BLOCK)


def loop_form(case: Case) -> Call:
    from attention_ref import context_vectors_loop

    x = context_inputs(case)
    return lambda: context_vectors_loop(x)


def scipy_pipeline(case: Case) -> Call:
    import scipy.special

    x = context_inputs(case)
    return lambda: scipy.special.softmax(x @ x.T, axis=-1) @ x


def torch_context(case: Case, shape: tuple[int, ...]) -> Call:
    """PyTorch's scaled_dot_product_attention, unscaled, on X viewed as `shape` + (N, D).

    Called with (N, D) it takes its plain "math" path (the N x N matrix, op by op);
    called as users call it, with (batch, heads, N, D), it runs its fused flash kernel.
    """
    import torch

    inputs = torch.from_numpy(context_inputs(case)).view(*shape, case["n"], case["d"])
    attention = torch.nn.functional.scaled_dot_product_attention

    def call() -> Any:
        with torch.inference_mode():
            return attention(inputs, inputs, inputs, scale=1.0).view(case["n"], case["d"])

    return call


def ours_sdpa(case: Case) -> Call:
    from attention_ref import scaled_dot_product_attention

    query, key, value = sdpa_inputs(case)
    return lambda: scaled_dot_product_attention(query, key, value, causal=case["causal"])


def torch_sdpa(case: Case) -> Call:
    import torch

    query, key, value = map(torch.from_numpy, sdpa_inputs(case))
    attention = torch.nn.functional.scaled_dot_product_attention

    def call() -> Any:
        with torch.inference_mode():
            return attention(query, key, value, is_causal=case["causal"])

    return call


def heads(case: Case) -> Any:
    from attention_ref import MultiHeadAttention

    d, h = case["d"], case["heads"]
    return MultiHeadAttention.random(d, d, h, seed=SEED, dtype=case["dtype"])


def ours_mha(case: Case) -> Call:
    module, x = heads(case), mha_inputs(case)
    if case["weights"]:
        return lambda: module(x, return_weights=True)[0]
    return lambda: module(x)


def torch_mha(case: Case) -> Call:
    """torch.nn.MultiheadAttention(bias=False) with our weights; per-head weights if asked."""
    import torch

    ours = heads(case)
    module = torch.nn.MultiheadAttention(case["d"], case["heads"], bias=False, batch_first=True)
    module = module.to(getattr(torch, case["dtype"])).eval()
    with torch.no_grad():
        in_proj = np.concatenate([ours.W_query.T, ours.W_key.T, ours.W_value.T])  # (3E, E)
        module.in_proj_weight.copy_(torch.from_numpy(in_proj))
        module.out_proj.weight.copy_(torch.from_numpy(ours.W_out.T.copy()))
    x = torch.from_numpy(mha_inputs(case))
    need = case["weights"]

    def call() -> Any:
        with torch.inference_mode():
            return module(x, x, x, need_weights=need, average_attn_weights=False)[0]

    return call


@dataclass(frozen=True)
class Peer:
    label: str  # as the docs' tables name it
    process: str  # the worker process it runs in: "numpy" or "torch"
    suites: tuple[str, ...]
    make: Callable[[Case], Call]
    applies: Callable[[Case, dict], bool] = lambda case, settings: True  # to this case?
    memory: bool = False  # measure its peak memory with tracemalloc (numpy's arrays)


def small(case: Case, settings: dict[str, Any]) -> bool:
    return case["n"] <= settings["loop_max_n"]


def fits(case: Case, settings: dict[str, Any]) -> bool:
    """Whether one N x N array of the dtype fits in the stated budget (not at N = 65,536)."""
    return case["n"] ** 2 * np.dtype(case["dtype"]).itemsize <= settings["full_max_bytes"]


CONTEXT = ("context", "long")
PEERS = {
    "ours": Peer("ours", "numpy", ("context",), ours, memory=True),
    "full": Peer("full form", "numpy", CONTEXT, full, fits, memory=True),
    "blocked": Peer(f"blocked form ({BLOCK})", "numpy", CONTEXT, blocked, memory=True),
    "loop": Peer("loop form", "numpy", ("context",), loop_form, small),
    "scipy": Peer("scipy", "numpy", ("context",), scipy_pipeline, memory=True),
    "torch_2d": Peer("PyTorch (N, D)", "torch", ("context",), lambda c: torch_context(c, ())),
    "torch_fused": Peer("PyTorch fused", "torch", CONTEXT, lambda c: torch_context(c, (1, 1))),
    "ours_sdpa": Peer("ours", "numpy", ("sdpa",), ours_sdpa),
    "torch_sdpa": Peer("PyTorch", "torch", ("sdpa",), torch_sdpa),
    "ours_mha": Peer("ours", "numpy", ("mha",), ours_mha),
    "torch_mha": Peer("PyTorch", "torch", ("mha",), torch_mha),
}
# Per suite: every ratio is a peer's time ÷ the baseline's, per repetition; the
# reference is the independent result the baseline is compared with.
BASELINE = {"context": "ours", "long": "blocked", "sdpa": "ours_sdpa", "mha": "ours_mha"}
REFERENCE = {"context": "torch_fused", "long": "torch_fused", "sdpa": "torch_sdpa"}
REFERENCE |= {"mha": "torch_mha"}
