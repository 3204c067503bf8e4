"""What a newcomer meets on a first run with no GPU, no token and no hub: the Predict tab offers its
own example products, shows no Llama panels that can never fill, says every reason a pricer
cannot run at once, and never leaves one product's price beside another's text. The app runs in
this process with exactly that environment, in real Chromium; the handlers are also asked
directly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import fill_opened, free_port, predict_answered
from playwright.sync_api import expect

GATED = "meta-llama/Meta-Llama-3.1-8B"


@pytest.fixture(scope="module")
def newcomer_url(tmp_path_factory):
    """The app as a fresh clone starts it with no token, offline: the course's gated Llama, the hub
    dataset (unreadable offline) and no OpenAI key."""
    mp = pytest.MonkeyPatch()
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "OPENAI_API_KEY", "PRICER_DATASET", "PRICER_ADAPTER",
                 "PRICER_ADAPTER_REVISION", "PRICER_TOKENIZER"):
        mp.delenv(name, raising=False)
    mp.setenv("PRICER_BASE_MODEL", GATED)
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf-home")))  # no cached hub files to find
    mp.setenv("PRICER_CACHE", str(tmp_path_factory.mktemp("pricer-cache")))
    mp.setenv("PRICER_PRELOAD", "0")
    import app

    demo = app.build_app()
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()
    mp.undo()


@pytest.fixture
def newcomer(browser, newcomer_url):
    context = browser.new_context()
    page = context.new_page()
    page.goto(newcomer_url)
    page.get_by_role("tab", name="Predict").click()
    page.locator("#predict-button").wait_for(timeout=60_000)
    yield page
    context.close()


# --- in Chromium -------------------------------------------------------------------------------


@pytest.mark.browser
def test_a_first_run_offline_offers_built_in_examples_that_price(newcomer):
    from ui.examples import EXAMPLES

    expect(newcomer.locator("#predict-examples-note")).to_contain_text("HF_HUB_OFFLINE")
    newcomer.get_by_text(EXAMPLES[1].title[:30]).first.click()
    expect(newcomer.locator("#predict-text textarea")).to_have_value(EXAMPLES[1].text)
    newcomer.locator("#predict-button").click()
    shown = predict_answered(newcomer)
    assert f"Priced: {EXAMPLES[1].title}" in shown and "True price" not in shown  # no truth is made up
    expect(newcomer.locator("#predict-result tr[data-pricer]")).to_have_count(1)
    expect(newcomer.locator("#predict-result tr[data-pricer=cpu] td.price")).to_have_text(re.compile(r"^\$[\d,]+\.\d\d$"))


@pytest.mark.browser
def test_no_llama_panels_where_no_llama_can_run_and_every_reason_at_once(newcomer):
    for panel in ("#predict-chart", "#predict-prompt", "#predict-status"):
        expect(newcomer.locator(panel)).to_be_hidden()
    expect(newcomer.get_by_text("How the Llama answers")).to_be_hidden()
    expect(newcomer.get_by_text("not loaded yet")).to_have_count(0)
    newcomer.locator("#predict-text textarea").fill("Garlic press\nCrushes garlic, dishwasher safe.")
    newcomer.locator("#predict-button").click()
    predict_answered(newcomer)
    fine_tuned = newcomer.locator("#predict-result .unavailable li", has_text="(fine-tuned)").inner_text()
    assert "HF_TOKEN missing" in fine_tuned and "no CUDA GPU" in fine_tuned  # both, not one at a time
    rag = newcomer.locator("#predict-result .unavailable li", has_text="(rag)").inner_text()
    assert "OPENAI_API_KEY is not set" in rag and "no RAG index" in rag


@pytest.mark.browser
def test_a_refused_click_clears_the_last_products_price(newcomer):
    newcomer.locator("#predict-text textarea").fill("Garlic press\nCrushes garlic, dishwasher safe.")
    newcomer.locator("#predict-button").click()
    assert "Priced: Garlic press" in predict_answered(newcomer)
    newcomer.locator("#predict-text textarea").fill("   ")
    newcomer.locator("#predict-button").click()
    expect(newcomer.locator("#predict-output")).to_contain_text(
        "Nothing priced: Paste a product's title and description first", timeout=30_000)
    expect(newcomer.locator("#predict-output")).not_to_contain_text("Garlic press")
    expect(newcomer.locator("#predict-output table.answers")).to_have_count(0)
    expect(newcomer.locator("#predict-button")).to_be_enabled()


@pytest.mark.browser
def test_a_long_paste_says_what_was_read(newcomer):
    long = "Garden Hose Reel Cart\n" + " ".join(["Heavy duty steel hose reel cart with wheels, holds 200 feet."] * 450)
    assert len(long) > 27_000
    newcomer.locator("#predict-text textarea").fill(long)
    newcomer.locator("#predict-button").click()
    predict_answered(newcomer)
    note = newcomer.locator("#predict-result .read-note").inner_text()
    assert "first 160 tokens" in note and f"of the {len(long):,} characters pasted" in note


@pytest.mark.browser
def test_on_a_phone_every_figure_of_an_answer_is_on_screen_and_the_box_on_the_first_screen(browser, newcomer_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone = context.new_page()
    try:
        phone.goto(newcomer_url)
        phone.get_by_role("tab", name="Predict").click()
        box = phone.locator("#predict-text textarea")
        box.wait_for(timeout=60_000)
        top = box.bounding_box()
        assert top and top["y"] + 80 < 844  # the input box starts on the first screen
        fill_opened(box, "Garlic press\nCrushes garlic, dishwasher safe.")
        phone.locator("#predict-button").click()
        predict_answered(phone)
        for label in ("price", "80% interval", "time", "off by"):
            cell = phone.locator(f'#predict-result tr[data-pricer=cpu] td[data-label="{label}"]')
            expect(cell).to_be_visible()
            seen = cell.bounding_box()
            assert seen and seen["x"] >= 0 and seen["x"] + seen["width"] <= 390 + 1, label  # no sideways scroll
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


# --- the handlers, asked directly ---------------------------------------------------------------


def test_the_built_in_examples_read_like_training_items_and_are_no_dataset_copies(llama, shared_data):
    import json

    from pricer.data.items import MAX_TOKENS, MIN_CHARS, MIN_TOKENS
    from ui.examples import EXAMPLES

    titles = set()
    for name in ("test-250.jsonl", "train-550.jsonl"):
        path = shared_data / name
        if path.exists():
            titles |= {json.loads(line).get("title") for line in path.read_text().splitlines() if line.strip()}
    assert len(EXAMPLES) >= 4
    for example in EXAMPLES:
        assert MIN_CHARS < len(example.description) and MIN_TOKENS < len(llama(example.text)["input_ids"]), example.title
        assert example.title not in titles
        assert len(llama(example.text)["input_ids"]) < 2 * MAX_TOKENS  # nothing much is cut


def test_the_reading_note_says_what_a_long_paste_lost_and_nothing_for_a_short_one():
    from ui.predict_tab import reading_note

    assert reading_note("Garlic press\nCrushes garlic, dishwasher safe.") == ""
    long = "Hose reel\n" + "word " * 6_000
    assert "about" in reading_note(long) and "30,009 characters pasted" in reading_note(long)


def test_a_llama_that_cannot_run_gives_every_reason_at_once(monkeypatch, tmp_path):
    from pricer.pricers.llama.model import ModelSpec
    from pricer.pricers.llama.preflight import llama_unavailable

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("PRICER_ALLOW_CPU", raising=False)
    reason = llama_unavailable(ModelSpec(GATED, None))
    assert reason.startswith("HF_TOKEN missing") and "; and no CUDA GPU" in reason
    # a folder that is not there: its one reason (no size to judge a GPU by)
    assert llama_unavailable(ModelSpec("./no/such/model", None)) == "no such base model folder: ./no/such/model"


def test_the_frontier_pricer_names_the_key_and_the_cost_before_the_data_fails(monkeypatch, test_250: Path):
    from pricer import evaluation
    from pricer.errors import BadInput

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BadInput) as unreadable:
        next(evaluation.evaluate("ed-donner/pricer-data", "frontier"))
    message = str(unreadable.value)
    assert message.startswith("The frontier pricer cannot run here: OPENAI_API_KEY is not set.")
    assert "The test data cannot be read either" in message and "HF_HUB_OFFLINE" in message
    with pytest.raises(BadInput) as readable:
        next(evaluation.evaluate(str(test_250), "frontier", size=10))
    assert re.search(r"Once it can, this run will cost 10 requests to \S+: .*~\$\d", str(readable.value))


def test_a_paste_of_megabytes_is_refused_with_what_to_paste():
    from pricer.errors import BadInput
    from ui.predict_tab import check_text

    with pytest.raises(BadInput, match=r"This text is 5,000,001 characters: paste at most 100,000"):
        check_text("T\n" + "x" * 4_999_999)
    assert check_text("Hose reel\n" + "word " * 5_480) .startswith("Hose reel")  # 27,400 characters: read
