"""A tokenizer's vocabulary: its special tokens and size, lookup by text or id, and ids a person
types, decoded.

Over a loaded tokenizer (pricer.tokenizer.loading), like pricer.tokenizer.tokens; the Tokenizer tab's folds, its
`/vocab`, `/decode` and `/batch_decode` endpoints and `python -m pricer vocab|decode` call these.

    >>> parse_ids("128000, 40, 1097")
    [128000, 40, 1097]
    >>> parse_sequences("128000 40 1097\\n3430 374 400")
    [[128000, 40, 1097], [3430, 374, 400]]
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pricer.errors import BadInput
from pricer.tokenizer.tokens import Split, check_text, decode_each, per_tokenizer, pieces, special_ids

MAX_IDS = 100_000  # typed ids decoded at once (by decode, and by batch_decode over all its sequences)
MAX_SEQUENCES = 1_000  # sequences batch_decode takes at once
MAX_ID_DIGITS = 9  # the largest vocabularies hold about a million tokens
MAX_ID_TEXT = MAX_IDS * (MAX_ID_DIGITS + 3)  # characters of typed ids read at once: room for MAX_IDS ids
PAGE_SIZE = 50
_ID = re.compile(r"[+-]?[0-9]+", re.ASCII)  # only ASCII digits are ids: '٣٤' is not 34


@dataclass(frozen=True)
class VocabEntry:
    id: int
    token: str
    """As stored in the vocabulary ('Ġprice')."""
    text: str
    """Decoded (' price')."""
    special: bool = False


@dataclass(frozen=True)
class Specials:
    """The special tokens of a tokenizer and the size of its vocabulary."""

    named: dict[str, VocabEntry | None]
    """bos, eos, pad, unk: the entry, or None when the tokenizer has none."""
    added: list[VocabEntry]
    """The added vocabulary (Llama 3.1: 256 entries from <|begin_of_text|> to reserved tokens)."""
    size: int
    """All ids, added ones included (Llama 3.1: 128,256)."""
    base_size: int
    """Ids of the base vocabulary (Llama 3.1: 128,000)."""


def specials(tokenizer: Any) -> Specials:
    named: dict[str, VocabEntry | None] = {}
    for role in ("bos", "eos", "pad", "unk"):
        token, tid = getattr(tokenizer, f"{role}_token", None), getattr(tokenizer, f"{role}_token_id", None)
        named[role] = VocabEntry(tid, str(token), str(token), True) if token is not None and tid is not None else None
    added = sorted(tokenizer.get_added_vocab().items(), key=lambda kv: kv[1])
    special = special_ids(tokenizer)
    return Specials(named, [VocabEntry(i, t, t, i in special) for t, i in added],
                    size=len(tokenizer), base_size=int(getattr(tokenizer, "vocab_size", len(tokenizer))))


@dataclass(frozen=True)
class _Vocabulary:
    stored: list[str]
    decoded: list[str]
    folded: list[tuple[str, str]]
    """(decoded, stored) lower-cased, what a search compares with."""


def _vocabulary(tokenizer: Any) -> _Vocabulary:
    """Every id's stored token and decoded text, computed once per tokenizer (~0.3 s for 128k)."""
    def build(tok: Any) -> _Vocabulary:
        ids = list(range(len(tok)))
        stored = [t if t is not None else "" for t in tok.convert_ids_to_tokens(ids)]
        decoded = decode_each(tok, ids)
        return _Vocabulary(stored, decoded, [(d.lower(), s.lower()) for d, s in zip(decoded, stored, strict=True)])

    return per_tokenizer(tokenizer, "vocabulary", build)


def check_ids(tokenizer: Any, ids: Sequence[int]) -> None:
    """Raise BadInput naming every id outside the vocabulary."""
    size = len(tokenizer)
    bad = [i for i in ids if not 0 <= i < size]
    if bad:
        shown = ", ".join(str(i) for i in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise BadInput(f"Not in the vocabulary: {shown}. Token ids of this tokenizer run from 0 "
                       f"to {size - 1:,}.")


@dataclass(frozen=True)
class VocabPage:
    query: str
    entries: list[VocabEntry]
    total: int
    """Matches over the whole vocabulary; `entries` holds one page of them."""
    page: int
    pages: int


def search_vocab(tokenizer: Any, query: str, page: int = 1, page_size: int = PAGE_SIZE) -> VocabPage:
    """Vocabulary entries whose decoded text or stored token contains `query` (case-insensitive),
    exact matches first, then those starting with it, then the rest, each by id. A whole
    number (ASCII digits) is also looked up as an id."""
    if query is None or query == "":
        raise BadInput("Type a token, a part of one, or an id to look up.")
    check_text(query, "query")
    vocab = _vocabulary(tokenizer)
    stored, decoded = vocab.stored, vocab.decoded
    q, q_stripped = query.lower(), query.lower().strip()
    ranked = []
    for i, (ds, ss) in enumerate(vocab.folded):
        if q in ds or q in ss:
            rank = 0 if query in (decoded[i], stored[i]) else 1 if ds.strip().startswith(q_stripped) else 2
            ranked.append((rank, i))
    as_id = query.strip()
    if as_id.isascii() and as_id.isdigit() and len(as_id) <= MAX_ID_DIGITS and int(as_id) < len(stored):
        ranked.append((-1, int(as_id)))
    ranked.sort()
    pages = max(1, -(-len(ranked) // page_size))
    page = min(max(1, page), pages)
    special = special_ids(tokenizer)
    chunk = ranked[(page - 1) * page_size: page * page_size]
    return VocabPage(query, [VocabEntry(i, stored[i], decoded[i], i in special) for _, i in chunk],
                     total=len(ranked), page=page, pages=pages)


# --- decoding typed ids -----------------------------------------------------------------------


def parse_ids(text: str) -> list[int]:
    """Ids typed by a person: '128000, 40, 1097', '[128000 40 1097]' -> [128000, 40, 1097].
    Only ASCII digits make an id."""
    words = _words(text, "token ids")
    if not words:
        raise BadInput("Type some token ids, e.g. 128000, 40, 1097.")
    if len(words) > MAX_IDS:
        raise BadInput(f"{len(words):,} ids are more than the {MAX_IDS:,} decoded at once: decode them in parts.")
    return _ids_of(words, "", "separated by commas or spaces, e.g. 128000, 40, 1097", " (e.g. 128000)")


def _words(text: str, what: str) -> list[str]:
    """The words of typed ids: what commas, spaces, semicolons and brackets separate."""
    return [w for w in re.split(r"[\s,;\[\]()]+", check_text(text or "", what)) if w]


def _ids_of(words: Sequence[str], where: str, layout: str, example: str) -> list[int]:
    """Typed words as ids, or a BadInput naming the first that is not one (`where`: ' in sequence
    N' or ''; `layout` and `example` finish the message the way the caller's input is written)."""
    bad = [w for w in words if not _ID.fullmatch(w)]
    if bad:
        raise BadInput(f"Not a token id{where}: {', '.join(_shown(w) for w in bad[:5])}. Ids are whole numbers in "
                       f"ASCII digits {layout}.")
    long = [w for w in words if len(w.lstrip("+-")) > MAX_ID_DIGITS]
    if long:
        raise BadInput(f"Not in the vocabulary: {_shown(long[0])}{where}, a {len(long[0].lstrip('+-')):,}-digit "
                       f"number. Token ids have at most {MAX_ID_DIGITS} digits{example}.")
    return [int(w) for w in words]


def _shown(word: str, limit: int = 20) -> str:
    """A typed word for a message: quoted, and cut when long."""
    return repr(word if len(word) <= limit else word[:limit] + "…")


@dataclass(frozen=True)
class Decoding:
    decoded: str
    pieces: Split

    @property
    def ids(self) -> list[int]:
        return self.pieces.ids


def decode_ids(tokenizer: Any, ids: str | Sequence[int], *, skip_special: bool = False) -> Decoding:
    """Decode ids (a list, or text like '128000, 40, 1097'); BadInput for ids not in the vocabulary."""
    if ids is None or isinstance(ids, str):
        ids = parse_ids(ids)
    else:
        ids = list(ids)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise BadInput("Token ids are whole numbers, e.g. [128000, 40, 1097].")
    check_ids(tokenizer, ids)
    return Decoding(tokenizer.decode(ids, skip_special_tokens=skip_special), pieces(tokenizer, ids))


# --- batch_decode: several sequences at once ---------------------------------------------------


def parse_sequences(text: str) -> list[list[int]]:
    """Several id sequences typed by a person: one per line of ids separated by commas or spaces
    (blank lines skipped, `[]` an empty sequence), or a JSON list of lists (a flat JSON list is
    one sequence, as transformers' batch_decode takes it). Only ASCII digits make an id."""
    text = check_text(text or "", "token id sequences")
    if len(text) > MAX_ID_TEXT:
        raise BadInput(f"{len(text):,} characters of ids are more than the {MAX_ID_TEXT:,} read at once: "
                       "decode them in parts.")
    if text.strip().startswith("["):
        try:
            data = json.loads(text)
        except ValueError:  # not JSON: lines such as "[128000, 40]\n[3430]"
            data = None
        if isinstance(data, list):
            return _sequences_of(data)
    return parse_lines([line for line in text.splitlines() if line.strip()])


def parse_lines(lines: Sequence[str]) -> list[list[int]]:
    """One id sequence per text ('128000 40 1097'; '' or '[]' is an empty sequence), as the
    lines of the tab's box or the arguments of `python -m pricer decode --batch` give them."""
    if not lines:
        raise BadInput("Type some token ids: one sequence per line (e.g. 128000 40 1097), or a JSON list of "
                       "lists such as [[128000, 40, 1097], [3430, 374, 400]].")
    _check_count(len(lines))
    out = []
    for n, line in enumerate(lines, 1):
        out.append(_ids_of(_words(line, "token id sequences"), f" in sequence {n}",
                           "separated by commas or spaces, one sequence per line", ""))
    return _sequences_of(out)


def _check_count(sequences: int) -> None:
    if sequences > MAX_SEQUENCES:
        raise BadInput(f"{sequences:,} sequences are more than the {MAX_SEQUENCES:,} decoded at once: "
                       "decode them in parts.")


def _sequences_of(data: Sequence[Any]) -> list[list[int]]:
    """Sequences of ids (lists or tuples of ints; a flat list of ints is one sequence) as lists,
    checked for shape, count and sign; BadInput saying what to send otherwise."""
    if not isinstance(data, (list, tuple)) or not data:
        raise BadInput("Send a list of id sequences, e.g. [[128000, 40, 1097], [3430, 374, 400]].")
    if all(_is_id(i) for i in data):
        data = [data]
    _check_count(len(data))
    out, total = [], 0
    for n, seq in enumerate(data, 1):
        if not isinstance(seq, (list, tuple)):
            raise BadInput(f"Sequence {n} is not a list of ids ({_shown(str(seq))}): send a list of lists such as "
                           "[[128000, 40], [3430]].")
        bad = [i for i in seq if not _is_id(i)]
        if bad:
            raise BadInput(f"Not a token id in sequence {n}: {_shown(json.dumps(bad[0]))}. Token ids are whole "
                           "numbers, e.g. [128000, 40, 1097].")
        negative = [i for i in seq if i < 0]
        if negative:
            raise BadInput(f"Not a token id in sequence {n}: {negative[0]}. Token ids are 0 or more.")
        total += len(seq)
        if total > MAX_IDS:
            raise BadInput(f"More than {MAX_IDS:,} ids in all ({total:,} by sequence {n}): decode them in parts.")
        out.append([int(i) for i in seq])
    return out


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def batch_decode(tokenizer: Any, sequences: str | Sequence[Sequence[int]], *, skip_special: bool = False,
                 clean_up: bool = False) -> list[str]:
    """One text per id sequence (text as parse_sequences reads it, or a list of lists), through
    the tokenizer's own batch_decode; an empty sequence is ''. BadInput naming the first id out
    of the vocabulary (batch_decode itself would decode it as '' without a word), its sequence
    and the vocabulary size. `clean_up`: transformers' clean_up_tokenization_spaces (' .' -> '.'),
    which transformers 5 applies to WordPiece tokenizers and ignores for byte-level BPE."""
    if sequences is None or isinstance(sequences, str):
        sequences = parse_sequences(sequences)
    else:
        sequences = _sequences_of(sequences)
    size = len(tokenizer)
    for n, seq in enumerate(sequences, 1):
        if bad := [i for i in seq if i >= size]:
            raise BadInput(f"Not in the vocabulary: {bad[0]} in sequence {n}. This tokenizer has {size:,} tokens, "
                           f"ids 0 to {size - 1:,}.")
    return list(tokenizer.batch_decode(sequences, skip_special_tokens=skip_special,
                                       clean_up_tokenization_spaces=clean_up))
