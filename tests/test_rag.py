"""pricer.pricers.chat.rag: the course's RAG request, word for word, with the similar items of a real index
(tests/rag_data.py), against the local stand-in for the OpenAI API (tests/openai_stand_in.py)."""

from __future__ import annotations

import json

import pytest
from openai_stand_in import KEY, openai_online

from pricer.pricers.chat.rag import RagPricer


def course_make_context(similars: list[str], prices: list[float]) -> str:
    """The course's FrontierAgent.make_context (week8/agents/frontier_agent.py), as it wrote it."""
    message = "To provide some context, here are some other items that might be similar to the item you need to estimate.\n\n"
    for similar, price in zip(similars, prices, strict=True):
        message += f"Potentially related product:\n{similar}\nPrice is ${price:.2f}\n\n"
    return message


def course_messages_for(description: str, similars: list[str], prices: list[float]) -> list[dict[str, str]]:
    """The course's FrontierAgent.messages_for."""
    system_message = "You estimate prices of items. Reply only with the price, no explanation"
    user_prompt = course_make_context(similars, prices)
    user_prompt += "And now the question for you:\n\n"
    user_prompt += "How much does this cost?\n\n" + description
    return [
        {"role": "system", "content": system_message},
        {"role": "user", "content": user_prompt},
        {"role": "assistant", "content": "Price is $"},
    ]


def course_description(prompt: str) -> str:
    """The course's description(item) of week 8."""
    text = prompt.replace("How much does this cost to the nearest dollar?\n\n", "")
    return text.split("\n\nPrice is $")[0]


@pytest.fixture
def server(monkeypatch, tmp_path):
    with openai_online(monkeypatch, tmp_path / "cache") as handler:
        yield handler


def test_the_request_is_the_course_rag_request_for_test_item_1(server, built, index):
    prompt = built["tests"][1]["text"]
    answers = RagPricer(index=index).price([prompt])
    assert answers.prices == [45.0]
    extras = built["extras"]
    expected = course_messages_for(course_description(prompt), [course_description(r["text"]) for r in extras],
                                   [r["price"] for r in extras])
    [request] = server.chats()
    assert request.body == {"model": "gpt-4o-mini", "messages": expected, "max_tokens": 5, "seed": 42}
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert "Motorcraft YB3125 Fan Clutch" not in request.body["messages"][1]["content"].split("And now")[0]


def test_details_list_the_retrieved_items_for_the_predict_tab(server, built, index):
    pricer = RagPricer(index=index)
    prompt = built["tests"][1]["text"]
    pricer.price([prompt])
    retrieved = pricer.details(prompt)["retrieved"]
    assert [(r["title"], r["price"]) for r in retrieved] == [
        ("Motorcraft Fan Clutch Assembly - YB3130", 223.78), ("Motorcraft- YB3126 Fan Clutch", 197.14),
        ("Motorcraft Fan Clutch", 183.08), ("Motorcraft YB3188 Clutch", 262.97), ("Motorcraft YB3076 Fan Clutch", 249.78)]
    assert all(0.8 < r["similarity"] <= 1 for r in retrieved)
    json.dumps(retrieved)  # JSON-able, as Estimate.details must be


def test_a_batch_is_retrieved_at_once_and_a_repeat_costs_nothing(server, built, index):
    prompts = [t["text"] for t in built["tests"][:6]]
    for i, p in enumerate(prompts):
        server.replies[RagPricer(index=index).messages(p)[1]["content"]] = str(10 * (i + 1))
    pricer = RagPricer(index=index, concurrency=3)
    assert pricer.price(prompts).prices == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    assert len(server.chats()) == 6
    estimate = RagPricer(index=index).estimate(prompts)
    assert (estimate.requests, estimate.cached) == (0, 6)
    assert RagPricer(index=index).price(prompts).cached == 6 and len(server.chats()) == 6


def test_no_request_holds_a_training_copy_of_the_item_asked_about(server, built, index):
    tests = built["tests"][:20]
    RagPricer(index=index).price([t["text"] for t in tests])
    for request in server.chats():
        context, question = request.user.split("And now the question for you:\n\n")
        product = question.removeprefix("How much does this cost?\n\n")
        assert product not in context and product.splitlines()[0] not in context.split("\n")


def test_a_pasted_product_gets_the_same_question(server, index):
    pasted = "Motorcraft YB3125 Fan Clutch\nFan clutch assembly for Ford trucks, OE replacement."
    messages = RagPricer(index=index).messages(pasted)
    assert messages[1]["content"].endswith("And now the question for you:\n\nHow much does this cost?\n\n" + pasted)
    assert messages[1]["content"].count("Potentially related product:\nMotorcraft") == 5


def test_availability_names_what_is_missing(server, monkeypatch, built, tmp_path):
    monkeypatch.setenv("PRICER_RAG_DATA", str(built["folder"]))
    assert RagPricer().available() is None
    monkeypatch.setenv("PRICER_RAG_DATA", "../shared/data/train-550.jsonl,../shared/data/train-community.jsonl")
    assert RagPricer().available() == ("no RAG index built: run `python -m pricer rag-index --data "
                                       "../shared/data/train-550.jsonl ../shared/data/train-community.jsonl`")
    assert "--out " + str(tmp_path) in RagPricer(index=tmp_path).available()
    monkeypatch.delenv("OPENAI_API_KEY")
    assert RagPricer(index=built["folder"]).available() == "OPENAI_API_KEY is not set"
    assert server.requests == []


def test_the_label_and_cache_key_name_the_model_and_the_index(server, monkeypatch, built, index):
    monkeypatch.delenv("OPENAI_BASE_URL")
    pricer = RagPricer("gpt-4o", index=built["folder"])
    assert pricer.label == "gpt-4o + 5 similar items (rag)" and pricer.name == "rag"
    assert pricer.cache_key(None) == RagPricer("gpt-4o", index=index).cache_key(None)
    assert pricer.cache_key(None) != RagPricer("gpt-4o-mini", index=index).cache_key(None)
