"""Other tokenizers side by side (pricer.tokenizer.comparison): each row its counts, pieces and
spans or its own error, the reference first, the offline ones by default."""

from __future__ import annotations

import pytest

from pricer.errors import BadInput
from pricer.tokenizer.comparison import COMPARE_DEFAULTS, COURSE_COMPARE, compare
from pricer.tokenizer.tokens import COURSE_EXAMPLE


def test_side_by_side_hub_tokenizers_fail_fast_offline_and_say_why(no_network):
    # no_network: refused before any connection, so no minute of retries inside transformers
    rows = compare("hello", COURSE_COMPARE)
    assert [r.name for r in rows] == list(COURSE_COMPARE)
    for row in rows:
        assert row.name in row.error and "HF_HUB_OFFLINE" in row.error and row.count == 0


def test_one_failing_tokenizer_does_not_stop_the_others(tiny_bpe, tmp_path):
    rows = compare("the price is right", [str(tiny_bpe), "Qwen/Qwen2-7B-Instruct", str(tmp_path)])
    ok, offline, empty = rows
    assert not ok.error and ok.count > 0 and "".join(p.text for p in ok.pieces) == "the price is right"
    assert "Qwen/Qwen2-7B-Instruct" in offline.error
    assert "holds no tokenizer" in empty.error


def test_the_offline_llama_copy_stands_in_for_llama_ids_with_a_note():
    (row,) = compare("hello", ["meta-llama/Meta-Llama-3.1-8B-Instruct"])
    assert not row.error and row.count == 2
    assert "offline copy" in row.note and row.label.startswith("Llama 3.1")


def test_the_reference_tokenizer_comes_first():
    rows = compare("hello", ["Qwen/Qwen2-7B-Instruct"], reference="")
    assert [r.name for r in rows] == ["meta-llama/Meta-Llama-3.1-8B", "Qwen/Qwen2-7B-Instruct"]
    assert rows[0].count == 2 and rows[1].error


def test_at_most_three_tokenizers_side_by_side():
    with pytest.raises(BadInput, match="at most 3"):
        compare("x", ["a/b", "c/d", "e/f", "g/h"])


def test_the_defaults_load_offline_and_count_the_course_sentence(no_network):
    assert COMPARE_DEFAULTS == ("offline/all-minilm-l6-v2", "offline/claude-legacy", "")
    rows = compare(COURSE_EXAMPLE, COMPARE_DEFAULTS, reference="")
    assert [(r.error, r.count, r.chars) for r in rows] == [("", 15, 61), ("", 17, 61), ("", 14, 61)]


def test_spans_leave_whitespace_out_and_count_a_split_character_once():
    (row,) = compare(" a  🦜\n", ["offline/llama-3.1"])
    assert row.pieces.texts == ["<|begin_of_text|>", " a", " ", " 🦜", "\n"] and row.count == 7  # 🦜: 3 byte tokens
    assert row.spans == ((1, 2), (4, 5))  # 'a' and '🦜' alone: no bos, no space, no newline, the emoji once
