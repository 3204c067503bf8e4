"""Whether a Llama model can load here, decided without loading it (for pricers' `available()`).

In the order it asks: the libraries the 4-bit path needs; each of the base model and the
adapter, where it is (a local folder holding its config, or a hub id: a gated one needs
HF_TOKEN, and with HF_HUB_OFFLINE set it must be in the local Hugging Face cache; the network
is never asked); and the model's size (read from its safetensors headers, or its config on
the meta device) against pricer.pricers.llama.backbone's limit for a machine without a CUDA GPU. Each answer
is None or one short reason. pricer.pricers.llama.backbone makes the same decisions while loading, with the
full message; this module loads nothing and imports torch only for the CUDA check of a model
too big for a CPU.

    >>> _hub_reason("./no/such/model", "base model", "config.json")
    'no such base model folder: ./no/such/model'
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from pricer.errors import PricerError

if TYPE_CHECKING:
    from pricer.pricers.llama.model import ModelSpec

GATED = ("meta-llama/",)  # hub ids that need an accepted licence and HF_TOKEN (the course's base model)


def is_test_model(base_model: str) -> bool:
    """A random-weight test model (pricer.pricers.llama.tiny), told by its config.json; False for a hub id."""
    from pricer.pricers.llama.backbone import TEST_MODEL_KEY

    try:
        config = json.loads((Path(base_model).expanduser() / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and bool(config.get(TEST_MODEL_KEY))


def llama_unavailable(spec: ModelSpec) -> str | None:
    """Why `spec` cannot load here, decided without loading it: missing libraries, a gated hub
    model without HF_TOKEN, a hub model offline and not cached, a local folder that is not there,
    or a model too big for a machine without a CUDA GPU. None when nothing stops it; else every
    reason at once, joined by "; and " (no GPU *and* no HF_TOKEN: fixing one is not enough)."""
    from pricer.pricers.llama import model

    if model.loaded(spec):
        return None
    needed = ("torch", "transformers", "bitsandbytes") + (("peft",) if spec.adapter else ())
    missing = [package for package in needed if importlib.util.find_spec(package) is None]
    if missing:
        return f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed (pip install -r requirements.txt)"
    from pricer import hub

    reasons = [_hub_reason(spec.base_model, "base model", "config.json")]
    if spec.adapter:
        reasons.append(_hub_reason(spec.adapter, "adapter", "adapter_config.json"))
    unreadable_folder = reasons[0] is not None and hub.looks_like_path(spec.base_model)
    if not unreadable_folder:  # a folder that is not there has no size to judge
        reasons.append(_gpu_reason(spec.base_model))
    return "; and ".join(r for r in reasons if r) or None


def _hub_reason(name: str, what: str, marker: str) -> str | None:
    """Why a base model or adapter cannot be read here, without the network; None when it can be tried."""
    from pricer import hub

    path = Path(name).expanduser()
    if path.exists():
        if not (path / marker).is_file():
            return f"the {what} folder {name} has no {marker}"
        return None
    if hub.looks_like_path(name):
        return f"no such {what} folder: {name}"
    if name.startswith(GATED) and not hub.token():
        return f"HF_TOKEN missing for a gated model ({name})"
    if hub.offline_mode() and _hub_cached(name, marker) is None:
        return f"HF_HUB_OFFLINE is set and the {what} {name} is not in the local Hugging Face cache"
    return None


def _hub_cached(repo: str, filename: str) -> str | None:
    """The local copy of a hub file from an earlier download, or None; never asks the network."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo, filename)
    except Exception:  # noqa: BLE001 - an id the cache cannot even name is simply not cached
        return None
    return found if isinstance(found, str) else None


def _gpu_reason(base_model: str) -> str | None:
    """'no CUDA GPU ...' for a model too big for this machine's CPU (unless PRICER_ALLOW_CPU)."""
    from pricer.config import allow_cpu
    from pricer.pricers.llama.backbone import CPU_PARAM_LIMIT

    n_params = parameter_count(base_model)
    if (n_params is not None and n_params <= CPU_PARAM_LIMIT) or allow_cpu():
        return None
    import torch

    if torch.cuda.is_available():
        return None
    size = f"has {n_params / 1e9:.1f} B parameters and " if n_params else ""
    return (f"no CUDA GPU ({base_model} {size}needs one in 4 bits; the tiny test model runs anywhere: "
            "bash scripts/dev demo; PRICER_ALLOW_CPU=1 tries anyway)")


_counts: dict[tuple[str, float], int | None] = {}


def parameter_count(base_model: str) -> int | None:
    """Parameters of a local model or of a hub model in the local cache, read from the
    safetensors headers (no weights are read), else from its config on the meta device; None
    when it cannot be told without the network."""
    path = Path(base_model).expanduser()
    if not path.is_dir():
        cached = _hub_cached(base_model, "config.json")
        if cached is None:
            return None
        path = Path(cached).parent
    key = (str(path.resolve()), max((p.stat().st_mtime for p in path.iterdir()), default=0.0))
    if key not in _counts:
        counted = [_safetensors_parameters(p) for p in sorted(path.glob("*.safetensors"))]
        if counted and None not in counted:
            _counts[key] = sum(n for n in counted if n is not None)
        else:
            try:
                from pricer.pricers.llama.backbone import inspect_model

                _counts[key] = inspect_model(str(path))[1]
            except PricerError:
                _counts[key] = None
    return _counts[key]


def _safetensors_parameters(path: Path) -> int | None:
    """The number of values a safetensors file holds, from its header alone."""
    try:
        with path.open("rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 0 < size < 100_000_000:
                return None
            header = json.loads(f.read(size))
        return sum(math.prod(t["shape"]) for name, t in header.items() if name != "__metadata__")
    except (OSError, ValueError, KeyError, TypeError):
        return None
