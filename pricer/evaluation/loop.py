"""Judge a pricer the course's way: run it over the first N test items, in batches, and stream
the run so far (its outcomes and the course's metrics) after each batch.

`evaluate(data, pricer_name, ...)` runs any pricer of the registry (pricer.pricers) by name;
underneath, `run` takes any predict function (a list of prompts -> one price, None for "no
number", or one pricers.Estimate with its interval, per prompt), so it does not know how a model
works. A finished run is cached (pricer.evaluation.cache), so a repeat returns at once; every run, finished or stopped (marked partial), is recorded on the leaderboard
(pricer.evaluation.leaderboard). The metrics are pricer.metrics', the test items pricer.data.datasets's, the chart
pricer.evaluation.chart's. It does not import gradio: the Evaluate tab (ui/evaluate_tab.py) and the CLI
drive it. Guesses made elsewhere are read and scored by pricer.evaluation.guesses, into the same Run.

    >>> from pricer.data.datasets import TestItem
    >>> items = [TestItem(0, "...Price is $", 100.0, "a"), TestItem(1, "...Price is $", 300.0, "b")]
    >>> runs = list(run(items, lambda prompts: [100.0] * len(prompts), batch_size=1))
    >>> [len(r.outcomes) for r in runs], runs[-1].metrics.line()
    ([1, 2], 'Error=$100.00 RMSLE=0.77 Hits=50.0%')
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pricer.data.datasets import TestItem, load_items
from pricer.errors import BadInput, PricerError
from pricer.evaluation import leaderboard
from pricer.evaluation.cache import cache_key, cached, remember
from pricer.evaluation.runs import Run
from pricer.hub import source_key
from pricer.metrics import Outcome, outcome
from pricer.pricers import registry
from pricer.pricers.base import check_estimator
from pricer.pricers.estimates import estimator as find_estimator

if TYPE_CHECKING:
    from pricer.pricers.base import Pricer, ProgressFn
    from pricer.pricers.registry import PricerOptions

PredictFn = Callable[[list[str]], Sequence[Any]]
"""prompts -> one answer per prompt, in order: a price (None: no number) or a pricers.Estimate."""


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


def evaluate(data: str | Path | None, pricer_name: str | Pricer, *, size: int = 250, estimator: str | None = None,
             batch_size: int = 16, progress: ProgressFn | None = None, use_cache: bool = True,
             options: PricerOptions | None = None, web: bool = False) -> Iterator[Run]:
    """Run the pricer called `pricer_name` (or a Pricer object) over the first `size` test items of
    `data` (None: PRICER_DATASET), streaming a Run after each batch of `batch_size`;
    `progress(done, total)` hears of every item. A repeat of the same (pricer, model, estimator,
    data, size) returns at once from the cache. Every run is recorded on the leaderboard: a
    finished one, a stopped one (the generator closed, or an error) as partial, a cached one once.
    `web`: `data` came from the web app (pricer.data.datasets.load_items reads local paths only where
    pricer.web_paths allows), and the run is the web visitor's: it gets an id but stays off the
    shared board (leaderboard.record(visitor=True); their page keeps it)."""
    pricer = registry.get(pricer_name, options) if isinstance(pricer_name, str) else pricer_name
    chosen = check_estimator(pricer, estimator)
    if batch_size < 1:
        raise BadInput(f"batch size must be at least 1, not {batch_size}.")
    identity = pricer.cache_key(chosen)  # a bad model setting is said here, before the data is read
    refuse_unavailable(pricer, data, size, web=web)
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
                current.id = leaderboard.record(current, key=key, visitor=web).id
                current.note = " ".join(filter(None, (current.note, leaderboard.take_notes())))
                recorded = True
            yield current
    except BaseException:  # stopped (GeneratorExit), interrupted, or failed: keep what was priced
        if current is not None and current.outcomes and not recorded:
            current.id = leaderboard.record(current, key=key, visitor=web).id
        raise


def refuse_unavailable(pricer: Pricer, data: str | Path | None, size: int, *, web: bool = False) -> None:
    """A BadInput with every reason at once when `pricer` cannot run here (a missing key *and*
    test data that cannot be read), with what the run would cost where that can be told; before
    the data decides anything."""
    reason = pricer.available()
    if reason is None:
        return
    problems = [f"The {pricer.name} pricer cannot run here: {reason}."]
    try:
        items = load_items(data, size, web=web)
    except PricerError as exc:
        problems.append(f"The test data cannot be read either: {exc}")
    else:
        estimate = getattr(pricer, "estimate_cost", None)
        if callable(estimate):
            problems.append(f"Once it can, this run will cost {estimate([item.prompt for item in items])}.")
    raise BadInput(" ".join(problems))


def run_label(pricer: Pricer, estimator: str | None) -> str:
    """What ran: the pricer's label (its model), and the estimator when it has a choice."""
    return f"{pricer.label}, {find_estimator(estimator).label}" if estimator else pricer.label


def cost_line(data: str | Path | None, pricer_name: str | Pricer, *, size: int = 250,
              options: PricerOptions | None = None, web: bool = False) -> str | None:
    """What a run of a pricer that pays per request will cost (requests, tokens, dollars; cached
    answers are free), said before it starts; None for a pricer that costs nothing."""
    pricer = registry.get(pricer_name, options) if isinstance(pricer_name, str) else pricer_name
    estimate = getattr(pricer, "estimate_cost", None)
    if not callable(estimate) or pricer.available() is not None:
        return None
    return estimate([item.prompt for item in load_items(data, size, web=web)])
