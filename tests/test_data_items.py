"""pricer.data.datasets's test items: the first N items of a test split, in order, as a pricer sees them
(prompt without its answer, true price, title)."""

from __future__ import annotations

import json

import pytest

from pricer.data.datasets import load_items, title_of
from pricer.errors import BadInput


def test_load_items_reads_the_first_n_test_items_in_order(test_250):
    items = load_items(test_250, 5)
    assert len(items) == 5 and items[0].truth == 374.41
    assert items[0].title.startswith("OEM AC Compressor")
    assert items[0].prompt.endswith("Price is $")


def test_an_uploaded_csv_of_items_loads_and_unusable_rows_are_noted(tmp_path):
    upload = tmp_path / "items.csv"
    upload.write_text('Text,Price\n"How much does this cost to the nearest dollar?\n\nLamp\n\nPrice is $",12.5\n'
                      "Broken,cheap\n")
    items = load_items(upload)
    assert [(i.title, i.truth) for i in items] == [("Lamp", 12.5)]
    assert "skipped 1 malformed row" in items.note and "1 usable test items, fewer than the 250" in items.note


def test_a_training_prompt_loses_its_answer(tmp_path):
    upload = tmp_path / "train.jsonl"
    upload.write_text(json.dumps({"text": "How much does this cost to the nearest dollar?\n\nMug\n\nPrice is $12.00",
                                  "price": 11.99}) + "\n")
    assert load_items(upload)[0].prompt.endswith("Mug\n\nPrice is $")


def test_empty_or_unusable_data_explains_itself(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(BadInput, match="no usable rows"):
        load_items(empty)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,cost\nx,1\n")
    with pytest.raises(BadInput, match="needs 'text' and 'price'"):
        load_items(wrong)
    with pytest.raises(BadInput, match="size must be at least 1"):
        load_items(empty, 0)


def test_none_or_blank_means_the_configured_dataset(test_250, monkeypatch):
    monkeypatch.setenv("PRICER_DATASET", str(test_250))
    assert [i.truth for i in load_items(None, 2)] == [i.truth for i in load_items("  ", 2)] == [374.41, 225.11]


def test_the_title_is_the_first_line_after_the_question():
    assert title_of("How much does this cost to the nearest dollar?\n\n  Lamp \nA lamp.\n\nPrice is $") == "Lamp"
    assert title_of("Lamp without the question") == "Lamp without the question"
    assert title_of("") == ""
