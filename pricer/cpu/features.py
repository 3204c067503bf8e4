"""Product text -> the CPU pricer's features: hashed word and character n-grams.

A prompt in the dataset's format (question, title, description, `Price is $...`) or pasted
text (the first line the title, the rest the description) is split into title and description
(`product_parts`), then hashed (`featurize`) into two blocks of one sparse row per product:

- word 1-2 grams of title and description, log term frequency, l2-normalised;
- character 2-5 grams of the title within word boundaries, log term frequency, l2-normalised.

Hashing (scikit-learn's MurmurHash3, seed 0) needs no vocabulary, so a model is its weights and
nothing else, and features are computed a batch at a time however large the data. This module
fits and stores nothing (pricer.cpu.model holds weights, pricer.cpu.train fits them).

    >>> product_parts("How much does this cost to the nearest dollar?\\n\\nMug\\nBlue, 12 oz\\n\\nPrice is $9.00")
    ('Mug', 'Blue, 12 oz')
    >>> product_parts("  Mug  \\n\\n Blue [12 oz] ")
    ('Mug', 'Blue 12 oz')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pricer.errors import BadInput
from pricer.items import PREFIX, QUESTION, scrub

# Curated descriptions are cut to 160 Llama tokens, about 800 characters: a longer pasted text is
# cut near there so it reads like what the model was trained on.
BODY_CHARS = 1000


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
    training data (pricer.items.scrub) and its description cut near BODY_CHARS characters.
    """
    if not isinstance(text, str) or not text.strip():
        raise BadInput("Give a product's title and description (the first line is the title).")
    text = text.strip()
    if text.startswith(QUESTION):
        body = text[len(QUESTION):].split(PREFIX)[0].strip()
        title, _, description = body.partition("\n")
        return title.strip(), description.strip()
    title, _, description = text.partition("\n")
    description = description.strip()
    if len(description) > BODY_CHARS:
        cut = description.rfind(" ", 0, BODY_CHARS)
        description = description[:cut if cut > 0 else BODY_CHARS]
    return scrub(title), scrub(description)


def _hasher(spec: FeatureSpec, block: str) -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    if block == "word":
        return HashingVectorizer(ngram_range=(1, spec.max_word_ngram), n_features=2 ** spec.word_bits,
                                 alternate_sign=False, norm=None, dtype="float32")
    return HashingVectorizer(analyzer="char_wb", ngram_range=(spec.min_char_ngram, spec.max_char_ngram),
                             n_features=2 ** spec.char_bits, alternate_sign=False, norm=None, dtype="float32")


def _log_normalised(counts: Any) -> Any:
    import numpy as np
    from sklearn.preprocessing import normalize

    counts = counts.tocsr()
    np.log1p(counts.data, out=counts.data)
    return normalize(counts, copy=False)


def featurize(parts: Sequence[tuple[str, str]], spec: FeatureSpec) -> Any:
    """One float32 CSR row of `spec.width` columns per (title, description)."""
    import scipy.sparse as sp

    words = _log_normalised(_hasher(spec, "word").transform([f"{t}\n{d}" for t, d in parts]))
    chars = _log_normalised(_hasher(spec, "char").transform([t for t, _ in parts]))
    return sp.hstack([words, chars], format="csr", dtype="float32")
