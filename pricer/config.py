"""Settings read from the environment when asked for (never at import), as frozen dataclasses.

Space variables and local environment variables use the same names (PRICER_*), so an app
deployed from spaces.yaml and a local run read one set of settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

BASE_MODEL = "meta-llama/Meta-Llama-3.1-8B"
# The course's QLoRA fine-tuned pricer, pinned to the revision the course evaluated.
ADAPTER = "ed-donner/pricer-2024-09-13_13.04.39"
ADAPTER_REVISION = "e8d637df551603dc86cd7a1598a8f44af4d7ae36"
DATASET = "ed-donner/pricer-data"
NONE_WORDS = {"", "none", "no", "off", "false", "0"}


def _env(name: str, default: str | None) -> str | None:
    value = os.environ.get(name)
    return default if value is None else value.strip()


def optional(value: str | None) -> str | None:
    """'none', 'off', '' and friends mean "no such thing" (e.g. base-only mode, no adapter)."""
    return None if value is None or value.strip().lower() in NONE_WORDS else value.strip()


@dataclass(frozen=True)
class Settings:
    """What the app and the CLI run with, unless a flag says otherwise."""

    base_model: str = BASE_MODEL
    """Hub id or local path of the base model (PRICER_BASE_MODEL)."""
    adapter: str | None = ADAPTER
    """Hub id or local path of a PEFT adapter, None for base-only (PRICER_ADAPTER=none)."""
    adapter_revision: str | None = ADAPTER_REVISION
    """Revision of the adapter only, never of the base model (PRICER_ADAPTER_REVISION)."""
    dataset: str = DATASET
    """Pricer dataset (hub id or local path) for examples and evaluation (PRICER_DATASET)."""
    tokenizer: str = BASE_MODEL
    """Default tokenizer of the Tokenizer tab (PRICER_TOKENIZER)."""
    quantization: str = "4bit"
    """'4bit' (nf4, double quantization) or '8bit' (PRICER_QUANTIZATION)."""
    preload: bool = False
    """Load the model in the background at start-up (PRICER_PRELOAD=1; default on a GPU Space)."""

    def __post_init__(self) -> None:
        if self.quantization not in {"4bit", "8bit"}:
            raise ValueError(f"quantization must be '4bit' or '8bit', not {self.quantization!r}")
        if not self.base_model:
            raise ValueError("base_model must name a hub id or a local path")


def settings() -> Settings:
    """The current settings from the environment."""
    adapter = optional(_env("PRICER_ADAPTER", ADAPTER))
    return Settings(
        base_model=_env("PRICER_BASE_MODEL", BASE_MODEL) or BASE_MODEL,
        adapter=adapter,
        adapter_revision=optional(_env("PRICER_ADAPTER_REVISION", ADAPTER_REVISION if adapter == ADAPTER else None)),
        dataset=_env("PRICER_DATASET", DATASET) or DATASET,
        tokenizer=_env("PRICER_TOKENIZER", BASE_MODEL) or BASE_MODEL,
        quantization=(_env("PRICER_QUANTIZATION", "4bit") or "4bit").lower(),
        preload=(_env("PRICER_PRELOAD", "") or "").lower() in {"1", "true", "yes", "on"},
    )
