"""Judge a pricer the course's way: run it over the first N test items, in batches, and stream
the run so far (its outcomes and the course's metrics) after each batch.

It takes any predict function (a list of prompts -> a list of prices, None for "no number"),
so it does not know how a model works; `llama_predictor` adapts pricer.model to that shape,
reading the estimate of pricer.estimates' table. A finished run is cached on disk, so a repeat
returns at once. The metrics are pricer.metrics', the test items pricer.data's, the chart
pricer.chart's. It does not import gradio: the Evaluate tab (ui/evaluate_tab.py) and the CLI
drive it. Guesses made elsewhere are read and scored by pricer.guesses, into the same Run.

    >>> from pricer.data import TestItem
    >>> items = [TestItem(0, "...Price is $", 100.0, "a"), TestItem(1, "...Price is $", 300.0, "b")]
    >>> runs = list(run(items, lambda prompts: [100.0] * len(prompts), batch_size=1))
    >>> [len(r.outcomes) for r in runs], runs[-1].metrics.line()
    ([1, 2], 'Error=$100.00 RMSLE=0.77 Hits=50.0%')
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pricer.atomic import atomic_write, csv_writer
from pricer.data import TestItem, load_items
from pricer.errors import BadInput, PricerError
from pricer.estimates import estimator as find_estimator
from pricer.metrics import Metrics, Outcome, outcome, summarize

if TYPE_CHECKING:
    from pricer.model import ModelSpec

PredictFn = Callable[[list[str]], list[float | None]]
CACHE_VERSION = 2  # 2: "topk" is the course's improved_model_predict (it was the number-token variant)


# --- a run ------------------------------------------------------------------------------------


@dataclass
class Run:
    """A run of one pricer over test items: complete when `len(outcomes) == total`."""

    label: str
    total: int
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    cached: bool = False
    note: str = ""
    """What to know about the data (rows skipped, fewer items than asked for)."""

    @property
    def done(self) -> bool:
        return len(self.outcomes) >= self.total

    @property
    def metrics(self) -> Metrics:
        return summarize(self.outcomes)

    def title(self) -> str:
        return f"{self.label} {self.metrics.line()}".strip()

    def progress(self) -> str:
        """How far and how fast: `label: 8/250 items running in 2.1 s (3.8 items/s).`"""
        n = len(self.outcomes)
        speed = f"{self.seconds:.1f} s ({n / self.seconds:.1f} items/s)" if self.seconds > 0 and n else ""
        if self.cached:
            return f"{self.label}: {n}/{self.total} items from the cache" + (f" (the run took {speed})." if speed else ".")
        return f"{self.label}: {n}/{self.total} items {'done' if self.done else 'running'}" + (
            f" in {speed}." if speed else ".")

    def status(self) -> str:
        """One line: how far, how fast, and the running metrics."""
        return f"{self.progress()} {self.metrics.line()}"

    def write_csv(self, path: str | Path) -> Path:
        """One row per item, in item order: index, title, truth, guess, parsed, error, sle, color.
        Whole or not at all (pricer.atomic); a BadInput when the disk refuses."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, newline="") as f:
                writer = csv_writer(f)  # formula-like text cells neutralised
                writer.writerow(["index", "title", "truth", "guess", "parsed", "error", "sle", "color"])
                for o in self.outcomes:
                    writer.writerow([o.index, o.title, o.truth, o.guess, o.parsed, round(o.error, 4),
                                     round(o.sle, 6), o.color])
        except OSError as exc:
            raise BadInput(f"Could not write {path}: {exc.strerror or exc}. Free some space or choose another "
                           "file; nothing was written.") from None
        return path

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "total": self.total, "seconds": self.seconds,
                "outcomes": [asdict(o) for o in self.outcomes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        return cls(data["label"], data["total"], [Outcome(**o) for o in data["outcomes"]], data["seconds"])


def run(items: Sequence[TestItem], predict: PredictFn, *, label: str = "", batch_size: int = 16,
        cache_key: str | None = None) -> Iterator[Run]:
    """Price the items in batches, yielding the run so far after each batch (the last is complete).

    With a `cache_key`, a finished run is stored and a repeat yields it at once without calling
    `predict`. A stopped run (the generator closed early) is not stored.
    """
    if not items:
        raise BadInput("There are no test items to evaluate: check the data source and the size.")
    if batch_size < 1:
        raise BadInput(f"batch size must be at least 1, not {batch_size}.")
    if cache_key and (hit := cached(cache_key)) is not None:
        hit.label, hit.cached = label or hit.label, True
        yield hit
        return
    current = Run(label, len(items))
    start = time.perf_counter()
    for at in range(0, len(items), batch_size):
        batch = items[at:at + batch_size]
        guesses = list(predict([item.prompt for item in batch]))
        if len(guesses) != len(batch):
            raise PricerError(f"The pricer returned {len(guesses)} prices for {len(batch)} prompts: a predict "
                              "function must return one price (or None) per prompt, in order.")
        current.outcomes.extend(outcome(item, g) for item, g in zip(batch, guesses, strict=True))
        current.seconds = time.perf_counter() - start
        if cache_key and current.done:  # stored before the last yield: a consumer may stop there
            remember(cache_key, current)
        yield Run(current.label, current.total, list(current.outcomes), current.seconds)


# --- the run cache ----------------------------------------------------------------------------


def cache_key(model: str, estimator: str, data: str, size: int) -> str:
    """The identity of a run: a repeat with the same key returns the stored run. `model` names
    the base model, adapter, revision and quantization (ModelSpec.key() and source_key)."""
    parts = json.dumps([CACHE_VERSION, model, estimator, data, size])
    return hashlib.sha256(parts.encode()).hexdigest()[:24]


def source_key(source: str | Path | None) -> str:
    """A name for a data file, model folder or hub id that changes when a local copy changes,
    so a retrained adapter saved over the old one is not served from the cache."""
    if source is None:
        return "none"
    path = Path(str(source)).expanduser()
    if not path.exists():
        return str(source)
    files = [p for p in path.iterdir() if p.is_file()] if path.is_dir() else [path]
    stats = [p.stat() for p in files]
    newest = max((st.st_mtime_ns for st in stats), default=0)
    return f"{path.resolve()}@{sum(st.st_size for st in stats)}:{newest}"


def _cache_file(key: str) -> Path:
    from pricer.config import cache_dir

    return cache_dir() / "evaluations" / f"{key}.json"


_memory: dict[str, dict[str, Any]] = {}


def cached(key: str) -> Run | None:
    """The stored run for `key`, or None."""
    data = _memory.get(key)
    if data is None:
        path = _cache_file(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        _memory[key] = data
    try:
        return Run.from_json(data)
    except (KeyError, TypeError):
        return None


def remember(key: str, finished: Run) -> None:
    data = finished.to_json()
    _memory[key] = data
    path = _cache_file(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            json.dump(data, f)
    except OSError:
        pass  # a read-only disk only costs the repeat; the memory cache still serves it


# --- pricers ----------------------------------------------------------------------------------


def llama_predictor(spec: ModelSpec, estimator: str = "greedy", batch_size: int = 16,
                    progress: Callable[..., Any] | None = None) -> PredictFn:
    """A predict function over pricer.model for `spec` that reads the estimate `estimator` (a
    name in pricer.estimates.ESTIMATORS) of each prediction; loads the model on first use."""
    chosen = find_estimator(estimator)
    loaded: list[Any] = []

    def predict(prompts: list[str]) -> list[float | None]:
        if not loaded:
            from pricer.model import load_pricer

            loaded.append(load_pricer(spec, progress=progress))
        return [chosen.read(p) for p in loaded[0].predict(prompts, batch_size=batch_size)]

    return predict


def model_label(spec: ModelSpec, estimator: str) -> str:
    """What ran: the model's own label (base, adapter, quantization) and the estimator."""
    return f"{spec.label}, {find_estimator(estimator).label}"


def evaluate_model(data: str | Path, spec: ModelSpec, *, size: int = 250, estimator: str = "greedy",
                   batch_size: int = 16, progress: Callable[..., Any] | None = None,
                   use_cache: bool = True, web: bool = False) -> Iterator[Run]:
    """Run the 4-bit Llama of `spec` over the first `size` test items of `data`, streaming; a
    repeat of the same (model, adapter, revision, estimator, data, size) returns at once.
    `web`: `data` came from the web app (pricer.data.load_items)."""
    spec.check()  # a bad model setting is said at once, before the data is read
    items = load_items(data, size, web=web)
    model = f"{spec.key()}|{source_key(spec.base_model)}|{source_key(spec.adapter)}"
    key = cache_key(model, estimator, source_key(data), len(items))
    predict = llama_predictor(spec, estimator, batch_size, progress)
    for snapshot in run(items, predict, label=model_label(spec, estimator), batch_size=batch_size,
                        cache_key=key if use_cache else None):
        snapshot.note = items.note
        yield snapshot
