"""What every pricer is: the Pricer protocol, the Estimate it gives per text, and the checks of
what a caller passes.

A pricer has a `name` (what the CLI and the API take), a `label` (what a person reads, with the
model), its `estimators` (ways to read a price off its answer; () when there is no choice), an
`available()` answer (None, or why it cannot run here: cheap, no model is loaded to give it), and
`price(texts)`: each text (a pasted title and description, or a dataset prompt) gets an Estimate,
a price (None: no number, which the evaluation scores as $0 and marks), an 80% interval when the
pricer can give one, and details to show beside it. `cache_key(estimator)` names what would
answer, for the evaluation cache and the leaderboard.

The pricers themselves live one folder per kind (llama/, cpu/, chat/) and the ensemble beside
them; pricer.pricers.registry names them. This module imports only pricer.errors and the
estimators' table: no torch, numpy or openai, and no pricer.

    >>> Estimate(12.5, 8.0, 20.0).to_json()
    {'price': 12.5, 'low': 8.0, 'high': 20.0, 'details': {}}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pricer.errors import BadInput
from pricer.pricers.estimates import ESTIMATORS

ProgressFn = Callable[[int, int], Any]
"""progress(done, total): texts priced so far, out of all (pricer.pricers.chat.client's form, too)."""


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
    """What every pricer is. Optional extras: `estimate_cost(texts) -> str | None`, a line saying
    what pricing those texts will cost (pricers that pay per request); and `price_held_out(texts,
    *, estimator, progress)`, as `price` but each text of an item the pricer trained on priced
    without it (out of fold), its details marked `out_of_fold`: what an ensemble fits on (pricers
    that keep a record of their training items)."""

    name: str
    label: str
    estimators: tuple[str, ...]
    """Names a caller may pass as `estimator`, the first the default; () for no choice."""

    def available(self) -> str | None: ...

    def price(self, texts: list[str], *, estimator: str | None = None,
              progress: ProgressFn | None = None) -> list[Estimate]: ...

    def cache_key(self, estimator: str | None) -> str: ...


# Every pricer reads at most this much of a text: a pasted page (27,400 characters) is whole, and
# none reads past its first ~1,200 (160 tokens, a CPU title or description), so one paste of
# megabytes costs no more than this; the same bound as the Tokenizer tab's (tokens.MAX_CHARS).
MAX_TEXT_CHARS = 100_000


def check_texts(texts: Any) -> list[str]:
    """The texts to price as a list of strings, each cut to MAX_TEXT_CHARS, or a BadInput (one
    text, None, numbers...)."""
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise BadInput("Give a list of texts to price (each a product's title and description).")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise BadInput(f"Text {i} is {type(text).__name__}, not text: give each product's title and "
                           "description as a string.")
    return [text[:MAX_TEXT_CHARS] for text in texts]


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
