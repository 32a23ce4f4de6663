"""Gradients: how the softmax Jacobian vanishes as the scores grow and softmax saturates."""

from __future__ import annotations

import numpy as np
from _style import Theme, new_figure

from attention_ref import attention_scores, softmax, softmax_jacobian
from attention_ref.examples import INPUTS, QUERY

FACTORS = np.logspace(-1, 3, 241)  # (F,): the factor c multiplying the scores


def gradients_saturation(theme: Theme):
    """The largest weight and the largest Jacobian entry of softmax(c * scores), against c."""
    scores = attention_scores(INPUTS, query=QUERY)  # (N,)
    weights = softmax(FACTORS[:, None] * scores, axis=-1)  # (F, N): one row per factor
    jacobians = softmax_jacobian(weights)  # (F, N, N)
    fig = new_figure(theme, 5.0, 3.6)  # narrow: still readable on a phone
    ax = fig.add_subplot()
    ax.axhline(0.25, color=theme.muted, linestyle="--", linewidth=1)
    ax.text(FACTORS[-1], 0.27, "bound: 1/4", color=theme.fg, fontsize=10, ha="right", va="bottom")
    ax.axvline(1.0, color=theme.muted, linestyle=":", linewidth=1)
    ax.text(1.12, 0.86, "c = 1: the scores\nas they are", color=theme.fg, fontsize=10, va="top")
    ax.plot(FACTORS, weights.max(axis=-1), color=theme.palette[0], label="largest weight")
    ax.plot(
        FACTORS,
        np.abs(jacobians).max(axis=(-2, -1)),
        color=theme.accent,
        linewidth=2,
        label="largest Jacobian entry",
    )
    ax.set_xscale("log")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("factor c multiplying the scores")
    ax.grid(True)
    ax.legend(  # above the axes, clear of the curves
        frameon=False,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=2,
        fontsize=10,
        labelcolor=theme.fg,
    )
    return fig


FIGURES = {"gradients-saturation": gradients_saturation}
