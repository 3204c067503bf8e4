"""pricer.evaluation: runs and their cache, the model run and the `evaluate` verb (the metrics
are in test_metrics.py, the chart in test_chart.py, guesses files in test_guesses.py)."""

from __future__ import annotations

import csv
import os

import pytest

from pricer import evaluation
from pricer.cli import main
from pricer.data.datasets import TestItem, load_items, title_of
from pricer.errors import BadInput, PricerError
from pricer.evaluation import cache
from pricer.metrics import Outcome


def items_of(*truths: float) -> list[TestItem]:
    return [TestItem(i, f"How much does this cost to the nearest dollar?\n\nThing {i}\nA thing.\n\nPrice is $",
                     t, f"Thing {i}") for i, t in enumerate(truths)]


# --- runs --------------------------------------------------------------------------------------


def price_in_title(prompts: list[str]) -> list[float | None]:
    """A predict function: the item number in the title times ten, and no number for item 3."""
    out: list[float | None] = []
    for p in prompts:
        n = int(title_of(p).split()[-1])
        out.append(None if n == 3 else 10.0 * n)
    return out


def test_run_streams_one_snapshot_per_batch_and_ends_complete():
    items = items_of(*[10.0 * i + 5 for i in range(10)])
    snapshots = list(evaluation.run(items, price_in_title, label="t", batch_size=4))
    assert [len(s.outcomes) for s in snapshots] == [4, 8, 10]
    assert not snapshots[0].done and snapshots[-1].done
    last = snapshots[-1]
    assert [o.guess for o in last.outcomes][:4] == [0.0, 10.0, 20.0, 0.0]
    assert not last.outcomes[3].parsed and last.metrics.unparsed == 1
    assert "10/10 items done" in last.status()


def test_a_repeated_run_comes_from_the_cache_without_predicting(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path))
    calls = []

    def predict(prompts):
        calls.append(len(prompts))
        return price_in_title(prompts)

    items = items_of(5.0, 15.0, 25.0)
    key = evaluation.cache_key("m|a@r|4bit", "greedy", "data", 3)
    stream = evaluation.run(items, predict, batch_size=2, cache_key=key)
    first = [next(stream), next(stream)][-1]  # a consumer that stops at the complete run
    assert first.done
    assert calls == [2, 1]
    cache._memory.clear()  # the disk copy serves another process too
    again = list(evaluation.run(items, predict, batch_size=2, cache_key=key))
    assert calls == [2, 1] and len(again) == 1 and again[0].cached
    assert again[0].metrics == first.metrics
    other = evaluation.cache_key("m|a@r|4bit", "topk", "data", 3)
    assert evaluation.cached(other) is None


def test_a_stopped_run_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path))
    key = evaluation.cache_key("m|base|4bit", "greedy", "stopped", 4)
    stream = evaluation.run(items_of(1.0, 2.0, 3.0, 4.0), price_in_title, batch_size=2, cache_key=key)
    next(stream)
    stream.close()  # what gradio's Stop does to the generator
    assert evaluation.cached(key) is None


def test_empty_items_and_a_pricer_that_loses_prompts_explain_themselves():
    with pytest.raises(BadInput, match="no test items"):
        list(evaluation.run([], price_in_title))
    with pytest.raises(PricerError, match="returned 1 prices for 2 prompts"):
        list(evaluation.run(items_of(1.0, 2.0), lambda prompts: [1.0]))


def test_the_csv_keeps_item_order(tmp_path):
    *_, done = evaluation.run(items_of(5.0, 100.0, 40.0), lambda p: [5.0, 0.0, 60.0])
    with done.write_csv(tmp_path / "r.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["index"] for r in rows] == ["0", "1", "2"]
    assert rows[1]["color"] == "red" and float(rows[1]["error"]) == 100.0


def test_estimates_keep_their_interval_and_the_run_its_coverage(tmp_path):
    from pricer.pricers import Estimate

    answers = [Estimate(10.0, 5.0, 20.0), Estimate(None), Estimate(30.0, 25.0, 35.0)]
    *_, done = evaluation.run(items_of(12.0, 7.0, 40.0), lambda prompts: answers[:len(prompts)], batch_size=3)
    assert [(o.low, o.high) for o in done.outcomes] == [(5.0, 20.0), (None, None), (25.0, 35.0)]
    assert done.metrics.coverage == 0.5 and not done.outcomes[1].parsed
    with done.write_csv(tmp_path / "r.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["low"], r["high"]) for r in rows] == [("5.0", "20.0"), ("", ""), ("25.0", "35.0")]
    again = evaluation.Run.from_json(done.to_json())
    assert again.outcomes == done.outcomes and again.metrics == done.metrics


def test_the_run_cache_keeps_only_the_newest_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path))
    monkeypatch.setattr(cache, "CACHE_RUNS", 3)
    keys = [evaluation.cache_key("m", "greedy", f"data {i}", 2) for i in range(5)]
    for i, key in enumerate(keys):
        list(evaluation.run(items_of(1.0, 2.0), price_in_title, cache_key=key))
        path = tmp_path / "evaluations" / f"{key}.json"
        os.utime(path, ns=(i * 10**9, i * 10**9))  # distinct ages, oldest first
    evaluation.prune(tmp_path / "evaluations")
    cache._memory.clear()
    assert [evaluation.cached(k) is not None for k in keys] == [False, False, True, True, True]


def test_the_run_cache_is_capped_in_bytes_too(tmp_path):
    folder = tmp_path / "evaluations"
    folder.mkdir()
    for i in range(4):
        (folder / f"{i}.json").write_text("x" * 1000)
        os.utime(folder / f"{i}.json", ns=(i * 10**9, i * 10**9))
    assert evaluation.prune(folder, runs=10, size=2500) == 2
    assert sorted(p.name for p in folder.glob("*.json")) == ["2.json", "3.json"]


class Wild:
    """A pricer of the interface whose guesses are absurd: 1e200 dollars."""

    name, label, estimators = "wild", "Wild guesses", ()

    def available(self) -> str | None:
        return None

    def price(self, texts, *, estimator=None, progress=None):
        from pricer.pricers import Estimate

        return [Estimate(1e200, 1.0, 1e300) for _ in texts]

    def cache_key(self, estimator):
        return "wild"


def test_absurd_guesses_are_scored_not_raised(test_250, tmp_path, monkeypatch):
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path))
    *_, done = evaluation.evaluate(test_250, Wild(), size=3)
    assert done.metrics.line().startswith("Error=$1.00e+200 RMSLE=") and done.metrics.coverage == 1.0
    assert "MSE=inf" in done.metrics.details()


def test_a_pricer_without_estimators_refuses_one(test_250):
    with pytest.raises(BadInput, match="The wild pricer has no estimators"):
        list(evaluation.evaluate(test_250, Wild(), size=3, estimator="topk"))


# --- the CLI -----------------------------------------------------------------------------------


# --- the 4-bit model (tiny) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_specs(tiny_model):
    from pricer.pricers.llama.model import ModelSpec

    return ModelSpec(str(tiny_model), None, None), ModelSpec(str(tiny_model), str(tiny_model / "adapter"), None)


def test_the_llama_pricer_gives_the_greedy_price_the_courses_top3_or_the_number_token_top3(tiny_specs, test_250):
    from pricer.pricers.llama.model import load_pricer
    from pricer.pricers.llama.pricer import LlamaPricer

    base, _ = tiny_specs
    prompts = [item.prompt for item in load_items(test_250, 3)]
    predictions = load_pricer(base).predict(prompts)
    pricer = LlamaPricer(False, base)

    def prices(estimator: str) -> list[float | None]:
        return [e.price for e in pricer.price(prompts, estimator=estimator)]

    assert prices("greedy") == [p.greedy for p in predictions]
    # "topk" is the course's improved_model_predict, the figure users compare with ($46.66)
    assert prices("topk") == [p.topk or None for p in predictions]
    assert prices("topk-numbers") == [p.topk_numbers for p in predictions]
    with pytest.raises(BadInput, match="estimator must be one of greedy, topk, topk-numbers"):
        prices("mean")


def test_a_model_run_streams_is_cached_and_differs_by_adapter(tiny_specs, test_250, tmp_path, monkeypatch):
    from pricer.pricers.llama.pricer import LlamaPricer

    monkeypatch.setenv("PRICER_CACHE", str(tmp_path))
    base, tuned = tiny_specs

    def runs(spec):
        return list(evaluation.evaluate(test_250, LlamaPricer(bool(spec.adapter), spec, 2), size=5, estimator="topk",
                                        batch_size=2))

    snapshots = runs(base)
    assert [len(s.outcomes) for s in snapshots] == [2, 4, 5] and "top-3 weighted (course)" in snapshots[-1].label
    again = runs(base)
    assert len(again) == 1 and again[0].cached and again[0].metrics == snapshots[-1].metrics
    other = runs(tuned)
    assert not other[-1].cached  # another adapter is another run


def test_evaluate_verb_prints_the_metrics_line_last(tiny_model, test_250, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path))
    out = tmp_path / "results.csv"
    code = main(["evaluate", "--data", str(test_250), "--size", "4", "--base-model", str(tiny_model),
                 "--adapter", "none", "--estimator", "topk", "--out", str(out)])
    captured = capsys.readouterr()
    last = captured.out.strip().splitlines()[-1]
    with out.open() as f:
        rows = list(csv.DictReader(f))
    done = evaluation.Run("x", 4, [Outcome(int(r["index"]), r["title"], float(r["truth"]), float(r["guess"]))
                                   for r in rows])
    assert code == 0 and last == done.metrics.line()
    assert "4/4 items done" in captured.err
