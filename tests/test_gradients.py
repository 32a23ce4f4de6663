"""Tests for attention_ref.gradients: checked by finite differences and torch.autograd.

Finite differences are central, in float64, with step h = 1e-6: the truncation error
is about h^2 |f'''| ~ 1e-12 and the rounding error about eps |f| / h ~ 1e-10 for
values of order 1, so a tolerance of 1e-7 is safe and still catches any wrong term
(a missing path changes the gradient by order 1).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from attention_ref import (
    context_vectors,
    context_vectors_backward,
    softmax,
    softmax_jacobian,
    softmax_naive,
    softmax_vjp,
)
from attention_ref.examples import INPUTS

H = 1e-6
FD_TOL = {"rtol": 1e-7, "atol": 1e-7}
# Against torch.autograd in float64: the same formulas summed in another order, a
# few ulp of O(1) values; 1e-12 leaves a wide margin.
AUTOGRAD_TOL = {"rtol": 1e-12, "atol": 1e-12}


def random(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def numerical_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """d f(x)[i] / d x[j] by central differences: shape f(x).shape + x.shape."""
    columns = []
    for j in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[j] = H
        columns.append((f(x + step) - f(x - step)) / (2 * H))
    return np.stack(columns, axis=-1).reshape(f(x).shape + x.shape)


def numerical_gradient(loss: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """d loss(x) / d x by central differences."""
    return numerical_jacobian(lambda y: np.array(loss(y)), x)


# --- the softmax Jacobian -------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 5])
def test_softmax_jacobian_matches_finite_differences(size: int) -> None:
    scores = random(size)
    np.testing.assert_allclose(
        softmax_jacobian(softmax(scores)), numerical_jacobian(softmax, scores), **FD_TOL
    )


def test_softmax_jacobian_matches_autograd(torch: ModuleType) -> None:
    scores = random(6, seed=1)
    expected = torch.autograd.functional.jacobian(
        lambda x: torch.softmax(x, dim=-1), torch.tensor(scores)
    )
    np.testing.assert_allclose(softmax_jacobian(softmax(scores)), expected.numpy(), **AUTOGRAD_TOL)


def test_softmax_jacobian_is_batched() -> None:
    weights = softmax(random((2, 3, 4), seed=2))
    jacobians = softmax_jacobian(weights)
    assert jacobians.shape == (2, 3, 4, 4)
    for index in np.ndindex(2, 3):
        assert np.array_equal(jacobians[index], softmax_jacobian(weights[index]))


def test_softmax_jacobian_known_values() -> None:
    assert np.array_equal(softmax_jacobian([0.5, 0.5]), [[0.25, -0.25], [-0.25, 0.25]])
    assert np.array_equal(softmax_jacobian([1.0]), [[0.0]])  # one entry: always 1
    # Uniform over K: 1/K - 1/K^2 on the diagonal, -1/K^2 off it (exact for K = 4).
    expected = np.full((4, 4), -1 / 16) + np.eye(4) / 4
    assert np.array_equal(softmax_jacobian(np.full(4, 0.25)), expected)


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(-50, 50)))
def test_softmax_jacobian_properties(scores: np.ndarray) -> None:
    jacobian = softmax_jacobian(softmax(scores))
    assert np.array_equal(jacobian, jacobian.T)  # p_i p_j is symmetric
    # Each row sums to 0 (shifting all scores changes nothing), up to the rounding
    # of at most 8 terms each below 1/4.
    np.testing.assert_allclose(jacobian.sum(axis=-1), 0.0, rtol=0, atol=1e-15)
    assert (np.abs(jacobian) <= 0.25).all()  # p (1 - p) <= 1/4
    assert (np.diag(jacobian) >= 0).all()


def test_softmax_jacobian_of_float32_stays_float32() -> None:
    assert softmax_jacobian(softmax(np.ones(3, np.float32))).dtype == np.float32


# --- the vector-Jacobian product ------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_vjp_matches_autograd(torch: ModuleType, axis: int) -> None:
    scores, grad = random((3, 5, 4), seed=3), random((3, 5, 4), seed=4)
    x = torch.tensor(scores, requires_grad=True)
    torch.softmax(x, dim=axis).backward(torch.tensor(grad))
    np.testing.assert_allclose(
        softmax_vjp(softmax(scores, axis=axis), grad, axis=axis), x.grad.numpy(), **AUTOGRAD_TOL
    )


def test_softmax_vjp_is_the_gradient_times_the_jacobian() -> None:
    weights, grad = softmax(random((4, 6), seed=5)), random((4, 6), seed=6)
    full = (grad[:, None, :] @ softmax_jacobian(weights))[:, 0, :]  # (4, 1, 6) -> (4, 6)
    np.testing.assert_allclose(softmax_vjp(weights, grad), full, rtol=1e-13, atol=1e-15)


def test_softmax_vjp_matches_finite_differences() -> None:
    scores, grad = random(5, seed=7), random(5, seed=8)
    expected = numerical_gradient(lambda x: float(grad @ softmax(x)), scores)
    np.testing.assert_allclose(softmax_vjp(softmax(scores), grad), expected, **FD_TOL)


def test_softmax_vjp_sums_to_zero() -> None:
    gradient = softmax_vjp(softmax(random((3, 7), seed=9)), random((3, 7), seed=10))
    np.testing.assert_allclose(gradient.sum(axis=-1), 0.0, rtol=0, atol=1e-15)


def test_stable_softmax_keeps_the_gradient_finite_where_naive_gives_nan(
    torch: ModuleType,
) -> None:
    # The gradients page's story: the naive formula overflows on large scores and
    # its gradient is NaN; the stable one gives the gradient of small scores.
    scores = np.array([1000.0, 1001.0, 1002.0])
    grad = np.array([1.0, 0.0, 0.0])
    stable = softmax_vjp(softmax(scores), grad)
    np.testing.assert_allclose(stable, softmax_vjp(softmax(scores - 1000), grad), rtol=1e-15)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = softmax_naive(scores)
    with pytest.raises(ValueError, match=r"weights must contain only finite numbers; got nan"):
        softmax_vjp(naive, grad)
    x = torch.tensor(scores, requires_grad=True)
    (torch.exp(x) / torch.exp(x).sum())[0].backward()
    assert torch.isnan(x.grad).all()


# --- the backward pass of simplified attention ----------------------------------------


def test_context_vectors_backward_matches_finite_differences() -> None:
    grad = random(INPUTS.shape, seed=11)
    expected = numerical_gradient(lambda x: float((grad * context_vectors(x)).sum()), INPUTS)
    np.testing.assert_allclose(context_vectors_backward(INPUTS, grad), expected, **FD_TOL)


@pytest.mark.parametrize("shape", [(6, 3), (1, 4), (2, 3, 5, 4)])
def test_context_vectors_backward_matches_autograd(torch: ModuleType, shape: tuple) -> None:
    inputs, grad = random(shape, seed=12), random(shape, seed=13)
    x = torch.tensor(inputs, requires_grad=True)
    context = torch.softmax(x @ x.transpose(-1, -2), dim=-1) @ x
    context.backward(torch.tensor(grad))
    np.testing.assert_allclose(
        context_vectors_backward(inputs, grad), x.grad.numpy(), **AUTOGRAD_TOL
    )


def test_context_vectors_backward_float32(torch: ModuleType) -> None:
    inputs = INPUTS.astype(np.float32)
    grad = np.ones_like(inputs)
    x = torch.tensor(inputs, requires_grad=True)
    (torch.softmax(x @ x.T, dim=-1) @ x).sum().backward()
    result = context_vectors_backward(inputs, grad)
    assert result.dtype == np.float32
    # float32 rounding (eps 1.2e-7) on O(1) values through a few products.
    np.testing.assert_allclose(result, x.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_context_vectors_backward_counts_all_three_uses_of_the_inputs() -> None:
    # Treating X as a constant in the weights (values only) gives the wrong answer:
    # the query and key paths matter.
    grad = np.ones_like(INPUTS)
    weights = softmax(INPUTS @ INPUTS.T)
    values_only = weights.T @ grad
    full = context_vectors_backward(INPUTS, grad)
    assert np.abs(full - values_only).max() > 0.1


# --- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "error", "message"),
    [
        (
            [0.5, 0.6],
            ValueError,
            r"weights must sum to 1 along axis 0 \(softmax outputs\); got a sum",
        ),
        (
            [1.5, -0.5],
            ValueError,
            r"weights must hold probabilities in \[0, 1\] .*got 1.5 at index",
        ),
        ([0.5, np.nan], ValueError, r"weights must contain only finite numbers; got nan at index"),
        (0.5, ValueError, r"weights must have at least 1 dimension"),
        ([], ValueError, r"weights must have at least one entry"),
        (["a"], TypeError, r"weights must contain real numbers"),
    ],
)
def test_softmax_jacobian_bad_input(weights: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        softmax_jacobian(weights)


def test_softmax_vjp_bad_input() -> None:
    weights = softmax(random((2, 3)))
    with pytest.raises(
        ValueError,
        match=r"grad_weights must have the same shape as weights, \(2, 3\); got shape \(3,\)",
    ):
        softmax_vjp(weights, np.ones(3))
    with pytest.raises(ValueError, match=r"grad_weights must contain only finite numbers"):
        softmax_vjp(weights, np.full((2, 3), np.inf))
    with pytest.raises(ValueError, match=r"weights must sum to 1 along axis 0"):
        softmax_vjp(weights, np.ones((2, 3)), axis=0)  # normalised along 1, not 0
    with pytest.raises(ValueError, match=r"axis 2 is out of range for weights"):
        softmax_vjp(weights, np.ones((2, 3)), axis=2)


def test_context_vectors_backward_bad_input() -> None:
    with pytest.raises(
        ValueError,
        match=r"grad_context must have the same shape as inputs, \(6, 3\); got shape \(6, 2\)",
    ):
        context_vectors_backward(INPUTS, np.ones((6, 2)))
    with pytest.raises(ValueError, match=r"inputs must have shape \(N, D\)"):
        context_vectors_backward(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match=r"grad_context must contain only finite numbers"):
        context_vectors_backward(INPUTS, np.full((6, 3), np.nan))
    with pytest.raises(ValueError, match=r"inputs are too large: a dot product overflows"):
        context_vectors_backward(np.full((2, 2), 1e200), np.ones((2, 2)))
