"""The registry: every pricer by name, built from plain arguments, in display order.

`names()`, `get(name, options)`, `availability()`, `default_name()`, `lineup()`, `runnable(name)`:

- `fine-tuned`, `base`: the 4-bit Llama with and without the QLoRA adapter (pricer.pricers.llama);
- `cpu`: the small linear model of pricer.pricers.cpu, trained on real items, offline on any
  machine (PRICER_CPU_MODEL, or --cpu-model, points at a retrained one);
- `frontier`: a chat model asked the course's question (pricer.pricers.chat.frontier, OPENAI_API_KEY);
- `rag`: the same chat model shown the most similar training items (pricer.pricers.chat.rag);
- `ensemble`: the other pricers' estimates combined with fitted weights (pricer.pricers.ensemble),
  its members looked up here with the same options (a `--cpu-model` reaches its CPU member);
- a new pricer is one factory and one line in REGISTRY.

The default pricer is the fine-tuned Llama where it can load, otherwise the CPU pricer. The
registry sits on top of the kinds and imports each only when it is built: nothing here imports
torch, transformers, numpy or openai at import time, and no pricer imports the registry. It does
not run evaluations (pricer.evaluation) or keep scores (pricer.evaluation.leaderboard).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pricer.errors import BadInput
from pricer.pricers.base import Pricer

if TYPE_CHECKING:
    from pricer.pricers.llama.model import ModelSpec


@dataclass(frozen=True)
class PricerOptions:
    """What a caller (the command line) puts in place of the settings; None keeps the setting."""

    spec: ModelSpec | None = None
    """The Llama pricers' model (base, adapter, revision, quantization): PRICER_BASE_MODEL & co."""
    cpu_model: str | None = None
    """Folder of a (re)trained CPU pricer model: PRICER_CPU_MODEL, else the shipped one."""
    frontier_model: str | None = None
    """The chat model of the frontier (and RAG) pricer: PRICER_FRONTIER_MODEL, else gpt-4o-mini."""


Factory = Callable[[PricerOptions], Pricer]


def _fine_tuned(options: PricerOptions) -> Pricer:
    from pricer.pricers.llama.pricer import LlamaPricer

    return LlamaPricer(True, options.spec)


def _base(options: PricerOptions) -> Pricer:
    from pricer.pricers.llama.pricer import LlamaPricer

    return LlamaPricer(False, options.spec)


def _cpu(options: PricerOptions) -> Pricer:
    from pricer.pricers.cpu.pricer import CpuPricer

    return CpuPricer(options.cpu_model)


def _frontier(options: PricerOptions) -> Pricer:
    from pricer.pricers.chat.frontier import FrontierPricer
    from pricer.pricers.chat.pricer import ChatPricer

    return ChatPricer(FrontierPricer(options.frontier_model))


def _rag(options: PricerOptions) -> Pricer:
    from pricer.pricers.chat.pricer import ChatPricer
    from pricer.pricers.chat.rag import RagPricer

    return ChatPricer(RagPricer(options.frontier_model))


def _ensemble(options: PricerOptions) -> Pricer:
    from pricer.pricers.ensemble import EnsemblePricer

    return EnsemblePricer(lookup=member_lookup(options))


def member_lookup(options: PricerOptions | None = None) -> Callable[[str], Pricer]:
    """name -> the pricer built with these options: how the ensemble finds its members, so a
    command's --cpu-model or --base-model reaches them too."""
    return lambda name: get(name, options)


REGISTRY: tuple[tuple[str, Factory], ...] = (
    ("fine-tuned", _fine_tuned),
    ("base", _base),
    ("cpu", _cpu),
    ("frontier", _frontier),
    ("rag", _rag),
    ("ensemble", _ensemble),
)
"""(name, factory) in display order: the default pricer first."""


def names() -> list[str]:
    """The pricers' names, in display order."""
    return [name for name, _ in REGISTRY]


_instances: dict[tuple[Any, ...], Pricer] = {}
_instances_lock = threading.Lock()


def get(name: str, options: PricerOptions | None = None) -> Pricer:
    """The pricer called `name` (built with `options`, else the settings); a BadInput listing the
    names for any other. The same pricer object is returned while the settings stay the same."""
    wanted = (name or "").strip().lower() if isinstance(name, str) else ""
    factories = dict(REGISTRY)
    if wanted not in factories:
        raise BadInput(f"pricer must be one of {', '.join(names())}, not {str(name)[:60]!r}.")
    options = options or PricerOptions()
    settings_now = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PRICER_")))
    key = (wanted, options, settings_now)
    with _instances_lock:
        if key not in _instances:
            if len(_instances) >= 64:
                _instances.clear()
            _instances[key] = factories[wanted](options)
        return _instances[key]


def availability(options: PricerOptions | None = None) -> list[tuple[Pricer, str | None]]:
    """Every pricer with None (it can run here) or the reason it cannot, in display order."""
    return [(p, p.available()) for p in (get(n, options) for n in names())]


DEFAULT, FALLBACK = "fine-tuned", "cpu"  # the default pricer where it can load, else the one every machine runs


def default_name(options: PricerOptions | None = None) -> str:
    """'fine-tuned' where it can load (available() is None), otherwise 'cpu'."""
    return DEFAULT if get(DEFAULT, options).available() is None else FALLBACK


def lineup(options: PricerOptions | None = None) -> tuple[list[Pricer], list[tuple[Pricer, str]]]:
    """(the pricers that can run here, the default first, then in display order; those that
    cannot, with the reason): every pricer's available() asked once."""
    ready: list[Pricer] = []
    unavailable: list[tuple[Pricer, str]] = []
    for pricer, reason in availability(options):
        if reason is None:
            ready.append(pricer)
        else:
            unavailable.append((pricer, reason))
    default = DEFAULT if any(p.name == DEFAULT for p in ready) else FALLBACK
    ready.sort(key=lambda p: p.name != default)  # stable: the registry's order after the default
    return ready, unavailable


def runnable(name: str, options: PricerOptions | None = None) -> Pricer:
    """The pricer called `name` when it can run here; else a BadInput that says why and names
    the pricers that can (an unknown name: the BadInput of get, listing the names)."""
    pricer = get(name, options)
    reason = pricer.available()
    if reason is not None:
        ready = [p.name for p in lineup(options)[0]]
        raise BadInput(f"The {pricer.name} pricer cannot run here: {reason}. "
                       f"Pricers that can: {', '.join(ready) if ready else 'none'}.")
    return pricer
