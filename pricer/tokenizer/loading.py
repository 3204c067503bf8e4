"""Loading tokenizers: a hub id, a local path, or the offline Llama 3.1 copy; each once.

The default is Meta-Llama-3.1-8B's tokenizer. It is gated, so without access (or without a
network) we fall back to the offline copy that ships inside pricer (pricer.tokenizer.offline_llama builds it
from Meta's own tokenizer.model): the same 128,256 tokens and specials, no pad token, no chat
template.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
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
            return "Llama 3.1 (offline copy shipped with pricer)"
        return self.requested


_offline_lock = threading.Lock()


def offline_llama_path() -> Path:
    """A folder holding the offline Llama 3.1 tokenizer, built once from the ranks shipped with pricer."""
    from pricer.tokenizer import offline_llama

    # The folder name carries the build version, so a changed build never reuses an old folder.
    name = f"tokenizers/llama-3.1-v{offline_llama.BUILD_VERSION}"
    target = cache_dir() / name
    with _offline_lock:
        if not (target / "tokenizer_config.json").exists():  # written last: its presence means done
            cache_folder(name)  # a BadInput naming PRICER_CACHE when it cannot be written
            try:
                offline_llama.write(target)
            except OSError as exc:  # a full disk
                raise BadInput(f"Cannot write the offline tokenizer to {target}: {exc.strerror or exc}. "
                               f"{CACHE_FIX}") from None
    return target


_load_lock = threading.Lock()
_loaded: OrderedDict[str, Any] = OrderedDict()
MAX_LOADED = 16  # tokenizers kept in memory, least recently used dropped first


def _from_pretrained(path_or_id: str) -> Any:
    """The tokenizer of a folder or hub id, loaded once. One load at a time, and a caller that
    waited finds the tokenizer already loaded: on a cold start 8 requests at once load it once,
    not 8 times. (transformers' lazy imports are not thread-safe either: two first loads at once
    fail with "cannot import name 'AutoTokenizer'".)"""
    with _load_lock:
        if path_or_id in _loaded:
            _loaded.move_to_end(path_or_id)
            return _loaded[path_or_id]
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path_or_id, token=hub.token())
        _loaded[path_or_id] = tokenizer
        if len(_loaded) > MAX_LOADED:
            _loaded.popitem(last=False)
        return tokenizer


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
