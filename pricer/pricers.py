"""One interface for every pricer, and the registry that names them.

A pricer has a `name` (what the CLI and the API take), a `label` (what a person reads, with the
model), its `estimators` (ways to read a price off its answer; () when there is no choice), an
`available()` answer (None, or why it cannot run here: cheap, no model is loaded to give it), and
`price(texts)`: each text (a pasted title and description, or a dataset prompt) gets an Estimate,
a price (None: no number, which the evaluation scores as $0 and marks), an 80% interval when the
pricer can give one, and details to show beside it. `cache_key(estimator)` names what would
answer, for the evaluation cache and the leaderboard.

The registry, in display order (`names()`, `get(name)`, `availability()`, `default_name()`):

- `fine-tuned`, `base`: the 4-bit Llama with and without the QLoRA adapter (pricer.model), each
  with the estimators of pricer.estimates; the interval is the 10% and 90% quantiles of the
  next-token distribution over the number tokens 1-999;
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
GATED = ("meta-llama/",)  # hub ids that need an accepted licence and HF_TOKEN (the course's base model)
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
        """The model this pricer runs (the base pricer drops any adapter); a BadInput when the
        settings cannot make one (e.g. PRICER_QUANTIZATION=16bit)."""
        from pricer.model import ModelSpec

        try:
            spec = self._spec or ModelSpec.from_settings(fine_tuned=self.fine_tuned)
        except ValueError as exc:
            raise BadInput(f"The Llama settings are not usable: {exc}. Fix PRICER_BASE_MODEL or "
                           "PRICER_QUANTIZATION.") from None
        if not self.fine_tuned and spec.adapter:
            spec = dataclasses.replace(spec, adapter=None, revision=None)
        return spec

    @property
    def label(self) -> str:
        kind = "Fine-tuned Llama" if self.fine_tuned else "Base Llama"
        try:
            spec = self.spec()
        except PricerError:
            return f"{kind} (settings not usable)"
        test = " [TEST MODEL: random weights, nonsense prices]" if _is_test_model(spec.base_model) else ""
        return f"{kind}: {spec.label}{test}"

    def available(self) -> str | None:
        try:
            spec = self.spec()
        except PricerError as exc:
            return str(exc)
        if self.fine_tuned and not spec.adapter:
            return "no adapter configured (PRICER_ADAPTER=none)"
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


def _is_test_model(base_model: str) -> bool:
    """A random-weight test model (pricer.tiny), told by its config.json; False for a hub id."""
    from pricer.backbone import TEST_MODEL_KEY

    try:
        config = json.loads((Path(base_model).expanduser() / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and bool(config.get(TEST_MODEL_KEY))


def llama_unavailable(spec: ModelSpec) -> str | None:
    """Why `spec` cannot load here, decided without loading it: missing libraries, a gated hub
    model without HF_TOKEN, a hub model offline and not cached, a local folder that is not there,
    or a model too big for a machine without a CUDA GPU. None when nothing stops it."""
    from pricer import model

    if model.loaded(spec):
        return None
    needed = ("torch", "transformers", "bitsandbytes") + (("peft",) if spec.adapter else ())
    for package in needed:
        if importlib.util.find_spec(package) is None:
            return f"{package} is not installed (pip install -r requirements.txt)"
    reason = _hub_reason(spec.base_model, "base model", "config.json")
    if reason is None and spec.adapter:
        reason = _hub_reason(spec.adapter, "adapter", "adapter_config.json")
    return reason or _gpu_reason(spec.base_model)


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
    from pricer.backbone import CPU_PARAM_LIMIT
    from pricer.config import allow_cpu

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
                from pricer.backbone import inspect_model

                _counts[key] = inspect_model(str(path))[1]
            except PricerError:
                _counts[key] = None
    return _counts[key]


def _safetensors_parameters(path: Path) -> int | None:
    """The number of values a safetensors file holds, from its header alone."""
    import math

    try:
        with path.open("rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 0 < size < 100_000_000:
                return None
            header = json.loads(f.read(size))
        return sum(math.prod(t["shape"]) for name, t in header.items() if name != "__metadata__")
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
        for module, package in (("numpy", "numpy"), ("scipy", "scipy"), ("sklearn", "scikit-learn"),
                                ("safetensors", "safetensors")):
            if importlib.util.find_spec(module) is None:
                return f"{package} is not installed (pip install -r requirements.txt)"
        try:
            folder = self.folder
        except ImportError:
            return "this install has no CPU pricer (pricer/cpu is missing)"
        from pricer.cpu.model import MANIFEST_FILE, WEIGHTS_FILE

        if not (folder / WEIGHTS_FILE).is_file() or not (folder / MANIFEST_FILE).is_file():
            return (f"no CPU pricer model in {folder} (it needs {WEIGHTS_FILE} and {MANIFEST_FILE}): train one "
                    "with `python -m pricer train --data SOURCE --out DIR`")
        return None

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


def default_name(options: PricerOptions | None = None) -> str:
    """'fine-tuned' where it can load (available() is None), otherwise 'cpu'."""
    return "fine-tuned" if get("fine-tuned", options).available() is None else "cpu"
