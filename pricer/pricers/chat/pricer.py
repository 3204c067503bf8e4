"""A chat pricer on the pricers' interface: the frontier model (pricer.pricers.chat.frontier) or
RAG (pricer.pricers.chat.rag) asked the course's question; no interval, the reply in the details.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pricer.data.items import build_prompt
from pricer.pricers.base import Estimate, ProgressFn, check_estimator, check_texts

if TYPE_CHECKING:
    from pricer.pricers.chat.frontier import FrontierPricer


class ChatPricer:
    """A chat pricer (pricer.pricers.chat.frontier.FrontierPricer, or a subclass such as RAG) on this interface:
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
        from pricer.pricers.chat import client

        return "|".join([self.name, client.shown_url(), self.inner.model, str(self.inner.max_tokens)])
