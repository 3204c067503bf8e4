"""pricer.data.items: one raw record -> the course's Item, byte for byte, and pasted text -> the prompt, checked against the course's
own published prompts and against the course's code (benchmarks/course_loader.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pricer.data import items
from pricer.data.items import (
    MAX_TOKENS,
    PREFIX,
    QUESTION,
    Item,
    as_test_prompt,
    build_prompt,
    clean_up_spaces,
    contents,
    curate_batch,
    curate_text,
    cut_tokens,
    dataset_prompt,
    item_text,
    next_cut,
    parse_price,
    scrub,
    training_prompt,
)
from pricer.data.items import (
    test_prompt as make_test_prompt,
)
from pricer.errors import BadInput

LONG = ("This heavy duty replacement part fits most models and ships with every screw you need. " * 12).strip()


def curate_record(record: dict, tokenizer, category: str = "") -> Item | str:
    """One record through the batched curation: its Item, or the reason it was rejected."""
    (result,) = curate_batch([record], tokenizer, category)
    return result


def record(**fields):
    base = {"title": "Acme Widget Pro", "description": [LONG], "features": ["Steel body", "Two year warranty"],
            "details": {"Brand": "Acme", "Color": "Red"}, "price": 19.99}
    return base | fields


def published(path):
    """(title, body, price, prompt) of each row of a course data file."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        body = row["text"].split("\n\n", 1)[1].rsplit("\n\nPrice is $", 1)[0]
        title, _, rest = body.partition("\n")
        rows.append((title, rest, row["price"], row["text"]))
    return rows


# --- prices -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    (12.99, (12.99, None)), ("12.99", (12.99, None)), (" 12.99 ", (12.99, None)), (0.5, (0.5, None)),
    (999.49, (999.49, None)), ("999.49", (999.49, None)),
    (None, (None, "missing price")), ("None", (None, "missing price")), ("", (None, "missing price")),
    ("  ", (None, "missing price")),
    ("$12.99", (None, "bad price")), ("from 5.00", (None, "bad price")), ("—", (None, "bad price")),
    (True, (None, "bad price")), ([12.99], (None, "bad price")),
    ("nan", (None, "price out of range")), (float("nan"), (None, "price out of range")),
    ("-5", (None, "price out of range")), (0, (None, "price out of range")), ("0.49", (None, "price out of range")),
    (999.5, (None, "price out of range")), ("inf", (None, "price out of range")),
])
def test_prices_parse_as_the_course_loader_did(value, expected):
    assert parse_price(value) == expected


def test_every_bad_price_is_rejected_with_its_reason(llama):
    for value, reason in [(None, "missing price"), ("None", "missing price"), ("", "missing price"),
                          ("$12.99", "bad price"), ("from 5.00", "bad price"), ("—", "bad price"),
                          ("nan", "price out of range"), ("-5", "price out of range")]:
        assert curate_record(record(price=value), llama) == reason
    assert isinstance(curate_record(record(price="19.99"), llama), Item)


# --- scrubbing and contents ---------------------------------------------------------------------


def test_scrub_collapses_junk_tidies_commas_and_drops_part_numbers():
    assert scrub('Widget  "Pro" [2024] , part ABC12345,, ok') == "Widget Pro 2024, part ok"
    assert scrub("{【Size】: 8,,, x} \n\t 10") == "Size 8, x 10"
    assert scrub("model XJ-2000B fits ²²²²²²² and abcdefg") == "model fits and abcdefg"  # isdigit, as the course
    assert scrub("") == ""


def test_details_dict_is_serialized_as_the_hub_loader_did_with_boilerplate_removed():
    text = contents(record(description=[], features=[], details={
        "Brand": "小米", "Batteries Required?": "No", "Item Weight": "2 Pounds", "Date First Available": "May 1"}))
    assert text == '{"Brand" "\\u5c0f\\u7c73", , " Weight" "2 Pounds", " Available" "May 1"}\n'
    hub_form = contents(record(description=[], features=[], details=json.dumps({"Brand": "小米"})))
    assert hub_form == contents(record(description=[], features=[], details={"Brand": "小米"}))


def test_raw_records_take_the_hub_loader_form():
    from pricer.data.items import hub_record

    raw = {"title": "T", "description": ["d"], "details": {"Brand": "Ünï"}, "price": 12.5}
    assert hub_record(raw) == {"title": "T", "description": ["d"], "features": [],
                               "details": '{"Brand": "\\u00dcn\\u00ef"}', "price": "12.5"}
    # a present null is dumped as the loader did; an absent key stays None
    assert hub_record({"details": None, "price": None}) == {
        "title": None, "description": [], "features": [], "details": "null", "price": "None"}
    assert hub_record({})["details"] is None and hub_record({})["price"] is None
    assert hub_record({"details": '{"a": 1}'})["details"] == '{"a": 1}'  # already the hub's form


def test_empty_details_dict_counts_as_the_hub_string_does():
    assert contents(record(description=["a"], features=[], details={})) == "a\n{}\n"
    assert contents(record(description=["a"], features=[], details="{}")) == "a\n{}\n"
    assert contents(record(description=["a"], features=[], details=None)) == "a\n"


def test_missing_fields_and_empty_lists_are_handled():
    assert contents({"description": [], "features": []}) == ""
    assert contents({"description": ["", ""], "features": None}) == "\n\n"  # the course's join, kept
    assert contents({"description": "one line, not characters"}) == "one line, not characters\n"
    assert contents({"features": ["a", None, 3]}) == "a\n3\n"


def test_missing_title_is_rejected_but_an_empty_title_is_kept_as_the_course_did(llama):
    assert curate_record(record(title=None), llama) == "missing title"
    assert curate_record({k: v for k, v in record().items() if k != "title"}, llama) == "missing title"
    item = curate_record(record(title=""), llama)
    assert isinstance(item, Item) and item.text.startswith("\nThis heavy duty")


def test_short_contents_and_few_tokens_are_rejected(llama):
    assert curate_record(record(description=["x" * 100], features=[], details=None), llama) == "too short"
    # 301+ characters but few tokens: one long word is a handful of tokens
    assert curate_record(record(description=["a" * 400], features=[], details=None), llama) == "too few tokens"


# --- tokens -------------------------------------------------------------------------------------


def test_2024_decode_clean_up():
    assert clean_up_spaces("It is n't ok . Is it ? Yes ! a , b ' c they 're we 've I 'm it 's") == \
        "It isn't ok. Is it? Yes! a, b'c they're we've I'm it's"


@pytest.mark.parametrize("text", ["It is n't ok . Is it ? Yes ! a , b ' c ' d they 're we 've I 'm it 's",
                                  " ' ' , , . . n'tn't 's's", "no change here", ""])
def test_2024_decode_clean_up_is_transformers_own(llama, text):
    # transformers 5 keeps the function but no longer calls it on decode for BPE tokenizers
    assert clean_up_spaces(text) == llama.clean_up_tokenization(text)


def test_curated_text_has_the_2024_clean_up_applied(llama):
    body = "Size 8 . Do n't worry , it 's fine ! " + LONG
    item = curate_record(record(description=[body]), llama)
    assert item.text.startswith("Acme Widget Pro\nSize 8. Don't worry, it's fine! This heavy")


def test_no_published_prompt_has_what_the_clean_up_removes(shared_data, llama):
    """800 real prompts and not one ` .`, ` !` or ` 's`: the 2024 decode clean-up ran on them.
    Raw text full of them comes out of our curation the same way."""
    published_texts = [json.loads(line)["text"] for name in ("test-250.jsonl", "train-550.jsonl")
                       for line in (shared_data / name).read_text(encoding="utf-8").splitlines()]
    noisy = record(description=["Great ! Size 8 . 5 , it 's the one you 've wanted , is n't it ? " * 12])
    for text in published_texts + [curate_record(noisy, llama).prompt]:
        assert not [old for old, _ in items.CLEAN_UPS if old in text]


def test_text_is_cut_to_160_tokens(llama):
    item = curate_record(record(), llama)
    assert len(llama.encode(item.text, add_special_tokens=False)) in range(155, 161)  # re-encoding may merge
    ids = llama.encode(f"{scrub('Acme Widget Pro')}\n{scrub(contents(record())[:1120])}", add_special_tokens=False)
    assert item.text == clean_up_spaces(llama.decode(ids[:160]))


AWKWARD = [
    "", "a", " ", "plain words " * 200, "😀🎉 emoji " * 120, "中文产品描述，高品质材料。" * 60,
    "منتج عالي الجودة مع ضمان " * 60, "digits 1234567890 " * 100, "a  b   c\u00a0d \u3000e " * 150,
    "<|begin_of_text|> special <|eot_id|> " * 40, "x" * 5000, "word, " * 400 + "end",
]


@pytest.mark.parametrize("text", AWKWARD, ids=range(len(AWKWARD)))
def test_sliced_encoding_gives_the_tokens_of_the_whole_text(llama, text):
    whole = llama.encode(text, add_special_tokens=False)
    first = items.first_tokens(llama, [text])[0]
    assert first == whole[: len(first)] and (len(first) > 160 or first == whole)
    assert cut_tokens(llama, [text]) == [clean_up_spaces(llama.decode(whole[:160])) if len(whole) > 150 else None]


def test_next_cut_only_cuts_at_a_space_after_a_non_space():
    assert next_cut("ab  cd ef", 0) == 2 and next_cut("ab  cd ef", 3) == 6 and next_cut("abc", 1) == 3


# --- prompts ------------------------------------------------------------------------------------


def test_training_prompt_rounds_as_python_does_and_test_prompt_stops_at_the_answer():
    assert training_prompt("T\nbody", 2.5).endswith("\n\nPrice is $2.00")  # banker's rounding, as the course
    assert training_prompt("T\nbody", 3.5).endswith("Price is $4.00")
    assert training_prompt("T\nbody", 374.41) == "How much does this cost to the nearest dollar?\n\nT\nbody\n\nPrice is $374.00"
    assert make_test_prompt("T\nbody") == "How much does this cost to the nearest dollar?\n\nT\nbody\n\nPrice is $"
    # the course cut at the first "Price is $", even inside the text
    assert make_test_prompt("T\nOld Price is $5 now") == "How much does this cost to the nearest dollar?\n\nT\nOld Price is $"


def test_item_record_has_the_curated_fields(llama):
    item = curate_record(record(price="19.99"), llama, category="Appliances")
    assert item.to_record() == {"text": item.prompt, "price": 19.99, "category": "Appliances", "title": "Acme Widget Pro"}
    assert item.prompt.endswith("\n\nPrice is $20.00") and item.test_prompt == item.prompt[: -len("20.00")]


# --- against the course's own outputs and code ---------------------------------------------------


@pytest.mark.parametrize("name", ["test-250.jsonl", "train-550.jsonl"])
def test_published_prompts_are_fixed_points_of_curation(llama, shared_data, name):
    """A record built from a published prompt's body curates back to that very prompt whenever
    the body is a fixed point of scrub(). Two kinds of body are not, and are checked apart:
    - the 160-token cut ended in a space, which the course kept and our re-run's scrub() strips:
      exactly that one space differs;
    - the 2024 clean-up glued a word to a number (`Tape .94` -> `Tape.94`), which a second
      scrub() drops as a part number: these cannot be re-curated and must stay rare."""
    rows = [r for r in published(shared_data / name) if len(r[1]) > 300]  # the rest lost characters to scrub()
    results = items.curate_batch([{"title": t, "description": [b], "features": [], "details": None, "price": p}
                                  for t, b, p, _ in rows], llama)
    fixed = trailing = other = 0
    for (title, body, _, prompt), result in zip(rows, results, strict=True):
        ours = None if isinstance(result, str) else result.prompt if "train" in name else result.test_prompt
        if scrub(body) == body and scrub(title) == title:
            assert ours == prompt
            fixed += 1
        elif scrub(body) == body[:-1] and body.endswith(" "):
            assert ours == prompt.replace(" \n\nPrice is $", "\n\nPrice is $", 1)
            trailing += 1
        else:
            other += 1
    assert fixed >= 0.9 * len(rows) and trailing >= 5 and other <= 5, (fixed, trailing, other)


def test_batched_curation_equals_the_course_code_record_by_record(llama, shared_data):
    from benchmarks.course_loader import ItemLoader
    from benchmarks.curate_bench import realistic_records
    from pricer.data.items import hub_record

    raw = realistic_records(600, seed=7, shared=shared_data)
    hub_rows = [hub_record(r) for r in raw]
    loader = ItemLoader("Automotive", None)
    course = [loader.from_datapoint(r) for r in hub_rows]
    ours = items.curate_batch(hub_rows, llama)
    assert [c.prompt if c else None for c in course] == [None if isinstance(o, str) else o.prompt for o in ours]
    assert sum(c is not None for c in course) > 300


# --- pasted text ----------------------------------------------------------------------------------


def test_pasted_text_is_curated_exactly_like_a_record_with_that_title_and_description(llama):
    for body in [LONG, "Size 8 . Do n't worry , it 's fine ! " + LONG * 3, "中文产品描述，高品质材料。" * 60]:
        item = curate_record(record(description=[body], features=[], details=None), llama)
        assert isinstance(item, Item)
        prompt, _ = curate_text(f"Acme Widget Pro\n{body}", llama)
        assert prompt == item.test_prompt


def test_a_long_pasted_text_is_cut_and_the_note_counts_all_its_tokens(llama):
    text = "Giant Widget\n" + " ".join(f"{word} widget" for word in ["red", "blue", "green", "large"] * 100)
    prompt, note = curate_text(text, llama)
    whole = llama.encode(item_text("Giant Widget", text.partition("\n")[2]), add_special_tokens=False)
    assert prompt == make_test_prompt(clean_up_spaces(llama.decode(whole[:160])))
    assert f"cut from {len(whole)} to the first 160 tokens" in note and "short" not in note


def test_a_short_pasted_text_is_still_curated_and_the_note_says_so(llama):
    prompt, note = curate_text('Garlic press "XL" ABC12345', llama)
    assert prompt == f"{QUESTION}\n\nGarlic press XL\n\n{PREFIX}"
    assert "This text is short (4 tokens)" in note and "cut from" not in note


def test_a_dataset_prompt_is_recognised_and_its_answer_removed():
    prompt = f"{QUESTION}\n\nA mug\n\n{PREFIX}"
    assert dataset_prompt(prompt) == (prompt, "A prompt in the dataset's format: used as is.")
    assert dataset_prompt(prompt + "1,299.00\n") == (prompt, "A prompt in the dataset's format: used as is "
                                                           "(its answer $1,299.00 removed).")
    assert dataset_prompt(prompt + "about 12") is None  # not an answer: pasted text, curated
    assert dataset_prompt("A mug\n\n" + PREFIX) is None  # not the question first
    # the cut is the course's, after the first `Price is $`, as data and evaluation cut test prompts
    inner = f"{QUESTION}\n\nOld Price is $5 now\n\n{PREFIX}5.00"
    assert dataset_prompt(inner)[0] == as_test_prompt(inner) == f"{QUESTION}\n\nOld {PREFIX}"


def test_a_prompt_longer_than_curation_makes_is_curated_and_cut_not_sent_whole(llama):
    disguised = f"{QUESTION}\n\nA mug\n" + "very fine mug " * 6_500 + f"\n\n{PREFIX}"
    assert len(disguised) > 90_000 and dataset_prompt(disguised) is None
    prompt, note = build_prompt(disguised, llama)
    assert len(llama(prompt)["input_ids"]) < 200 and "to the first 160 tokens" in note
    longest = f"{QUESTION}\n\n" + "word " * 780 + f"\n\n{PREFIX}"  # under PROMPT_CHARS: still a prompt
    assert dataset_prompt(longest) is not None


# --- the pasted text -> prompt step (build_prompt) -------------------------------------------------------------------------------


def test_a_dataset_test_prompt_is_used_exactly_as_is(test_250):
    first = json.loads(test_250.read_text().splitlines()[0])["text"]
    prompt, note = build_prompt(first)
    assert prompt == first
    assert "used as is" in note


def test_a_training_prompt_loses_its_answer(train_550: Path):
    record = json.loads(train_550.read_text().splitlines()[0])
    assert not record["text"].endswith(PREFIX)
    prompt, note = build_prompt(record["text"])
    assert prompt.endswith(PREFIX) and prompt == record["text"][: record["text"].rindex(PREFIX)] + PREFIX
    assert "removed" in note


def test_pasted_text_is_curated_exactly_like_the_training_items(shared_data: Path, llama):
    records = [json.loads(line) for line in (shared_data / "raw-meta-sample.jsonl").read_text().splitlines()]
    checked = 0
    for record, item in zip(records, curate_batch([{**r, "price": 10.0} for r in records], llama), strict=True):
        if isinstance(item, str):
            continue
        pasted = record["title"] + "\n" + contents(record)
        assert build_prompt(pasted, llama)[0] == item.test_prompt
        checked += 1
    assert checked >= 3


def test_long_pasted_text_is_cut_to_160_tokens(llama):
    text = "Giant Widget\n" + " ".join(f"{word} widget" for word in ["red", "blue", "green", "large"] * 100)
    prompt, note = build_prompt(text, llama)
    body = prompt[len(QUESTION) + 2: -len(PREFIX) - 2]
    assert len(llama.encode(body, add_special_tokens=False)) == pytest.approx(MAX_TOKENS, abs=1)
    assert "first 160 tokens" in note


def test_short_text_is_still_priced_with_a_note(llama):
    prompt, note = build_prompt("Stainless steel garlic press", llama)
    assert prompt == f"{QUESTION}\n\nStainless steel garlic press\n\n{PREFIX}"
    assert "short" in note and "trust the price less" in note


def test_part_numbers_are_scrubbed_from_pasted_text(llama):
    prompt, _ = build_prompt('Widget  "Pro" [2024]\nfits model ABC12345 and more', llama)
    assert "ABC12345" not in prompt and "Widget Pro 2024" in prompt


@pytest.mark.parametrize("text", ["", "   \n  "])
def test_empty_text_asks_for_a_description(text):
    with pytest.raises(BadInput, match="Paste a product"):
        build_prompt(text)
