"""What a run of chat requests will cost, said before it starts: tokens and US dollars.

Input tokens are counted as OpenAI's cookbook counts a chat (3 per message, the role and content
tokens, 3 to prime the reply) with tiktoken's `o200k_base`, the encoding of the GPT-4o family,
when tiktoken already holds it on this machine. tiktoken downloads it on first use, and an
estimate must work offline, so otherwise tokens are approximated as characters / 4 (OpenAI's
rule of thumb for English), and the estimate says so. On the course's 250 test prompts that gives
10% more tokens than Llama 3's BPE (4.4 characters a token), a close relative of OpenAI's
encodings: an estimate on the safe side.
Output tokens are bounded by max_tokens. Prices are OpenAI's list prices per million tokens for
the models the course used and their successors; other models (a local server) get tokens but
no price. It does not send anything.

    >>> estimate([[{"role": "user", "content": "x" * 400}]], "gpt-4o-mini", max_tokens=5).requests
    1
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

# USD per 1M tokens (input, output), OpenAI's standard list prices (checked 2025-06).
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "ft:gpt-4o-mini": (0.30, 1.20),  # a fine-tuned gpt-4o-mini costs twice its base to run
    "ft:gpt-4o": (3.75, 15.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
}
TOKENS_PER_MESSAGE, REPLY_PRIMING = 3, 3  # OpenAI cookbook, "How to count tokens with tiktoken"
CHARS_PER_TOKEN = 4
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"


@dataclass(frozen=True)
class Cost:
    """Tokens and cost of the requests a run will send."""

    model: str
    requests: int
    """Requests to send (cached answers excluded)."""
    cached: int
    """Answers already in the cache, which cost nothing."""
    input_tokens: int
    output_tokens: int
    """At most: max_tokens per request."""
    usd: float | None
    """None when the model has no entry in PRICES."""
    exact: bool
    """True when tokens were counted with o200k_base, False for the characters / 4 approximation."""

    def line(self) -> str:
        """`250 requests to gpt-4o-mini (40 cached): ~41,200 input + at most 1,250 output tokens, ~$0.0069`."""
        cached = f" ({self.cached} cached)" if self.cached else ""
        approx = "" if self.exact else " (approximate count: characters / 4)"
        cost = f", ~${self.usd:.4f}" if self.usd is not None else ", cost unknown for this model"
        return (f"{self.requests} requests to {self.model}{cached}: ~{self.input_tokens:,} input + at most "
                f"{self.output_tokens:,} output tokens{approx}{cost}")


def price_per_million(model: str) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens; dated snapshots and fine-tunes share their base's price.

    >>> price_per_million("gpt-4o-mini-2024-07-18"), price_per_million("ft:gpt-4o-mini-2024-07-18:me:pricer:abc")
    ((0.15, 0.6), (0.3, 1.2))
    """
    if model.startswith("ft:"):
        model = "ft:" + model[3:].split(":")[0]
    return PRICES.get(re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model))


@functools.lru_cache(maxsize=1)
def _o200k() -> object | None:
    """tiktoken's o200k_base when its file is already in tiktoken's cache (never downloaded here)."""
    folder = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get("DATA_GYM_CACHE_DIR",
                            os.path.join(tempfile.gettempdir(), "data-gym-cache")))
    if not folder or not os.path.exists(os.path.join(folder, hashlib.sha1(O200K_URL.encode()).hexdigest())):
        return None
    try:
        import tiktoken

        return tiktoken.get_encoding("o200k_base")
    except Exception:  # a corrupt cached file, or a tiktoken without it: fall back to the approximation
        return None


def count_tokens(text: str) -> int:
    """Tokens in `text`: o200k_base when available, else ceil(characters / 4)."""
    encoding = _o200k()
    if encoding is not None:
        return len(encoding.encode(text, disallowed_special=()))  # type: ignore[attr-defined]
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def chat_tokens(messages: Sequence[dict[str, str]]) -> int:
    """Input tokens of one chat request, as OpenAI bills them for the GPT-4o family."""
    return REPLY_PRIMING + sum(TOKENS_PER_MESSAGE + count_tokens(m["role"]) + count_tokens(m["content"])
                               for m in messages)


def estimate(messages_list: Sequence[Sequence[dict[str, str]]], model: str, max_tokens: int,
             cached: int = 0) -> Cost:
    """The cost of sending `messages_list` (the requests not in the cache) to `model`."""
    tokens_in = sum(chat_tokens(m) for m in messages_list)
    tokens_out = max_tokens * len(messages_list)
    prices = price_per_million(model)
    usd = None if prices is None else (tokens_in * prices[0] + tokens_out * prices[1]) / 1e6
    return Cost(model, len(messages_list), cached, tokens_in, tokens_out, usd, _o200k() is not None)
