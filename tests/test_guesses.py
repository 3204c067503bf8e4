"""pricer.evaluation.guesses: scoring guesses made elsewhere against the course's 250 test items, and the
`score` verb."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from pricer.cli import main
from pricer.errors import BadInput
from pricer.evaluation.guesses import parse_guess, score_file


@pytest.mark.parametrize("cell, dollars", [("$1,299.00", 1299.0), (42, 42.0), ("1e3", 1000.0), (" 12.5 ", 12.5),
                                           ("n/a", None), ("", None), (None, None), (True, None),
                                           (float("nan"), None)])
def test_a_guess_cell_reads_as_dollars_or_none(cell, dollars):
    assert parse_guess(cell) == dollars


# --- scoring --------------------------------------------------------------------


def test_a_constant_100_guess_scores_as_computed_independently(test_250, tmp_path):
    truths = [json.loads(line)["price"] for line in test_250.read_text().splitlines()]
    errors = [abs(100 - t) for t in truths]
    rmsle = math.sqrt(sum((math.log(t + 1) - math.log(101)) ** 2 for t in truths) / len(truths))
    hits = sum(e < 40 or e / t < 0.2 for e, t in zip(errors, truths, strict=True)) / len(truths)
    expected = f"Error=${sum(errors) / len(errors):,.2f} RMSLE={rmsle:.2f} Hits={hits * 100:.1f}%"

    guesses = tmp_path / "guesses.csv"
    guesses.write_text("index,guess\n" + "".join(f"{i},100\n" for i in range(250)))
    done = score_file(test_250, guesses, size=250)
    assert done.metrics.line() == expected
    assert len(done.outcomes) == 250 and done.done


def test_guesses_match_by_text_and_the_courses_headerless_csv_works(test_250, tmp_path):
    rows = [json.loads(line) for line in test_250.read_text().splitlines()][:3]
    by_text = tmp_path / "g.jsonl"
    by_text.write_text("".join(json.dumps({"text": r["text"], "guess": r["price"]}) + "\n"
                               for r in reversed(rows)))
    done = score_file(test_250, by_text, size=3)
    assert done.metrics.average_error == 0 and done.metrics.hits == 1
    course = tmp_path / "human_output.csv"  # the course's format: prompt, guess; no header
    with course.open("w", newline="") as f:
        csv.writer(f).writerows([[r["text"], "$1,000"] for r in rows])
    assert [o.guess for o in score_file(test_250, course, size=3).outcomes] == [1000.0] * 3


def test_missing_guesses_say_which_and_suggest_a_size(test_250, tmp_path):
    guesses = tmp_path / "g.csv"
    guesses.write_text("index,guess\n" + "".join(f"{i},1\n" for i in range(100)))
    with pytest.raises(BadInput, match="no guess for 150 of the first 250 .*set the size to 100"):
        score_file(test_250, guesses, size=250)
    assert score_file(test_250, guesses, size=100).total == 100


@pytest.mark.parametrize("content, message", [
    ("index,guess\n0,1\n0,2\n", "two guesses for item 0"),
    ("index,guess\n900,1\n", "index 900 is beyond the 250 test items"),
    ("text,guess\nnot a prompt,1\n", "match no test item's text"),
    ("index,price\n0,1\n", "needs a header row naming a `guess` column"),
    ("name,guess\nx,1\n", "neither `index` nor `text`"),
])
def test_mismatched_guesses_explain_themselves(test_250, tmp_path, content, message):
    guesses = tmp_path / "g.csv"
    guesses.write_text(content)
    with pytest.raises(BadInput, match=message):
        score_file(test_250, guesses, size=1)


def test_an_unparsable_guess_in_a_file_is_scored_as_zero_and_marked(test_250, tmp_path):
    guesses = tmp_path / "g.csv"
    guesses.write_text("index,guess\n0,n/a\n1,225\n")
    done = score_file(test_250, guesses, size=2)
    assert [o.parsed for o in done.outcomes] == [False, True]
    assert done.outcomes[0].guess == 0 and done.outcomes[0].note == "no number: scored as $0"


# --- the CLI ----------------------------------------------------------------------------------


def test_score_verb_prints_the_metrics_line_last_and_writes_files(test_250, tmp_path, capsys):
    guesses = tmp_path / "g.csv"
    guesses.write_text("index,guess\n" + "".join(f"{i},100\n" for i in range(10)))
    out, chart = tmp_path / "r.csv", tmp_path / "c.html"
    code = main(["score", "--data", str(test_250), "--guesses", str(guesses), "--size", "10",
                 "--out", str(out), "--chart", str(chart)])
    captured = capsys.readouterr()
    expected = score_file(test_250, guesses, size=10).metrics.line()
    assert code == 0 and captured.out.strip().splitlines()[-1] == expected
    assert len(out.read_text().splitlines()) == 11
    assert "plotly" in chart.read_text()[:200_000].lower()


def test_score_verb_with_a_bad_file_exits_2_with_one_line(test_250, tmp_path, capsys):
    guesses = tmp_path / "g.csv"
    guesses.write_text("index,guess\n0,1\n")
    assert main(["score", "--data", str(test_250), "--guesses", str(guesses), "--size", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: g.csv has no guess for 4 of the first 5")


def test_missing_guesses_file_is_a_clear_error(test_250, tmp_path):
    with pytest.raises(BadInput, match="No such file"):
        score_file(test_250, Path(tmp_path / "nope.csv"))


@pytest.mark.parametrize("name, content", [("g.csv", "index,guess\n0,\u00a3".encode("cp1252")),
                                           ("g.jsonl", b'{"index": 0, "guess": "\xff"}\n')])
def test_a_file_that_is_not_utf8_says_how_to_save_it(test_250, tmp_path, name, content):
    guesses = tmp_path / name
    guesses.write_bytes(content)
    with pytest.raises(BadInput, match="not UTF-8 text .*save it as a UTF-8"):
        score_file(test_250, guesses, size=1)


@pytest.mark.parametrize("content, message", [
    (b'{"index": 0, "guess": 1}\n\n{"index": 1, guess}\n', "Line 3 of g.jsonl is not JSON"),
    (b'{"index": 0, "guess": 1}\n[1, 2]\n', "Line 2 of g.jsonl is not a JSON object"),
])
def test_a_broken_jsonl_line_is_named(test_250, tmp_path, content, message):
    guesses = tmp_path / "g.jsonl"
    guesses.write_bytes(content)
    with pytest.raises(BadInput, match=message):
        score_file(test_250, guesses, size=2)


def test_a_spreadsheets_csv_with_a_byte_order_mark_and_blank_rows_is_read(test_250, tmp_path):
    guesses = tmp_path / "g.csv"
    guesses.write_text("\ufeffIndex, Guess \r\n0,$100\r\n\r\n1,200\r\n", encoding="utf-8")
    assert [o.guess for o in score_file(test_250, guesses, size=2).outcomes] == [100.0, 200.0]


def test_absurd_numbers_in_data_and_guesses_give_scores_or_one_line(tmp_path, capsys):
    prompt = "How much does this cost to the nearest dollar?\n\nThing {}\nA thing.\n\nPrice is $"
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"text": prompt.format(i), "price": p}) + "\n"
                            for i, p in enumerate([10.0, 1e308, 30.0])))
    guesses = tmp_path / "g.csv"
    guesses.write_text("index,guess\n0,1e200\n1,5\n2,30\n")
    assert main(["score", "--data", str(data), "--guesses", str(guesses), "--size", "3"]) == 0
    assert capsys.readouterr().out.strip().startswith("Error=$")
    guesses.write_text("index,guess\ninf,1\n1,5\n2,30\n")
    assert main(["score", "--data", str(data), "--guesses", str(guesses), "--size", "3"]) == 2
    assert capsys.readouterr().err.strip() == "error: Row 0 of g.csv: index 'inf' is not a whole number."


def test_the_score_verb_records_the_run_on_the_leaderboard_as_the_page_does(test_250, tmp_path, monkeypatch):
    from pricer.evaluation import leaderboard

    monkeypatch.setenv("PRICER_CACHE", str(tmp_path / "cache"))
    guesses = tmp_path / "mine.csv"
    guesses.write_text("index,guess\n" + "".join(f"{i},100\n" for i in range(5)))
    assert main(["score", "--data", str(test_250), "--guesses", str(guesses), "--size", "5"]) == 0
    [row] = leaderboard.runs()
    assert (row.label, row.size, row.data) == ("guesses: mine.csv", 5, "test-250.jsonl")  # never a path
