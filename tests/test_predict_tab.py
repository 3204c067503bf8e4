"""The Predict tab and its `/price` and `/predict` endpoints, on the running app with the tiny 4-bit
model (base + LoRA adapter, offline) and the CPU pricer: its handlers, through gradio_client, and
in real Chromium."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from conftest import fill_opened, predict_answered
from playwright.sync_api import expect

from pricer.data.items import PREFIX, QUESTION
from pricer.pricers.estimates import extract_price as extract

PASTED = "Stainless Steel Garlic Press\nCrushes garlic cloves with ease, dishwasher safe, rust proof."


@pytest.fixture(scope="module")
def client(app_url: str):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="module")
def first_item(test_250: Path) -> dict:
    return json.loads(test_250.read_text().splitlines()[0])


# --- /price: any pricer by name, several at once ------------------------------------------------


def test_price_endpoint_answers_each_named_pricer_with_numbers(client):
    out = client.predict(PASTED, ["cpu", "fine-tuned"], api_name="/price")
    assert [p["pricer"] for p in out["prices"]] == ["cpu", "fine-tuned"] and out["true_price"] is None
    cpu, tuned = out["prices"]
    assert set(cpu) == {"pricer", "label", "price", "low", "high", "seconds", "details"}
    assert cpu["low"] <= cpu["price"] <= cpu["high"] and cpu["seconds"] >= 0 and "CPU" in cpu["label"]
    assert "TEST MODEL" in tuned["label"] and tuned["details"]["prompt"] == f"{QUESTION}\n\n{PASTED}\n\n{PREFIX}"
    assert tuned["details"]["estimator"] == "topk"  # the Llama leads with the course's estimate
    one = client.predict(PASTED, "cpu", api_name="/price")["prices"]
    assert len(one) == 1 and one[0]["price"] == cpu["price"]  # the same model, the same price
    assert [p["pricer"] for p in client.predict(PASTED, "cpu, base", api_name="/price")["prices"]] == ["cpu", "base"]


def test_price_endpoint_defaults_to_the_default_pricer_and_knows_the_examples(client, first_item):
    from pricer import pricers

    out = client.predict(first_item["text"], api_name="/price")
    assert [p["pricer"] for p in out["prices"]] == [pricers.default_name()]
    assert out["true_price"] == pytest.approx(374.41)


@pytest.mark.parametrize(("text", "names", "message"), [
    ("   ", "cpu", "Paste a product"),
    (None, "cpu", "Paste a product"),
    (PASTED, "gpt-5", "pricer must be one of fine-tuned, base, cpu"),
    (PASTED, "Fine-tuned Llama 3.1 8B (4-bit, QLoRA)", "pricer must be one of"),  # a label is not a name
    (PASTED, ["cpu", 3], "pricers must be a name or a list of names"),
    (PASTED, "frontier", "The frontier pricer cannot run here: OPENAI_API_KEY is not set"),
    (12, "cpu", "The product text must be text (a string), not int"),  # not priced as the text "12"
    ({"title": "Garlic press"}, "cpu", "The product text must be text (a string), not dict"),
])
def test_price_endpoint_mistakes_are_errors_that_say_what_to_do(client, text, names, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=re.escape(message)):
        client.predict(text, names, api_name="/price")


@pytest.mark.parametrize(("text", "message"), [
    (None, "Paste a product"), ("  \n", "Paste a product"),
    (12, "The product text must be text (a string), not int"),
    ("Garlic \ud800 press", "in the product text is not valid Unicode"),  # a client cannot send it as JSON UTF-8
])
def test_pasted_text_is_checked_before_any_pricer_with_what_to_paste(text, message):
    from pricer.errors import BadInput
    from ui.predict_tab import check_text

    with pytest.raises(BadInput, match=re.escape(message)):
        check_text(text)


# --- /predict: the Llama alone, with all its estimates -----------------------------------------


def test_predict_endpoint_returns_price_estimate_prompt_completion_and_top_tokens(client):
    out = client.predict(PASTED, "fine-tuned", api_name="/predict")
    assert {"greedy", "topk", "topk_numbers", "median", "prompt", "completion", "top_tokens", "note",
            "latency_s", "model"} <= set(out)
    assert out["prompt"] == f"{QUESTION}\n\n{PASTED}\n\n{PREFIX}"
    assert 1 <= out["topk_numbers"] <= 999 and 1 <= out["median"] <= 999
    assert len(out["top_tokens"]) == 10 and all(tok.isdigit() for tok, _ in out["top_tokens"])
    assert "short" in out["note"]
    assert out["true_price"] is None
    assert "adapter" in out["model"]


def test_predict_endpoint_gives_the_true_price_of_a_test_item(client, first_item):
    out = client.predict(first_item["text"], "fine-tuned", api_name="/predict")
    assert out["prompt"] == first_item["text"]
    assert out["true_price"] == pytest.approx(374.41)


def test_predict_endpoint_agrees_with_the_model_layer(client, tiny_model):
    from pricer.data.items import build_prompt
    from pricer.pricers.llama.model import ModelSpec, load_pricer

    out = client.predict(PASTED, "base", api_name="/predict")
    (pred,) = load_pricer(ModelSpec(str(tiny_model))).predict([build_prompt(PASTED)[0]])
    assert out["completion"] == pred.completion and out["greedy"] == pred.greedy
    assert out["topk_numbers"] == pytest.approx(pred.topk_numbers)
    assert "base" in out["model"]


def test_base_and_fine_tuned_answer_differently(client, first_item):
    tuned = client.predict(first_item["text"], "fine-tuned", api_name="/predict")
    base = client.predict(first_item["text"], "base", api_name="/predict")
    assert tuned["completion"] != base["completion"]


def test_predict_endpoint_explains_empty_text_and_an_unknown_model(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Paste a product"):
        client.predict("   ", "fine-tuned", api_name="/predict")
    with pytest.raises(AppError, match="'fine-tuned' or 'base'"):
        client.predict(PASTED, "gpt-4o", api_name="/predict")


def test_concurrent_requests_queue_instead_of_failing(client):
    jobs = [client.submit(f"{PASTED} {n}", "fine-tuned", api_name="/predict") for n in range(3)]
    results = [job.result(timeout=120) for job in jobs]
    assert [r["prompt"].count(PASTED) for r in results] == [1, 1, 1]


def test_a_model_that_cannot_load_gives_its_message_and_the_others_still_work(client, monkeypatch):
    from gradio_client.exceptions import AppError

    monkeypatch.setenv("PRICER_BASE_MODEL", "/no/such/model")  # the app reads settings per request
    with pytest.raises(AppError, match="No such file or folder: /no/such/model"):
        client.predict(PASTED, "fine-tuned", api_name="/predict")
    with pytest.raises(AppError, match="fine-tuned pricer cannot run here: no such base model folder"):
        client.predict(PASTED, "fine-tuned", api_name="/price")
    assert client.predict(PASTED, "cpu", api_name="/price")["prices"][0]["price"] > 0
    assert client.predict("Price is $99", api_name="/tokenize")["count"] == 5


# --- the handlers and the Desk ------------------------------------------------------------------


def test_the_default_pricer_comes_first_and_unavailable_ones_say_why(app_url, monkeypatch):
    from ui.predict_tab import lineup

    ready, unavailable = lineup()
    assert [p.name for p in ready] == ["fine-tuned", "base", "cpu"]  # the tiny model is the default here
    reasons = {p.name: why for p, why in unavailable}
    assert reasons["frontier"] == "OPENAI_API_KEY is not set" and "ensemble" in reasons
    assert [p.name for p in lineup(["cpu", "base"])[0]] == ["base", "cpu"]  # the chosen ones, in order
    monkeypatch.setenv("PRICER_ADAPTER", "none")  # no adapter: the CPU pricer becomes the default
    ready, unavailable = lineup()
    assert [p.name for p in ready] == ["cpu", "base"] and "fine-tuned" in {p.name for p, _ in unavailable}


def test_the_desk_checks_the_text_first_and_refuses_a_second_request_while_busy():
    from pricer.errors import BadInput
    from ui.predict_tab import Desk

    desk = Desk()
    with pytest.raises(BadInput, match="Paste a product"):
        desk.claim("  \n ", ["cpu"])
    assert not desk.busy  # nothing was taken: the next click is free
    with pytest.raises(BadInput, match="Tick at least one pricer"):
        desk.claim(PASTED, [])
    assert desk.claim(PASTED, ["cpu"]) == PASTED and desk.busy
    with pytest.raises(BadInput, match="Still pricing the text you sent before"):
        desk.claim("another product", ["cpu"])
    desk.release()
    desk.claim("another product", ["cpu"])


def test_answers_render_escaped_with_price_interval_time_and_how_far_off():
    from pricer.pricers import Estimate
    from ui.predict_tab import Answer, render_answers, render_details

    class Fake:
        name, label = "x", "<b>pending</b>"

    evil = '<img src=x onerror="alert(1)">'
    answers = [Answer("cpu", f"CPU {evil}", Estimate(120.0, 80.0, 190.5), 0.01),
               Answer("fine-tuned", "Llama", None, 2.0, error=f"failed: {evil}")]
    shown = render_answers(f"Lamp {evil}", answers, [Fake()], [(Fake(), f"no key {evil}")], truth=100.0)
    assert "<img" not in shown and "<b>pending" not in shown and "&lt;img" in shown
    assert "$120.00" in shown and "$80.00 – $190.50" in shown and "0.01 s" in shown and "$20.00" in shown
    assert "<b>cpu</b><br><small>CPU &lt;img" in shown  # the name, and the label in small print
    assert "True price (test data): <b>$100.00</b>" in shown and "pricing…" in shown and "Not available here (1)" in shown
    rag = Answer("rag", "RAG", Estimate(55.0, details={"retrieved": [{"title": evil, "price": 50.0, "similarity": 0.9}],
                                                      "reply": evil}), 1.0)
    details = render_details([rag])
    assert "similar item retrieved" in details and "$50.00" in details and "<img" not in details


def test_price_loads_the_chosen_model_once_then_prices_like_the_cli(tiny_settings, monkeypatch):
    from pricer.pricers.llama.model import ModelSpec
    from pricer.pricers.llama.pricer import LlamaPricer
    from ui.predict_tab import BASE, FINE_TUNED, price

    first = price(PASTED, FINE_TUNED)
    again = price(PASTED, FINE_TUNED)
    assert first.loading > 0 and again.loading == 0.0 and again.seconds > 0
    tuned = LlamaPricer(True, ModelSpec(str(tiny_settings), str(tiny_settings / "adapter")))
    [estimate] = tuned.price([PASTED], estimator="greedy")  # the CLI's road
    assert again.prediction.completion == estimate.details["completion"] and again.note == estimate.details["note"]
    assert again.truth is None and again.prediction.greedy == estimate.price
    ((base, _),), _ = LlamaPricer(False, ModelSpec(str(tiny_settings))).predict([PASTED])
    assert price(PASTED, BASE).prediction == base


def test_price_all_streams_a_row_per_pricer_then_the_details(tiny_settings):
    from ui.predict_tab import Desk, price_all

    desk = Desk()
    desk.claim(PASTED, ["cpu", "fine-tuned"])
    frames = list(price_all(desk, progress=None))
    assert len(frames) == 3 and not desk.busy  # before each pricer, then all answered; the desk is free
    assert frames[0][0].count("pricing…") == 2 and frames[1][0].count("pricing…") == 1
    result, details, chart, prompt, status = frames[-1]
    assert "pricing…" not in result and result.index("Fine-tuned") < result.index("CPU pricer")  # default first
    assert "Greedy answer" in details and len(chart.data[0].x) == 10
    assert prompt.value.endswith(PREFIX) and re.search(r"\(\d+ tokens, with <\|begin_of_text\|>\)", prompt.label)
    assert status.startswith("Model: ") and "device cpu" in status


def test_predict_api_answers_a_json_object_or_a_gradio_error(tiny_settings):
    import gradio as gr

    from ui.predict_tab import BASE, predict_api

    out = predict_api(PASTED, BASE)
    assert out["prompt"] == f"{QUESTION}\n\n{PASTED}\n\n{PREFIX}" and "base" in out["model"]
    assert out["greedy"] == extract(out["completion"]) and out["true_price"] is None and "short" in out["note"]
    assert out["low"] <= out["high"]  # the Llama's 80% interval
    with pytest.raises(gr.Error, match="'fine-tuned' or 'base', not 'gpt-4o'"):
        predict_api(PASTED, "gpt-4o")
    with pytest.raises(gr.Error, match="Paste a product"):
        predict_api("  ", BASE)


def test_the_true_price_of_an_example_is_looked_up(tiny_settings, first_item, test_250, monkeypatch):
    from ui.predict_tab import FINE_TUNED, predict_api, true_price

    monkeypatch.setenv("PRICER_DATASET", str(test_250))
    assert true_price(first_item["text"] + "\n", first_item["text"]) == pytest.approx(374.41)
    assert true_price(PASTED, PASTED) is None
    assert predict_api(first_item["text"], FINE_TUNED)["true_price"] == pytest.approx(374.41)


def test_the_status_timer_runs_until_the_llama_is_loaded(tiny_settings):
    from pricer.pricers.llama.model import ModelSpec, load_pricer
    from ui.predict_tab import show_status, tick

    status, timer = tick()
    assert "not loaded yet" in status and timer.active
    load_pricer(ModelSpec(str(tiny_settings), str(tiny_settings / "adapter")))
    status, timer = tick()
    assert "device cpu" in status and not timer.active and "device cpu" in show_status()


def test_preload_loads_the_model_in_the_background_at_start(tiny_model, tmp_path, monkeypatch):
    import gradio as gr

    from pricer.pricers.llama.model import ModelSpec, loaded, model_status
    from ui import predict_tab

    alias = tmp_path / "tiny-alias"  # another path to the same model: a spec nothing has loaded yet
    alias.symlink_to(tiny_model, target_is_directory=True)
    monkeypatch.setenv("PRICER_BASE_MODEL", str(alias))
    monkeypatch.setenv("PRICER_ADAPTER", "none")
    monkeypatch.setenv("PRICER_PRELOAD", "1")
    spec = ModelSpec(str(alias))
    assert not loaded(spec)
    with gr.Blocks():
        predict_tab.build()  # returns at once; the model loads in a thread
    for preload in [t for t in threading.enumerate() if t.name == "preload"]:
        preload.join(60)
    assert loaded(spec) and "device cpu" in model_status(spec)


def test_preload_records_a_failure_for_the_status_line():
    from pricer.pricers.llama.model import ModelSpec, model_status
    from ui.predict_tab import preload

    spec = ModelSpec("/no/such/preloaded-model")
    preload(spec)  # never raises: it runs in a background thread
    assert "failed" in model_status(spec) and "No such file or folder" in model_status(spec)


def test_zero_gpu_reserves_a_short_slot_once_the_model_is_loaded(tiny_settings):
    from pricer.gpu import ZERO_GPU_SECONDS
    from pricer.pricers.llama.model import ModelSpec, load_pricer
    from ui.predict_tab import PREDICT_GPU_SECONDS, gpu_seconds

    assert gpu_seconds() == ZERO_GPU_SECONDS  # the first call loads the model
    load_pricer(ModelSpec(str(tiny_settings), str(tiny_settings / "adapter")))
    assert gpu_seconds() == PREDICT_GPU_SECONDS < ZERO_GPU_SECONDS


@pytest.fixture
def tiny_settings(tiny_model, tmp_path, monkeypatch) -> Path:
    """The tab's settings on a path to the tiny model that nothing has loaded yet (+ its adapter)."""
    alias = tmp_path / "tiny-alias"
    alias.symlink_to(tiny_model, target_is_directory=True)
    monkeypatch.setenv("PRICER_BASE_MODEL", str(alias))
    monkeypatch.setenv("PRICER_ADAPTER", str(alias / "adapter"))
    monkeypatch.setenv("PRICER_ADAPTER_REVISION", "none")
    monkeypatch.setenv("PRICER_PRELOAD", "0")
    return alias


# --- in Chromium -----------------------------------------------------------------------------


def _open_predict(page):
    page.get_by_role("tab", name="Predict").click()
    page.locator("#predict-button").wait_for()


@pytest.mark.browser
def test_an_example_is_priced_side_by_side_with_the_cpu_pricer(page, test_250):
    _open_predict(page)
    page.get_by_text("$374.41 · OEM AC Compressor").click()
    expect(page.locator("#predict-text textarea")).to_have_value(re.compile("^" + re.escape(QUESTION)))
    page.locator("#predict-button").click()
    shown = predict_answered(page)
    assert "True price (test data): $374.41" in shown and "Priced: OEM AC Compressor" in shown
    rows = page.locator("#predict-result tr[data-pricer]")
    expect(rows).to_have_count(3)
    assert [rows.nth(i).get_attribute("data-pricer") for i in range(3)] == ["fine-tuned", "base", "cpu"]
    cpu = rows.nth(2).inner_text()
    assert "CPU pricer" in cpu and re.search(r"\$[\d,]+\.\d\d – \$[\d,]+\.\d\d", cpu) and re.search(r"\d\.\d\d s", cpu)
    expect(page.locator("#predict-result .unavailable li").first).to_be_visible()  # listed, not folded away
    expect(page.locator("#predict-result .unavailable")).to_contain_text("OPENAI_API_KEY is not set")
    page.locator("#predict-chart .js-plotly-plot").wait_for(timeout=30_000)
    expect(page.locator("#predict-prompt")).to_contain_text("tokens, with <|begin_of_text|>")
    expect(page.locator("#predict-prompt textarea")).to_have_value(re.compile(re.escape(PREFIX) + "$"))
    expect(page.locator("#predict-status")).to_contain_text("TEST MODEL")
    expect(page.locator("#predict-button")).to_be_enabled()


@pytest.mark.browser
def test_only_the_ticked_pricers_answer(page):
    _open_predict(page)
    for box in ("Fine-tuned Llama", "Base Llama"):
        page.locator("#predict-pricers label", has_text=box).click()
    fill_opened(page.locator("#predict-text textarea"), PASTED)
    page.locator("#predict-button").click()
    predict_answered(page)
    expect(page.locator("#predict-result tr[data-pricer]")).to_have_count(1)
    expect(page.locator("#predict-result tr[data-pricer]")).to_have_attribute("data-pricer", "cpu")


@pytest.mark.browser
def test_pasted_markup_is_shown_as_text_never_run(page):
    _open_predict(page)
    hostile = '<img src=x onerror="alert(1)"> Lamp\n<script>alert(2)</script> a lamp with a shade'
    fill_opened(page.locator("#predict-text textarea"), hostile)
    page.locator("#predict-button").click()
    shown = predict_answered(page)
    assert '<img src=x onerror="alert(1)"> Lamp' in shown  # the title, as text
    expect(page.locator("#predict-prompt textarea")).to_have_value(re.compile("<img"))
    assert page.locator("#predict-output img, #predict-details img").count() == 0
    # the page fixture fails the test if any alert() opened


@pytest.mark.browser
def test_empty_text_is_refused_at_once_and_the_page_keeps_working(page):
    from pricer.pricers.llama.model import ModelSpec, loaded, model_status

    _open_predict(page)
    page.locator("#predict-button").click()
    page.get_by_text("Paste a product's title and description first").first.wait_for(timeout=30_000)
    expect(page.locator("#predict-button")).to_be_enabled()
    expect(page.locator("#predict-output")).to_contain_text("Nothing priced: Paste a product's")  # nothing ran
    fill_opened(page.locator("#predict-text textarea"), PASTED)
    page.locator("#predict-button").click()
    assert "CPU pricer" in predict_answered(page)
    assert loaded(ModelSpec.from_settings()) or "failed" not in model_status(ModelSpec.from_settings())


@pytest.mark.browser
def test_the_button_says_what_it_waits_for_and_a_second_request_is_refused_not_dropped(page, monkeypatch):
    from pricer.pricers.cpu.pricer import CpuPricer

    price, release, started = CpuPricer.price, threading.Event(), threading.Event()

    def held(self, texts, **kwargs):
        started.set()
        release.wait(60)
        return price(self, texts, **kwargs)

    monkeypatch.setattr(CpuPricer, "price", held)
    _open_predict(page)
    page.locator("#predict-pricers label", has_text="Fine-tuned Llama").click()
    page.locator("#predict-pricers label", has_text="Base Llama").click()  # the CPU pricer alone
    box = page.locator("#predict-text textarea")
    fill_opened(box, PASTED)
    page.locator("#predict-button").click()
    assert started.wait(60)
    button = page.locator("#predict-button")
    expect(button).to_be_disabled()
    expect(button).to_have_text("Pricing…")
    expect(page.locator("#predict-output")).to_contain_text("Stainless Steel Garlic Press")  # what it prices
    box.fill("A desk lamp\nWith a shade")
    box.press("Shift+Enter")  # a submit (of this many-line box) while the first request is under way
    page.get_by_text("Still pricing the text you sent before").first.wait_for(timeout=30_000)
    release.set()
    shown = predict_answered(page)
    assert "Priced: Stainless Steel Garlic Press" in shown  # the answers name the text they belong to
    expect(button).to_be_enabled()


@pytest.mark.browser
def test_a_llama_that_cannot_load_is_listed_with_its_reason_and_the_cpu_pricer_still_answers(page, monkeypatch):
    monkeypatch.setenv("PRICER_BASE_MODEL", "/no/such/model")
    _open_predict(page)
    fill_opened(page.locator("#predict-text textarea"), PASTED)
    page.locator("#predict-button").click()
    shown = predict_answered(page)
    assert "CPU pricer" in shown
    expect(page.locator("#predict-result .unavailable")).to_contain_text("no such base model folder: /no/such/model")


# --- issue 21 item 6: only GPU work waits for the GPU (this block is the queue split's) ----------


def _processing(job, seconds: float = 30) -> bool:
    """Whether `job` got into its handler (past the queue) within `seconds`."""
    import time

    from gradio_client.utils import Status

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if job.status().code == Status.PROCESSING:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def gpu_held():
    """GPU_LOCK held by another thread (another visitor's Llama request) until the test ends."""
    from pricer.gpu import GPU_LOCK

    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with GPU_LOCK:
            held.set()
            release.wait(120)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(30)
    yield release
    release.set()
    holder.join(30)


def test_a_cpu_price_answers_while_a_llama_request_waits_for_the_gpu(app_url, gpu_held):
    from gradio_client import Client

    llama = Client(app_url, verbose=False).submit(f"{PASTED} (gpu)", "fine-tuned", api_name="/price")
    assert _processing(llama)  # in its handler, waiting for the GPU
    cpu = Client(app_url, verbose=False).submit(PASTED, "cpu", api_name="/price").result(timeout=30)
    assert cpu["prices"][0]["pricer"] == "cpu" and not llama.done()  # before: queued behind it, one at a time
    gpu_held.set()
    assert llama.result(timeout=120)["prices"][0]["pricer"] == "fine-tuned"


def test_a_chat_model_that_never_answers_stalls_no_one_and_ends_within_the_web_deadline(app_url, monkeypatch,
                                                                                         tmp_path):
    import time

    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from openai_stand_in import Reply, chat_reply, openai_online

    from pricer.pricers.chat import client as chat_client

    monkeypatch.setattr(chat_client, "WEB_DEADLINE", 2.0)  # 45 s on the Space
    with openai_online(monkeypatch, tmp_path / "cache") as server:
        server.script = lambda r: Reply(body=chat_reply("45"), delay=60)  # an upstream that does not answer
        started = time.monotonic()
        hanging = Client(app_url, verbose=False).submit(f"{PASTED} (hangs)", "frontier", api_name="/price")
        assert _processing(hanging)
        cpu = Client(app_url, verbose=False).submit(PASTED, "cpu", api_name="/price").result(timeout=30)
        assert cpu["prices"][0]["pricer"] == "cpu"
        with pytest.raises(AppError, match=r"did not answer within 2 s"):
            hanging.result(timeout=60)
        assert time.monotonic() - started < 2.0 + chat_client.GRACE + 8  # 5 tries x 30 s before
        assert len(server.chats()) == 1


def test_a_price_queue_full_of_chat_requests_to_a_hanging_server_still_prices_on_the_cpu(app_url, monkeypatch,
                                                                                        tmp_path):
    """As many frontier requests as the price queue runs at once, to an upstream that never
    answers: WEB_CALLS of them wait for it, the rest are refused as busy at once, and a CPU price
    sent after them all is answered while the first ones still wait (before, it waited for them)."""
    import time

    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from openai_stand_in import Reply, chat_reply, openai_online

    from pricer.pricers.chat import client as chat_client
    from ui import PRICE_CONCURRENCY

    monkeypatch.setattr(chat_client, "WEB_DEADLINE", 12.0)
    monkeypatch.setattr(chat_client, "WEB_WAIT", 0.5)
    with openai_online(monkeypatch, tmp_path / "cache") as server:
        server.script = lambda r: Reply(body=chat_reply("45"), delay=60)
        hanging = [Client(app_url, verbose=False).submit(f"{PASTED} (hangs {i})", "frontier", api_name="/price")
                   for i in range(PRICE_CONCURRENCY)]
        end = time.monotonic() + 30
        while len(server.chats()) < chat_client.WEB_CALLS and time.monotonic() < end:
            time.sleep(0.05)
        cpu = Client(app_url, verbose=False).submit(PASTED, "cpu", api_name="/price").result(timeout=15)
        assert cpu["prices"][0]["pricer"] == "cpu"
        end = time.monotonic() + 10  # the refused ones' answers reach their clients
        while sum(job.done() for job in hanging) < PRICE_CONCURRENCY - chat_client.WEB_CALLS and time.monotonic() < end:
            time.sleep(0.05)
        waiting = [job for job in hanging if not job.done()]
        assert len(waiting) == chat_client.WEB_CALLS  # the others were refused, the first still wait
        for job in hanging:
            if job.done():
                with pytest.raises(AppError, match="The chat model is busy"):
                    job.result(timeout=1)
        assert len(server.chats()) == chat_client.WEB_CALLS  # a refused request sent nothing
        for job in waiting:  # each ends at its deadline and gives its place back (the tests after this need them)
            with pytest.raises(AppError, match="did not answer within 12 s"):
                job.result(timeout=60)


def test_a_visitor_waiting_for_the_gpu_is_told_so(tiny_settings, gpu_held):
    import time

    from ui.predict_tab import WAITING, Desk, price_all

    desk = Desk()
    desk.claim(PASTED, ["fine-tuned"])
    shown: list[tuple] = []
    runner = threading.Thread(target=lambda: [shown.append(out) for out in price_all(desk, progress=None)],
                              daemon=True)
    runner.start()
    end = time.monotonic() + 60
    while not shown and time.monotonic() < end:
        time.sleep(0.05)
    runner.join(1)
    assert shown and runner.is_alive()  # its first rows are out; its Llama waits for the GPU
    assert WAITING in shown[0][4]  # the status line says why nothing moves
    gpu_held.set()
    runner.join(120)
    assert WAITING not in shown[-1][4] and "Fine-tuned Llama" in shown[-1][0]
