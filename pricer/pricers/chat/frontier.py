"""The frontier pricer: the course's question to GPT-4o-mini (or any chat model), and its answer.

The request is the course's, word for word: the fine-tuning system message, the test prompt
without " to the nearest dollar" and "\\n\\nPrice is $" (both as pricer.pricers.chat.finetune writes them), an
assistant message "Price is $" for the model to continue, seed 42, and max_tokens 5 (7 for a
fine-tuned model, whose id starts with "ft:"). The reply is read as the course did: `$` and `,`
stripped, the first number; a reply without one is kept as None, which the evaluation scores as
$0 and counts as unparsed, as the course's 0 did.

The model comes from PRICER_FRONTIER_MODEL (default gpt-4o-mini) or the constructor; requests go
through pricer.pricers.chat.client (base URL, key, retries within a deadline, cache). Another
pricer that asks a chat model with other messages (RAG) subclasses FrontierPricer and overrides
`messages`.

    >>> messages("How much does this cost to the nearest dollar?\\n\\nA mug\\n\\nPrice is $")[1:]
    [{'role': 'user', 'content': 'How much does this cost?\\n\\nA mug'}, {'role': 'assistant', 'content': 'Price is $'}]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pricer.data.items import PREFIX
from pricer.pricers.chat import client, cost
from pricer.pricers.chat.finetune import messages_for
from pricer.pricers.estimates import extract_price

SEED = 42
MAX_TOKENS = 5  # the course's, for gpt-4o-mini and gpt-4o
MAX_TOKENS_FINE_TUNED = 7  # the course's, for its fine-tuned gpt-4o-mini


def default_model() -> str:
    """PRICER_FRONTIER_MODEL, else gpt-4o-mini."""
    from pricer.config import frontier_model

    return frontier_model()


def max_tokens_for(model: str) -> int:
    """5, or 7 for a fine-tuned model (`ft:...`), as the course asked."""
    return MAX_TOKENS_FINE_TUNED if model.startswith("ft:") else MAX_TOKENS


def messages(prompt: str) -> client.Messages:
    """The course's frontier request for one prompt (a test or training prompt)."""
    system, user, _ = messages_for(prompt, 0.0)
    return [system, user, {"role": "assistant", "content": PREFIX}]


@dataclass(frozen=True)
class ChatAnswer:
    """One product's answer from the chat model."""

    price: float | None
    """The first number of the reply; None when it has none (scored as $0, counted as unparsed)."""
    reply: str
    """What the model wrote after "Price is $"."""
    cached: bool = False
    """True when no request was made (the answer was in the cache)."""


@dataclass(frozen=True)
class ChatAnswers:
    """A batch of answers, in prompt order, with what it took."""

    model: str
    answers: list[ChatAnswer]

    @property
    def prices(self) -> list[float | None]:
        return [a.price for a in self.answers]

    @property
    def unparsed(self) -> int:
        """Replies with no number in them."""
        return sum(1 for a in self.answers if a.price is None)

    @property
    def cached(self) -> int:
        return sum(1 for a in self.answers if a.cached)

    def line(self) -> str:
        """`250 prices from gpt-4o-mini: 40 from the cache; 3 replies had no number (scored $0)`."""
        parts = [f"{self.cached} from the cache"] if self.cached else []
        if self.unparsed:
            parts.append(f"{self.unparsed} {'reply' if self.unparsed == 1 else 'replies'} had no number (scored $0)")
        return f"{len(self.answers)} prices from {self.model}" + (": " + "; ".join(parts) if parts else "")


class FrontierPricer:
    """A chat model asked the course's question; any OpenAI-compatible server (OPENAI_BASE_URL)."""

    name = "frontier"

    def __init__(self, model: str | None = None, *, concurrency: int = client.CONCURRENCY,
                 timeout: float = client.TIMEOUT, retries: int = client.RETRIES, backoff: float = client.BACKOFF,
                 deadline: float | None = None) -> None:
        """`deadline`: seconds one product may take over all its tries (None: client.within's, else
        client.DEADLINE; the web app asks within client.WEB_DEADLINE)."""
        self.model = (model or "").strip() or default_model()
        self.options = {"concurrency": concurrency, "timeout": timeout, "retries": retries, "backoff": backoff,
                        "deadline": deadline}

    @property
    def label(self) -> str:
        """`gpt-4o-mini (frontier)`, with the server's host when it is not OpenAI's."""
        return f"{self.model} ({self.name}{client.host_note()})"

    @property
    def max_tokens(self) -> int:
        return max_tokens_for(self.model)

    def available(self) -> str | None:
        """None when it can price here, else why not (e.g. "OPENAI_API_KEY is not set")."""
        return client.unavailable()

    def messages(self, prompt: str) -> client.Messages:
        """The request for one prompt; subclasses (RAG) ask differently."""
        return messages(prompt)

    def estimate(self, prompts: Sequence[str]) -> cost.Cost:
        """Tokens and cost of pricing `prompts`, without the answers already cached. Sends nothing."""
        todo, cached = client.uncached([self.messages(p) for p in prompts], model=self.model, **self._params())
        return cost.estimate(todo, self.model, self.max_tokens, cached=cached)

    def price(self, prompts: Sequence[str], progress: client.ProgressFn | None = None) -> ChatAnswers:
        """Ask for every prompt (cached answers are not asked again); progress(done, total)."""
        replies = client.complete([self.messages(p) for p in prompts], model=self.model, progress=progress,
                                **self._params(), **self.options)
        return ChatAnswers(self.model, [ChatAnswer(extract_price(r.reply), r.reply, r.cached) for r in replies])

    def predict(self, prompts: list[str]) -> list[float | None]:
        """Prices only, None where the reply had no number: the evaluation loop's predict function."""
        return self.price(prompts).prices

    def _params(self) -> dict[str, int]:
        return {"max_tokens": self.max_tokens, "seed": SEED}
