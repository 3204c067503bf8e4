"""pricer.pricers.chat.frontier: the course's request to a chat model, word for word, and its reading of the
reply, against a local stand-in for the OpenAI API (tests/openai_stand_in.py)."""

from __future__ import annotations

import json
import os
import re

import pytest
from openai_stand_in import KEY, openai_online

from pricer.errors import PricerError
from pricer.pricers.chat.frontier import FrontierPricer, messages

PROMPT = "How much does this cost to the nearest dollar?\n\nSteel Mug\nA mug, 12 oz.\n\nPrice is $"


def course_messages_for(test_prompt: str) -> list[dict[str, str]]:
    """The course's messages_for (week 6, day 2), as it wrote it."""
    system_message = "You estimate prices of items. Reply only with the price, no explanation"
    user_prompt = test_prompt.replace(" to the nearest dollar", "").replace("\n\nPrice is $", "")
    return [
        {"role": "system", "content": system_message},
        {"role": "user", "content": user_prompt},
        {"role": "assistant", "content": "Price is $"},
    ]


def course_get_price(s: str) -> float:
    """The course's get_price: 0 when there is no number."""
    s = s.replace("$", "").replace(",", "")
    match = re.search(r"[-+]?\d*\.\d+|\d+", s)
    return float(match.group()) if match else 0


@pytest.fixture
def server(monkeypatch, tmp_path):
    with openai_online(monkeypatch, tmp_path / "cache") as handler:
        yield handler


def test_the_request_is_the_course_request_for_real_test_items(server, test_250):
    prompts = [json.loads(line)["text"] for line in test_250.read_text().splitlines()[:3]]
    answers = FrontierPricer().price(prompts)
    assert answers.prices == [45.0, 45.0, 45.0]
    assert len(server.chats()) == 3
    sent = sorted(json.dumps(r.body, sort_keys=True) for r in server.chats())
    assert sent == sorted(json.dumps({"model": "gpt-4o-mini", "messages": course_messages_for(p), "max_tokens": 5,
                                      "seed": 42}, sort_keys=True) for p in prompts)
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.chats())


def test_messages_cut_a_training_prompt_like_a_test_prompt():
    assert messages(PROMPT + "12.00") == messages(PROMPT) == course_messages_for(PROMPT)


def test_a_fine_tuned_model_gets_seven_tokens(server, monkeypatch):
    model = "ft:gpt-4o-mini-2024-07-18:personal:pricer:A1b2C3d4"
    monkeypatch.setenv("PRICER_FRONTIER_MODEL", model)
    FrontierPricer().price([PROMPT])
    FrontierPricer("gpt-4o").price([PROMPT])  # an argument beats the environment
    assert [(r.body["model"], r.body["max_tokens"]) for r in server.chats()] == [(model, 7), ("gpt-4o", 5)]


@pytest.mark.parametrize(("reply", "price"), [
    ("$1,299.99", 1299.99), ("about 45", 45.0), ("", None), ("I cannot", None), ("45.5 dollars", 45.5),
    ("Price is $12", 12.0), (" 3,000", 3000.0), (None, None),
])
def test_odd_replies_are_read_as_the_course_read_them(server, reply, price):
    server.replies["How much does this cost?\n\nSteel Mug\nA mug, 12 oz."] = reply
    answer = FrontierPricer().price([PROMPT]).answers[0]
    assert answer.price == price and answer.reply == (reply or "")
    assert (answer.price or 0) == course_get_price(reply or "")  # None is scored as the course's 0


@pytest.mark.parametrize(("reply", "price"), [("-5", None), ("1e309", None), ("9" * 3_000_000, 1e6), ("2e7", 1e6)])
def test_a_reply_that_is_no_price_is_none_and_is_kept_only_as_far_as_max_tokens_reach(server, reply, price, capsys,
                                                                                       tmp_path):
    """The course read these as $5, $1, $inf and $2. A price is finite and inside the pricers'
    range (a negative or infinite one is None: scored $0, counted unparsed; one beyond it is the
    top of the range), a reply is kept (and cached) only as far as its 5 tokens can reach, and a
    message quotes it cut short."""
    from pricer.cli import main
    from pricer.pricers.chat.client import TOKEN_CHARS

    server.replies["How much does this cost?\n\nSteel Mug\nA mug, 12 oz."] = reply
    answer = FrontierPricer().price([PROMPT]).answers[0]
    assert answer.price == price
    assert answer.reply == reply[:5 * TOKEN_CHARS]
    cached = [json.loads(p.read_text()) for p in (tmp_path / "cache" / "chat").rglob("*.json")]
    assert [len(c["reply"]) for c in cached] == [len(answer.reply)]
    assert main(["predict", "--pricer", "frontier", "--text", "Steel Mug\nA mug, 12 oz."]) == 0
    out = capsys.readouterr()
    assert len(out.out) + len(out.err) < 2_000


def test_replies_without_a_number_are_counted_not_hidden(server):
    prompts = [PROMPT.replace("Mug", f"Mug {i}") for i in range(4)]
    for i, reply in enumerate(["12", "I cannot", "", "30"]):
        server.replies[messages(prompts[i])[1]["content"]] = reply
    answers = FrontierPricer().price(prompts)
    assert answers.prices == [12.0, None, None, 30.0] and answers.unparsed == 2
    assert answers.line() == "4 prices from gpt-4o-mini: 2 replies had no number (scored $0)"
    assert FrontierPricer().price(prompts).line() == (
        "4 prices from gpt-4o-mini: 4 from the cache; 2 replies had no number (scored $0)")


def test_predict_gives_prices_in_prompt_order(server):
    prompts = [PROMPT.replace("Mug", f"Mug {i}") for i in range(6)]
    for i, p in enumerate(prompts):
        server.replies[messages(p)[1]["content"]] = str(10 * i)
    assert FrontierPricer(concurrency=3).predict(prompts) == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]


def test_without_a_key_it_says_why_and_sends_nothing(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    pricer = FrontierPricer()
    assert pricer.available() == "OPENAI_API_KEY is not set"
    with pytest.raises(PricerError, match="OPENAI_API_KEY is not set"):
        pricer.price([PROMPT])
    assert server.requests == []


def test_without_the_openai_package_it_says_so(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setitem(__import__("sys").modules, "openai", None)
    assert FrontierPricer().available() == "the openai package is not installed (pip install openai)"


def test_the_label_names_the_model_and_a_server_that_is_not_openai(server, monkeypatch):
    host = os.environ["OPENAI_BASE_URL"].removeprefix("http://").removesuffix("/v1")
    assert FrontierPricer().label == f"gpt-4o-mini (frontier, at {host})"
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert FrontierPricer("gpt-4o").label == "gpt-4o (frontier)"
    assert FrontierPricer.name == "frontier"
