"""Settings read from the environment when asked for (never at import), as frozen dataclasses.

Space variables and local environment variables use the same names (PRICER_*), so an app
deployed from spaces.yaml and a local run read one set of settings. This is the only module
that reads a PRICER_* variable; `ENV` maps each Settings field to its variable, and the
deployment manifest checks its variables against it. It holds the course's defaults (the base
model, the pinned adapter, the dataset) and the rules on them; it does not load anything, and
reading the settings never fails on a bad model setting (check_model is asked where a model runs).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pricer.errors import BadInput

BASE_MODEL = "meta-llama/Meta-Llama-3.1-8B"
# The course's QLoRA fine-tuned pricer, pinned to the revision the course evaluated.
ADAPTER = "ed-donner/pricer-2024-09-13_13.04.39"
ADAPTER_REVISION = "e8d637df551603dc86cd7a1598a8f44af4d7ae36"
DATASET = "ed-donner/pricer-data"
FRONTIER_MODEL = "gpt-4o-mini"  # the course's frontier pricer
RAG_DATA = DATASET  # the course's RAG searched the train split of its own dataset (400,000 items)
QUANTIZATIONS = ("4bit", "8bit")
CACHE_DIR = Path("~/.cache/pricer")
NONE_WORDS = {"", "none", "no", "off", "false", "0"}
YES_WORDS = {"1", "true", "yes", "on"}

# Settings field -> the environment variable (and Space variable) it is read from.
ENV = {
    "base_model": "PRICER_BASE_MODEL",
    "adapter": "PRICER_ADAPTER",
    "adapter_revision": "PRICER_ADAPTER_REVISION",
    "dataset": "PRICER_DATASET",
    "cpu_model": "PRICER_CPU_MODEL",
    "tokenizer": "PRICER_TOKENIZER",
    "quantization": "PRICER_QUANTIZATION",
    "preload": "PRICER_PRELOAD",
    "cache_dir": "PRICER_CACHE",
    "allow_cpu": "PRICER_ALLOW_CPU",
    "frontier_model": "PRICER_FRONTIER_MODEL",
    "rag_data": "PRICER_RAG_DATA",
    "web_paths": "PRICER_WEB_PATHS",
}


def _env(name: str) -> str | None:
    """The stripped value of the variable behind Settings field `name`, None when unset."""
    value = os.environ.get(ENV[name])
    return None if value is None else value.strip()


def _flag(name: str) -> bool:
    return (_env(name) or "").lower() in YES_WORDS


def optional(value: str | None) -> str | None:
    """'none', 'off', '' and friends mean "no such thing" (e.g. base-only mode, no adapter)."""
    return None if value is None or value.strip().lower() in NONE_WORDS else value.strip()


def pinned_revision(adapter: str | None) -> str | None:
    """The revision an adapter runs at unless one is given: the course's adapter the revision
    the course evaluated, any other adapter its latest (None)."""
    return ADAPTER_REVISION if adapter == ADAPTER else None


def check_model(base_model: str, quantization: str) -> None:
    """Refuse a model setting pricer cannot load: a BadInput naming the field and its variable,
    so the operator of a Space knows what to change."""
    if quantization not in QUANTIZATIONS:
        raise BadInput(f"quantization must be {' or '.join(map(repr, QUANTIZATIONS))}, not {quantization!r}: "
                       f"set {ENV['quantization']} to {' or '.join(QUANTIZATIONS)} (a Space variable on Hugging "
                       "Face, an environment variable locally) and restart.")
    if not base_model:
        raise BadInput(f"base_model must name a hub id or a local path: set {ENV['base_model']}.")


@dataclass(frozen=True)
class Settings:
    """What the app and the CLI run with, unless a flag says otherwise.

    The model fields are checked where a model is about to run (pricer.pricers.llama.model's ModelSpec.check,
    with check_model), not here: a bad PRICER_QUANTIZATION stops the model with a message that
    says how to fix it, while the app starts and the tokenizer, the data and the cache work on.
    """

    base_model: str = BASE_MODEL
    """Hub id or local path of the base model (PRICER_BASE_MODEL)."""
    adapter: str | None = ADAPTER
    """Hub id or local path of a PEFT adapter, None for base-only (PRICER_ADAPTER=none)."""
    adapter_revision: str | None = ADAPTER_REVISION
    """Revision of the adapter only, never of the base model (PRICER_ADAPTER_REVISION)."""
    dataset: str = DATASET
    """Pricer dataset (hub id or local path) for examples and evaluation (PRICER_DATASET)."""
    cpu_model: str | None = None
    """Folder of a retrained CPU pricer model; None for the one that ships (PRICER_CPU_MODEL)."""
    tokenizer: str = BASE_MODEL
    """Default tokenizer of the Tokenizer tab and the tokenizer verbs (PRICER_TOKENIZER)."""
    quantization: str = "4bit"
    """'4bit' (nf4, double quantization) or '8bit' (PRICER_QUANTIZATION)."""
    preload: bool = False
    """Load the model in the background at start-up (PRICER_PRELOAD=1; default on a GPU Space)."""
    cache_dir: Path = field(default_factory=CACHE_DIR.expanduser)
    """Where pricer keeps derived files: tokenizer copy, evaluation runs, Arrow work (PRICER_CACHE)."""
    allow_cpu: bool = False
    """Try to load a model too big for a CPU on a machine without a GPU (PRICER_ALLOW_CPU=1)."""
    frontier_model: str = FRONTIER_MODEL
    """OpenAI (or OpenAI-compatible) model of the frontier and RAG pricers (PRICER_FRONTIER_MODEL)."""
    rag_data: str = RAG_DATA
    """Training items the RAG pricer retrieves from: a hub id (its train split), files or folders
    (several separated by commas), or the folder of a built index (PRICER_RAG_DATA)."""
    web_paths: tuple[Path, ...] = ()
    """More folders (or files) the web app may read local data and tokenizers from, besides the
    cache, the configured model, adapter, tokenizer and dataset, and its uploads (PRICER_WEB_PATHS,
    separated by os.pathsep: `:` on Linux). The CLI reads any path."""


def settings() -> Settings:
    """The current settings from the environment."""
    adapter, revision = _env("adapter"), _env("adapter_revision")
    adapter = optional(ADAPTER if adapter is None else adapter)
    return Settings(
        base_model=_env("base_model") or BASE_MODEL,
        adapter=adapter,
        adapter_revision=optional(revision) if revision is not None else pinned_revision(adapter),
        dataset=_env("dataset") or DATASET,
        cpu_model=cpu_model(),
        tokenizer=_env("tokenizer") or BASE_MODEL,
        quantization=(_env("quantization") or "4bit").lower(),
        preload=_flag("preload"),
        cache_dir=cache_dir(),
        allow_cpu=allow_cpu(),
        frontier_model=frontier_model(),
        rag_data=rag_data(),
        web_paths=web_paths(),
    )


def cache_dir() -> Path:
    """Where pricer keeps derived files (PRICER_CACHE, else ~/.cache/pricer).

    Read on its own, not through settings(), so that a bad model setting never stops the
    tokenizer, curation or the dataset build, which only need this folder."""
    return Path(_env("cache_dir") or CACHE_DIR).expanduser()


def cpu_model() -> str | None:
    """The CPU pricer's model folder (PRICER_CPU_MODEL), None for the shipped model; read on its
    own like cache_dir, so a bad Llama setting never stops the CPU pricer."""
    return optional(_env("cpu_model"))


def allow_cpu() -> bool:
    """PRICER_ALLOW_CPU=1, read on its own like cache_dir (for a check that must not fail)."""
    return _flag("allow_cpu")


CACHE_FIX = (f"It is where pricer keeps derived files ({ENV['cache_dir']}, default {CACHE_DIR}): set "
             f"{ENV['cache_dir']} to a folder this user can write.")


def cache_folder(name: str) -> Path:
    """`cache_dir() / name`, created and checked by a test write before the work that needs it; a
    BadInput naming PRICER_CACHE when it cannot be written (a read-only disk, a file in the way)."""
    from pricer.atomic import writable_folder

    return writable_folder(cache_dir() / name, fix=CACHE_FIX)


def frontier_model() -> str:
    """The frontier pricer's model (PRICER_FRONTIER_MODEL, else gpt-4o-mini), read on its own
    like cache_dir: a bad model setting for the Llama must not stop the OpenAI pricers."""
    return _env("frontier_model") or FRONTIER_MODEL


def rag_data() -> str:
    """Where the RAG pricer's training items come from (PRICER_RAG_DATA, else the course's
    dataset, whose train split it indexes), read on its own like frontier_model. Not
    PRICER_DATASET: that is often a test file, whose items must never be the ones retrieved."""
    return _env("rag_data") or RAG_DATA


def web_paths() -> tuple[Path, ...]:
    """The extra folders the web app may read (PRICER_WEB_PATHS, os.pathsep between them), read on
    its own like cache_dir: a bad model setting must not open or close them."""
    return tuple(Path(p.strip()).expanduser() for p in (_env("web_paths") or "").split(os.pathsep) if p.strip())
