"""pricer.evaluation: the course's metrics, runs and their cache, the chart, the model run and
the `evaluate` verb (guesses files are in test_guesses.py)."""

from __future__ import annotations

import csv
import json
import math

import pytest

from pricer import evaluation
from pricer.cli import main
from pricer.errors import BadInput, PricerError
from pricer.evaluation import Outcome, TestItem, color_for, summarize


def items_of(*truths: float) -> list[TestItem]:
    return [TestItem(i, f"How much does this cost to the nearest dollar?\n\nThing {i}\nA thing.\n\nPrice is $",
                     t, f"Thing {i}") for i, t in enumerate(truths)]


# --- metrics -----------------------------------------------------------------------------------


@pytest.mark.parametrize("error, truth, color", [
    (39.99, 200.0, "green"),   # under $40 although 20% of the truth
    (40.0, 200.0, "orange"),   # $40 and exactly 20%: no longer a hit
    (199.0, 1000.0, "green"),  # 19.9% of the truth although over $80
    (200.0, 1000.0, "orange"),  # 20%
    (79.99, 150.0, "orange"),  # under $80 although 53% of the truth
    (80.0, 150.0, "red"),      # $80 and over 40%
    (399.0, 1000.0, "orange"),  # 39.9%
    (400.0, 1000.0, "red"),    # 40%
    (0.0, 0.5, "green"),
])
def test_colour_boundaries_follow_the_course(error, truth, color):
    assert color_for(error, truth) == color


def test_metrics_on_a_hand_checked_case():
    # truths 100, 200, 50; guesses 110, 150 and no number (scored as 0)
    outcomes = [Outcome(0, "a", 100.0, 110.0), Outcome(1, "b", 200.0, 150.0),
                Outcome(2, "c", 50.0, 0.0, parsed=False)]
    m = summarize(outcomes)
    assert m.average_error == pytest.approx((10 + 50 + 50) / 3)
    # SLEs by hand: (ln 101 - ln 111)^2 = 0.008913, (ln 201 - ln 151)^2 = 0.081810, (ln 51)^2 = 15.459253
    assert m.rmsle == pytest.approx(math.sqrt((0.008913 + 0.081810 + 15.459253) / 3), abs=1e-5)
    assert [o.color for o in outcomes] == ["green", "orange", "orange"]
    assert m.hits == pytest.approx(1 / 3)
    assert m.mse == pytest.approx((100 + 2500 + 2500) / 3)
    # R^2 = 1 - 5100 / sum((t - 116.67)^2) = 1 - 5100 / 11666.67
    assert m.r2 == pytest.approx(1 - 5100 / 11666.666667)
    assert m.unparsed == 1 and m.counts == {"green": 1, "orange": 2, "red": 0}
    assert m.line() == "Error=$36.67 RMSLE=2.28 Hits=33.3%"


def test_metrics_line_uses_thousands_separators_like_the_course():
    m = summarize([Outcome(0, "a", 10.0, 2010.0)])
    assert m.line() == "Error=$2,000.00 RMSLE=5.21 Hits=0.0%"


def test_zero_guess_rmsle_is_the_log_of_the_truth():
    truth = math.e ** 2 - 1  # ln(truth + 1) = 2
    assert summarize([Outcome(0, "a", truth, 0.0)]).rmsle == pytest.approx(2.0)


def test_unparsable_guess_counts_as_zero_and_is_marked():
    item = items_of(99.0)[0]
    for nothing in (None, math.nan, math.inf, "12", True):
        scored = evaluation.outcome(item, nothing)
        assert scored.guess == 0.0 and not scored.parsed and "no number" in scored.note
    assert summarize([evaluation.outcome(item, None)]).rmsle == pytest.approx(math.log(100))


def test_numpy_numbers_are_guesses():
    import numpy as np

    item = items_of(99.0)[0]
    assert evaluation.outcome(item, np.float32(12.5)).guess == 12.5
    assert evaluation.outcome(item, np.int64(7)).parsed


def test_negative_guess_is_clipped_in_the_log_but_not_in_the_error():
    o = Outcome(0, "a", 100.0, -5.0)
    assert o.error == 105.0
    assert o.sle == pytest.approx(math.log(101) ** 2)


def test_r2_is_undefined_when_all_truths_are_equal():
    m = summarize([Outcome(0, "a", 10.0, 12.0), Outcome(1, "b", 10.0, 8.0)])
    assert m.r2 is None and "R²=n/a" in m.details()


def test_no_outcomes_give_zero_metrics():
    assert summarize([]).line() == "Error=$0.00 RMSLE=0.00 Hits=0.0%"


# --- runs --------------------------------------------------------------------------------------


def price_in_title(prompts: list[str]) -> list[float | None]:
    """A predict function: the item number in the title times ten, and no number for item 3."""
    out: list[float | None] = []
    for p in prompts:
        n = int(evaluation.title_of(p).split()[-1])
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
    evaluation._memory.clear()  # the disk copy serves another process too
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


def test_worst_misses_come_first_and_the_csv_keeps_item_order(tmp_path):
    done = evaluation.run_to_end(evaluation.run(items_of(5.0, 100.0, 40.0), lambda p: [5.0, 0.0, 60.0]))
    assert [row[0] for row in done.rows(worst_first=True)] == [1, 2, 0]
    with done.write_csv(tmp_path / "r.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["index"] for r in rows] == ["0", "1", "2"]
    assert rows[1]["color"] == "red" and float(rows[1]["error"]) == 100.0


# --- data --------------------------------------------------------------------------------------


def test_load_items_reads_the_first_n_test_items_in_order(test_250):
    items = evaluation.load_items(test_250, 5)
    assert len(items) == 5 and items[0].truth == 374.41
    assert items[0].title.startswith("OEM AC Compressor")
    assert items[0].prompt.endswith("Price is $")


def test_an_uploaded_csv_of_items_loads_and_unusable_rows_are_noted(tmp_path):
    upload = tmp_path / "items.csv"
    upload.write_text('Text,Price\n"How much does this cost to the nearest dollar?\n\nLamp\n\nPrice is $",12.5\n'
                      "Broken,cheap\n")
    items = evaluation.load_items(upload)
    assert [(i.title, i.truth) for i in items] == [("Lamp", 12.5)]
    assert "skipped 1 malformed row" in items.note and "1 usable test items, fewer than the 250" in items.note


def test_a_training_prompt_loses_its_answer(tmp_path):
    upload = tmp_path / "train.jsonl"
    upload.write_text(json.dumps({"text": "How much does this cost to the nearest dollar?\n\nMug\n\nPrice is $12.00",
                                  "price": 11.99}) + "\n")
    assert evaluation.load_items(upload)[0].prompt.endswith("Mug\n\nPrice is $")


def test_empty_or_unusable_data_explains_itself(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(BadInput, match="no usable rows"):
        evaluation.load_items(empty)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,cost\nx,1\n")
    with pytest.raises(BadInput, match="needs 'text' and 'price'"):
        evaluation.load_items(wrong)
    with pytest.raises(BadInput, match="size must be at least 1"):
        evaluation.load_items(empty, 0)


# --- the chart ---------------------------------------------------------------------------------


def test_chart_has_a_trace_per_colour_the_diagonal_and_equal_axes_from_zero():
    done = evaluation.Run("mine", 3, [Outcome(0, "<b>x</b>", 100.0, 110.0), Outcome(1, "b", 200.0, 150.0),
                                      Outcome(2, "c", 300.0, 10.0)])
    fig = evaluation.figure(done)
    markers = [t for t in fig.data if t.mode == "markers"]
    assert [t.marker.color for t in markers] == ["green", "orange", "red"]
    assert [list(t.x) for t in markers] == [[100.0], [200.0], [300.0]]
    assert [list(t.y) for t in markers] == [[110.0], [150.0], [10.0]]
    line = next(t for t in fig.data if t.mode == "lines")
    assert list(line.x) == list(line.y) and line.x[0] == 0 and line.x[1] >= 300
    layout = fig.layout
    assert layout.height == evaluation.CHART_HEIGHT
    assert layout.xaxis.range == layout.yaxis.range == (0, line.x[1])
    assert layout.yaxis.scaleanchor == "x"
    assert layout.xaxis.constrain == layout.yaxis.constrain == "domain"  # neither range may grow below 0
    assert done.metrics.line() in layout.title.text
    assert markers[0].customdata[0][0] == "&lt;b&gt;x&lt;/b&gt;"  # hover text is escaped
    assert "truth" in markers[0].hovertemplate and "error" in markers[0].hovertemplate
    # one run: the title names it, the legend only the colours, beside the plot (not under it)
    assert [t.name for t in markers] == [evaluation.COLOR_LABELS[c] for c in evaluation.COLORS]
    assert layout.legend.x > 1


def test_chart_escapes_a_file_name_in_its_title_and_legend():
    done = evaluation.Run('<a href="x">g</a>.csv', 1, [Outcome(0, "a", 100.0, 100.0)])
    fig = evaluation.figure(done)
    assert "<a" not in fig.layout.title.text and "&lt;a href" in fig.layout.title.text
    assert all("<a" not in t.name for t in fig.data)
    overlaid = evaluation.figure(done, evaluation.Run("base", 1, [Outcome(0, "a", 100.0, 90.0)]))
    assert "&lt;a href" in overlaid.data[3].legendgrouptitle.text  # its legend group is titled, escaped


def test_chart_overlays_a_second_run_with_its_own_symbol_and_title_line():
    base = evaluation.Run("base", 1, [Outcome(0, "a", 100.0, 900.0)])
    tuned = evaluation.Run("tuned", 1, [Outcome(0, "a", 100.0, 95.0)])
    fig = evaluation.figure(tuned, base)
    markers = [t for t in fig.data if t.mode == "markers"]
    assert len(markers) == 6
    assert {t.marker.symbol for t in markers if t.legendgrouptitle.text == "base"} == {"x"}
    assert {t.marker.symbol for t in markers if t.legendgrouptitle.text == "tuned"} == {"circle"}
    assert fig.layout.title.text.split("<br>") == [tuned.title(), base.title()]
    assert fig.layout.xaxis.range[1] >= 900


# --- the CLI -----------------------------------------------------------------------------------


# --- the 4-bit model (tiny) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_specs(tiny_model):
    from pricer.model import ModelSpec

    return ModelSpec(str(tiny_model), None, None), ModelSpec(str(tiny_model), str(tiny_model / "adapter"), None)


def test_llama_predictor_gives_the_greedy_price_the_courses_top3_or_the_number_token_top3(tiny_specs, test_250):
    from pricer.model import load_pricer

    base, _ = tiny_specs
    prompts = [item.prompt for item in evaluation.load_items(test_250, 3)]
    predictions = load_pricer(base).predict(prompts)
    assert evaluation.llama_predictor(base, "greedy")(prompts) == [p.price for p in predictions]
    # "topk" is the course's improved_model_predict, the figure users compare with ($46.66)
    assert evaluation.llama_predictor(base, "topk")(prompts) == [p.estimate_course or None for p in predictions]
    assert evaluation.llama_predictor(base, "topk-numbers")(prompts) == [p.estimate_topk for p in predictions]
    with pytest.raises(BadInput, match="estimator must be one of greedy, topk, topk-numbers"):
        evaluation.llama_predictor(base, "mean")


def test_a_model_run_streams_is_cached_and_differs_by_adapter(tiny_specs, test_250, tmp_path, monkeypatch):
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path))
    base, tuned = tiny_specs
    snapshots = list(evaluation.evaluate_model(test_250, base, size=5, estimator="topk", batch_size=2))
    assert [len(s.outcomes) for s in snapshots] == [2, 4, 5] and "top-3 weighted (course)" in snapshots[-1].label
    again = list(evaluation.evaluate_model(test_250, base, size=5, estimator="topk", batch_size=2))
    assert len(again) == 1 and again[0].cached and again[0].metrics == snapshots[-1].metrics
    other = list(evaluation.evaluate_model(test_250, tuned, size=5, estimator="topk", batch_size=2))
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
