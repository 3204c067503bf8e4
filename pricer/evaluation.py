"""Judge a pricer the course's way: run it over the first N test items, in batches, and stream
the run so far (its outcomes and the course's metrics) after each batch.

`evaluate(data, pricer_name, ...)` runs any pricer of the registry (pricer.pricers) by name;
underneath, `run` takes any predict function (a list of prompts -> one price, None for "no
number", or one pricers.Estimate with its interval, per prompt), so it does not know how a model
works. A finished run is cached on disk (capped: the oldest runs go first), so a repeat returns
at once; every run, finished or stopped (marked partial), is recorded on the leaderboard
(pricer.leaderboard). The metrics are pricer.metrics', the test items pricer.data's, the chart
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
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pricer.atomic import atomic_write, csv_writer
from pricer.data import TestItem, load_items
from pricer.errors import BadInput, PricerError
from pricer.estimates import estimator as find_estimator
from pricer.metrics import Metrics, Outcome, outcome, summarize

if TYPE_CHECKING:
    from pricer.model import ModelSpec
    from pricer.pricers import Pricer, PricerOptions, ProgressFn

PredictFn = Callable[[list[str]], Sequence[Any]]
"""prompts -> one answer per prompt, in order: a price (None: no number) or a pricers.Estimate."""
CACHE_VERSION = 3  # 3: runs carry the pricer's 80% interval; 2: "topk" is the course's improved_model_predict
CACHE_RUNS = 200  # finished runs kept in the evaluation cache, the oldest dropped first...
CACHE_BYTES = 100 * 2**20  # ...and at most this much of them on disk
MEMORY_RUNS = 32  # runs also kept in memory


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
    pricer: str = ""
    """The registry name of the pricer that ran ('' for guesses scored from a file)."""
    estimator: str | None = None
    data: str = ""
    """The test data's source, as given."""
    id: str = ""
    """Its id on the leaderboard (pricer.leaderboard.load_run), once recorded."""

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
        """One row per item, in item order: index, title, truth, guess, parsed, error, sle, color,
        and the 80% interval (low, high; empty when the pricer gives none). Whole or not at all
        (pricer.atomic); a BadInput when the disk refuses."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, newline="") as f:
                writer = csv_writer(f)  # formula-like text cells neutralised
                writer.writerow(["index", "title", "truth", "guess", "parsed", "error", "sle", "color", "low", "high"])
                for o in self.outcomes:
                    writer.writerow([o.index, o.title, o.truth, o.guess, o.parsed, round(o.error, 4),
                                     round(o.sle, 6), o.color, "" if o.low is None else o.low,
                                     "" if o.high is None else o.high])
        except OSError as exc:
            raise BadInput(f"Could not write {path}: {exc.strerror or exc}. Free some space or choose another "
                           "file; nothing was written.") from None
        return path

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "total": self.total, "seconds": self.seconds, "pricer": self.pricer,
                "estimator": self.estimator, "data": self.data, "note": self.note,
                "outcomes": [asdict(o) for o in self.outcomes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        known = {f.name for f in fields(Outcome)}
        return cls(data["label"], data["total"], [Outcome(**{k: v for k, v in o.items() if k in known})
                                                  for o in data["outcomes"]], data["seconds"],
                   note=data.get("note", ""), pricer=data.get("pricer", ""), estimator=data.get("estimator"),
                   data=data.get("data", ""))

    def snapshot(self) -> Run:
        """A copy whose outcomes list will not grow."""
        return Run(self.label, self.total, list(self.outcomes), self.seconds, self.cached, self.note,
                   self.pricer, self.estimator, self.data, self.id)


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
        current.outcomes.extend(_scored(item, g) for item, g in zip(batch, guesses, strict=True))
        current.seconds = time.perf_counter() - start
        if cache_key and current.done:  # stored before the last yield: a consumer may stop there
            remember(cache_key, current)
        yield current.snapshot()


def _scored(item: TestItem, answer: Any) -> Outcome:
    """An answer (a price, None, or an Estimate with price, low and high) scored against the truth."""
    if hasattr(answer, "price"):
        return outcome(item, answer.price, getattr(answer, "low", None), getattr(answer, "high", None))
    return outcome(item, answer)


# --- the run cache ----------------------------------------------------------------------------


def cache_key(model: str, estimator: str, data: str, size: int) -> str:
    """The identity of a run: a repeat with the same key returns the stored run. `model` names
    what answers (a pricer's cache_key: e.g. the base model, adapter, revision and quantization)."""
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


_memory: OrderedDict[str, dict[str, Any]] = OrderedDict()  # by cache file: another PRICER_CACHE, another cache
_memory_lock = threading.Lock()


def _keep_in_memory(key: str, data: dict[str, Any]) -> None:
    with _memory_lock:
        _memory[key] = data
        _memory.move_to_end(key)
        while len(_memory) > MEMORY_RUNS:
            _memory.popitem(last=False)


def cached(key: str) -> Run | None:
    """The stored run for `key`, or None."""
    path = _cache_file(key)
    data = _memory.get(str(path))
    if data is None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        _keep_in_memory(str(path), data)
    try:
        return Run.from_json(data)
    except (KeyError, TypeError, AttributeError):
        return None


def remember(key: str, finished: Run) -> None:
    """Store a finished run under `key` (atomically), then drop the oldest runs beyond the cap."""
    data = finished.to_json()
    path = _cache_file(key)
    _keep_in_memory(str(path), data)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            json.dump(data, f)
        prune(path.parent)
    except OSError:
        pass  # a read-only disk only costs the repeat; the memory cache still serves it


def prune(folder: Path, runs: int | None = None, size: int | None = None) -> int:
    """Delete the oldest stored runs (by modification time) until at most `runs` files and `size`
    bytes are left (CACHE_RUNS, CACHE_BYTES); return how many were deleted."""
    runs = CACHE_RUNS if runs is None else runs
    size = CACHE_BYTES if size is None else size
    found = []
    for p in folder.glob("*.json"):
        try:
            st = p.stat()
        except OSError:
            continue
        found.append((st.st_mtime_ns, st.st_size, p))
    found.sort(key=lambda f: f[0], reverse=True)  # newest first
    kept_bytes, deleted = 0, 0
    for n, (_, bytes_, p) in enumerate(found):
        kept_bytes += bytes_
        if n >= runs or (kept_bytes > size and n > 0):
            p.unlink(missing_ok=True)
            deleted += 1
    return deleted


# --- pricers ----------------------------------------------------------------------------------


def evaluate(data: str | Path | None, pricer_name: str | Pricer, *, size: int = 250, estimator: str | None = None,
             batch_size: int = 16, progress: ProgressFn | None = None, use_cache: bool = True,
             options: PricerOptions | None = None, web: bool = False) -> Iterator[Run]:
    """Run the pricer called `pricer_name` (or a Pricer object) over the first `size` test items of
    `data` (None: PRICER_DATASET), streaming a Run after each batch of `batch_size`;
    `progress(done, total)` hears of every item. A repeat of the same (pricer, model, estimator,
    data, size) returns at once from the cache. Every run is recorded on the leaderboard: a
    finished one, a stopped one (the generator closed, or an error) as partial, a cached one once.
    `web`: `data` came from the web app (pricer.data.load_items reads local paths only where
    pricer.web_paths allows)."""
    from pricer import leaderboard, pricers

    pricer = pricers.get(pricer_name, options) if isinstance(pricer_name, str) else pricer_name
    chosen = pricers.check_estimator(pricer, estimator)
    if batch_size < 1:
        raise BadInput(f"batch size must be at least 1, not {batch_size}.")
    identity = pricer.cache_key(chosen)  # a bad model setting is said here, before the data is read
    items = load_items(data, size, web=web)
    key = cache_key(identity, chosen or "", source_key(data), len(items))

    def predict(prompts: list[str]) -> list[Any]:
        done = len(current.outcomes) if current is not None else 0

        def report(n: int, _total: int) -> None:  # n of this batch's texts priced
            if progress is not None:
                progress(done + min(n, len(prompts)), len(items))

        return pricer.price(prompts, estimator=chosen, progress=report)

    current: Run | None = None
    recorded = False
    stream = run(items, predict, label=run_label(pricer, chosen), batch_size=batch_size,
                 cache_key=key if use_cache else None)
    try:
        for current in stream:
            current.note, current.pricer, current.estimator = items.note, pricer.name, chosen
            current.data = str(data or "")
            if current.done:  # recorded before the yield: a consumer may stop at the complete run
                current.id = leaderboard.record(current, key=key).id
                recorded = True
            yield current
    except BaseException:  # stopped (GeneratorExit), interrupted, or failed: keep what was priced
        if current is not None and current.outcomes and not recorded:
            current.id = leaderboard.record(current, key=key).id
        raise


def run_label(pricer: Pricer, estimator: str | None) -> str:
    """What ran: the pricer's label (its model), and the estimator when it has a choice."""
    return f"{pricer.label}, {find_estimator(estimator).label}" if estimator else pricer.label


def cost_line(data: str | Path | None, pricer_name: str | Pricer, *, size: int = 250,
              options: PricerOptions | None = None, web: bool = False) -> str | None:
    """What a run of a pricer that pays per request will cost (requests, tokens, dollars; cached
    answers are free), said before it starts; None for a pricer that costs nothing."""
    from pricer import pricers

    pricer = pricers.get(pricer_name, options) if isinstance(pricer_name, str) else pricer_name
    estimate = getattr(pricer, "estimate_cost", None)
    if not callable(estimate) or pricer.available() is not None:
        return None
    return estimate([item.prompt for item in load_items(data, size, web=web)])


def llama_predictor(spec: ModelSpec, estimator: str = "greedy", batch_size: int = 16,
                    progress: Callable[..., Any] | None = None) -> PredictFn:
    """A predict function over pricer.model for `spec` that reads the estimate `estimator` (a
    name in pricer.estimates.ESTIMATORS) of each prediction; loads the model on first use."""
    from pricer.pricers import LlamaPricer

    find_estimator(estimator)
    pricer = LlamaPricer(bool(spec.adapter), spec, batch_size)

    def predict(prompts: list[str]) -> list[float | None]:
        return [e.price for e in pricer.price(prompts, estimator=estimator)]

    return predict


def model_label(spec: ModelSpec, estimator: str) -> str:
    """What ran: the model's own label (base, adapter, quantization) and the estimator."""
    return f"{spec.label}, {find_estimator(estimator).label}"


def evaluate_model(data: str | Path, spec: ModelSpec, *, size: int = 250, estimator: str = "greedy",
                   batch_size: int = 16, progress: Callable[..., Any] | None = None,
                   use_cache: bool = True, web: bool = False) -> Iterator[Run]:
    """Run the 4-bit Llama of `spec` (the fine-tuned pricer with its adapter, the base pricer
    without) over the first `size` test items of `data`: `evaluate` for a model given by spec.
    `progress` is gradio-style here, progress((done, total), ...); `web` as for evaluate."""
    from pricer.pricers import LlamaPricer

    report = None if progress is None else (lambda done, total: progress((done, total), desc="pricing"))
    yield from evaluate(data, LlamaPricer(bool(spec.adapter), spec, batch_size), size=size, estimator=estimator,
                        batch_size=batch_size, progress=report, use_cache=use_cache, web=web)
