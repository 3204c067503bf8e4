"""pricer.pricers.chat.cost: the token count and price of a run, said before it starts and without sending
anything (the frontier pricer's estimate is checked against a local stand-in that records
requests)."""

from __future__ import annotations

import json
import math

import pytest
from openai_stand_in import openai_online

from pricer.pricers.chat import cost
from pricer.pricers.chat.frontier import FrontierPricer, messages


@pytest.fixture(autouse=True)
def no_o200k(monkeypatch, tmp_path):
    """tiktoken's cache without o200k_base, as on a machine that never downloaded it."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))
    cost._o200k.cache_clear()
    yield
    cost._o200k.cache_clear()


def test_without_o200k_tokens_are_characters_over_four():
    assert cost._o200k() is None
    assert [cost.count_tokens(t) for t in ("", "a", "abcd", "abcde", "é" * 9)] == [0, 1, 1, 2, 3]
    chat = [{"role": "system", "content": "x" * 10}, {"role": "user", "content": "y" * 400}]
    # 3 to prime the reply, and per message 3 + role + content
    assert cost.chat_tokens(chat) == 3 + (3 + 2 + 3) + (3 + 1 + 100)


def test_the_estimate_of_the_course_run_on_the_250_test_items(test_250):
    prompts = [json.loads(line)["text"] for line in test_250.read_text().splitlines()]
    requests = [messages(p) for p in prompts]
    estimate = cost.estimate(requests, "gpt-4o-mini", max_tokens=5)
    by_hand = sum(3 + sum(3 + math.ceil(len(m["role"]) / 4) + math.ceil(len(m["content"]) / 4) for m in r)
                  for r in requests)
    assert (estimate.requests, estimate.input_tokens, estimate.output_tokens) == (250, by_hand, 1250)
    assert estimate.usd == pytest.approx((by_hand * 0.15 + 1250 * 0.60) / 1e6)
    assert 0.005 < estimate.usd < 0.02  # the course's whole GPT-4o-mini run costs about a cent
    assert estimate.line() == (f"250 requests to gpt-4o-mini: ~{by_hand:,} input + at most 1,250 output tokens "
                               f"(approximate count: characters / 4), ~${estimate.usd:.4f}")


@pytest.mark.parametrize(("model", "prices"), [
    ("gpt-4o-mini", (0.15, 0.60)), ("gpt-4o-mini-2024-07-18", (0.15, 0.60)), ("gpt-4o", (2.50, 10.00)),
    ("ft:gpt-4o-mini-2024-07-18:personal:pricer:A1b2C3", (0.30, 1.20)), ("llama3.2", None), ("ft:", None),
])
def test_prices_per_million_tokens(model, prices):
    assert cost.price_per_million(model) == prices


def test_a_model_without_a_price_still_gets_its_tokens():
    estimate = cost.estimate([[{"role": "user", "content": "abcd"}]], "llama3.2", max_tokens=5)
    assert estimate.usd is None and estimate.input_tokens == 3 + 3 + 1 + 1
    assert estimate.line().endswith("cost unknown for this model")


def test_the_frontier_estimate_leaves_out_cached_answers_and_sends_nothing(monkeypatch, tmp_path):
    prompts = [f"How much does this cost to the nearest dollar?\n\nMug {i}\n\nPrice is $" for i in range(5)]
    with openai_online(monkeypatch, tmp_path / "cache") as server:
        pricer = FrontierPricer()
        before = pricer.estimate(prompts)
        assert server.requests == []
        pricer.price(prompts[:2])
        after = pricer.estimate(prompts + prompts[:1])  # a repeat is one request
        assert len(server.requests) == 2
    assert (before.requests, before.cached, after.requests, after.cached) == (5, 0, 3, 2)
    assert after.input_tokens == before.input_tokens * 3 // 5 and after.output_tokens == 15
    assert after.line().startswith("3 requests to gpt-4o-mini (2 cached): ")
    fine_tuned = FrontierPricer("ft:gpt-4o-mini-2024-07-18:me:pricer:x").estimate(prompts)
    assert fine_tuned.output_tokens == 35  # 7 a request
    assert fine_tuned.usd == pytest.approx((before.input_tokens * 0.30 + 35 * 1.20) / 1e6)
