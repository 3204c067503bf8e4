"""Llama 3's byte-level BPE through tiktoken, for curating millions of records.

Meta's own Llama 3 tokenizer is tiktoken over the same 128,000 ranks; the Hugging Face
tokenizer.json describes the same thing for the `tokenizers` library, whose regex pre-tokenizer
is about 3x slower per character. Curation encodes every product text, so it uses the tiktoken
form when one can be built from the tokenizer it was given, and the tokenizer itself otherwise.

This is a speed path only: `encoder(tok)` returns None unless `tok` is exactly Llama 3's scheme
(the pre-tokenizer pattern, byte-level, whole-word ranks), and tests check that both forms give
the same ids and text. It does not tokenize chat templates or anything the app shows.
"""

from __future__ import annotations

import json
import threading
from typing import Any

# Llama 3's pre-tokenizer pattern (also in Meta's tokenizer.py).
PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

_lock = threading.Lock()
_encoders: dict[int, tuple[Any, Any]] = {}  # id(tokenizer) -> (tokenizer, Encoding or None)


def byte_chars() -> list[str]:
    """GPT-2's byte-level alphabet: the printable stand-in character of each byte 0..255.

    >>> chars = byte_chars()
    >>> chars[ord("a")], chars[ord(" ")], chars[ord("\\n")]
    ('a', 'Ġ', 'Ċ')
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, n = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    by_byte = dict(zip(printable, chars, strict=True))
    return [chr(by_byte[b]) for b in range(256)]


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, reversed: the printable stand-in character -> its byte."""
    return {c: b for b, c in enumerate(byte_chars())}


def is_llama3_scheme(backend: Any) -> bool:
    """Exactly Llama 3's scheme: the split pattern, byte-level, whole-word ranks, plain specials."""
    if type(backend.model).__name__ != "BPE" or not getattr(backend.model, "ignore_merges", False):
        return False
    if backend.normalizer is not None or backend.pre_tokenizer is None or backend.decoder is None:
        return False
    pre = json.loads(backend.pre_tokenizer.__getstate__())
    steps = pre.get("pretokenizers") or []
    return (
        json.loads(backend.decoder.__getstate__()).get("type") == "ByteLevel"
        and len(steps) == 2
        and steps[0].get("type") == "Split"
        and (steps[0].get("pattern") or {}).get("Regex") == PATTERN
        and steps[0].get("behavior") == "Isolated"
        and steps[1].get("type") == "ByteLevel"
        and steps[1].get("use_regex") is False
        and all(not (t.lstrip or t.rstrip or t.single_word or t.normalized)
                for t in backend.get_added_tokens_decoder().values())
    )


def _build(tokenizer: Any) -> Any:
    try:
        import tiktoken
    except ImportError:
        return None
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not is_llama3_scheme(backend):
        return None
    to_byte = _byte_decoder()
    vocab = backend.get_vocab(with_added_tokens=False)
    ranks = {bytes(to_byte[c] for c in piece): rank for piece, rank in vocab.items()}
    specials = {t.content: i for i, t in backend.get_added_tokens_decoder().items()}
    if len(ranks) != len(vocab) or set(specials.values()) & set(ranks.values()):
        return None
    return tiktoken.Encoding("llama3-bpe", pat_str=PATTERN, mergeable_ranks=ranks, special_tokens=specials)


def encoder(tokenizer: Any) -> Any:
    """The tiktoken Encoding equivalent to `tokenizer`, or None (built once per tokenizer)."""
    key = id(tokenizer)
    with _lock:
        if key not in _encoders:
            _encoders[key] = (tokenizer, _build(tokenizer))
        return _encoders[key][1]


def encode_batch(enc: Any, texts: list[str]) -> list[list[int]]:
    """Like the HF tokenizer without added specials: special-token text in the input is parsed."""
    # Passing the 256 specials to Rust costs more than most texts: only texts that could hold one do.
    return [enc.encode(t, allowed_special="all") if "<|" in t else enc.encode_ordinary(t) for t in texts]


def decode_batch(enc: Any, batch_ids: list[list[int]]) -> list[str]:
    """Like the HF byte-level decoder: bytes joined, invalid UTF-8 replaced by U+FFFD."""
    return [enc.decode_bytes(ids).decode("utf-8", errors="replace") for ids in batch_ids]
