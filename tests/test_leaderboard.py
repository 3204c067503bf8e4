"""pricer.evaluation.leaderboard: every run recorded on disk (it survives a new process), stopped runs marked
partial, a cached replay recorded once, the cap, clearing, the course's published rows with every
figure and the notebook it came from, a web visitor's runs kept to their page and shared only when
they ask, no path in a data column, and the `leaderboard` verb."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pricer import evaluation
from pricer.cli import main
from pricer.data.datasets import TestItem
from pricer.errors import BadInput
from pricer.evaluation import leaderboard
from pricer.pricers import Estimate

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def cache(monkeypatch, tmp_path) -> Path:
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path / "cache"))
    yield tmp_path / "cache"
    for kept in (leaderboard._unsaved, leaderboard._memory_runs, leaderboard._notes, leaderboard._shared_at):
        kept.clear()  # this process's memory


def items_of(*truths: float) -> list[TestItem]:
    return [TestItem(i, f"How much does this cost to the nearest dollar?\n\nThing {i}\n\nPrice is $", t, f"Thing {i}")
            for i, t in enumerate(truths)]


def finished(label: str = "a run", guess: float = 10.0, n: int = 3, **fields) -> evaluation.Run:
    *_, done = evaluation.run(items_of(*[10.0] * n), lambda prompts: [Estimate(guess, 5.0, 20.0)] * len(prompts),
                              label=label)
    for name, value in fields.items():
        setattr(done, name, value)
    return done


def test_a_recorded_run_survives_a_new_process_with_its_outcomes(cache):
    run = finished("cpu pricer", 12.0, pricer="cpu", data="test.jsonl")
    row = leaderboard.record(run, key="k1")
    assert (row.label, row.pricer, row.size, row.total, row.error, row.hits, row.coverage, row.partial) == (
        "cpu pricer", "cpu", 3, 3, 2.0, 1.0, 1.0, False)
    probe = "from pricer.evaluation import leaderboard; import json; print(json.dumps([r.to_json() for r in leaderboard.runs()]))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "PRICER_CACHE": str(cache)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [row.to_json()]
    again = leaderboard.load_run(row.id)
    assert again.metrics == run.metrics and again.pricer == "cpu" and again.id == row.id
    assert [(o.low, o.high) for o in again.outcomes] == [(5.0, 20.0)] * 3


# Every figure of the course's 2024 notebooks, as their chart titles print it
# ("Gpt 4O Frontier Error=$75.92 RMSLE=0.75 Hits=58.0%"), and the notebook it came from
COURSE = [
    ("Random guess", 340.74, 1.72, 0.116, "week6/day3.ipynb"),
    ("Constant (the training average)", 145.51, 1.22, 0.168, "week6/day3.ipynb"),
    ("Linear regression on 4 features", 139.34, 1.17, 0.156, "week6/day3.ipynb"),
    ("Bag of words + linear regression", 113.60, 0.99, 0.248, "week6/day3.ipynb"),
    ("word2vec + linear regression", 115.47, 1.01, 0.276, "week6/day3.ipynb"),
    ("word2vec + SVR", 112.52, 0.93, 0.264, "week6/day3.ipynb"),
    ("Random forest on 400,000 items", 97.11, 0.88, 0.340, "week6/day3.ipynb"),
    ("Human", 126.55, 1.00, 0.320, "week6/day4-results.ipynb"),
    ("GPT-4o-mini", 79.58, 0.59, 0.520, "week6/day4-results.ipynb"),
    ("GPT-4o", 75.92, 0.75, 0.580, "week6/day4-results.ipynb"),
    ("Claude 3.5 Sonnet", 100.83, 0.60, 0.508, "week6/day4-results.ipynb"),
    ("Fine-tuned GPT-4o-mini", 91.45, 0.68, 0.440, "week6/day5-results.ipynb"),
    ("RAG with GPT-4o-mini", 55.55, 0.46, 0.668, "week8_wip/day2.3.ipynb"),
    ("Random forest on the RAG vectors", 100.94, 0.93, 0.308, "week8_wip/day2.4.ipynb"),
    ("Ensemble", 52.86, 0.50, 0.676, "week8_wip/day2.4.ipynb"),
]


@pytest.mark.parametrize("name, error, rmsle, hits, source", COURSE)
def test_each_published_row_carries_every_figure_its_notebook_printed(name, error, rmsle, hits, source):
    [row] = [r for r in leaderboard.PUBLISHED if r.label == f"{name}, course"]
    assert (row.error, row.rmsle, row.hits, row.source) == (error, rmsle, hits, source)
    assert row.published and (row.size, row.total) == (250, 250) and f"published, {source}" in row.line()


def test_the_course_published_figures_are_reference_rows_marked_published():
    published = [r for r in leaderboard.rows() if r.published]
    assert len(published) == len(leaderboard.PUBLISHED) == len(COURSE) + 2  # and the two Llama rows
    tuned = next(r for r in published if r.pricer == "fine-tuned")
    assert (tuned.error, tuned.hits, tuned.estimator) == (46.66, 0.708, "topk")
    for llama in (r for r in published if r.pricer in ("base", "fine-tuned")):  # run in Colab: said so
        assert llama.rmsle is None and llama.source.startswith("week7/") and "Colab" in llama.source
    assert all(r.id == "" and r.when == "" and r.source for r in published)
    assert leaderboard.rows(published=False) == []


def test_rows_are_best_first_and_clear_forgets_only_runs_made_here(cache):
    leaderboard.record(finished("worse", 90.0))
    good = leaderboard.record(finished("better", 11.0))
    listed = leaderboard.rows()
    assert listed[0].label == "better" and [r.error for r in listed] == sorted(r.error for r in listed)
    assert leaderboard.clear() == 2
    assert leaderboard.runs() == [] and len(leaderboard.rows()) == len(leaderboard.PUBLISHED)
    with pytest.raises(BadInput, match=f"No run {good.id} on the shared board"):
        leaderboard.load_run(good.id)
    assert not list((cache / "leaderboard-runs").glob("*.json"))


def test_only_the_newest_runs_are_kept(monkeypatch, cache):
    monkeypatch.setattr(leaderboard, "MAX_RUNS", 3)
    recorded = [leaderboard.record(finished(f"run {i}")) for i in range(5)]
    assert [r.label for r in leaderboard.runs()] == ["run 2", "run 3", "run 4"]
    assert sorted(p.stem for p in (cache / "leaderboard-runs").glob("*.json")) == sorted(r.id for r in recorded[2:])


class Steady:
    """A pricer of the interface that needs no model: $40, between $30 and $50."""

    name, label, estimators = "steady", "Steady $40", ()

    def available(self) -> str | None:
        return None

    def price(self, texts, *, estimator=None, progress=None):
        return [Estimate(40.0, 30.0, 50.0) for _ in texts]

    def cache_key(self, estimator):
        return "steady"


def test_a_stopped_evaluation_is_recorded_as_partial(test_250, cache):
    stream = evaluation.evaluate(test_250, Steady(), size=6, batch_size=2)
    first = next(stream)
    stream.close()  # what gradio's Stop does
    (row,) = leaderboard.runs()
    assert row.partial and (row.size, row.total) == (2, 6) and "partial 2/6" in row.line()
    assert leaderboard.load_run(row.id).metrics == first.metrics
    assert first.id == row.id  # the stopped run on screen knows its leaderboard row
    *_, done = evaluation.evaluate(test_250, Steady(), size=6, batch_size=2)
    assert [r.partial for r in leaderboard.runs()] == [True, False] and leaderboard.runs()[1].id == done.id


def test_an_unwritable_cache_keeps_the_rows_in_memory(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PRICER_CACHE", str(blocker / "cache"))
    row = leaderboard.record(finished("kept in memory"))
    assert leaderboard.runs()[-1] == row and leaderboard.load_run(row.id).label == "kept in memory"
    assert leaderboard.clear() >= 1


def board_of(n: int) -> list[dict]:
    """The stored rows of n recorded runs."""
    for i in range(n):
        leaderboard.record(finished(f"run {i}", 10.0 + i))
    return json.loads(leaderboard._board_file().read_text())["runs"]


def set_aside(cache: Path) -> list[Path]:
    return sorted(cache.glob("leaderboard-damaged-*.json"))


def test_one_malformed_row_among_32_is_set_aside_and_the_other_31_kept(cache):
    stored = board_of(32)
    bad = dict(stored[7], size="twelve")  # one row's field of the wrong type
    stored[7] = bad
    (cache / "leaderboard.json").write_text(json.dumps({"version": 1, "runs": stored}))
    listed = leaderboard.runs()
    assert [r.label for r in listed] == [f"run {i}" for i in range(32) if i != 7]
    note = leaderboard.take_notes()
    [aside] = set_aside(cache)
    assert f"1 damaged row of the leaderboard: set aside in {aside.name}" in note
    assert json.loads(aside.read_text())["runs"] == [bad]
    leaderboard.record(finished("the next run"))
    assert len(leaderboard.runs()) == 32  # 31 good + the new one: never fewer than were there
    assert leaderboard.take_notes() == ""  # said once


@pytest.mark.parametrize("content, why", [("{not json", "could not be read"),
                                          ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
                                          (json.dumps({"runs": "all"}), "no list of runs")])
def test_a_board_file_that_cannot_be_parsed_is_set_aside_whole_and_said(cache, content, why):
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "leaderboard.json").write_text(content)
    assert leaderboard.runs() == []
    note = leaderboard.take_notes()
    [aside] = set_aside(cache)
    assert why in note and aside.name in note
    assert aside.read_text() == content  # nothing lost
    leaderboard.record(finished())
    assert len(leaderboard.runs()) == 1


def test_damage_that_cannot_be_set_aside_is_never_written_over(cache, monkeypatch):
    stored = board_of(5)
    stored[2] = {"label": "half a row"}
    (cache / "leaderboard.json").write_text(json.dumps({"version": 1, "runs": stored}))
    before = (cache / "leaderboard.json").read_bytes()

    def no_room(content: str, why: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(leaderboard, "_set_aside", no_room)
    assert len(leaderboard.runs()) == 4  # the good rows are still shown
    row = leaderboard.record(finished("kept in memory"))
    assert (cache / "leaderboard.json").read_bytes() == before
    assert leaderboard.runs()[-1] == row
    note = leaderboard.take_notes()
    assert "could not be set aside (No space left on device)" in note and "could not be saved" in note


def test_an_evaluation_whose_run_cannot_be_saved_says_so(monkeypatch, tmp_path, test_250):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PRICER_CACHE", str(blocker / "cache"))
    *_, done = evaluation.evaluate(test_250, Steady(), size=4, batch_size=2)
    assert "could not be saved to the leaderboard" in done.note and "kept until this process ends" in done.note


@pytest.mark.parametrize("bad", ["../etc/passwd", "", "x" * 100, "a/b"])
def test_a_run_id_is_checked(bad):
    with pytest.raises(BadInput, match="not a run id"):
        leaderboard.load_run(bad)


def test_the_leaderboard_verb_lists_json_and_clears(capsys):
    leaderboard.record(finished("cpu run", 12.0, pricer="cpu"))
    assert main(["leaderboard", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows[0]["label"] == "cpu run" and rows[0]["published"] is False
    assert sum(r["published"] for r in rows) == len(leaderboard.PUBLISHED)
    assert main(["leaderboard"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["error", "RMSLE", "hits", "in"] and "cpu run" in out[1] and "$2.00" in out[1]
    assert main(["leaderboard", "--clear"]) == 0
    assert "cleared 1 runs" in capsys.readouterr().err
    assert leaderboard.runs() == []


def test_a_row_missing_a_field_the_row_needs_is_set_aside_not_a_crash(cache):
    stored = board_of(3)
    del stored[1]["error"]  # every field without a default is needed to make the row
    (cache / "leaderboard.json").write_text(json.dumps({"version": 1, "runs": stored}))
    assert [r.label for r in leaderboard.runs()] == ["run 0", "run 2"]
    assert "1 damaged row of the leaderboard" in leaderboard.take_notes()


# --- a web visitor's runs: theirs alone, shared only when they ask ------------------------------


def visitors_run(visits: leaderboard.Visits, label: str = "cpu pricer", guess: float = 12.0, *,
                 upload: bool = False, **fields) -> leaderboard.Row:
    """A run the web app made (record(visitor=True), as evaluate(web=True) does), kept by a page."""
    run = finished(label, guess, **{"pricer": "cpu", "data": "/tmp/gradio/4f2a/my-secret-items.jsonl", **fields})
    run.id = leaderboard.record(run, visitor=True).id
    return visits.keep(run, upload=upload)


def test_a_visitors_run_is_theirs_alone_and_another_visitor_never_sees_it(cache):
    alice, bob = leaderboard.Visits(), leaderboard.Visits()
    mine = visitors_run(alice, upload=True)
    assert mine.data == "upload: my-secret-items.jsonl"  # the uploader sees the name, no folder
    assert leaderboard.runs() == [] and not (cache / "leaderboard.json").exists()  # nothing shared
    assert mine in leaderboard.rows(mine=alice.rows)
    seen_by_bob = leaderboard.rows(mine=bob.rows)
    assert all(r.published for r in seen_by_bob) and "my-secret-items" not in json.dumps([r.to_json() for r in seen_by_bob])
    assert alice.load(mine.id).metrics == alice.runs[mine.id].metrics and bob.load(mine.id) is None
    with pytest.raises(BadInput, match="No run"):  # not on the shared board either
        leaderboard.load_run(mine.id)
    with pytest.raises(BadInput, match="Only a run of yours"):
        bob.publish(mine.id)  # a run id alone does not make it Bob's


def test_the_evaluation_from_the_web_keeps_the_run_off_the_shared_board(cache, test_250, monkeypatch):
    monkeypatch.setenv("PRICER_DATASET", str(test_250))  # a path the web app may read
    *_, web = evaluation.evaluate(test_250, Steady(), size=4, batch_size=2, web=True)
    assert web.id and leaderboard.runs() == []
    *_, cli = evaluation.evaluate(test_250, Steady(), size=3, batch_size=2)  # the operator's
    assert [r.id for r in leaderboard.runs()] == [cli.id]


def test_sharing_puts_the_run_on_the_board_atomically_beside_the_rows_there_without_the_upload_name(cache):
    operator = [leaderboard.record(finished(f"operator {i}", 10.0 + i, pricer="cpu")) for i in range(3)]
    alice = leaderboard.Visits()
    mine = visitors_run(alice, upload=True, note="2 rows of my-secret-items.jsonl skipped")
    shared = alice.publish(mine.id)
    listed = leaderboard.runs()
    assert listed[:3] == operator and listed[3] == shared  # every row that was there is kept
    assert shared.visitor and shared.id == mine.id and (shared.error, shared.size) == (mine.error, mine.size)
    assert shared.data == "an uploaded file" and shared.note == ""
    assert "my-secret-items" not in (cache / "leaderboard.json").read_text()
    again = leaderboard.load_run(shared.id)  # every visitor may draw it
    assert again.metrics == alice.runs[mine.id].metrics and again.data == "an uploaded file"
    assert "my-secret-items" not in leaderboard._run_file(shared.id).read_text()
    assert alice.publish(mine.id) == shared and len(leaderboard.runs()) == 4  # once
    assert not list(cache.glob("*.tmp")) and not list(cache.glob(".*"))  # no temporary file left


def test_a_shared_guesses_run_does_not_name_the_uploaded_file(cache):
    alice = leaderboard.Visits()
    mine = visitors_run(alice, "guesses: my-guesses.csv", pricer="")
    assert alice.publish(mine.id).label == "guesses scored from an uploaded file"


def test_a_share_that_cannot_be_written_changes_nothing_and_says_so(cache, monkeypatch):
    leaderboard.record(finished("operator"))
    before = (cache / "leaderboard.json").read_bytes()
    alice = leaderboard.Visits()
    mine = visitors_run(alice)
    real = leaderboard._write_atomic

    def full_disk(path, data):
        if path.name == "leaderboard.json":
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(leaderboard, "_write_atomic", full_disk)
    with pytest.raises(BadInput, match="could not be shared .No space left on device.: it stays on your page"):
        alice.publish(mine.id)
    assert (cache / "leaderboard.json").read_bytes() == before and alice.rows == [mine]


def test_sharing_is_bounded_and_never_pushes_out_the_operators_runs(cache, monkeypatch):
    monkeypatch.setattr(leaderboard, "MAX_RUNS", 2)
    monkeypatch.setattr(leaderboard, "MAX_PUBLISHED", 2)
    monkeypatch.setattr(leaderboard, "_shared_at", [])
    operator = [leaderboard.record(finished(f"operator {i}")) for i in range(2)]
    shared = []
    for i in range(4):
        v = leaderboard.Visits()
        shared.append(v.publish(visitors_run(v, f"visitor {i}").id))
    assert [r.label for r in leaderboard.runs()] == ["operator 0", "operator 1", "visitor 2", "visitor 3"]
    assert not leaderboard._run_file(shared[0].id).exists() and leaderboard._run_file(operator[0].id).exists()
    monkeypatch.setattr(leaderboard, "PUBLISH_RATE", 4)  # 4 shared in the window already
    v = leaderboard.Visits()
    with pytest.raises(BadInput, match="4 runs were shared in the last 10 minutes"):
        v.publish(visitors_run(v, "one too many").id)


def test_a_row_not_made_by_its_page_is_not_shared(cache):
    alice = leaderboard.Visits()
    mine = visitors_run(alice)
    alice.rows[0] = dataclasses.replace(mine, size=250)  # a row that does not match its outcomes
    with pytest.raises(BadInput, match="Only a run of yours"):
        alice.publish(mine.id)
    assert leaderboard.runs() == []


def test_a_page_keeps_its_newest_runs_and_a_cached_replay_once(cache, monkeypatch):
    monkeypatch.setattr(leaderboard, "MAX_VISITS", 3)
    alice = leaderboard.Visits()
    kept = [visitors_run(alice, f"run {i}") for i in range(5)]
    assert [r.label for r in alice.rows] == ["run 2", "run 3", "run 4"] and set(alice.runs) == {r.id for r in kept[2:]}
    replay = finished("run 4", 12.0, pricer="cpu", data="/tmp/gradio/4f2a/my-secret-items.jsonl", cached=True)
    replay.id = leaderboard.record(replay, visitor=True).id
    assert alice.keep(replay) == kept[4] and len(alice.rows) == 3
    assert alice.clear() == 3 and alice.rows == [] and alice.runs == {}


def test_a_data_column_never_shows_an_absolute_path(cache, test_250, capsys):
    row = leaderboard.record(finished("cpu run", pricer="cpu", data=str(test_250.resolve())))
    assert row.data == "test-250.jsonl"
    stored = json.loads(leaderboard._board_file().read_text())
    stored["runs"].append(dict(stored["runs"][0], id="old1", data="/home/someone/private/items.jsonl"))  # an old file
    leaderboard._board_file().write_text(json.dumps(stored))
    assert [r.data for r in leaderboard.runs()] == ["test-250.jsonl", "items.jsonl"]
    assert leaderboard.data_label("ed-donner/pricer-data") == "ed-donner/pricer-data"  # a hub id as given
    assert main(["leaderboard", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["rows"]
    assert not any(os.path.isabs(r["data"]) or "/home/" in r["data"] for r in out)
