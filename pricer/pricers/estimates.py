"""What a pricer's answer is worth: the price in a completion, and the estimates the course drew
from the next-token distribution after `Price is $`. Pure arithmetic: no torch, no model.

- extract_price: the course's greedy reading of a completion (`$` and `,` stripped, the first
  number);
- course_topk_estimate: the course's `improved_model_predict` over the top 3 tokens of the whole
  vocabulary (its $46.66 with the fine-tuned model);
- topk_estimate, median_estimate and interval_estimate (the 80% interval: 10% and 90%
  quantiles): over the number tokens 1-999 alone;
- ESTIMATORS: the one table of the estimators a run can be judged by (name, label, help and
  the pricer.pricers.llama.model.Prediction field each reads); the CLI, the Evaluate and Predict tabs and
  pricer.evaluation all read it.

    >>> extract_price("Price is $1,299.00"), extract_price("$9,999 blah"), extract_price("cheap")
    (1299.0, 9999.0, None)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pricer.data.items import PREFIX
from pricer.errors import BadInput, ModelUnavailable

INTERVAL = 0.8  # the central share of the distribution an interval holds (issue 10: an 80% interval)
TOP_K = 3  # the course's top-3 weighted estimate (average error $46.66 on the 250 test items)
_NUMBER = re.compile(r"[-+]?\d*\.\d+|\d+")  # the course's regex
_EXPONENT = re.compile(r"[eE][-+]?\d+")
MAX_PRICE = 1e6  # the top of every pricer's range: no product in the data costs near it
READ_CHARS = 1000  # a price is read from the start of an answer, never from megabytes of it


def extract_price(s: str) -> float | None:
    """The course's price extraction: the text after `Price is $` (if present), `$` and `,`
    removed, first number; None when there is none. What the course read as a price is read the
    same, kept inside every pricer's range: a number beyond MAX_PRICE counts as MAX_PRICE. What
    is no price is None (scored as $0, counted as unparsed): a negative number (the course read
    `-5` as 5), one in exponent form that is no finite number (`1e309`: the course read 1), or no
    number in the first READ_CHARS characters.

    >>> extract_price("Price is $999"), extract_price("Price is $12.99 and"), extract_price(" $ 4")
    (999.0, 12.99, 4.0)
    >>> extract_price("-5"), extract_price("1e309"), extract_price("9" * 100), extract_price("1.5e2 dollars")
    (None, None, 1000000.0, 150.0)
    """
    s = s[:READ_CHARS]
    if PREFIX in s:
        s = s.split(PREFIX)[1]
    s = s.replace(",", "").replace("$", "")
    match = _NUMBER.search(s)
    if not match:
        return None
    start, end = match.span()
    if start > 0 and s[start - 1] == "-":
        return None  # a negative number: no price
    exponent = _EXPONENT.match(s, end)
    value = float(match.group() + (exponent.group() if exponent else ""))
    return min(value, MAX_PRICE) if math.isfinite(value) and value >= 0 else None


def topk_estimate(values: Sequence[float], probs: Sequence[float], k: int = TOP_K) -> float:
    """Average of the k most likely values, weighted by their probabilities.

    >>> round(topk_estimate([100, 200, 300, 400], [0.1, 0.4, 0.3, 0.2]), 2)
    277.78
    """
    if k < 1:
        raise BadInput(f"k must be at least 1, not {k}")
    top = sorted(zip(probs, values, strict=False), reverse=True)[:k]
    total = sum(p for p, _ in top)
    if total <= 0:
        return 0.0
    return sum(p * v for p, v in top) / total


def course_topk_estimate(tokens: Sequence[str], probs: Sequence[float]) -> float:
    """The course's `improved_model_predict` over the k most likely next tokens (of the whole
    vocabulary, as decoded): a token that float() cannot read, or reads as <= 0, is dropped; the
    rest are averaged weighted by their probabilities renormalised over those kept; 0 when none
    is left (the course returned 0 there too).

    >>> round(course_topk_estimate(["99", "$", "100"], [0.5, 0.3, 0.2]), 2)
    99.29
    """
    kept = []
    for token, p in zip(tokens, probs, strict=True):
        try:
            value = float(token)
        except ValueError:
            continue
        if value > 0:
            kept.append((value, p))
    total = sum(p for _, p in kept)
    if not kept or total <= 0:
        return 0.0
    return sum(value * p / total for value, p in kept)


def quantile_estimate(values: Sequence[float], probs: Sequence[float], q: float) -> float:
    """The smallest value at which the (renormalised) cumulative probability reaches `q` (0 < q < 1);
    0 when the probabilities sum to nothing.

    >>> quantile_estimate([100, 200, 300, 400], [0.1, 0.4, 0.3, 0.2], 0.1)
    100
    """
    if not 0 < q < 1:
        raise BadInput(f"a quantile must lie strictly between 0 and 1, not {q}")
    total = sum(probs)
    if total <= 0:
        return 0.0
    cumulative = 0.0
    for value, p in sorted(zip(values, probs, strict=False)):
        cumulative += p / total
        if cumulative >= q - 1e-12:
            return value
    return max(values)


def median_estimate(values: Sequence[float], probs: Sequence[float]) -> float:
    """The smallest value at which the (renormalised) cumulative probability reaches one half.

    >>> median_estimate([100, 200, 300, 400], [0.1, 0.4, 0.3, 0.2])
    200
    """
    return quantile_estimate(values, probs, 0.5)


def interval_estimate(values: Sequence[float], probs: Sequence[float],
                      coverage: float = INTERVAL) -> tuple[float, float] | None:
    """The central `coverage` interval of the distribution: its (1 - coverage) / 2 and
    (1 + coverage) / 2 quantiles, e.g. the 10% and 90% quantiles for 80%; None when the
    probabilities sum to nothing (no interval to give).

    >>> interval_estimate([100, 200, 300, 400], [0.1, 0.4, 0.3, 0.2])
    (100, 400)
    >>> interval_estimate([10, 20, 30], [0.05, 0.9, 0.05]), interval_estimate([1, 2], [0.0, 0.0])
    ((20, 20), None)
    """
    if not 0 < coverage < 1:
        raise BadInput(f"an interval's coverage must lie strictly between 0 and 1, not {coverage}")
    if sum(probs) <= 0:
        return None
    tail = (1 - coverage) / 2
    return quantile_estimate(values, probs, tail), quantile_estimate(values, probs, 1 - tail)


def number_tokens(tokenizer: Any) -> tuple[list[int], list[float]]:
    """Ids and values of the tokens that are whole prices 1-999 (each one Llama 3.1 token)."""
    ids, values = [], []
    for n in range(1, 1000):
        encoded = tokenizer.encode(str(n), add_special_tokens=False)
        if len(encoded) == 1:
            ids.append(encoded[0])
            values.append(float(n))
    if not ids:
        raise ModelUnavailable("This tokenizer has no single-token numbers, so it cannot be a pricer.")
    return ids, values


# --- the estimators ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimator:
    """One way to read a price from a pricer.pricers.llama.model.Prediction.

    >>> from types import SimpleNamespace
    >>> estimator("topk").read(SimpleNamespace(topk=0.0)), estimator("topk-numbers").field
    (None, 'topk_numbers')
    """

    name: str
    """What `--estimator` and the Evaluate tab take; part of a cached run's identity."""
    label: str
    """Short, in run labels and beside a price: `top-3 weighted (course)`."""
    help: str
    """What it is, in one line."""
    field: str
    """The Prediction field it reads: the name with `-` as `_`."""
    zero_is_no_number: bool = False
    """The field holds 0 when no number came (the course's convention): scored as no number."""

    def read(self, prediction: Any) -> float | None:
        """The estimate in a prediction; None when the pricer gave no number."""
        value = getattr(prediction, self.field)
        return None if value is None or (self.zero_is_no_number and value == 0) else value


ESTIMATORS = (
    Estimator("greedy", "greedy", "the generated price (the course's evaluation)", "greedy"),
    Estimator("topk", f"top-{TOP_K} weighted (course)",
              f"top {TOP_K} next tokens, non-numbers dropped ($46.66 fine-tuned)", "topk", zero_is_no_number=True),
    Estimator("topk-numbers", f"top-{TOP_K} number tokens",
              "the same over the numbers 1-999 only (always a number)", "topk_numbers"),
)


def estimator(name: str) -> Estimator:
    """The estimator called `name`, or a BadInput listing them."""
    for known in ESTIMATORS:
        if known.name == name:
            return known
    raise BadInput(f"estimator must be one of {', '.join(e.name for e in ESTIMATORS)}, not {name!r}.")

