"""The course's metrics, exactly as its Tester computes them, plus MSE and R^2.

Read it beside the course's Tester class:

    Tester.color_for:      error < 40 or error/truth < 0.2 -> green; < 80 or < 0.4 -> orange; else red
    Tester.run_datapoint:  error = abs(guess - truth); sle = (log(truth+1) - log(guess+1)) ** 2
    Tester.report:         Error=${average_error:,.2f} RMSLE={sqrt(mean sle):,.2f} Hits={green share:.1f}%

Cases the Tester never met are settled here: a pricer that gives no number scores 0 (as the
course's predict functions returned 0) and the item is marked as unparsed; a negative guess
counts as 0 in the log (the Tester's log would fail); and absurd numbers (a guess of 1e200, a
truth of 1e308) give finite averages where they can and `inf` where the true figure is beyond a
float (an MSE of 1e400), never an OverflowError. Where a pricer gives an 80% interval, the
share of truths inside it is the run's `coverage`; it is shown in details(), not in the course's
line().

    >>> color_for(39.99, 200.0), color_for(40.0, 200.0), color_for(40.0, 201.0)
    ('green', 'orange', 'green')
    >>> summarize([Outcome(0, "a", 100.0, 100.0), Outcome(1, "b", 100.0, 200.0)]).line()
    'Error=$50.00 RMSLE=0.49 Hits=50.0%'

It does not run a pricer (pricer.evaluation) or draw the chart (pricer.evaluation.chart).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pricer.data.datasets import TestItem

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


def mean(values: Sequence[float]) -> float:
    """The average, divided before it is summed so that large values do not overflow.

    >>> mean([1e308, 1e308]), mean([])
    (1e+308, 0.0)
    """
    n = len(values)
    return sum(v / n for v in values) if n else 0.0


def squared(value: float) -> float:
    """value * value: inf beyond a float's range, where `value ** 2` raises OverflowError.

    >>> squared(3.0), squared(1e200)
    (9.0, inf)
    """
    return value * value


def squared_log_error(guess: float, truth: float) -> float:
    """(ln(truth + 1) - ln(guess + 1))^2, a negative guess clipped at 0.

    >>> round(squared_log_error(0.0, math.e - 1), 6)
    1.0
    """
    return squared(math.log(max(truth, 0.0) + 1) - math.log(max(guess, 0.0) + 1))


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
    low: float | None = None
    """The pricer's 80% interval around its guess, when it gives one (else None)."""
    high: float | None = None

    @property
    def error(self) -> float:
        return abs(self.guess - self.truth)

    @property
    def inside(self) -> bool | None:
        """Whether the truth lies in [low, high]; None when there is no interval."""
        if self.low is None or self.high is None:
            return None
        return self.low <= self.truth <= self.high

    @property
    def sle(self) -> float:
        return squared_log_error(self.guess, self.truth)

    @property
    def color(self) -> str:
        return color_for(self.error, self.truth)

    @property
    def note(self) -> str:
        return "" if self.parsed else "no number: scored as $0"


def number(value: Any) -> float | None:
    """A finite float, or None for None, text, booleans, NaN, infinities and anything else.

    >>> number(12), number("12"), number(float("inf")), number(True)
    (12.0, None, None, None)
    """
    try:
        found = math.nan if value is None or isinstance(value, (bool, str)) else float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return found if math.isfinite(found) else None


def outcome(item: TestItem, guess: Any, low: Any = None, high: Any = None) -> Outcome:
    """Score one guess; None or anything that is not a finite number counts as $0 and is marked.
    An interval is kept only when both ends are numbers (and low <= high)."""
    value, lo, hi = number(guess), number(low), number(high)
    if lo is None or hi is None or lo > hi:
        lo = hi = None
    return Outcome(item.index, item.title, item.truth, 0.0 if value is None else value, value is not None, lo, hi)


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
    coverage: float | None = None
    """Share of the items with an 80% interval whose truth lies in it, 0..1; None when the pricer
    gives no interval."""

    def line(self) -> str:
        """`Error=$X.XX RMSLE=Y.YY Hits=Z.Z%`, formatted as the course's Tester does."""
        return f"Error=${_figure(self.average_error, 2)} RMSLE={_figure(self.rmsle, 2)} Hits={self.hits * 100:.1f}%"

    def details(self) -> str:
        r2 = "n/a" if self.r2 is None else f"{self.r2:.3f}"
        parts = [f"{self.size} items", f"MSE={_figure(self.mse, 1)}", f"R²={r2}"]
        if self.coverage is not None:
            parts.append(f"80% interval coverage={self.coverage * 100:.1f}%")
        parts += [f"{self.counts.get(c, 0)} {c}" for c in COLORS]
        if self.unparsed:
            parts.append(f"{self.unparsed} without a number (scored as $0)")
        return ", ".join(parts)


def _figure(value: float, decimals: int) -> str:
    """`1,234.50` as the course prints it; a figure too large to read that way in scientific form.

    >>> _figure(1234.5, 2), _figure(1e200, 2), _figure(math.inf, 1)
    ('1,234.50', '1.00e+200', 'inf')
    """
    return f"{value:,.{decimals}f}" if abs(value) < 1e15 else f"{value:.2e}"


def summarize(outcomes: Sequence[Outcome]) -> Metrics:
    """The metrics over the outcomes (all zero for none)."""
    n = len(outcomes)
    if n == 0:
        return Metrics(0, 0.0, 0.0, 0.0, 0.0, None, 0, {c: 0 for c in COLORS})
    truths = [o.truth for o in outcomes]
    mse = mean([squared(o.guess - o.truth) for o in outcomes])
    mean_truth = mean(truths)
    spread = mean([squared(t - mean_truth) for t in truths])
    r2 = 1 - mse / spread if 0 < spread < math.inf else None
    colors = [o.color for o in outcomes]
    inside = [o.inside for o in outcomes if o.inside is not None]
    return Metrics(
        size=n,
        average_error=mean([o.error for o in outcomes]),
        rmsle=math.sqrt(mean([o.sle for o in outcomes])),
        hits=colors.count("green") / n,
        mse=mse,
        r2=r2 if r2 is not None and math.isfinite(r2) else None,
        unparsed=sum(not o.parsed for o in outcomes),
        counts={c: colors.count(c) for c in COLORS},
        coverage=sum(inside) / len(inside) if inside else None,
    )
