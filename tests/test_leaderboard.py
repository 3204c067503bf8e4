"""pricer.evaluation.leaderboard: every run recorded on disk (it survives a new process), stopped runs marked
partial, a cached replay recorded once, the cap, clearing, the course's published rows, and the
`leaderboard` verb."""

from __future__ import annotations

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
    for kept in (leaderboard._unsaved, leaderboard._memory_runs, leaderboard._notes):  # this process's memory
        kept.clear()


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


def test_the_course_published_figures_are_reference_rows_marked_published():
    published = [r for r in leaderboard.rows() if r.published]
    errors = {r.label: r.error for r in published}
    assert len(published) == 10 and errors["Constant (the training average), course"] == 145.51
    assert errors["Fine-tuned Llama 3.1 8B (4-bit), top-3 weighted, course"] == 46.66
    tuned = next(r for r in published if r.pricer == "fine-tuned")
    assert tuned.hits == 0.708 and tuned.estimator == "topk" and tuned.size == 250
    assert all(r.id == "" and r.when == "" and "published" in r.line() for r in published)
    assert leaderboard.rows(published=False) == []


def test_rows_are_best_first_and_clear_forgets_only_runs_made_here(cache):
    leaderboard.record(finished("worse", 90.0))
    good = leaderboard.record(finished("better", 11.0))
    listed = leaderboard.rows()
    assert listed[0].label == "better" and [r.error for r in listed] == sorted(r.error for r in listed)
    assert leaderboard.clear() == 2
    assert leaderboard.runs() == [] and len(leaderboard.rows()) == len(leaderboard.PUBLISHED)
    with pytest.raises(BadInput, match=f"No run {good.id} on the leaderboard"):
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
    assert sum(r["published"] for r in rows) == 10
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
