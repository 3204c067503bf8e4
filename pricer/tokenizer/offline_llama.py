"""The offline Llama 3.1 tokenizer, built from Meta's BPE ranks that ship inside pricer.

Llama 3.1's tokenizer is Meta's `tokenizer.model`: tiktoken's list of 128,000 byte strings in rank
order, the pre-tokenizer pattern, and 256 special tokens after them. pricer ships that file
byte for byte, gzip-compressed, in `pricer/llama-3.1-tokenizer/` (with Meta's licence), and
`write(folder)` turns it into the two files transformers loads: `tokenizer.json` (the
Hugging Face form: byte-level BPE with the merges derived from the ranks, as transformers'
TikTokenConverter derives them, words in the vocabulary taken whole) and `tokenizer_config.json`.
The result is the tokenizer of meta-llama/Meta-Llama-3.1-8B: the same 128,256 ids, the same
specials (no Llama 3.2 `<|image|>` or `<|step_id|>`), no pad token, no chat template, and decoding
without the old clean-up (pricer.data.items re-applies the 2024 clean-up where it matters).

It needs only the standard library, so the Space gets it from its own files (no PyPI package
with bad pins). It does not load the tokenizer (pricer.tokenizer.loading does, and decides when the
offline copy stands in for the hub's) and it does not cache: the caller picks the folder.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from pathlib import Path

from pricer.atomic import atomic_write
from pricer.errors import PricerError
from pricer.tokenizer.llama_bpe import PATTERN, byte_chars

RANKS_FILE = Path(__file__).resolve().parent / "llama-3.1-tokenizer" / "tokenizer.model.gz"
# sha256 of Meta's original/tokenizer.model (the same file for Llama 3, 3.1 and 3.2).
RANKS_SHA256 = "82e9d31979e92ab929cd544440f129d9ecd797b69e327f80f17e1c50d5551b55"
N_RANKS = 128_000
BUILD_VERSION = 3  # bump whenever write() changes what it writes: the cache folder name carries it
BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"
MODEL_MAX_LENGTH = 131_072


def special_tokens() -> list[str]:
    """Llama 3.1's 256 special tokens, in id order from 128000 (as in the hub's tokenizer.json).

    >>> names = special_tokens()
    >>> len(names), names[5], names[9], names[-1]
    (256, '<|reserved_special_token_2|>', '<|eot_id|>', '<|reserved_special_token_247|>')
    """
    named = [BOS, EOS, "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
             "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>",
             "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
    return named + [f"<|reserved_special_token_{n}|>" for n in range(3, 3 + 256 - len(named))]


def ranks(path: Path = RANKS_FILE) -> list[bytes]:
    """Meta's BPE ranks: the byte string of each token id below 128000, checked against Meta's hash."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise PricerError(f"The offline Llama 3.1 tokenizer file {path} cannot be read ({exc}): "
                          "restore it from the repository (git checkout -- pricer).") from exc
    if hashlib.sha256(raw).hexdigest() != RANKS_SHA256:
        raise PricerError(f"The offline Llama 3.1 tokenizer file {path} is not Meta's tokenizer.model: "
                          "restore it from the repository (git checkout -- pricer).")
    return [base64.b64decode(line.split()[0]) for line in raw.splitlines()]  # line n: "<base64> n"


def tokenizer_json(tokens: list[bytes]) -> dict:
    """The Hugging Face tokenizer.json of Llama 3.1 for these ranks."""
    as_chars = str.maketrans(dict(enumerate(byte_chars())))  # byte n (as latin-1 char n) -> its stand-in
    pieces = [token.decode("latin-1").translate(as_chars) for token in tokens]
    rank = {token: i for i, token in enumerate(tokens)}
    # Every split of a token into two tokens is a merge, ordered by the token's rank, then by the
    # ranks of its two halves: transformers' TikTokenConverter rule, which Meta's hub files follow.
    merges = []
    for token in tokens:
        halves = sorted((rank[token[:i]], rank[token[i:]]) for i in range(1, len(token))
                        if token[:i] in rank and token[i:] in rank)
        merges.extend([pieces[left], pieces[right]] for left, right in halves)
    added = [{"id": N_RANKS + i, "content": name, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, name in enumerate(special_tokens())]
    bos = {"SpecialToken": {"id": BOS, "type_id": 0}}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": BOS, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {BOS: {"id": BOS, "ids": [N_RANKS], "tokens": [BOS]}}},
        ]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  # Meta's tiktoken takes a word whole when it is in the vocabulary: " Việt" is 1 token.
                  "ignore_merges": True,
                  "vocab": {piece: i for i, piece in enumerate(pieces)}, "merges": merges},
    }


def tokenizer_config() -> dict:
    """The tokenizer_config.json of Llama 3.1's base model, without a pad token or chat template."""
    return {
        "added_tokens_decoder": {str(N_RANKS + i): {"content": name, "lstrip": False, "normalized": False,
                                                    "rstrip": False, "single_word": False, "special": True}
                                 for i, name in enumerate(special_tokens())},
        "bos_token": BOS,
        "eos_token": EOS,
        # Decoding stays exact; pricer.data.items re-applies the 2024 clean-up where it matters.
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": MODEL_MAX_LENGTH,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def write(folder: Path, ranks_file: Path = RANKS_FILE) -> Path:
    """Write Llama 3.1's tokenizer.json and tokenizer_config.json into `folder` (a few seconds).

    Each file is written atomically (pricer.atomic), tokenizer_config.json last, so a
    reader (or a parallel writer) never sees half a tokenizer: the config's presence means done.
    """
    spec = tokenizer_json(ranks(ranks_file))
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in (("tokenizer.json", spec), ("tokenizer_config.json", tokenizer_config())):
        with atomic_write(folder / name) as f:  # a failed write leaves no partial file behind
            json.dump(content, f, ensure_ascii=False)
    return folder
