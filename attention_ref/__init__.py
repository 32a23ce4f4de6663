"""attention-ref: a small, exact reference implementation of self-attention in numpy.

The public API, in the order of the story:

- `attention_scores` -- step 1, dot products of a query with every input;
- `softmax`, `attention_weights` -- step 2, scores to weights summing to 1
  (with `softmax_naive` and `normalize_sum` to show why);
- `context_vector`, `context_vectors` -- step 3, weighted sums of the
  inputs (`context_vectors_loop` does it one token at a time);
- `scaled_dot_product_attention`, `causal_mask`, `padding_mask`,
  `SelfAttention`, `MultiHeadAttention` -- beyond the story: trainable query, key
  and value projections, scaling, causal and padding masks, and heads;
- `sinusoidal_positions`, `apply_rotary` -- word order: sinusoidal position
  encodings added to the inputs, and rotary position embeddings of queries and keys;
- `softmax_jacobian`, `softmax_vjp`, `context_vectors_backward` --
  gradients, for training;
- `attention_ref.examples` -- the worked example's tokens and embeddings, and
  `glove`, real GloVe word vectors for a sentence.

Arrays go in as anything numpy reads and come out as ``numpy.ndarray``. "Made of real
numbers", as the errors say, means float32 or float64, kept as they are, or integers,
computed in float64. Refused with a ``TypeError`` rather than silently changed: float16
and long double (convert first, e.g. with ``.astype(numpy.float32)``), a ``numpy.ma``
masked array (its mask would be dropped: fill it first), booleans mixed with numbers
(``[1, True]``), and a switch such as ``causal`` or ``return_weights`` that is not
``True`` or ``False``. Every result is finite: where a product would overflow the float
range, a ``ValueError`` names the arguments to scale down.
"""

from .gradients import context_vectors_backward, softmax_jacobian, softmax_vjp
from .normalize import normalize_sum, softmax, softmax_naive
from .positions import apply_rotary, sinusoidal_positions
from .simple import (
    attention_scores,
    attention_weights,
    context_vector,
    context_vectors,
    context_vectors_loop,
)
from .trainable import (
    MultiHeadAttention,
    SelfAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
)

__version__ = "0.1.0"

__all__ = [
    "MultiHeadAttention",
    "SelfAttention",
    "apply_rotary",
    "attention_scores",
    "attention_weights",
    "causal_mask",
    "context_vector",
    "context_vectors",
    "context_vectors_backward",
    "context_vectors_loop",
    "normalize_sum",
    "padding_mask",
    "scaled_dot_product_attention",
    "sinusoidal_positions",
    "softmax",
    "softmax_jacobian",
    "softmax_naive",
    "softmax_vjp",
]
