"""The same text through several tokenizers side by side: each one's counts, pieces and the
character spans its tokens cover, or why it could not load; one failure never stops the others.

Over pricer.tokenizer.tokens (inspect) and pricer.tokenizer.loading (load_tokenizer); the Tokenizer
tab's "Other tokenizers side by side" fold and its `/compare` endpoint call `compare`. By default
it compares tokenizers that installed packages ship, so it works with no network.

    >>> [r.count for r in compare("the price", ["offline/claude-legacy"], reference="offline/llama-3.1")]
    [3, 2]
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from pricer.errors import BadInput, PricerError
from pricer.tokenizer.loading import CLAUDE_LEGACY, LLAMA_31, MINILM, load_tokenizer
from pricer.tokenizer.tokens import Split, check_text, cut, inspect

MAX_COMPARE = 3
COURSE_COMPARE = (  # the tokenizers the course compares with Llama 3.1 (week 2): hub repos
    "microsoft/Phi-3-mini-4k-instruct",
    "Qwen/Qwen2-7B-Instruct",
    "bigcode/starcoder2-3b",
)
# compared by default: tokenizers that installed packages ship, so the comparison works offline
# (a WordPiece and a byte-level BPE beside Llama 3.1); the third is the visitor's choice
COMPARE_DEFAULTS = (MINILM, CLAUDE_LEGACY, "")


@dataclass(frozen=True)
class Comparison:
    """The same text through another tokenizer: its counts and pieces, or why it failed."""

    name: str
    label: str = ""
    chars: int = 0
    pieces: Split = field(default_factory=lambda: Split([], [], []))
    error: str = ""
    note: str = ""
    spans: tuple[tuple[int, int], ...] | None = None
    """Where each token lies in the text, as (start, end) characters with surrounding whitespace
    left out, once per span (a character split across tokens is one); None for a tokenizer that
    gives no offsets (a slow one)."""

    @property
    def count(self) -> int:
        return len(self.pieces.ids)

    @property
    def chars_per_token(self) -> float:
        return self.chars / self.count if self.count else 0.0


def _compare_one(name: str, text: str, add_special: bool, web: bool) -> Comparison:
    try:
        loaded = load_tokenizer(name, web=web)
        result = inspect(loaded.tokenizer, text, add_special=add_special)
    except PricerError as exc:
        return Comparison(name, error=str(exc))
    except Exception as exc:  # any hub id may hold anything; one bad tokenizer must not stop the rest
        return Comparison(name, error=f"Could not use the tokenizer of {name}: {type(exc).__name__}: {exc}. "
                          "Try another hub id or a folder saved with save_pretrained.")
    return Comparison(name, loaded.label, result.chars, result.pieces, note=loaded.note)


def compare(text: str, names: Sequence[str], *, reference: str | None = None,
            add_special: bool = True, web: bool = False) -> list[Comparison]:
    """`text` through up to MAX_COMPARE tokenizers in parallel (after `reference`, the one they
    are compared with, when given); each failure is reported in its own Comparison and the
    others still run. Blank names are skipped. `web`: names from the web app (load_tokenizer)."""
    names = [check_text(n, "tokenizer name").strip() for n in names if n is not None]
    names = [n for n in names if n]
    if len(names) > MAX_COMPARE:
        raise BadInput(f"Compare at most {MAX_COMPARE} tokenizers at a time (got {len(names)}).")
    text, _ = cut(check_text(text))
    if reference is not None:
        names.insert(0, check_text(reference, "tokenizer name").strip() or LLAMA_31)
    if not names:
        return []
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(lambda n: _with_spans(_compare_one(n, text, add_special, web), text, web), names))


def _with_spans(row: Comparison, text: str, web: bool) -> Comparison:
    """`row` with the character spans of its tokens (Comparison.spans), from the tokenizer's
    offsets: what the comparison shows cut differently from the reference."""
    if row.error:
        return row
    try:
        offsets = load_tokenizer(row.name, web=web).tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    except (NotImplementedError, PricerError, ValueError):  # a slow tokenizer has no offsets
        return row
    spans: dict[tuple[int, int], None] = {}
    for start, end in offsets:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans[(start, end)] = None
    return replace(row, spans=tuple(spans))
