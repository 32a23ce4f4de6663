"""attention-ref: a small, exact reference implementation of self-attention in numpy.

The public API, in the order of the story:

- :func:`attention_scores` -- step 1, dot products of a query with every input;
- :func:`softmax`, :func:`attention_weights` -- step 2, scores to weights summing to 1
  (with :func:`softmax_naive` and :func:`normalize_sum` to show why);
- :func:`context_vector`, :func:`context_vectors` -- step 3, weighted sums of the
  inputs (:func:`context_vectors_loop` does it one token at a time);
- :mod:`attention_ref.examples` -- the worked example's tokens and embeddings.
"""

from .simple import (
    attention_scores,
    attention_weights,
    context_vector,
    context_vectors,
    context_vectors_loop,
)
from .softmax import normalize_sum, softmax, softmax_naive

__version__ = "0.1.0"

__all__ = [
    "attention_scores",
    "attention_weights",
    "context_vector",
    "context_vectors",
    "context_vectors_loop",
    "normalize_sum",
    "softmax",
    "softmax_naive",
]
