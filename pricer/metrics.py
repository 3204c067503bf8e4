"""The course's metrics, exactly as its Tester computes them, plus MSE and R^2.

Read it beside the course's Tester class:

    Tester.color_for:      error < 40 or error/truth < 0.2 -> green; < 80 or < 0.4 -> orange; else red
    Tester.run_datapoint:  error = abs(guess - truth); sle = (log(truth+1) - log(guess+1)) ** 2
    Tester.report:         Error=${average_error:,.2f} RMSLE={sqrt(mean sle):,.2f} Hits={green share:.1f}%

Two cases the Tester never met are settled here: a pricer that gives no number scores 0 (as
the course's predict functions returned 0) and the item is marked as unparsed, and a negative
guess counts as 0 in the log (the Tester's log would fail).

    >>> color_for(39.99, 200.0), color_for(40.0, 200.0), color_for(40.0, 201.0)
    ('green', 'orange', 'green')
    >>> summarize([Outcome(0, "a", 100.0, 100.0), Outcome(1, "b", 100.0, 200.0)]).line()
    'Error=$50.00 RMSLE=0.49 Hits=50.0%'

It does not run a pricer (pricer.evaluation) or draw the chart (pricer.chart).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pricer.data import TestItem

COLORS = ("green", "orange", "red")
COLOR_LABELS = {"green": "hit (< $40 or < 20%)", "orange": "near (< $80 or < 40%)", "red": "miss"}


def color_for(error: float, truth: float) -> str:
    """The course's traffic light for one item."""
    ratio = error / truth if truth > 0 else math.inf
    if error < 40 or ratio < 0.2:
        return "green"
    if error < 80 or ratio < 0.4:
        return "orange"
    return "red"


def squared_log_error(guess: float, truth: float) -> float:
    """(ln(truth + 1) - ln(guess + 1))^2, a negative guess clipped at 0.

    >>> round(squared_log_error(0.0, math.e - 1), 6)
    1.0
    """
    return (math.log(max(truth, 0.0) + 1) - math.log(max(guess, 0.0) + 1)) ** 2


@dataclass(frozen=True)
class Outcome:
    """One test item priced: what the pricer said against the truth."""

    index: int
    """Position in the test data (0 = the first item)."""
    title: str
    truth: float
    guess: float
    """The guess scored: 0 when the pricer gave no number."""
    parsed: bool = True
    """False when the pricer gave no number (the guess then counts as 0, as in the course)."""

    @property
    def error(self) -> float:
        return abs(self.guess - self.truth)

    @property
    def sle(self) -> float:
        return squared_log_error(self.guess, self.truth)

    @property
    def color(self) -> str:
        return color_for(self.error, self.truth)

    @property
    def note(self) -> str:
        return "" if self.parsed else "no number: scored as $0"


def outcome(item: TestItem, guess: Any) -> Outcome:
    """Score one guess; None or anything that is not a finite number counts as $0 and is marked."""
    try:
        value = math.nan if guess is None or isinstance(guess, (bool, str)) else float(guess)
    except (TypeError, ValueError):
        value = math.nan
    ok = math.isfinite(value)
    return Outcome(item.index, item.title, item.truth, value if ok else 0.0, ok)


@dataclass(frozen=True)
class Metrics:
    """The course's summary of a run, plus MSE and R^2."""

    size: int
    average_error: float
    rmsle: float
    hits: float
    """Share of green items, 0..1."""
    mse: float
    r2: float | None
    """None when the truths are all equal (R^2 is undefined)."""
    unparsed: int
    counts: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """`Error=$X.XX RMSLE=Y.YY Hits=Z.Z%`, formatted as the course's Tester does."""
        return f"Error=${self.average_error:,.2f} RMSLE={self.rmsle:,.2f} Hits={self.hits * 100:.1f}%"

    def details(self) -> str:
        r2 = "n/a" if self.r2 is None else f"{self.r2:.3f}"
        parts = [f"{self.size} items", f"MSE={self.mse:,.1f}", f"R²={r2}"]
        parts += [f"{self.counts.get(c, 0)} {c}" for c in COLORS]
        if self.unparsed:
            parts.append(f"{self.unparsed} without a number (scored as $0)")
        return ", ".join(parts)


def summarize(outcomes: Sequence[Outcome]) -> Metrics:
    """The metrics over the outcomes (all zero for none)."""
    n = len(outcomes)
    if n == 0:
        return Metrics(0, 0.0, 0.0, 0.0, 0.0, None, 0, {c: 0 for c in COLORS})
    truths = [o.truth for o in outcomes]
    squared = sum((o.guess - o.truth) ** 2 for o in outcomes)
    mean_truth = sum(truths) / n
    spread = sum((t - mean_truth) ** 2 for t in truths)
    colors = [o.color for o in outcomes]
    return Metrics(
        size=n,
        average_error=sum(o.error for o in outcomes) / n,
        rmsle=math.sqrt(sum(o.sle for o in outcomes) / n),
        hits=colors.count("green") / n,
        mse=squared / n,
        r2=1 - squared / spread if spread > 0 else None,
        unparsed=sum(not o.parsed for o in outcomes),
        counts={c: colors.count(c) for c in COLORS},
    )
