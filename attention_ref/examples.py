"""The worked examples of the site, as data.

``TOKENS`` and ``INPUTS`` are the running example: the six tokens of "Your journey
starts with one step", each embedded in 3 dimensions so every number can be followed
by hand. The sentence and its vectors come from Sebastian Raschka, *Build a Large
Language Model (From Scratch)*, chapter 3. ``QUERY`` is 1: ``INPUTS[1]`` is "journey",
the query the pages work through.

``CAT_TOKENS`` and ``CAT_INPUTS`` are small illustrative embeddings of "The cat sat
on the mat because it is warm", used to show what attention without trainable
weights cannot do. They are made up, not learned: three dimensions that read
roughly as "animal", "object or place" and "temperature".

The arrays are read-only so that a page cannot change them for the next one; take
``INPUTS.copy()`` to experiment.

Examples
--------
>>> from attention_ref.examples import INPUTS, QUERY, TOKENS
>>> TOKENS[QUERY], INPUTS[QUERY]
('journey', array([0.55, 0.87, 0.66]))
>>> INPUTS.shape  # N tokens x D dimensions
(6, 3)
"""

from __future__ import annotations

import numpy as np

__all__ = ["CAT_INPUTS", "CAT_TOKENS", "INPUTS", "QUERY", "TOKENS"]


def _read_only(rows: list[list[float]]) -> np.ndarray:
    array = np.array(rows, dtype=np.float64)
    array.flags.writeable = False
    return array


TOKENS: tuple[str, ...] = ("Your", "journey", "starts", "with", "one", "step")

QUERY: int = 1  # "journey", x^(2) in the formulas: the query the pages follow

INPUTS = _read_only(
    [
        [0.43, 0.15, 0.89],  # Your
        [0.55, 0.87, 0.66],  # journey
        [0.57, 0.85, 0.64],  # starts
        [0.22, 0.58, 0.33],  # with
        [0.77, 0.25, 0.10],  # one
        [0.05, 0.80, 0.55],  # step
    ]
)

CAT_TOKENS: tuple[str, ...] = (
    "The", "cat", "sat", "on", "the", "mat", "because", "it", "is", "warm",
)  # fmt: skip

# Dimensions: roughly "animal", "object or place", "temperature". "warm" is far
# from "mat" in this space, although in the sentence it describes the mat.
CAT_INPUTS = _read_only(
    [
        [0.10, 0.10, 0.10],  # The
        [0.90, 0.20, 0.30],  # cat
        [0.40, 0.30, 0.10],  # sat
        [0.10, 0.30, 0.10],  # on
        [0.10, 0.10, 0.10],  # the
        [0.10, 0.90, 0.20],  # mat
        [0.20, 0.20, 0.20],  # because
        [0.60, 0.40, 0.20],  # it
        [0.20, 0.20, 0.20],  # is
        [0.30, 0.10, 0.90],  # warm
    ]
)
