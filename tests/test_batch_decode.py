"""batch_decode of several id sequences (pricer.tokenizer.vocab.batch_decode): the tokenizer's own
batch_decode on the real Llama 3.1 tokenizer over awkward inputs, typed as lines or JSON or given
as lists, and every mistake a BadInput that says what to do."""

from __future__ import annotations

import json

import pytest

from pricer.errors import BadInput
from pricer.tokenizer import tokens, vocab

AWKWARD = [
    "I am excited to show Tokenizers in action to my LLM engineers",
    "🦜🦜 👩‍👩‍👧 — 你好世界 鱲",  # emoji and rare CJK: characters split across byte-level tokens
    "Price is $374.41, don't stop .",
    "<|eot_id|> typed as text",
    "مرحبا\n\tتبويب",
    "",
]


def encoded(llama, add_special: bool = True) -> list[list[int]]:
    return [llama.encode(t, add_special_tokens=add_special) for t in AWKWARD]


@pytest.mark.parametrize("skip_special", [False, True])
@pytest.mark.parametrize("clean_up", [False, True])
def test_answers_what_transformers_batch_decode_answers(llama, skip_special, clean_up):
    sequences = encoded(llama) + [[128000, 128009, 40], [], [11410]]  # specials, empty, half an emoji
    ours = vocab.batch_decode(llama, sequences, skip_special=skip_special, clean_up=clean_up)
    assert ours == llama.batch_decode(sequences, skip_special_tokens=skip_special,
                                      clean_up_tokenization_spaces=clean_up)
    assert len(ours) == len(sequences) and ours[-2] == ""


def test_split_characters_decode_whole_in_a_sequence_and_as_replacement_alone(llama):
    ids = llama.encode("🦜", add_special_tokens=False)
    assert len(ids) == 3
    assert vocab.batch_decode(llama, [ids]) == ["🦜"]
    assert tokens.batch_decode_each(llama, ids) == llama.batch_decode([[i] for i in ids]) == ["\ufffd"] * 3


def test_skip_special_leaves_specials_out(llama):
    seq = llama.encode("<|eot_id|> typed as text")  # transformers encodes a typed special as the special
    assert seq[:2] == [128000, 128009]
    on, off = vocab.batch_decode(llama, [seq, [128000, 40, 128009]], skip_special=True), \
        vocab.batch_decode(llama, [seq, [128000, 40, 128009]])
    assert off == ["<|begin_of_text|><|eot_id|> typed as text", "<|begin_of_text|>I<|eot_id|>"]
    assert on == [" typed as text", "I"]


def test_lines_and_json_read_the_same_sequences(llama):
    sequences = encoded(llama)[:3] + [[]]
    lines = "\n".join(", ".join(map(str, s)) if s else "[]" for s in sequences)
    expected = llama.batch_decode(sequences)
    assert vocab.parse_sequences(lines) == sequences
    assert vocab.parse_sequences(json.dumps(sequences)) == sequences
    assert vocab.parse_sequences(json.dumps(sequences, indent=2)) == sequences  # JSON over several lines
    assert vocab.batch_decode(llama, lines) == vocab.batch_decode(llama, json.dumps(sequences)) == expected
    assert vocab.parse_sequences("\n  128000 40 1097\n\n3430 374 400\n") == [[128000, 40, 1097], [3430, 374, 400]]
    assert vocab.parse_sequences("[128000, 40]\n[3430]") == [[128000, 40], [3430]]  # bracketed lines


def test_a_flat_list_is_one_sequence_as_transformers_takes_it(llama):
    assert llama.batch_decode([128000, 13347]) == vocab.batch_decode(llama, [128000, 13347])
    assert vocab.batch_decode(llama, "[128000, 40, 1097]") == ["<|begin_of_text|>I am"]


def test_an_id_out_of_range_is_named_with_its_sequence_and_the_vocabulary_size(llama):
    assert llama.batch_decode([[999999]]) == [""]  # transformers says nothing: we must
    with pytest.raises(BadInput) as caught:
        vocab.batch_decode(llama, "128000 40\n3430 128256 999999")
    message = str(caught.value)
    assert "128256 in sequence 2" in message and "128,256 tokens" in message and "0 to 128,255" in message
    with pytest.raises(BadInput, match="999999 in sequence 1.*128,256 tokens"):
        vocab.batch_decode(llama, [[999999]])


@pytest.mark.parametrize("given, message", [
    ("40 abc", r"Not a token id in sequence 1: 'abc'"),
    ("40\n4.5", r"Not a token id in sequence 2: '4.5'"),
    ("40 ٣٤", r"Not a token id in sequence 1: '٣٤'"),  # only ASCII digits make an id
    ("40 -3", r"Not a token id in sequence 1: -3\. Token ids are 0 or more"),
    ("[[40], [1.5]]", r"Not a token id in sequence 2: '1.5'"),
    ("[[40], [true]]", r"Not a token id in sequence 2: 'true'"),
    ('[[40], ["41"]]', r"Not a token id in sequence 2"),
    ("[40, [41]]", r"Sequence 1 is not a list of ids"),
    ("[]", r"Send a list of id sequences"),
    ("", r"Type some token ids: one sequence per line"),
    ("  \n\n ", r"Type some token ids"),
    ("1234567890", r"at most 9 digits"),
    ("\n".join(["1"] * (vocab.MAX_SEQUENCES + 1)), r"1,001 sequences are more than the 1,000"),
    (json.dumps([[1] * 60_000, [1] * 60_000]), r"More than 100,000 ids in all \(120,000 by sequence 2\)"),
    ("1 " * (vocab.MAX_ID_TEXT // 2 + 1), r"characters of ids are more than"),
    ("40 \ud800", r"lone surrogate"),
])
def test_mistakes_say_what_to_send(llama, given, message):
    with pytest.raises(BadInput, match=message):
        vocab.batch_decode(llama, given)


def test_lists_are_checked_like_text(llama):
    for given, message in [([[40], [True]], "Not a token id in sequence 2"), ([[40], "41"], "Sequence 2 is not"),
                           ([[-1]], "0 or more"), ([], "Send a list"), (None, "Type some token ids"),
                           ([[1]] * (vocab.MAX_SEQUENCES + 1), "1,001 sequences")]:
        with pytest.raises(BadInput, match=message):
            vocab.batch_decode(llama, given)


def test_the_limits_themselves_are_accepted(llama):
    assert len(vocab.batch_decode(llama, [[40]] * vocab.MAX_SEQUENCES)) == vocab.MAX_SEQUENCES
    assert vocab.batch_decode(llama, [[40] * vocab.MAX_IDS]) == ["I" * vocab.MAX_IDS]


def test_clean_up_changes_a_wordpiece_tokenizer_and_matches_transformers():
    from pricer.tokenizer.loading import MINILM, load_tokenizer

    bert = load_tokenizer(MINILM).tokenizer
    ids = bert.encode("don't stop , ok .")
    on, off = vocab.batch_decode(bert, [ids], clean_up=True), vocab.batch_decode(bert, [ids], clean_up=False)
    assert on == bert.batch_decode([ids], clean_up_tokenization_spaces=True) == ["[CLS] don't stop, ok. [SEP]"]
    # the WordPiece decoder of its tokenizer.json tidies ' ,' itself; the toggle joins "don ' t"
    assert off == bert.batch_decode([ids], clean_up_tokenization_spaces=False) == ["[CLS] don ' t stop, ok. [SEP]"]
