"""Product text -> the CPU pricer's features: hashed word and character n-grams.

A prompt in the dataset's format (question, title, description, `Price is $...`) or pasted
text (the first line the title, the rest the description) is split into title and description
(`product_parts`), then hashed (`featurize`) into two blocks of one sparse row per product:

- word 1-2 grams of title and description, log term frequency, l2-normalised;
- character 2-5 grams of the title, log term frequency, l2-normalised.

Hashing (CRC-32 of each n-gram, made as scikit-learn's HashingVectorizer makes them)
needs no vocabulary, so a model is its weights and nothing else, and features are computed a
batch at a time however large the data. Pricing needs numpy alone (`dot`); training builds
scipy sparse matrices (`featurize`). This module fits and stores nothing (pricer.pricers.cpu.model holds
weights, pricer.pricers.cpu.training fits them).

    >>> product_parts("How much does this cost to the nearest dollar?\\n\\nMug\\nBlue, 12 oz\\n\\nPrice is $9.00")
    ('Mug', 'Blue, 12 oz')
    >>> product_parts("  Mug  \\n\\n Blue [12 oz] ")
    ('Mug', 'Blue 12 oz')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from operator import methodcaller
from typing import Any
from zlib import crc32

from pricer.data.items import PREFIX, QUESTION, scrub
from pricer.errors import BadInput

# Curated descriptions are cut to 160 Llama tokens, about 800 characters: a longer pasted text is
# cut near there so it reads like what the model was trained on.
BODY_CHARS = 1000
# The most of a title (or of a prompt's description) read: no curated one comes near (the whole
# item is 160 tokens, ~1,100 characters), and a one-line paste of megabytes costs no more than this.
PART_CHARS = 2000


@dataclass(frozen=True)
class FeatureSpec:
    """How texts become feature rows; stored with a model so it is read back exactly."""

    word_bits: int = 18
    """log2 of the hashed word 1-2 gram block's width."""
    char_bits: int = 17
    """log2 of the hashed title character 2-5 gram block's width."""
    max_word_ngram: int = 2
    min_char_ngram: int = 2
    max_char_ngram: int = 5

    def __post_init__(self) -> None:
        for name in ("word_bits", "char_bits"):
            if not 8 <= getattr(self, name) <= 24:
                raise ValueError(f"{name} must be within 8..24, not {getattr(self, name)}")
        if not 1 <= self.max_word_ngram <= 3:
            raise ValueError(f"max_word_ngram must be within 1..3, not {self.max_word_ngram}")
        if not 1 <= self.min_char_ngram <= self.max_char_ngram <= 8:
            raise ValueError("char n-gram sizes must satisfy 1 <= min_char_ngram <= max_char_ngram <= 8")

    @property
    def width(self) -> int:
        """Columns of a feature row: the word block, then the title character block."""
        return 2 ** self.word_bits + 2 ** self.char_bits

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> FeatureSpec:
        """A spec from stored settings; anything malformed is a ValueError naming the field."""
        if not isinstance(data, dict) or set(data) != set(cls.__dataclass_fields__):
            raise ValueError(f"feature settings must have exactly the fields {sorted(cls.__dataclass_fields__)}")
        for name, value in data.items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"feature setting {name} must be an integer, not {value!r}")
        return cls(**data)


def product_parts(text: str) -> tuple[str, str]:
    """(title, description) of a dataset prompt or of pasted text; empty text is a BadInput.

    A prompt's text is already curated and is kept as it is; pasted text is scrubbed like the
    training data (pricer.data.items.scrub) and its description cut near BODY_CHARS characters.
    A title, or a prompt's description, is cut near PART_CHARS (no curated one is that long).
    """
    if not isinstance(text, str) or not text.strip():
        raise BadInput("Give a product's title and description (the first line is the title).")
    text = text.strip()
    if text.startswith(QUESTION):
        body = text[len(QUESTION):].split(PREFIX)[0].strip()
        title, _, description = body.partition("\n")
        return _cut(title.strip(), PART_CHARS), _cut(description.strip(), PART_CHARS)
    title, _, description = text.partition("\n")
    return scrub(_cut(title, PART_CHARS)), scrub(_cut(description.strip(), BODY_CHARS))


def _cut(text: str, limit: int) -> str:
    """`text`, or its first `limit` characters cut back to the last space before them.

    >>> _cut("Blue mug", 6), _cut("Bluemug", 4), _cut("Mug", 6)
    ('Blue', 'Blue', 'Mug')
    """
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[:cut if cut > 0 else limit]


_WORD = re.compile(r"(?u)\b\w\w+\b")  # words of 2+ characters, as scikit-learn's default


def words(text: str, n: int) -> list[str]:
    """Lower-cased words of 2+ characters, then their runs of 2..n joined by a space.

    >>> words("The Mug, blue", 2)
    ['the', 'mug', 'blue', 'the mug', 'mug blue']
    """
    tokens = _WORD.findall(text.lower())
    grams = list(tokens)
    for size in range(2, n + 1):
        grams += map(" ".join, zip(*(tokens[i:] for i in range(size)), strict=False))  # shorter tails end it
    return grams


def char_grams(text: str, low: int, high: int) -> list[str]:
    """Character low..high grams of the lower-cased text, its words separated by one space and
    the whole padded with one (scikit-learn's `char` analyzer after whitespace is collapsed).

    >>> char_grams("Mug  Pro", 3, 4)
    [' mu', 'mug', 'ug ', 'g p', ' pr', 'pro', 'ro ', ' mug', 'mug ', 'ug p', 'g pr', ' pro', 'pro ']
    """
    padded = " " + " ".join(text.lower().split()) + " "
    grams: list[str] = []
    for size in range(low, high + 1):
        grams += [padded[i:i + size] for i in range(len(padded) - size + 1)]
    return grams


_UTF8 = methodcaller("encode", "utf-8", "surrogatepass")  # a lone surrogate is hashed, not refused


def hashed_rows(parts: Sequence[tuple[str, str]], spec: FeatureSpec) -> tuple[Any, Any, Any]:
    """(indptr, indices, data) of the CSR rows of `featurize`, as numpy arrays (int64, int32, float32).

    Each gram's column is the low bits of its CRC-32 (the title's character grams after the word
    block); a column's value is log(1 + count), and each block of a row has unit length.
    """
    import numpy as np

    grams: list[str] = []
    rows: list = []
    for row, (title, description) in enumerate(parts):
        for block, found in enumerate((words(f"{title}\n{description}", spec.max_word_ngram),
                                       char_grams(title, spec.min_char_ngram, spec.max_char_ngram))):
            grams += found
            rows.append(np.full(len(found), 2 * row + block, dtype=np.int64))
    if not grams:
        return np.zeros(len(parts) + 1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    hashes = np.fromiter(map(crc32, map(_UTF8, grams)), dtype=np.int64, count=len(grams))
    owner = np.concatenate(rows)  # 2 * row + block
    block = owner & 1
    columns = np.where(block == 0, hashes & ((1 << spec.word_bits) - 1),
                       (1 << spec.word_bits) + (hashes & ((1 << spec.char_bits) - 1)))
    keys, counts = np.unique(owner << 32 | columns, return_counts=True)  # sorted: by row, block, column
    owners, columns = keys >> 32, keys & 0xFFFFFFFF
    values = np.log1p(counts.astype(np.float64))
    norms = np.sqrt(np.bincount(owners, weights=values * values, minlength=2 * len(parts)))
    values /= norms[owners]
    indptr = np.zeros(len(parts) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(np.bincount(owners >> 1, minlength=len(parts)))
    return indptr, columns.astype(np.int32), values.astype(np.float32)


def featurize(parts: Sequence[tuple[str, str]], spec: FeatureSpec) -> Any:
    """One float32 scipy CSR row of `spec.width` columns per (title, description)."""
    import scipy.sparse as sp

    indptr, indices, data = hashed_rows(parts, spec)
    return sp.csr_matrix((data, indices, indptr), shape=(len(parts), spec.width))


def item_keys(parts: Sequence[tuple[str, str]]) -> Any:
    """A 64-bit fingerprint per (title, description): the first 8 bytes of the sha256 of both, as int64.

    A model keeps the keys of the items it trained on, so that an item priced later is known to be
    one of them (pricer.pricers.cpu.model.CpuModel.held_out_log_prices).
    """
    import hashlib

    import numpy as np

    digests = (hashlib.sha256(f"{t}\n{d}".encode("utf-8", "surrogatepass")).digest()[:8] for t, d in parts)
    return np.frombuffer(b"".join(digests), dtype="<i8", count=len(parts)).astype(np.int64)


def dot(parts: Sequence[tuple[str, str]], spec: FeatureSpec, weights: Any) -> Any:
    """The feature rows times `weights` (float64), with numpy alone: how a model prices."""
    import numpy as np

    indptr, indices, data = hashed_rows(parts, spec)
    products = data.astype(np.float64) * weights[indices].astype(np.float64)
    row = np.repeat(np.arange(len(parts)), np.diff(indptr))
    return np.bincount(row, weights=products, minlength=len(parts))
