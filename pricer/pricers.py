"""One interface for every pricer, and the registry that names them.

A pricer has a `name` (what the CLI and the API take), a `label` (what a person reads, with the
model), its `estimators` (ways to read a price off its answer; () when there is no choice), an
`available()` answer (None, or why it cannot run here: cheap, no model is loaded to give it), and
`price(texts)`: each text (a pasted title and description, or a dataset prompt) gets an Estimate,
a price (None: no number, which the evaluation scores as $0 and marks), an 80% interval when the
pricer can give one, and details to show beside it. `cache_key(estimator)` names what would
answer, for the evaluation cache and the leaderboard.

The registry, in display order (`names()`, `get(name)`, `availability()`, `default_name()`,
`lineup()`, `runnable(name)`):

- `fine-tuned`, `base`: the 4-bit Llama with and without the QLoRA adapter (pricer.model), each
  with the estimators of pricer.estimates; the interval is the 10% and 90% quantiles of the
  next-token distribution over the number tokens 1-999; whether it can load here is
  pricer.preflight's answer;
- `cpu`: the small linear model of pricer.cpu, trained on real items, offline on any machine
  (PRICER_CPU_MODEL, or --cpu-model, points at a retrained one);
- `frontier`: a chat model asked the course's question (pricer.frontier, OPENAI_API_KEY);
- `rag`: the same chat model shown the most similar training items (pricer.rag);
- `ensemble`: the available pricers' estimates combined with fitted weights (pricer.ensemble);
- a new pricer is one line in REGISTRY.

The default pricer is the fine-tuned Llama where it can load, otherwise the CPU pricer.
Nothing here imports torch, transformers, numpy or openai at import time, and nothing imports
gradio; it does not run evaluations (pricer.evaluation) or keep scores (pricer.leaderboard).

    >>> Estimate(12.5, 8.0, 20.0).to_json()
    {'price': 12.5, 'low': 8.0, 'high': 20.0, 'details': {}}
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pricer.errors import BadInput, PricerError
from pricer.estimates import ESTIMATORS
from pricer.estimates import estimator as find_estimator

if TYPE_CHECKING:
    from pricer.frontier import FrontierPricer
    from pricer.model import ModelSpec

ProgressFn = Callable[[int, int], Any]
"""progress(done, total): texts priced so far, out of all (pricer.chat's form, too)."""
CPU_BATCH = 512  # texts featurized at once by the CPU pricer between progress reports


@dataclass(frozen=True)
class Estimate:
    """One text priced."""

    price: float | None
    """Dollars; None when the pricer gave no number (the evaluation scores it as $0, marked)."""
    low: float | None = None
    """The 80% interval's low end, when the pricer gives one."""
    high: float | None = None
    """The 80% interval's high end."""
    details: dict[str, Any] = field(default_factory=dict)
    """JSON-able things to show beside the price: the Llama's completion and top tokens, the
    prompt, a note on how the text was read, a chat model's reply, retrieved items..."""

    def to_json(self) -> dict[str, Any]:
        return {"price": self.price, "low": self.low, "high": self.high, "details": self.details}


@runtime_checkable
class Pricer(Protocol):
    """What every pricer is. Optional extra: `estimate_cost(texts) -> str | None`, a line saying
    what pricing those texts will cost (pricers that pay per request)."""

    name: str
    label: str
    estimators: tuple[str, ...]
    """Names a caller may pass as `estimator`, the first the default; () for no choice."""

    def available(self) -> str | None: ...

    def price(self, texts: list[str], *, estimator: str | None = None,
              progress: ProgressFn | None = None) -> list[Estimate]: ...

    def cache_key(self, estimator: str | None) -> str: ...


@dataclass(frozen=True)
class PricerOptions:
    """What a caller (the command line) puts in place of the settings; None keeps the setting."""

    spec: ModelSpec | None = None
    """The Llama pricers' model (base, adapter, revision, quantization): PRICER_BASE_MODEL & co."""
    cpu_model: str | None = None
    """Folder of a (re)trained CPU pricer model: PRICER_CPU_MODEL, else the shipped one."""
    frontier_model: str | None = None
    """The chat model of the frontier (and RAG) pricer: PRICER_FRONTIER_MODEL, else gpt-4o-mini."""


def check_texts(texts: Any) -> list[str]:
    """The texts to price as a list of strings, or a BadInput (one text, None, numbers...)."""
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise BadInput("Give a list of texts to price (each a product's title and description).")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise BadInput(f"Text {i} is {type(text).__name__}, not text: give each product's title and "
                           "description as a string.")
    return list(texts)


def check_estimator(pricer: Pricer, estimator: str | None) -> str | None:
    """The estimator to use with `pricer`: the one given (checked), else its default; None for a
    pricer without estimators, which refuses one."""
    if estimator is not None and not isinstance(estimator, str):
        raise BadInput(f"An estimator is a name such as {ESTIMATORS[0].name!r}, not {type(estimator).__name__}.")
    estimator = (estimator or "").strip() or None
    if not pricer.estimators:
        if estimator is not None:
            raise BadInput(f"The {pricer.name} pricer has no estimators: leave the estimator out "
                           f"({', '.join(e.name for e in ESTIMATORS)} are the Llama pricers').")
        return None
    if estimator is None:
        return pricer.estimators[0]
    if estimator not in pricer.estimators:
        raise BadInput(f"estimator must be one of {', '.join(pricer.estimators)} for the {pricer.name} "
                       f"pricer, not {estimator!r}.")
    return estimator


# --- the Llama pricers ----------------------------------------------------------------------------


class LlamaPricer:
    """The 4-bit Llama (pricer.model): `fine-tuned` with the QLoRA adapter, `base` without."""

    estimators = tuple(e.name for e in ESTIMATORS)

    def __init__(self, fine_tuned: bool, spec: ModelSpec | None = None, batch_size: int = 16) -> None:
        self.fine_tuned = fine_tuned
        self.name = "fine-tuned" if fine_tuned else "base"
        self._spec = spec
        self.batch_size = max(1, batch_size)

    @classmethod
    def tuned(cls, options: PricerOptions) -> LlamaPricer:
        return cls(True, options.spec)

    @classmethod
    def base(cls, options: PricerOptions) -> LlamaPricer:
        return cls(False, options.spec)

    def spec(self) -> ModelSpec:
        """The model this pricer runs (the base pricer drops any adapter); a BadInput saying what
        to change when it cannot be loaded as specified (e.g. PRICER_QUANTIZATION=16bit)."""
        from pricer.model import ModelSpec

        spec = self._spec or ModelSpec.from_settings(fine_tuned=self.fine_tuned)
        if not self.fine_tuned and spec.adapter:
            spec = dataclasses.replace(spec, adapter=None, revision=None)
        spec.check()
        return spec

    @property
    def label(self) -> str:
        kind = "Fine-tuned Llama" if self.fine_tuned else "Base Llama"
        try:
            spec = self.spec()
        except PricerError:
            return f"{kind} (settings not usable)"
        from pricer.preflight import is_test_model

        test = " [TEST MODEL: random weights, nonsense prices]" if is_test_model(spec.base_model) else ""
        return f"{kind}: {spec.label}{test}"

    def available(self) -> str | None:
        try:
            spec = self.spec()
        except PricerError as exc:
            return str(exc)
        if self.fine_tuned and not spec.adapter:
            return "no adapter configured (PRICER_ADAPTER=none)"
        from pricer.preflight import llama_unavailable

        return llama_unavailable(spec)

    def price(self, texts: list[str], *, estimator: str | None = None,
              progress: ProgressFn | None = None) -> list[Estimate]:
        from pricer.model import NO_ADAPTER, build_prompt, load_pricer

        texts = check_texts(texts)
        chosen = find_estimator(check_estimator(self, estimator) or self.estimators[0])
        spec = self.spec()
        if self.fine_tuned and not spec.adapter:
            raise BadInput(NO_ADAPTER)
        loaded = load_pricer(spec)
        built = [build_prompt(t, loaded.tokenizer) for t in texts]
        predictions: list[Any] = []
        for at in range(0, len(built), self.batch_size):
            chunk = [prompt for prompt, _ in built[at:at + self.batch_size]]
            predictions += loaded.predict(chunk, batch_size=self.batch_size)
            if progress is not None:
                progress(len(predictions), len(built))
        status = loaded.status()
        return [Estimate(chosen.read(p), p.low, p.high,
                         {**_prediction_details(p), "note": note, "estimator": chosen.name, "model": status})
                for p, (_, note) in zip(predictions, built, strict=True)]

    def cache_key(self, estimator: str | None) -> str:
        from pricer.evaluation import source_key

        spec = self.spec()
        return "|".join([self.name, spec.key(), source_key(spec.base_model), source_key(spec.adapter),
                         estimator or self.estimators[0]])


def _prediction_details(prediction: Any) -> dict[str, Any]:
    details = dataclasses.asdict(prediction)
    details["top_tokens"] = [[token, prob] for token, prob in prediction.top_tokens]
    return details


# --- the CPU pricer ------------------------------------------------------------------------------


class CpuPricer:
    """The CPU pricer (pricer.cpu): a linear model over words, offline, with an 80% interval."""

    name = "cpu"
    estimators: tuple[str, ...] = ()

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        self._folder = Path(folder).expanduser() if folder else None

    @classmethod
    def from_options(cls, options: PricerOptions) -> CpuPricer:
        return cls(options.cpu_model)

    @property
    def folder(self) -> Path:
        """The model's folder: the one given, else PRICER_CPU_MODEL, else the shipped model."""
        from pricer.config import cpu_model

        if self._folder is not None:
            return self._folder
        configured = cpu_model()
        if configured:
            return Path(configured).expanduser()
        from pricer.cpu import SHIPPED

        return SHIPPED

    @property
    def label(self) -> str:
        try:
            from pricer.cpu import SHIPPED

            where = "" if self.folder == SHIPPED else f", {self.folder}"
        except ImportError:
            where = ""
        return f"CPU pricer (linear model on the product's words{where})"

    def available(self) -> str | None:
        for package in ("numpy", "safetensors"):  # what loading and pricing need
            if importlib.util.find_spec(package) is None:
                return f"{package} is not installed (pip install -r requirements.txt)"
        try:
            folder = self.folder
        except ImportError:
            return "this install has no CPU pricer (pricer/cpu is missing)"
        from pricer.cpu.model import missing

        return missing(folder)

    def model(self) -> Any:
        """The loaded model (checked against its sha256), kept while its files stay the same."""
        return _cpu_model(self.folder)

    def price(self, texts: list[str], *, estimator: str | None = None,
              progress: ProgressFn | None = None) -> list[Estimate]:
        texts = check_texts(texts)
        check_estimator(self, estimator)
        model = self.model()
        out: list[Estimate] = []
        for at in range(0, len(texts), CPU_BATCH):
            out += [Estimate(e.price, e.low, e.high) for e in model.predict(list(texts[at:at + CPU_BATCH]))]
            if progress is not None:
                progress(len(out), len(texts))
        return out

    def cache_key(self, estimator: str | None) -> str:
        from pricer.cpu.model import MANIFEST_FILE

        try:
            digest = json.loads((self.folder / MANIFEST_FILE).read_text(encoding="utf-8")).get("sha256", "")
        except (OSError, ValueError, AttributeError):
            digest = "missing"
        return f"{self.name}|{digest}"


_cpu_models: dict[tuple[str, int, int], Any] = {}
_cpu_lock = threading.Lock()


def _cpu_model(folder: Path) -> Any:
    from pricer.cpu import load_model
    from pricer.cpu.model import WEIGHTS_FILE

    try:
        stat = (folder / WEIGHTS_FILE).stat()
        key = (str(folder.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        return load_model(folder)  # says what is missing
    with _cpu_lock:
        if key not in _cpu_models:
            if len(_cpu_models) >= 4:
                _cpu_models.pop(next(iter(_cpu_models)))
            _cpu_models[key] = load_model(folder)
        return _cpu_models[key]


# --- chat pricers (frontier; RAG) -----------------------------------------------------------------


class ChatPricer:
    """A chat pricer (pricer.frontier.FrontierPricer, or a subclass such as RAG) on this interface:
    no interval, the model's reply in the details."""

    estimators: tuple[str, ...] = ()

    def __init__(self, inner: FrontierPricer) -> None:
        self.inner = inner
        self.name = inner.name

    @property
    def label(self) -> str:
        return self.inner.label

    def available(self) -> str | None:
        return self.inner.available()

    def prompts(self, texts: Sequence[str]) -> list[tuple[str, str]]:
        """(prompt, note) per text: a dataset prompt as it is, pasted text curated like the training data."""
        from pricer.model import build_prompt

        return [build_prompt(t) for t in texts]

    def price(self, texts: list[str], *, estimator: str | None = None,
              progress: ProgressFn | None = None) -> list[Estimate]:
        check_estimator(self, estimator)
        built = self.prompts(check_texts(texts))
        answers = self.inner.price([p for p, _ in built], progress=progress)
        details = getattr(self.inner, "details", None)
        return [Estimate(a.price, details={"reply": a.reply, "cached": a.cached, "model": self.inner.model,
                                           "prompt": prompt, "note": note,
                                           **(details(prompt) if callable(details) else {})})
                for a, (prompt, note) in zip(answers.answers, built, strict=True)]

    def estimate_cost(self, texts: Sequence[str]) -> str | None:
        """What pricing `texts` will cost: requests, tokens and dollars (the cached ones are free)."""
        return self.inner.estimate([p for p, _ in self.prompts(texts)]).line()

    def cache_key(self, estimator: str | None) -> str:
        own = getattr(self.inner, "cache_key", None)
        if callable(own):
            return str(own(estimator))
        from pricer import chat

        return "|".join([self.name, chat.base_url(), self.inner.model, str(self.inner.max_tokens)])


# --- the registry ----------------------------------------------------------------------------------

Factory = Callable[[PricerOptions], Pricer]


def _attribute(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def chat(path: str) -> Factory:
    """A factory for the chat pricer class at `module:Class` (FrontierPricer or a subclass, built
    with the chosen chat model), imported when first asked for."""
    return lambda options: ChatPricer(_attribute(path)(options.frontier_model))


def plain(path: str) -> Factory:
    """A factory for the class at `module:Class` that already is a Pricer, built without arguments."""
    return lambda options: _attribute(path)()


REGISTRY: tuple[tuple[str, Factory], ...] = (
    ("fine-tuned", LlamaPricer.tuned),
    ("base", LlamaPricer.base),
    ("cpu", CpuPricer.from_options),
    ("frontier", chat("pricer.frontier:FrontierPricer")),
    ("rag", chat("pricer.rag:RagPricer")),
    ("ensemble", plain("pricer.ensemble:EnsemblePricer")),
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
