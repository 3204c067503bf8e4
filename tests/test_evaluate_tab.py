"""The Evaluate tab and its /evaluate endpoint, on the tiny 4-bit model and the course's 250 items:
through gradio_client, and in real Chromium."""

from __future__ import annotations

import csv
import json
import re

import pytest
from playwright.sync_api import expect

from ui.evaluate_tab import BASE, FINE_TUNED, SCORE_FILE

METRICS = r"Error=\$[\d,]+\.\d\d RMSLE=[\d,]+\.\d\d Hits=\d+\.\d%"


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_a_run_on_the_tiny_model_streams_and_ends_with_metrics_table_and_csv(client, test_250):
    # 12 items in batches of 8: one snapshot after 8 items, then the complete run
    job = client.submit(FINE_TUNED, "greedy", 12, str(test_250), None, None, False, api_name="/evaluate")
    final = job.result(timeout=240)
    snapshots = job.outputs()
    assert len(snapshots) >= 2
    plot, status, table, download = final
    assert "12/12 items" in status
    assert re.search(METRICS, status)
    assert len(table["data"]) == 12
    errors = [row[4] for row in table["data"]]
    assert errors == sorted(errors, reverse=True)  # worst misses first
    assert json.loads(plot["plot"])["layout"]["height"] > 0
    path = download["value"] if isinstance(download, dict) else download  # an update that shows the button
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["index"]) for r in rows] == list(range(12))
    assert float(rows[0]["truth"]) == 374.41


def test_a_repeated_run_returns_from_the_cache(client, test_250):
    args = (BASE, "topk", 3, str(test_250), None, None, False)
    client.predict(*args, api_name="/evaluate")
    status = client.predict(*args, api_name="/evaluate")[1]
    assert "from the cache" in status


def test_scoring_an_uploaded_guesses_file_through_the_endpoint(client, test_250, tmp_path):
    from gradio_client import handle_file

    guesses = tmp_path / "guesses.csv"
    guesses.write_text("index,guess\n" + "".join(f"{i},100\n" for i in range(5)))
    _, status, table, _ = client.predict(SCORE_FILE, "greedy", 5, str(test_250), None, handle_file(str(guesses)),
                                         False, api_name="/evaluate")
    truths = [json.loads(line)["price"] for line in test_250.read_text().splitlines()[:5]]
    assert f"Error=${sum(abs(100 - t) for t in truths) / 5:,.2f}" in status
    assert sorted(row[3] for row in table["data"]) == [100.0] * 5


def test_mistakes_show_as_a_status_line_not_a_crash(client, test_250, tmp_path):
    status = client.predict(SCORE_FILE, "greedy", 5, str(test_250), None, None, False, api_name="/evaluate")[1]
    assert "Upload a guesses file" in status
    from gradio_client import handle_file

    short = tmp_path / "short.csv"
    short.write_text("index,guess\n0,1\n1,2\n")
    status = client.predict(SCORE_FILE, "greedy", 5, str(test_250), None, handle_file(str(short)), False,
                            api_name="/evaluate")[1]
    assert "no guess for 3 of the first 5" in status and "set the size to 2" in status


def test_an_unreachable_hub_dataset_offers_the_upload(client):
    # HF_HUB_OFFLINE is set for the tests, as on a machine without network
    status = client.predict(BASE, "greedy", 5, "ed-donner/pricer-data", None, None, False,
                            api_name="/evaluate")[1]
    assert "HF_HUB_OFFLINE" in status and "upload the test items" in status.lower()


def test_an_uploaded_items_file_replaces_the_dataset(client, tmp_path):
    from gradio_client import handle_file

    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"text": f"How much does this cost to the nearest dollar?\n\nThing {i}"
                                                 f"\nA thing.\n\nPrice is $", "price": 10.0 + i}) + "\n"
                             for i in range(3)))
    _, status, table, _ = client.predict(BASE, "greedy", 250, "ed-donner/pricer-data", handle_file(str(items)),
                                         None, False, api_name="/evaluate")
    assert "3/3 items" in status and "3 usable test items, fewer than the 250 asked for" in status
    assert sorted(row[1] for row in table["data"]) == ["Thing 0", "Thing 1", "Thing 2"]


@pytest.mark.browser
def test_in_chromium_the_plot_appears_and_the_table_fills(page, test_250):
    page.get_by_role("tab", name="Evaluate").click()
    size = page.get_by_label("Test items (the first N)").first
    size.fill("10")
    size.press("Enter")
    page.get_by_role("button", name="Run", exact=True).click()
    points = page.locator("#evaluate-plot .js-plotly-plot .scatterlayer .point")
    points.first.wait_for(timeout=180_000)
    page.get_by_text("10/10 items").first.wait_for(timeout=180_000)
    expect(points).to_have_count(10)  # Plotly redraws after the update lands: wait for it
    box = page.locator("#evaluate-plot .js-plotly-plot").first.bounding_box()
    assert box and box["height"] > 300
    expect(page.locator("#evaluate-table [role=row]")).to_have_count(11)  # the header and 10 items
    expect(page.get_by_role("button", name="Download results (CSV)")).to_be_visible()


def test_overlay_draws_the_previous_run_beside_this_one(client, test_250):
    client.predict(BASE, "greedy", 4, str(test_250), None, None, False, api_name="/evaluate")
    plot = client.predict(FINE_TUNED, "greedy", 4, str(test_250), None, None, True, api_name="/evaluate")[0]
    figure = json.loads(plot["plot"])
    title = figure["layout"]["title"]["text"].split("<br>")
    assert len(title) == 2 and "adapter" in title[0] and "base" in title[1]
    symbols = {t["marker"]["symbol"] for t in figure["data"] if t["mode"] == "markers"}
    assert symbols == {"circle", "x"}


@pytest.mark.browser
def test_in_chromium_stop_ends_a_long_run(page, monkeypatch, test_250):
    # The tiny model prices 250 items in seconds, so the second batch is held until the server
    # has received Stop (gradio's cancel, spied on in this process): Stop always lands mid-run,
    # whatever the machine's speed, and no sleep decides anything.
    import threading

    import gradio.routes

    from pricer import evaluation
    from pricer.model import Pricer

    predict, stream, cancel = Pricer.predict, evaluation.evaluate_model, gradio.routes.cancel_tasks
    cancelled, closed = threading.Event(), threading.Event()
    batches: list[int] = []

    def held(self, prompts, *args, **kwargs):
        batches.append(len(prompts))
        if len(batches) > 1:
            cancelled.wait(60)
        return predict(self, prompts, *args, **kwargs)

    def watched(*args, **kwargs):
        try:
            yield from stream(*args, **kwargs)
        finally:
            closed.set()  # the run's generator was closed: it will price nothing more

    async def spy(task_ids):
        cancelled.set()  # set in the same event-loop step as gradio's task.cancel()
        return await cancel(task_ids)

    monkeypatch.setattr(Pricer, "predict", held)
    monkeypatch.setattr(evaluation, "evaluate_model", watched)
    monkeypatch.setattr(gradio.routes, "cancel_tasks", spy)
    page.get_by_role("tab", name="Evaluate").click()
    page.get_by_label("top-3 number tokens", exact=False).check()  # not run before in this session: no cache
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("8/250 items running").first.wait_for(timeout=120_000)
    page.get_by_role("button", name="Stop", exact=True).click()
    assert closed.wait(60), "the run went on after Stop"
    assert batches == [8, 8]  # the batch under way when Stop came, and no other
    status = page.locator("#evaluate-status")
    expect(status.get_by_test_id("markdown-wrapper")).not_to_have_class(re.compile("pending"))
    assert "8/250 items running" in status.inner_text()


def test_an_offline_machine_is_told_at_once_that_the_hub_dataset_needs_an_upload(test_250):
    from ui.evaluate_tab import offline_note

    assert "upload the test items" in offline_note("ed-donner/pricer-data")  # HF_HUB_OFFLINE in tests
    assert offline_note(str(test_250)) == ""


def test_the_tabs_estimates_are_the_estimator_table_greedy_first():
    from pricer.estimates import ESTIMATORS
    from ui.evaluate_tab import ESTIMATE_CHOICES

    assert [value for _, value in ESTIMATE_CHOICES] == [e.name for e in ESTIMATORS] == ["greedy", "topk", "topk-numbers"]
    course = next(label for label, value in ESTIMATE_CHOICES if value == "topk")
    assert "(course)" in course and "$46.66" in course  # the choice that reproduces the course's figure


def test_the_table_lists_worst_misses_first_when_asked_and_matches_its_headers():
    from pricer.evaluation import Run
    from pricer.metrics import Outcome
    from ui.evaluate_tab import TABLE_HEADERS, table_rows

    done = Run("t", 3, [Outcome(0, "a", 5.0, 5.0), Outcome(1, "b", 100.0, 0.0, parsed=False),
                        Outcome(2, "c", 40.0, 60.0)])
    assert [row[0] for row in table_rows(done)] == [0, 1, 2]
    rows = table_rows(done, worst_first=True)
    assert [row[0] for row in rows] == [1, 2, 0]
    assert dict(zip(TABLE_HEADERS, rows[0], strict=True)) == {
        "#": 1, "title": "b", "truth": 100.0, "guess": 0.0, "error": 100.0, "colour": "red",
        "note": "no number: scored as $0"}


def test_the_tabs_chart_has_an_explicit_height():
    from pricer.evaluation import Run
    from pricer.metrics import Outcome
    from ui.evaluate_tab import CHART_HEIGHT, _view

    fig = _view(Run("t", 2, [Outcome(0, "a", 5.0, 5.0)]), None, False)[0]
    assert fig.layout.height == CHART_HEIGHT > 0  # gradio draws an autosized figure at zero height in a hidden tab

