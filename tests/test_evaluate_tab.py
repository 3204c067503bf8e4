"""The Evaluate tab and its /evaluate endpoint, on the tiny 4-bit model, the CPU pricer and the
course's 250 items: its handlers and the Board they keep, the leaderboard, through gradio_client,
and in real Chromium."""

from __future__ import annotations

import csv
import json
import os
import re
import threading
from pathlib import Path

import pytest
from conftest import fill_opened
from playwright.sync_api import expect

from pricer.errors import BadInput
from pricer.evaluation import Run
from pricer.metrics import Outcome
from ui.evaluate_tab import SCORE_FILE

FINE_TUNED, BASE, CPU = "fine-tuned", "base", "cpu"

METRICS = r"Error=\$[\d,]+\.\d\d RMSLE=[\d,]+\.\d\d Hits=\d+\.\d%"


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def _rows(path: str | Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


# --- the /evaluate endpoint ----------------------------------------------------------------


def test_a_run_streams_its_metrics_as_numbers_and_ends_with_the_csv_as_a_file(client, test_250):
    # 12 items in batches of 8: the metrics after 8 items, then the complete run with its CSV
    job = client.submit(pricer=CPU, data=str(test_250), size=12, api_name="/evaluate")
    metrics, path = job.result(timeout=240)
    first = job.outputs()[0]
    assert first[0]["items"] == 8 and not first[0]["done"] and first[1] is None
    assert metrics["items"] == metrics["total"] == 12 and metrics["done"]
    assert {"error", "rmsle", "hits", "mse", "r2", "coverage", "seconds", "id"} <= set(metrics)
    assert isinstance(metrics["error"], float) and 0 <= metrics["hits"] <= 1 and 0 <= metrics["coverage"] <= 1
    assert metrics["pricer"] == CPU and metrics["estimator"] is None and metrics["data"] == "test-250.jsonl"
    rows = _rows(path)  # downloaded by the client
    assert [int(r["index"]) for r in rows] == list(range(12))
    assert float(rows[0]["truth"]) == 374.41 and all(float(r["low"]) <= float(r["high"]) for r in rows)
    assert sum(float(r["error"]) for r in rows) / 12 == pytest.approx(metrics["error"])
    assert "test-250" in Path(path).name and "12items" in Path(path).name  # the CSV names its data


def test_the_llama_runs_with_its_estimator_and_the_default_pricer_needs_no_name(client, test_250):
    metrics, _ = client.predict(pricer=FINE_TUNED, data=str(test_250), size=3, estimator="topk-numbers",
                                api_name="/evaluate")
    assert metrics["estimator"] == "topk-numbers" and "TEST MODEL" in metrics["label"]
    metrics, _ = client.predict(data=str(test_250), size=2, api_name="/evaluate")
    assert metrics["pricer"] == FINE_TUNED and metrics["estimator"] == "greedy"  # the default and its first


def test_the_file_inputs_are_optional_and_every_input_is_named(client):
    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/evaluate"]["parameters"]
    assert [p["parameter_name"] for p in params] == ["pricer", "data", "data_file", "guesses_file", "size",
                                                    "estimator"]
    assert all(p["parameter_has_default"] for p in params)
    returns = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/evaluate"]["returns"]
    assert [r["label"] for r in returns] == ["metrics", "csv"]


def test_a_repeated_run_returns_from_the_cache(client, test_250):
    args = {"pricer": CPU, "data": str(test_250), "size": 3}
    client.predict(**args, api_name="/evaluate")
    assert client.predict(**args, api_name="/evaluate")[0]["cached"] is True


def test_scoring_an_uploaded_guesses_file_through_the_endpoint(client, test_250, tmp_path):
    from gradio_client import handle_file

    guesses = tmp_path / "guesses.csv"
    guesses.write_text("index,guess\n" + "".join(f"{i},100\n" for i in range(5)))
    metrics, path = client.predict(pricer=SCORE_FILE, data=str(test_250), guesses_file=handle_file(str(guesses)),
                                   size=5, api_name="/evaluate")
    truths = [json.loads(line)["price"] for line in test_250.read_text().splitlines()[:5]]
    assert metrics["error"] == pytest.approx(sum(abs(100 - t) for t in truths) / 5)
    assert [float(r["guess"]) for r in _rows(path)] == [100.0] * 5


def test_mistakes_are_errors_that_say_what_to_do(client, test_250, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Upload a guesses file"):
        client.predict(pricer=SCORE_FILE, data=str(test_250), size=5, api_name="/evaluate")
    short = tmp_path / "short.csv"
    short.write_text("index,guess\n0,1\n1,2\n")
    with pytest.raises(AppError, match="no guess for 3 of the first 5.*set the size to 2"):
        client.predict(pricer=SCORE_FILE, data=str(test_250), guesses_file=handle_file(str(short)), size=5,
                       api_name="/evaluate")
    with pytest.raises(AppError, match="pricer must be one of fine-tuned, base, cpu"):
        client.predict(pricer="Fine-tuned Llama 3.1 8B (4-bit, QLoRA)", data=str(test_250), api_name="/evaluate")
    for size in (0, 251):
        with pytest.raises(AppError, match=f"size must be a whole number from 1 to 250, not {size!r}"):
            client.predict(pricer=CPU, data=str(test_250), size=size, api_name="/evaluate")
    with pytest.raises(AppError, match="size must be a whole number from 1 to 250, not '12 items'"):
        client.predict(pricer=CPU, data=str(test_250), size="12 items", api_name="/evaluate")
    for literal in ("NaN", "1e309", "Infinity"):  # JSON a client may send (gradio_client refuses to): the check says
        stream = raw_call(client, "evaluate", f'["cpu", {json.dumps(str(test_250))}, null, null, {literal}, null]')
        assert "event: error" in stream and "size must be a whole number from 1 to 250" in stream, literal
    with pytest.raises(AppError, match="The cpu pricer has no estimators"):
        client.predict(pricer=CPU, data=str(test_250), size=2, estimator="topk", api_name="/evaluate")
    with pytest.raises(AppError, match="estimator must be one of greedy, topk, topk-numbers"):
        client.predict(pricer=BASE, data=str(test_250), size=2, estimator="median", api_name="/evaluate")
    with pytest.raises(AppError, match=r"The frontier pricer cannot run here: OPENAI_API_KEY is not set\. "
                                       r"Pricers that can: fine-tuned, base, cpu\."):
        client.predict(pricer="frontier", data=str(test_250), size=2, api_name="/evaluate")


def raw_call(client, name: str, data: str) -> str:
    """POST `data` (a JSON list, as text: NaN and Infinity included) to /name, and the event stream it answers."""
    import urllib.request

    base = client.src.rstrip("/")
    request = urllib.request.Request(f"{base}/gradio_api/call/{name}", data=f'{{"data": {data}}}'.encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        event = json.loads(answer.read())["event_id"]
    with urllib.request.urlopen(f"{base}/gradio_api/call/{name}/{event}", timeout=60) as answer:
        return answer.read().decode()


def test_the_size_is_one_rule_for_the_page_and_the_api():
    from ui.evaluate_tab import _size

    assert (_size(None), _size(250), _size(1), _size(7.0), _size("12")) == (250, 250, 1, 7, 12)
    for size in (0, 251, 2.5, "two", float("inf"), float("nan"), [3]):
        with pytest.raises(BadInput, match=r"^size must be a whole number from 1 to 250, not "):
            _size(size)


def test_an_unreachable_hub_dataset_offers_the_upload(client):
    from gradio_client.exceptions import AppError

    # HF_HUB_OFFLINE is set for the tests, as on a machine without network
    with pytest.raises(AppError, match="HF_HUB_OFFLINE"):
        client.predict(pricer=CPU, data="ed-donner/pricer-data", size=5, api_name="/evaluate")


def test_an_uploaded_items_file_replaces_the_dataset(client, tmp_path):
    from gradio_client import handle_file

    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"text": f"How much does this cost to the nearest dollar?\n\nThing {i}"
                                                 f"\nA thing.\n\nPrice is $", "price": 10.0 + i}) + "\n"
                             for i in range(3)))
    metrics, path = client.predict(pricer=CPU, data="ed-donner/pricer-data", data_file=handle_file(str(items)),
                                   size=250, api_name="/evaluate")
    assert metrics["items"] == 3 and "3 usable test items, fewer than the 250 asked for" in metrics["note"]
    assert metrics["data"] == "items.jsonl"
    assert sorted(r["title"] for r in _rows(path)) == ["Thing 0", "Thing 1", "Thing 2"]


def test_results_files_share_one_bounded_folder():
    from ui import downloads

    paths = [downloads.new_file(f"f{n}.csv", lambda p: p.write_text("x")) for n in range(downloads.KEEP + 3)]
    folder = downloads.folder()
    assert {p.parent.parent for p in paths} == {folder} and folder.name.startswith("pricer-evaluation-")
    assert len(list(folder.iterdir())) == downloads.KEEP  # the oldest went
    assert not paths[0].exists() and paths[-1].read_text() == "x"


def test_the_download_folder_goes_when_the_process_ends():
    import subprocess
    import sys

    code = ("from ui import downloads; p = downloads.new_file('r.csv', lambda p: p.write_text('x')); "
            "print(p.parent.parent)")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert folder.name.startswith("pricer-evaluation-") and not folder.exists()


# --- the handlers and the Board ------------------------------------------------------------


def _run(n: int, total: int, label: str = "mine") -> Run:
    return Run(label, total, [Outcome(i, f"item {i}", 100.0, 90.0 + i) for i in range(n)], seconds=1.0)


def test_a_stopped_run_says_so_keeps_its_items_and_writes_them_as_csv():
    from ui.evaluate_tab import Board

    board = Board()
    board.claim()
    board.start("test-250.jsonl")
    board.show(_run(64, 250))
    assert board.csv is None and "64/250 items running" in board.status() and "on test-250.jsonl" in board.status()
    board.stop = True
    board.end()  # what the run does when it sees Stop after a batch
    assert board.stopped and not board.running
    assert "**stopped** at 64/250 items" in board.status() and "cover the 64 priced" in board.status()
    assert len(_rows(board.csv)) == 64 and Path(board.csv).name.endswith("test-250.jsonl-64of250.csv")


def test_a_second_run_from_the_same_page_is_refused_while_one_runs():
    from pricer.errors import BadInput
    from ui.evaluate_tab import Board

    board = Board()
    board.claim()
    with pytest.raises(BadInput, match="already under way.*Press Stop"):
        board.claim()
    board.end()
    board.claim()  # free again once it has ended


def test_an_error_clears_the_last_run_but_not_the_overlaid_one():
    from ui.evaluate_tab import Board, view

    board = Board(compare=_run(3, 3, "other"))
    board.claim()
    board.start("a.jsonl")
    board.show(_run(3, 3))
    board.end()
    assert board.csv and view(board, False)[0] is not None
    board.claim()
    board.start("b.jsonl")
    assert board.shown is None and board.csv is None  # nothing stale shown while it runs
    board.fail()
    fig, _, table, download, button = view(board, False)
    assert fig is None and table.data.empty and download.visible is False and button.interactive
    assert board.compare is not None


def test_stop_ends_the_real_run_after_the_batch_under_way(tiny_model, test_250, monkeypatch):
    from ui.evaluate_tab import Board, evaluate_ui, request_stop

    monkeypatch.setenv("PRICER_BASE_MODEL", str(tiny_model))
    monkeypatch.setenv("PRICER_ADAPTER", "none")
    monkeypatch.setenv("PRICER_DATASET", str(test_250))  # a file the web app may read, whichever test ran first
    board = Board()
    board.claim()
    frames = evaluate_ui(board, BASE, "topk", 250, str(test_250), None, None, False,
                         progress=lambda *a, **k: None)
    next(frames)  # cleared, loading
    first = next(frames)  # 8 items
    assert "8/250 items running" in first[1] and first[3].visible is False  # no download while it runs
    assert request_stop(board).startswith("Stopping")
    *_, last = frames  # the batch under way, then the end
    assert "**stopped** at 16/250 items" in last[1] and last[3].visible is True
    assert len(_rows(board.csv)) == 16 and Path(board.csv).name in str(last[3].value) and last[4].interactive
    from pricer.evaluation import leaderboard

    [row] = board.visits.rows  # the stopped run, shown on the chart: this page's, and no one else's
    assert row.id == last[7].value and row.partial and (row.size, row.total) == (16, 250)
    assert row.id not in {r.id for r in leaderboard.runs()}


def test_redraw_switches_to_log_axes_without_running_anything():
    from ui.evaluate_tab import Board, redraw

    board = Board(shown=_run(3, 3))
    assert redraw(board, True).layout.xaxis.type == "log"
    assert redraw(board, False).layout.xaxis.type in (None, "linear", "-")
    assert redraw(Board(), True) == {"__type__": "update"}  # nothing shown: nothing to redraw


def _visitors(board, run: Run) -> Run:
    """`run` as the web app makes it (an id, nothing shared), ended on `board`'s page."""
    from pricer.evaluation import leaderboard

    run.id = leaderboard.record(run, visitor=True).id
    board.claim()
    board.start("test-250.jsonl")
    board.show(run)
    board.end()
    return run


def test_any_two_runs_of_the_leaderboard_go_on_the_chart_and_clear_takes_two_presses(monkeypatch, tmp_path):
    from pricer.evaluation import leaderboard
    from ui.evaluate_tab import (
        OWN,
        PUBLISHED,
        SHARED_RUN,
        Board,
        clear_runs,
        leaderboard_rows,
        overlay_run,
        run_choices,
        show_run,
    )

    monkeypatch.setenv("PRICER_CACHE", str(tmp_path))
    first = leaderboard.record(_run(3, 3, "first"))
    second = leaderboard.record(_run(2, 3, "second"))  # a stopped run
    board = Board()
    mine = _visitors(board, _run(3, 3, "mine"))
    assert [value for _, value in run_choices(leaderboard.runs(), board.visits)] == [mine.id, second.id, first.id]
    kinds = {row[4]: row[5] for row in leaderboard_rows(leaderboard.runs(), board.visits)}
    assert kinds["first"] == SHARED_RUN and kinds["second"] == f"{SHARED_RUN}, stopped: partial"
    assert kinds["mine"] == OWN
    assert list(kinds.values()).count(PUBLISHED) == len(leaderboard.PUBLISHED)
    fig, status, table, download, _ = show_run(board, first.id, False)
    assert "From the leaderboard" in status and len(table.data) == 3 and download.visible
    fig = overlay_run(board, mine.id, False)  # one of the page's own runs, beside a shared one
    assert {t.legendgrouptitle.text for t in fig.data if t.mode == "markers"} == {"first", "mine"}
    assert overlay_run(board, None, False).layout.title.text.count("<br>") == 1  # back to one run
    button = clear_runs(board)[0]
    assert "Press again to clear your 1 run" in button.value and len(board.visits.rows) == 1
    clear_runs(board)
    assert board.visits.rows == [] and len(leaderboard.runs()) == 2  # the shared board is the operator's to clear
    assert len(leaderboard_rows(leaderboard.runs(), board.visits)) == len(leaderboard.PUBLISHED) + 2


def test_two_visitors_see_only_their_own_runs_marked_as_theirs_until_one_shares(test_250, tmp_path, monkeypatch):
    from pricer.evaluation import leaderboard
    from ui.evaluate_tab import OWN, SHARED_RUN, VISITORS, Board, evaluate_ui, refresh, share_run, show_run

    monkeypatch.setenv("PRICER_CACHE", str(tmp_path / "cache"))
    upload = tmp_path / "cache" / "my-secret-items.jsonl"  # inside the cache: a file the web app may read
    upload.parent.mkdir()
    upload.write_text("".join(test_250.read_text(encoding="utf-8").splitlines(keepends=True)[:6]), encoding="utf-8")
    leaderboard.record(_run(3, 3, "the operator's run"))
    alice, bob = Board(), Board()  # two sessions: gradio gives each page its own copy of the State
    alice.claim()
    *_, last = evaluate_ui(alice, CPU, None, 6, "", str(upload), None, False, progress=lambda *a, **k: None)
    [mine] = alice.visits.rows
    assert last[7].value == mine.id and leaderboard.runs()[-1].label == "the operator's run"

    def seen(board: Board) -> tuple[dict[str, str], str, set[str]]:
        table, shown, _ = refresh(board)
        frame = table.data
        assert not any(os.path.isabs(d) for d in frame["data"])  # never a path in the data column
        return dict(zip(frame["pricer"], frame["kind"], strict=True)), frame.to_csv(), {v for _, v in shown.choices}

    kinds, text, ids = seen(alice)
    assert kinds[mine.label] == OWN and kinds["the operator's run"] == SHARED_RUN and mine.id in ids
    assert "upload: my-secret-items.jsonl" in text  # the uploader sees the name of their file
    kinds, text, ids = seen(bob)
    assert mine.label not in kinds and "my-secret-items" not in text and mine.id not in ids
    assert kinds["the operator's run"] == SHARED_RUN
    assert show_run(bob, mine.id, False) == (gr_skip(),) * 5 and bob.shown is None  # an id alone gives nothing
    assert share_run(bob) == (gr_skip(),) * 3 and len(leaderboard.runs()) == 1  # nothing of Bob's to share
    share_run(alice)  # Alice asks: now everyone sees it, without the file's name
    kinds, text, ids = seen(bob)
    assert kinds[mine.label] == VISITORS and mine.id in ids and "my-secret-items" not in text
    assert "an uploaded file" in text
    kinds, text, _ = seen(alice)
    assert kinds[mine.label] == f"{OWN}, shared" and text.count(mine.id) == 1  # listed once, as hers


def gr_skip() -> dict:
    import gradio as gr

    return gr.skip()


def test_a_refresh_reads_the_leaderboard_once_for_the_table_and_the_pickers(monkeypatch, tmp_path):
    from pricer.evaluation import leaderboard
    from ui.evaluate_tab import Board, refresh

    monkeypatch.setenv("PRICER_CACHE", str(tmp_path))
    made = leaderboard.record(_run(3, 3, "made"))
    reads = []
    real = leaderboard._read
    monkeypatch.setattr(leaderboard, "_read", lambda: reads.append(1) or real())
    table, shown, compare = refresh(Board())
    assert len(reads) == 1
    assert "made" in table.data["pricer"].tolist() and made.id in {v for _, v in shown.choices}


def test_the_pricers_offered_are_those_that_can_run_the_default_first(app_url, monkeypatch):
    from ui.evaluate_tab import estimator_choices, pricer_choices, show_pricer_options

    choices, unavailable = pricer_choices()
    assert [name for _, name in choices] == [FINE_TUNED, BASE, CPU, SCORE_FILE]
    assert all("TEST MODEL" in label for label, name in choices if name in (FINE_TUNED, BASE))
    assert {p.name: why for p, why in unavailable}["frontier"] == "OPENAI_API_KEY is not set"
    assert [name for _, name in estimator_choices(BASE)] == ["greedy", "topk", "topk-numbers"]
    assert estimator_choices(CPU) == [] and show_pricer_options(CPU)[0].visible is False
    monkeypatch.setenv("PRICER_ADAPTER", "none")
    assert pricer_choices()[0][0][1] == CPU  # without the fine-tuned Llama, the CPU pricer is the default


def test_the_test_model_warning_follows_the_settings(tiny_model, monkeypatch):
    from ui.evaluate_tab import test_model

    monkeypatch.setenv("PRICER_BASE_MODEL", str(tiny_model))
    assert test_model()
    monkeypatch.setenv("PRICER_BASE_MODEL", "meta-llama/Meta-Llama-3.1-8B")
    assert not test_model()


def test_an_offline_machine_is_told_at_once_that_the_hub_dataset_needs_an_upload(test_250):
    from ui.evaluate_tab import offline_note

    assert "upload the test items" in offline_note("ed-donner/pricer-data")  # HF_HUB_OFFLINE in tests
    assert offline_note(str(test_250)) == ""


def test_the_tabs_estimates_are_the_estimator_table_greedy_first():
    from pricer.pricers.estimates import ESTIMATORS
    from ui.evaluate_tab import ESTIMATE_CHOICES

    assert [value for _, value in ESTIMATE_CHOICES] == [e.name for e in ESTIMATORS] == ["greedy", "topk", "topk-numbers"]
    course = next(label for label, value in ESTIMATE_CHOICES if value == "topk")
    assert "(course)" in course and "$46.66" in course  # the choice that reproduces the course's figure


def test_the_table_lists_worst_misses_first_when_asked_and_matches_its_headers():
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
    from ui.evaluate_tab import CHART_HEIGHT, Board, chart

    fig = chart(Board(shown=Run("t", 2, [Outcome(0, "a", 5.0, 5.0)])), False)
    assert fig.layout.height == CHART_HEIGHT > 0  # gradio draws an autosized figure at zero height in a hidden tab


# --- in Chromium ------------------------------------------------------------------------------


def _ended(n: int) -> re.Pattern:
    """The status line of an ended run of n items (the progress overlay inside the same box shows
    "n/n items" a moment before the run's last update lands)."""
    return re.compile(rf"{n}/{n} items (done|from the cache)")


def _open(page, size: int | None = None):
    page.get_by_role("tab", name="Evaluate").click()
    if size is not None:
        box = page.get_by_label("Test items (the first N)").first
        fill_opened(box, str(size))
        box.press("Enter")


@pytest.mark.browser
def test_in_chromium_a_cpu_run_fills_plot_table_download_and_leaderboard_and_overlays_another(page, browser, app_url,
                                                                                             test_250):
    from pricer.evaluation import leaderboard

    leaderboard.record(_run(10, 10, "an earlier run"))  # the app runs in this process, on this cache
    _open(page, 10)
    page.locator("#evaluate-pricer label", has_text="CPU pricer").click()
    expect(page.locator("#evaluate-estimator")).to_be_hidden()  # the CPU pricer has no estimates to choose
    page.locator("#evaluate-run").click()
    points = page.locator("#evaluate-plot .js-plotly-plot .scatterlayer .point")
    points.first.wait_for(timeout=180_000)
    expect(page.locator("#evaluate-status")).to_contain_text(_ended(10), timeout=180_000)
    status = page.locator("#evaluate-status")
    expect(status).to_contain_text("CPU pricer")
    expect(status).to_contain_text("on test-250.jsonl")
    expect(status).to_contain_text(re.compile(METRICS))
    expect(status).to_contain_text("80% interval coverage")
    expect(points).to_have_count(10, timeout=60_000)  # Plotly redraws after the update lands: wait for it
    box = page.locator("#evaluate-plot .js-plotly-plot").first.bounding_box()
    assert box and box["height"] > 300
    expect(page.locator("#evaluate-table [role=row]")).to_have_count(11)  # the header and 10 items
    with page.expect_download() as download:
        page.locator("#evaluate-download").click()
    assert download.value.suggested_filename == "evaluation-cpu-test-250.jsonl-10items.csv"
    assert len(_rows(download.value.path())) == 10
    board = page.locator("#evaluate-leaderboard")
    expect(board).to_contain_text("published, not run here")
    expect(board).to_contain_text("week6/day4-results.ipynb")  # each course figure names its notebook
    expect(board).to_contain_text("your run")  # this page's run, marked as its own
    expect(board).to_contain_text("an earlier run")  # the operator's, shared
    expect(page.locator("#evaluate-show input")).to_have_value(re.compile("CPU pricer"))  # the run on the chart
    other = browser.new_context().new_page()  # another visitor, in a session of their own
    other.goto(app_url)
    _open(other)
    theirs = other.locator("#evaluate-leaderboard")
    expect(theirs).to_contain_text("an earlier run")
    expect(theirs).not_to_contain_text("your run")
    expect(theirs).not_to_contain_text("shared by a visitor")
    page.locator("#evaluate-share").click()  # shared when this visitor asks, and only then
    expect(page.locator(".toast-body", has_text="Shared with every visitor").first).to_be_visible(timeout=30_000)
    expect(board).to_contain_text("your run, shared")
    other.reload()
    _open(other)
    expect(theirs).to_contain_text("shared by a visitor", timeout=30_000)
    other.context.close()
    page.locator("#evaluate-overlay input").click()
    page.get_by_role("option", name=re.compile("an earlier run")).click()
    title = page.locator("#evaluate-plot .gtitle")
    expect(title).to_contain_text("an earlier run")  # both runs on the chart, each titled
    expect(title).to_contain_text("CPU pricer")
    page.get_by_label("Log scale").check()
    expect(page.locator("#evaluate-plot .xaxislayer-above")).to_contain_text("100")  # log ticks: 10, 100, ...


@pytest.mark.browser
def test_in_chromium_stop_keeps_the_partial_run_its_csv_and_a_second_visitor_is_told_it_queues(
        page, browser, app_url, monkeypatch, test_250):
    # The tiny model prices 250 items quickly, so the second batch is held until Stop has been
    # pressed: Stop always lands mid-run, whatever the machine's speed, and no sleep decides anything.
    from pricer.pricers.llama.model import LoadedModel

    predict = LoadedModel.predict
    release = threading.Event()
    batches: list[int] = []

    def held(self, prompts, *args, **kwargs):
        batches.append(len(prompts))
        if len(batches) == 2:
            release.wait(120)
        return predict(self, prompts, *args, **kwargs)

    monkeypatch.setattr(LoadedModel, "predict", held)
    _open(page)
    page.get_by_label("top-3 number tokens", exact=False).check()  # not run before in this session: no cache
    page.locator("#evaluate-run").click()
    page.get_by_text("8/250 items running").first.wait_for(timeout=120_000)
    run = page.locator("#evaluate-run")
    expect(run).to_be_disabled()
    expect(run).to_have_text("Running… (Stop ends it)")  # pressing Run again: the button says why not
    expect(page.locator("#evaluate-download")).to_be_hidden()  # never the previous run's CSV

    other = browser.new_context().new_page()  # a second visitor: told that their run waits its turn
    other.goto(app_url)
    _open(other, 4)
    other.locator("#evaluate-run").click()
    expect(other.locator("#evaluate-status")).to_contain_text("Queued: another evaluation is running")

    page.locator("#evaluate-stop").click()
    page.get_by_text("Stopping after the batch under way").first.wait_for(timeout=30_000)
    release.set()
    status = page.locator("#evaluate-status")
    expect(status).to_contain_text("stopped at 16/250 items", timeout=120_000)
    expect(status).to_contain_text("on test-250.jsonl")
    expect(run).to_be_enabled()
    with page.expect_download() as download:
        page.locator("#evaluate-download").click()
    assert "16of250" in download.value.suggested_filename
    assert [int(r["index"]) for r in _rows(download.value.path())] == list(range(16))
    assert batches[:2] == [8, 8]
    expect(other.locator("#evaluate-status")).to_contain_text(_ended(4), timeout=180_000)  # then it ran
    assert len(batches) == 3  # Stop priced nothing after the batch under way; the other run one batch
    other.context.close()


@pytest.mark.browser
def test_in_chromium_an_error_clears_the_last_run_and_injected_html_stays_text(page, test_250):
    _open(page, 3)
    page.locator("#evaluate-run").click()
    expect(page.locator("#evaluate-status")).to_contain_text(_ended(3), timeout=180_000)
    expect(page.locator("#evaluate-download")).to_be_visible(timeout=60_000)  # a loaded CI machine
    page.get_by_role("button", name="Test data").click()
    # a name the web app reads as a hub id, so the message repeats it (a path-shaped one, e.g. with a
    # style="...:..." or a second "/", is refused without being repeated)
    hostile = '<a id="injected" href="evil.example">You won a prize</a>'
    field = page.locator("#evaluate-data textarea, #evaluate-data input").first
    fill_opened(field, hostile)
    page.locator("#evaluate-run").click()
    expect(page.locator("#evaluate-status")).to_contain_text("Could not run", timeout=60_000)
    expect(page.locator("#evaluate-status")).to_contain_text('<a id="injected"')  # shown as text
    toast = page.locator(".toast-body", has_text="You won a prize").first
    toast.wait_for(timeout=30_000)
    assert '<a id="injected"' in toast.inner_text()  # the pop-up shows the markup as text
    assert page.locator("a#injected").count() == 0  # neither the pop-up nor the status made a link
    expect(page.locator("#evaluate-download")).to_be_hidden()  # nothing of the last run stays
    expect(page.locator("#evaluate-plot .js-plotly-plot")).to_have_count(0)
    expect(page.locator("#evaluate-table [role=row]")).to_have_count(1)  # the header only


@pytest.mark.browser
def test_in_chromium_the_test_model_is_named_beside_the_pricers(page):
    _open(page)
    expect(page.locator("#evaluate-test-model")).to_contain_text("TEST model")
    expect(page.locator("#evaluate-pricer")).to_contain_text("TEST MODEL")


def test_the_pricers_that_cannot_run_are_one_folded_line_each_reason_listed_and_escaped():
    from ui import unavailable_list

    class Rag:
        name, label = "rag", "RAG <b>pricer</b>"

    shown = unavailable_list([(Rag(), "OPENAI_API_KEY is not set; and no RAG index built: run "
                                      "`python -m pricer rag-index --data <x>`")], opened=False)
    assert shown.startswith('<details class="unavailable"><summary>Not available here (1): rag</summary>')
    assert "<li><b>RAG &lt;b&gt;pricer&lt;/b&gt;</b> (rag): OPENAI_API_KEY is not set; and no RAG index built: run " \
           "<code>python -m pricer rag-index --data &lt;x&gt;</code></li>" in shown
    assert unavailable_list([], opened=False) == ""
    assert unavailable_list([(Rag(), "x")], opened=True).startswith('<details class="unavailable" open>')
