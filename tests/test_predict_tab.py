"""The Predict tab and its `/predict` endpoint, on the running app with the tiny 4-bit model
(base + LoRA adapter, offline): through gradio_client and in real Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from pricer.estimates import extract_price as extract
from pricer.items import PREFIX, QUESTION

PASTED = "Stainless Steel Garlic Press\nCrushes garlic cloves with ease, dishwasher safe, rust proof."


@pytest.fixture(scope="module")
def client(app_url: str):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="module")
def first_item(test_250: Path) -> dict:
    return json.loads(test_250.read_text().splitlines()[0])


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
    from pricer.model import ModelSpec, build_prompt, load_pricer

    out = client.predict(PASTED, "base", api_name="/predict")
    (pred,) = load_pricer(ModelSpec(str(tiny_model))).predict([build_prompt(PASTED)[0]])
    assert out["completion"] == pred.completion and out["greedy"] == pred.greedy
    assert out["topk_numbers"] == pytest.approx(pred.topk_numbers)
    assert "base" in out["model"]


def test_base_and_fine_tuned_answer_differently(client, first_item):
    tuned = client.predict(first_item["text"], "fine-tuned", api_name="/predict")
    base = client.predict(first_item["text"], "base", api_name="/predict")
    assert tuned["completion"] != base["completion"]


def test_predict_endpoint_explains_empty_text(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Paste a product"):
        client.predict("   ", "fine-tuned", api_name="/predict")


def test_predict_endpoint_rejects_an_unknown_model_choice(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="'fine-tuned' or 'base'"):
        client.predict(PASTED, "gpt-4o", api_name="/predict")


def test_concurrent_requests_queue_instead_of_failing(client):
    jobs = [client.submit(f"{PASTED} {n}", "fine-tuned", api_name="/predict") for n in range(3)]
    results = [job.result(timeout=120) for job in jobs]
    assert [r["prompt"].count(PASTED) for r in results] == [1, 1, 1]


# --- in Chromium -----------------------------------------------------------------------------


def _open_predict(page):
    page.get_by_role("tab", name="Predict").click()
    page.locator("#predict-button").wait_for()


@pytest.mark.browser
def test_an_example_shows_estimate_true_price_chart_prompt_and_status(page, test_250):
    _open_predict(page)
    page.get_by_text("$374.41 · OEM AC Compressor").click()
    expect(page.locator("#predict-text textarea")).to_have_value(re.compile("^" + re.escape(QUESTION)))
    page.locator("#predict-button").click()
    result = page.locator("#predict-result")
    result.wait_for(timeout=60_000)
    assert "the course's top-3 weighted estimate" in result.inner_text()
    assert "$374.41" in result.inner_text() and "Greedy answer" in result.inner_text()
    page.locator("#predict-chart .js-plotly-plot").wait_for(timeout=30_000)
    expect(page.locator("#predict-prompt")).to_contain_text("tokens, with <|begin_of_text|>")
    expect(page.locator("#predict-prompt textarea")).to_have_value(re.compile(re.escape(PREFIX) + "$"))
    expect(page.locator("#predict-status")).to_contain_text("device cpu")
    expect(page.locator("#predict-status")).to_contain_text("TEST MODEL")


@pytest.mark.browser
def test_pasted_markup_is_shown_as_text_never_run(page):
    _open_predict(page)
    hostile = '<img src=x onerror="alert(1)"> Lamp\n<script>alert(2)</script> a lamp with a shade'
    page.locator("#predict-text textarea").fill(hostile)
    page.locator("#predict-button").click()
    page.locator("#predict-result").wait_for(timeout=60_000)
    expect(page.locator("#predict-prompt textarea")).to_have_value(re.compile("<img"))
    assert page.locator("#predict-output img").count() == 0
    # the page fixture fails the test if any alert() opened


@pytest.mark.browser
def test_empty_text_warns_and_keeps_the_page_working(page):
    _open_predict(page)
    page.locator("#predict-button").click()
    page.get_by_text("Paste a product's title and description first").first.wait_for(timeout=30_000)
    page.locator("#predict-text textarea").fill(PASTED)
    page.locator("#predict-button").click()
    page.locator("#predict-result").wait_for(timeout=60_000)


def test_the_result_leads_with_the_courses_estimate_and_says_when_it_found_no_number():
    from pricer.model import Prediction
    from ui.predict_tab import render_result

    pred = Prediction("p", "<b>42</b>", greedy=42.0, topk=47.25, topk_numbers=51.5, median=50.0)
    shown = render_result(pred, "a <i>note</i>", 50.0, 0.1, 0.0)
    assert shown.index("$47.25") < shown.index("$51.50")  # the course's estimate is the big number
    assert "off by $2.75" in shown
    assert "&lt;b&gt;42&lt;/b&gt;" in shown and "&lt;i&gt;note" in shown and "<b>" not in shown
    nothing = render_result(Prediction("p", "$", greedy=None, topk=0.0, topk_numbers=30.0, median=30.0),
                            "", None, 0.1, 0.0)
    assert "none of the 3 most likely tokens is a number" in nothing and "$0.00" not in nothing


def test_a_model_that_cannot_load_gives_its_message_and_the_tokenizer_still_works(client, monkeypatch):
    from gradio_client.exceptions import AppError

    monkeypatch.setenv("PRICER_BASE_MODEL", "/no/such/model")  # the app reads settings per request
    with pytest.raises(AppError, match="No such file or folder: /no/such/model"):
        client.predict(PASTED, "fine-tuned", api_name="/predict")
    tokens = client.predict("Price is $99", api_name="/tokenize")
    assert tokens and "99" in json.dumps(tokens)


@pytest.mark.browser
def test_a_model_error_shows_in_the_status_line_not_a_crash(page, monkeypatch):
    monkeypatch.setenv("PRICER_BASE_MODEL", "/no/such/model")
    _open_predict(page)
    page.locator("#predict-text textarea").fill(PASTED)
    page.locator("#predict-button").click()
    page.get_by_text("No such file or folder: /no/such/model").first.wait_for(timeout=30_000)
    expect(page.locator("#predict-status")).to_contain_text("failed")


def test_preload_loads_the_model_in_the_background_at_start(tiny_model, tmp_path, monkeypatch):
    import threading

    import gradio as gr

    from pricer.model import ModelSpec, loaded, model_status
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


def test_zero_gpu_reserves_a_short_slot_once_the_model_is_loaded(tiny_model, tmp_path, monkeypatch):
    from pricer.gpu import ZERO_GPU_SECONDS
    from pricer.model import ModelSpec, load_pricer
    from ui.predict_tab import BASE, PREDICT_GPU_SECONDS, gpu_seconds

    alias = tmp_path / "tiny-alias"  # a spec nothing has loaded yet
    alias.symlink_to(tiny_model, target_is_directory=True)
    monkeypatch.setenv("PRICER_BASE_MODEL", str(alias))
    assert gpu_seconds(PASTED, BASE) == ZERO_GPU_SECONDS  # the first call loads the model
    load_pricer(ModelSpec(str(alias)))
    assert gpu_seconds(PASTED, BASE) == PREDICT_GPU_SECONDS < ZERO_GPU_SECONDS



# --- the handlers, called as the app calls them ------------------------------------------------


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


def test_price_loads_the_chosen_model_once_then_prices_like_the_cli(tiny_settings, monkeypatch):
    from pricer.model import ModelSpec, predict_texts
    from ui.predict_tab import BASE, FINE_TUNED, price

    first = price(PASTED, FINE_TUNED)
    again = price(PASTED, FINE_TUNED)
    assert first.loading > 0 and again.loading == 0.0 and again.seconds > 0
    ((pred, note),) = predict_texts([PASTED], ModelSpec(str(tiny_settings), str(tiny_settings / "adapter")))
    assert again.prediction.completion == pred.completion and again.note == note and again.truth is None
    ((base, _),) = predict_texts([PASTED], ModelSpec(str(tiny_settings)))
    assert price(PASTED, BASE).prediction == base


def test_predict_api_answers_a_json_object_or_a_gradio_error(tiny_settings):
    import gradio as gr

    from ui.predict_tab import BASE, predict_api

    out = predict_api(PASTED, BASE)
    assert out["prompt"] == f"{QUESTION}\n\n{PASTED}\n\n{PREFIX}" and "base" in out["model"]
    assert out["greedy"] == extract(out["completion"]) and out["true_price"] is None and "short" in out["note"]
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


def test_predict_ui_fills_result_chart_prompt_and_status(tiny_settings):
    from ui.predict_tab import FINE_TUNED, predict_ui

    result, chart, prompt, status = predict_ui(PASTED, FINE_TUNED, progress=None)
    assert result.startswith('<div id="predict-result">') and "Greedy answer" in result
    assert len(chart.data[0].x) == 10
    assert prompt.value.endswith(PREFIX) and re.search(r"\(\d+ tokens, with <\|begin_of_text\|>\)", prompt.label)
    assert status.startswith("Model: ") and "device cpu" in status and "adapter" in status


def test_predict_ui_turns_an_error_into_a_warning_and_a_status_line(tiny_settings, monkeypatch):
    import gradio as gr

    from ui.predict_tab import BASE, predict_ui

    with pytest.warns(UserWarning, match="Paste a product"):  # outside a request gr.Warning warns
        outputs = predict_ui("", BASE, progress=None)
    assert outputs[:3] == (gr.skip(),) * 3 and "device cpu" in outputs[3]  # the model loaded fine
    monkeypatch.setenv("PRICER_BASE_MODEL", "/no/such/model")
    with pytest.warns(UserWarning, match="No such file or folder: /no/such/model"):
        outputs = predict_ui(PASTED, BASE, progress=None)
    assert "failed" in outputs[3] and "No such file or folder" in outputs[3]


def test_the_status_timer_runs_until_the_default_model_is_loaded(tiny_settings):
    from pricer.model import ModelSpec, load_pricer
    from ui.predict_tab import BASE, FINE_TUNED, show_status, tick

    status, timer = tick(BASE)
    assert "not loaded yet" in status and timer.active
    load_pricer(ModelSpec(str(tiny_settings), str(tiny_settings / "adapter")))  # the default: fine-tuned
    status, timer = tick(BASE)
    assert "not loaded yet" in status and not timer.active  # BASE shown, the default is what it waits for
    assert "device cpu" in show_status(FINE_TUNED)


def test_preload_records_a_failure_for_the_status_line(monkeypatch):
    from pricer.model import ModelSpec, model_status
    from ui.predict_tab import preload

    spec = ModelSpec("/no/such/preloaded-model")
    preload(spec)  # never raises: it runs in a background thread
    assert "failed" in model_status(spec) and "No such file or folder" in model_status(spec)
