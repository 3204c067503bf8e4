"""What a tokenizer does to a text: ids, pieces, decoding, numbers, chat template (the vocabulary
itself is pricer.tokenizer.vocab; other tokenizers side by side, pricer.tokenizer.comparison).

Pure functions over a loaded tokenizer (see pricer.tokenizer.loading); the Tokenizer tab, its `/tokenize`
API and `python -m pricer tokenize` all call these. Nothing here renders HTML or imports gradio.

    >>> cut("price", 3)
    ('pri', 2)

A piece is what the reader sees as one token: the text of one id, or of several ids when a
byte-level tokenizer splits one character (an emoji, a rare CJK character) across tokens, which
decoded one by one would show as replacement characters.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, NamedTuple

from pricer.errors import BadInput, PricerError

MAX_CHARS = 100_000  # longer input is cut, so one paste cannot hang the server
MAX_GROUP = 8  # a UTF-8 character is at most 4 bytes; allow tokens that straddle two
COURSE_EXAMPLE = "I am excited to show Tokenizers in action to my LLM engineers"
REPLACEMENT = "\ufffd"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")  # any script's digits: the numbers view shows how they split


class Piece(NamedTuple):
    """One chip of the per-token view: a text and the id(s) it came from (a tuple: a long text
    makes thousands of them per keystroke)."""

    text: str
    ids: tuple[int, ...]
    special: bool = False


@dataclass(frozen=True)
class Split:
    """Ids as a reader sees them: one piece per id, except ids that only decode to a whole
    character together. Flat lists, not an object per piece: a 10,000-character text makes ~3,700
    pieces on every keystroke. Iterating (or indexing) gives Piece objects."""

    ids: list[int]
    texts: list[str]
    """Each piece's text."""
    sizes: list[int]
    """How many of the ids each piece covers: 1, or more where a character is split across tokens."""
    special: frozenset[int] = frozenset()
    """The indexes of the pieces that are special tokens."""

    def __len__(self) -> int:
        return len(self.texts)

    def __iter__(self) -> Iterator[Piece]:
        start = 0
        for n, (text, size) in enumerate(zip(self.texts, self.sizes, strict=True)):
            yield Piece(text, tuple(self.ids[start:start + size]), n in self.special)
            start += size

    def __getitem__(self, n: int) -> Piece:
        n = range(len(self.texts))[n]  # an IndexError as a list gives it; negative indexes count back
        start = sum(self.sizes[:n])
        return Piece(self.texts[n], tuple(self.ids[start:start + self.sizes[n]]), n in self.special)

    def to_dict(self) -> dict[str, list]:
        """As the API and `--json` give it: `ids`; `pieces`, the texts a reader sees as one token
        each; `split_pieces`, [piece index, number of ids] for each piece that covers more than one
        id (a character split across tokens); `special_pieces`, the indexes of special tokens.

        >>> Split([128000, 11410, 99, 250], ["<|begin_of_text|>", " 🦜"], [1, 3], frozenset({0})).to_dict()
        {'ids': [128000, 11410, 99, 250], 'pieces': ['<|begin_of_text|>', ' 🦜'], 'split_pieces': [[1, 3]], \
'special_pieces': [0]}
        """
        return {"ids": self.ids, "pieces": self.texts,
                "split_pieces": [[n, size] for n, size in enumerate(self.sizes) if size > 1],
                "special_pieces": sorted(self.special)}


@dataclass(frozen=True)
class Inspection:
    """Everything the Tokenizer tab shows for one text and one tokenizer."""

    text: str
    """The input as inspected (cut to MAX_CHARS)."""
    tokens: list[str]
    """Each id decoded on its own (the course's per-token list); split characters show as U+FFFD."""
    decoded: str
    pieces: Split
    add_special: bool = True
    skip_special: bool = False
    cut_chars: int = 0
    """How many characters were cut off the end of the input (0: none)."""
    batch_decode: list[str] = field(default_factory=list)
    """`tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=skip_special)`: one string
    per id, as the course shows it (transformers 5 decodes a flat list of ids to one string, so
    each id is its own sequence); a character split across tokens shows as U+FFFD."""

    @property
    def ids(self) -> list[int]:
        return self.pieces.ids

    @property
    def chars(self) -> int:
        return len(self.text)

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def chars_per_token(self) -> float:
        return self.chars / self.count if self.count else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the API's and the CLI's answer (`pieces` stands for `tokens`: the same
        texts, with split characters whole)."""
        return {
            "chars": self.chars, "count": self.count,
            "chars_per_token": round(self.chars_per_token, 3),
            "decoded": self.decoded, **self.pieces.to_dict(),
            "add_special": self.add_special, "skip_special": self.skip_special,
            "cut_chars": self.cut_chars, "batch_decode": self.batch_decode,
        }


def check_text(value: Any, what: str = "text") -> str:
    """`value` if it is text a tokenizer can take; a BadInput that says why for a missing value,
    a non-string, or a lone surrogate (half of a UTF-16 pair: JSON can carry one, and a command
    line turns bytes that are not UTF-8 into them, but no tokenizer can encode it).

    >>> check_text("Price is $")
    'Price is $'
    """
    if value is None:
        raise BadInput(f"No {what} was sent: send a string (it may be empty).")
    if not isinstance(value, str):
        raise BadInput(f"The {what} must be text (a string), not {type(value).__name__}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadInput(f"A lone surrogate (U+{ord(value[exc.start]):04X} at character {exc.start + 1:,}) in the "
                       f"{what} is not valid Unicode (on a command line: bytes that are not UTF-8). Remove that "
                       "character, or paste the text again from its source.") from None
    return value


def cut(text: str, limit: int = MAX_CHARS) -> tuple[str, int]:
    """The first `limit` characters of `text`, and how many were dropped."""
    text = text or ""
    return (text[:limit], len(text) - limit) if len(text) > limit else (text, 0)


def _decode_many(tokenizer: Any, sequences: list[list[int]]) -> list[str]:
    """Each id sequence decoded, specials kept (one Rust call for fast tokenizers)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return backend.decode_batch(sequences, skip_special_tokens=False)
    return [tokenizer.decode(s) for s in sequences]


def decode_each(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """Each id decoded on its own: looked up in the tokenizer's table of single decodings (built
    once; a lookup per keystroke instead of a decode call per token), decoded when out of it."""
    table = _singles(tokenizer)
    size = len(table)
    return [table[i] if 0 <= i < size else _decode_many(tokenizer, [[i]])[0] for i in ids]


_memo: weakref.WeakKeyDictionary[Any, dict[tuple[str, int], Any]] = weakref.WeakKeyDictionary()


def per_tokenizer(tokenizer: Any, what: str, compute: Callable[[Any], Any]) -> Any:
    """`compute(tokenizer)`, once per tokenizer and vocabulary size (so added tokens refresh it)."""
    cache = _memo.setdefault(tokenizer, {})
    key = (what, len(tokenizer))
    if key not in cache:
        cache[key] = compute(tokenizer)
    return cache[key]


def _singles(tokenizer: Any) -> list[str]:
    """Every id of the vocabulary decoded on its own (~130,000 short strings for Llama 3.1)."""
    def build(tok: Any) -> list[str]:
        ids = list(range(len(tok)))
        return [t for start in range(0, len(ids), 8192)
                for t in _decode_many(tok, [[i] for i in ids[start:start + 8192]])]

    return per_tokenizer(tokenizer, "single decodings", build)


def _needs_context(tokenizer: Any) -> bool:
    """Whether a token can decode differently after its left neighbour than alone: SentencePiece
    drops a word's leading space alone, and tidy-up rules (' ,' -> ',') join tokens. Byte-level
    BPE (Llama 3) decodes each token the same either way. Decided once, on a probe text holding
    words, numbers, punctuation, an apostrophe, CJK and an emoji."""
    def probe(tok: Any) -> bool:
        ids = list(tok.encode("I am excited, don't you think? 12.5 (ok) - 你好 🦜 end.\n\tx",
                              add_special_tokens=False))
        groups, alone = _groups(tok, ids, decode_each(tok, ids))
        return _context_texts(tok, ids, groups, alone) != alone

    return per_tokenizer(tokenizer, "needs context", probe)


def _context_texts(tokenizer: Any, ids: list[int], groups: list[tuple[int, int]], alone: list[str]) -> list[str]:
    """Each group's text as it reads after its left neighbour (decoded together, minus the
    neighbour's own text); specials and the first group as decoded alone (`alone`)."""
    both = _decode_many(tokenizer, [ids[p[0]:e] for p, (_, e) in pairwise(groups)])
    special = special_ids(tokenizer)
    out = []
    for n, (s, _) in enumerate(groups):
        text = alone[n]
        if n and ids[s] not in special:
            b, bb = alone[n - 1], both[n - 1]
            if bb.startswith(b) and bb != b + text:
                text = bb[len(b):]
        out.append(text)
    return out


def special_ids(tokenizer: Any) -> frozenset[int]:
    """The ids of bos/eos/... and of every added token marked special."""
    def collect(tok: Any) -> frozenset[int]:
        added = getattr(tok, "added_tokens_decoder", {}) or {}
        named = getattr(tok, "all_special_ids", []) or []
        return frozenset(named) | {i for i, t in added.items() if getattr(t, "special", False)}

    return per_tokenizer(tokenizer, "special ids", collect)


def _groups(tokenizer: Any, ids: list[int], singles: list[str]) -> tuple[list[tuple[int, int]], list[str]]:
    """The (start, end) of each piece in `ids`, and each piece's text decoded alone: an id on its
    own, or the few ids that decode to a whole character only together."""
    groups: list[tuple[int, int]] = []
    i = 0
    while i < len(ids):
        j = i + 1
        if REPLACEMENT in singles[i]:
            for k in range(i + 2, min(len(ids), i + MAX_GROUP) + 1):
                if REPLACEMENT not in _decode_many(tokenizer, [ids[i:k]])[0]:
                    j = k
                    break
        groups.append((i, j))
        i = j
    if len(groups) == len(ids):  # no split characters: each group is one id, decoded already
        return groups, singles
    multi = _decode_many(tokenizer, [ids[s:e] for s, e in groups if e > s + 1])[::-1]
    return groups, [singles[s] if e == s + 1 else multi.pop() for s, e in groups]


def pieces(tokenizer: Any, ids: Sequence[int], singles: Sequence[str] | None = None) -> Split:
    """The per-token view: one piece per id, except that ids which only decode to a whole
    character together (byte-level splits of an emoji or CJK character) form one piece.

    Where the tokenizer needs it (_needs_context), each piece's text is decoded after its left
    neighbour, so tokenizers that drop a word's leading space when decoding it alone
    (SentencePiece) still show it.
    """
    ids = list(ids)
    singles = list(singles) if singles is not None else decode_each(tokenizer, ids)
    groups, alone = _groups(tokenizer, ids, singles)
    texts = _context_texts(tokenizer, ids, groups, alone) if _needs_context(tokenizer) else alone
    special = special_ids(tokenizer)
    return Split(ids, texts, [e - s for s, e in groups],
                 frozenset(n for n, (s, e) in enumerate(groups) if e == s + 1 and ids[s] in special))


def inspect(tokenizer: Any, text: str, *, add_special: bool = True, skip_special: bool = False,
            limit: int = MAX_CHARS) -> Inspection:
    """Encode `text` (cut to `limit` characters) and take the result apart."""
    text, dropped = cut(check_text(text), limit)
    ids = list(tokenizer.encode(text, add_special_tokens=add_special))
    singles = decode_each(tokenizer, ids)
    return Inspection(
        text=text, tokens=singles,
        decoded=tokenizer.decode(ids, skip_special_tokens=skip_special),
        pieces=pieces(tokenizer, ids, singles),
        add_special=add_special, skip_special=skip_special, cut_chars=dropped,
        batch_decode=batch_decode_each(tokenizer, ids, singles, skip_special=skip_special),
    )


def batch_decode_each(tokenizer: Any, ids: Sequence[int], singles: Sequence[str] | None = None, *,
                      skip_special: bool = False) -> list[str]:
    """The course's batch_decode of one sequence, one string per token:
    `tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=skip_special)` (a character split
    across tokens shows as U+FFFD). Without clean-up that is each id's own decoding (`singles`,
    decode_each's when not given), a special one empty when skipped: a lookup per id instead of
    ~2,300 decode calls per keystroke; a tokenizer that cleans up is asked.

    >>> batch_decode_each(None, [128000, 40], ["<|begin_of_text|>", "I"])
    ['<|begin_of_text|>', 'I']
    """
    ids = list(ids)
    if getattr(tokenizer, "clean_up_tokenization_spaces", False):
        return tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=skip_special)
    singles = list(singles) if singles is not None else decode_each(tokenizer, ids)
    if not skip_special:
        return list(singles)
    special = special_ids(tokenizer)
    return ["" if i in special else s for i, s in zip(ids, singles, strict=True)]


# --- chat template ----------------------------------------------------------------------------

DEFAULT_USER = "How much does this cost?\n\nOEM AC Compressor w/A/C Repair Kit For Ford F150"


@dataclass(frozen=True)
class ChatRendering:
    rendered: str | None
    """The template's text for the conversation, None when the tokenizer has no template."""
    ids: list[int] = field(default_factory=list)
    template_tokens: int = 0
    """Tokens the template adds around the messages' own tokens."""
    note: str = ""


def chat_template(tokenizer: Any, system: str, user: str = DEFAULT_USER,
                  **limits: Any) -> ChatRendering:
    """Render a system + user conversation with the tokenizer's chat template, and count what
    the template adds. The caller says the system message (the Tokenizer tab: the course's,
    pricer.data.items.SYSTEM_PROMPT). Base models often have no template: then `rendered` is None and `note`
    says so. The template is untrusted Jinja: it renders in a bounded, killable process
    (pricer.tokenizer.chat_template; `limits` are its timeout, max_chars and memory_mb)."""
    from pricer.tokenizer import chat_template as templates

    check_text(system, "system message")
    check_text(user, "user message")
    if not getattr(tokenizer, "chat_template", None):
        return ChatRendering(None, note=(
            "This tokenizer has no chat template: it belongs to a base model, which continues text "
            "rather than answering turns (Llama 3.1 8B base has none; Llama 3.1 8B Instruct does). "
            "The pricer prompts it with plain text ending in 'Price is $'."))
    messages = [{"role": "user", "content": cut(user)[0]}]
    if system:
        messages.insert(0, {"role": "system", "content": cut(system)[0]})
    try:
        template = tokenizer.get_chat_template()
    except ValueError as exc:  # several named templates and no default among them
        raise PricerError(f"This tokenizer's chat template cannot be chosen: {exc}") from None
    rendered = templates.render(template, messages, dict(tokenizer.special_tokens_map), **limits)
    ids = list(tokenizer.encode(rendered, add_special_tokens=False))
    own = sum(len(tokenizer.encode(m["content"], add_special_tokens=False)) for m in messages)
    return ChatRendering(rendered, ids, len(ids) - own,
                         note=f"The template adds {len(ids) - own} tokens around the messages' {own}.")


# --- numbers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberTokens:
    number: str
    ids: list[int]
    pieces: list[str]


def numbers(tokenizer: Any, text: str, limit: int = 20) -> list[NumberTokens]:
    """How each distinct number in `text` tokenizes on its own (the first `limit` of them)."""
    seen: list[str] = []
    for m in _NUMBER.finditer(text or ""):
        if m.group() not in seen:
            seen.append(m.group())
        if len(seen) >= limit:
            break
    if not seen:
        return []
    encoded = tokenizer(seen, add_special_tokens=False)["input_ids"]  # one call for all of them
    return [NumberTokens(n, list(ids), decode_each(tokenizer, ids)) for n, ids in zip(seen, encoded, strict=True)]


def first_multi_token_integer(tokenizer: Any, upto: int = 999) -> int | None:
    """The smallest integer in 0..upto that takes more than one token, or None: for Llama 3.1
    every integer up to 999 is one token, which is why the pricer predicts a price in one token."""
    def first(tok: Any) -> int | None:
        encoded = tok([str(n) for n in range(upto + 1)], add_special_tokens=False)["input_ids"]
        return next((n for n, ids in enumerate(encoded) if len(ids) != 1), None)

    return per_tokenizer(tokenizer, f"first multi-token integer up to {upto}", first)
