"""The Tokenizer tab: its HTML escapes everything, its endpoints answer gradio_client, and in
real Chromium typing shows chips and counts while `<img onerror>` stays text and fires nothing."""

from __future__ import annotations

import html
import re

import pytest
from conftest import fill_opened, type_text

from pricer.tokenizer import comparison, tokens, vocab
from ui import tokenizer_tab as tab
from ui import tokenizer_views as views

EVIL = "<img src=x onerror=alert(1)>"


def test_chips_escape_their_text_and_show_whitespace_as_glyphs():
    out = views.render_chips({"ids": [1, 2, 3], "pieces": [" " + EVIL, "\n<script>"], "split_pieces": [[0, 2]]})
    assert "<img" not in out and "<script" not in out
    assert "&lt;img" in out and "onerror=alert(1)&gt;" in out and "&lt;script&gt;" in out
    assert '<span class="ws">␣</span>' in out and '<span class="ws">↵</span>' in out
    assert 'title="ids 1 2: one character split over 2 tokens"' in out and 'title="id 3"' in out


def test_chips_alternate_colours_and_stop_at_the_limit_with_a_notice():
    out = views.render_chips({"ids": list(range(12)), "pieces": [str(n) for n in range(12)]}, limit=10)
    assert re.findall(r'class="chip (c\d)', out)[:6] == ["c0", "c1", "c2", "c3", "c4", "c0"]
    assert out.count('class="chip ') == 10 and "first 10 of 12 pieces" in out


def test_chips_are_laid_out_a_block_per_line_of_the_text_cut_after_chip_line():
    texts = ["a\n", "b", "c\n", "\n"] + ["x"] * (views.CHIP_LINE + 5)
    assert views.chip_lines(texts) == [0, 1, 3, 4, 4 + views.CHIP_LINE]
    out = views.render_chips({"ids": list(range(len(texts))), "pieces": texts})
    assert out.startswith('<div class="lines"><div class="chips"><span class="chip c0"') and "<br>" not in out
    assert out.count('<div class="chips">') == 5 and out.count('class="chip ') == len(texts)
    assert views.render_chips({"ids": [], "pieces": []}) == '<div class="lines"></div>'


def test_every_view_escapes_vocabulary_and_messages(llama):
    result = tab.tokenize(EVIL, "offline/llama-3.1")
    status, stats, chips, ids, decoded, batch, numbers = views.render(result)
    assert all("<img" not in v for v in (status, stats, chips, ids, decoded, batch, numbers))
    assert html.escape(EVIL) in decoded  # the text shown as text, never as HTML
    assert "<img" not in views.render_status({"error": f"No such local path: ./{EVIL}"})
    found = vocab.search_vocab(llama, "<")
    assert "&lt;" in views.render_vocab(found) and "<|" not in views.render_vocab(found)
    assert "<|begin_of_text|>" not in views.render_specials(vocab.specials(llama), "x")
    bad = comparison.Comparison(f"./{EVIL}", error=f"No such local path: ./{EVIL}")
    assert "<img" not in views.render_comparison([bad])


def test_the_chat_view_escapes_the_rendered_template():
    chat = tokens.ChatRendering(f"<|begin_of_text|>{EVIL}", note="The template adds 1 tokens around the messages' 5.")
    out = views.render_chat(chat)
    assert "<img" not in out and "<|begin" not in out and "&lt;|begin_of_text|&gt;" in out


def test_the_numbers_view_states_the_one_token_claim_and_lists_the_numbers():
    out = views.render_numbers(tab.tokenize("Price is $374.41, was 1,299", "offline/llama-3.1"))
    assert "Every integer from 0 to 999 is a single token" in out
    assert "<td>374.41</td><td>3</td>" in out and "<td>1,299</td><td>3</td>" in out
    assert "No numbers in the text." in views.render_numbers(tab.tokenize("no digits", "offline/llama-3.1"))


def test_the_specials_view_counts_the_vocabulary_and_an_unloadable_tokenizer_says_why():
    out = tab.show_specials("offline/llama-3.1")
    assert "128,256 tokens (128,000 in the base vocabulary + 256 added)" in out
    assert "&lt;|eot_id|&gt;" in out and 'title="id 128009"' in out
    with pytest.warns(UserWarning):  # gr.Warning outside an event
        bad = tab.show_specials("Qwen/Qwen2-7B-Instruct")
    assert bad.startswith('<p class="error">') and "HF_HUB_OFFLINE" in bad


def test_vocabulary_pages_do_not_go_below_the_first_or_past_the_last():
    assert tab.previous_page("offline/llama-3.1", "ing", 1)[1] == 1
    assert tab.next_page("offline/llama-3.1", "ing", 1)[1] == 2
    last = vocab.search_vocab(tab.load_tokenizer("offline/llama-3.1").tokenizer, "ing").pages
    html_, page = tab.next_page("offline/llama-3.1", "ing", last)
    assert page == last and f"page {last} of {last}" in html_


def test_status_names_the_tokenizer_and_the_fallback_note():
    result = tab.tokenize("hi", "")
    assert result["tokenizer"].startswith("Llama 3.1 (offline copy")
    status = views.render_status(result)
    assert "offline copy" in status and "HF_HUB_OFFLINE" in status
    # the offline copy standing in gives the same tokens: said quietly, not as a warning
    assert '<span class="stand-in">The same tokens as meta-llama/Meta-Llama-3.1-8B, from pricer&#x27;s offline copy' in status
    assert 'class="notice"' not in status and "Cannot load" not in status


def test_the_product_example_is_a_real_test_prompt(test_250, monkeypatch):
    monkeypatch.setenv("PRICER_DATASET", str(test_250))
    assert tab.product_example().startswith("How much does this cost to the nearest dollar?\n\nOEM AC Compressor")


def test_no_product_example_without_local_data(monkeypatch, tmp_path):
    monkeypatch.setenv("PRICER_DATASET", "ed-donner/pricer-data")  # a hub id: never downloaded at build
    assert tab.product_example() is None
    monkeypatch.setenv("PRICER_DATASET", str(tmp_path / "missing.jsonl"))
    assert tab.product_example() is None


def test_the_live_view_of_an_unloadable_tokenizer_pops_nothing_up_and_empties_the_views():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # gr.Warning outside an event is a UserWarning: none may come
        result, status, stats, chips, ids, decoded, batch, numbers = tab.tokenize_and_render(
            "hi", "Qwen/Qwen2-7B-Instruct", True, False)
    assert "Qwen/Qwen2-7B-Instruct" in result["error"] and "HF_HUB_OFFLINE" in status
    assert "Nothing tokenized" in stats
    assert all(re.fullmatch(r'<div data-view="\w+" data-answer="\d+"></div>', v) for v in (chips, ids, decoded, batch, numbers))


def test_a_bad_page_number_is_the_first_page():
    for page in (None, float("nan"), float("inf"), -float("inf")):
        assert tab.lookup("offline/llama-3.1", "ing", page)[1] == 1


# --- the running app, through gradio_client ----------------------------------------------------


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_tokenize_endpoint_answers_the_course_example(client):
    out = client.predict(tokens.COURSE_EXAMPLE, "", True, False, api_name="/tokenize")
    assert (out["chars"], out["count"]) == (61, 15)
    assert out["ids"][0] == 128000 and len(out["pieces"]) == 15 and out["pieces"][2] == " am"
    assert out["decoded"] == "<|begin_of_text|>" + tokens.COURSE_EXAMPLE
    assert "offline copy" in out["note"]


def test_tokenize_endpoint_cuts_long_input_and_says_so(client):
    out = client.predict("ab " * 40_000, "offline/llama-3.1", False, False, api_name="/tokenize")
    assert out["chars"] == tokens.MAX_CHARS and out["cut_chars"] == 20_000


def test_tokenize_endpoint_refuses_an_unloadable_tokenizer_with_an_error(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Qwen/Qwen2-7B-Instruct.*HF_HUB_OFFLINE"):
        client.predict("hi", "Qwen/Qwen2-7B-Instruct", True, False, api_name="/tokenize")


def test_each_endpoint_names_its_inputs_and_its_output(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    shapes = {name: ([p["parameter_name"] for p in api[name]["parameters"]], [r["label"] for r in api[name]["returns"]])
              for name in ("/tokenize", "/vocab", "/decode", "/chat_template", "/compare")}
    assert shapes == {
        "/tokenize": (["text", "tokenizer", "add_special", "skip_special"], ["tokenization"]),
        "/vocab": (["tokenizer", "query", "page"], ["vocab"]),
        "/decode": (["tokenizer", "ids", "skip_special"], ["decoding"]),
        "/chat_template": (["tokenizer", "system", "user"], ["chat"]),
        "/compare": (["text", "tokenizer", "first", "second", "third", "add_special"], ["comparison"]),
    }
    assert not any(n.startswith(("/value_", "/tokenize_", "/compare_")) for n in api)


def test_decode_endpoint_answers_data_and_refuses_invalid_ids_with_an_error(client):
    from gradio_client.exceptions import AppError

    out = client.predict("", "128000, 40, 1097", False, api_name="/decode")
    assert out["decoded"] == "<|begin_of_text|>I am" and out["ids"] == [128000, 40, 1097]
    assert out["pieces"] == ["<|begin_of_text|>", "I", " am"] and out["special_pieces"] == [0]
    with pytest.raises(AppError, match="Not in the vocabulary: 128256"):
        client.predict("", "40, 128256", False, api_name="/decode")


def test_vocab_endpoint_pages_server_side(client):
    out = client.predict("", "ing", 2, api_name="/vocab")
    assert out["page"] == 2 and out["pages"] > 2 and out["total"] > len(out["entries"]) == vocab.PAGE_SIZE
    assert all("ing" in (e["text"] + e["token"]).lower() for e in out["entries"])
    assert set(out["entries"][0]) == {"id", "token", "text", "special"}
    assert client.predict("", "3430", 1, api_name="/vocab")["entries"][0] == {
        "id": 3430, "token": "Ġprice", "text": " price", "special": False}  # a whole number is an id too


def test_compare_endpoint_gives_each_failure_its_entry_and_the_others_still_work(client):
    out = client.predict("the price", "", "Qwen/Qwen2-7B-Instruct", "meta-llama/Meta-Llama-3.1-8B-Instruct",
                         "", True, api_name="/compare")
    assert [c["name"] for c in out] == ["meta-llama/Meta-Llama-3.1-8B", "Qwen/Qwen2-7B-Instruct",
                                        "meta-llama/Meta-Llama-3.1-8B-Instruct"]
    assert "HF_HUB_OFFLINE" in out[1]["error"] and out[1]["count"] == 0
    # the reference and the Instruct id both read it through the offline Llama copy:
    # <|begin_of_text|>, the, price
    assert out[0]["count"] == out[2]["count"] == 3 and "Llama 3.1" in out[0]["label"]


def test_chat_template_endpoint_says_the_base_tokenizer_has_none(client):
    out = client.predict("", "sys", "user", api_name="/chat_template")
    assert out["rendered"] is None and "no chat template" in out["note"]


def _raw_call(app_url: str, name: str, *data) -> str:
    """An API call as any HTTP client can send it (gradio_client cannot encode a lone surrogate)."""
    import json
    import urllib.request

    request = urllib.request.Request(f"{app_url}gradio_api/call/{name}", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"})
    event = json.loads(urllib.request.urlopen(request, timeout=60).read())["event_id"]
    return urllib.request.urlopen(f"{app_url}gradio_api/call/{name}/{event}", timeout=60).read().decode()


@pytest.mark.parametrize("name, data, what", [
    ("tokenize", ["price \ud800", "", True, False], "in the text"),
    ("tokenize", ["price", "x\udc00/y", True, False], "in the tokenizer name"),
    ("vocab", ["", "\ud800", 1], "in the query"),
    ("decode", ["", "40 \udfff", False], "in the token ids"),
    ("chat_template", ["", "\ud800", "How much?"], "in the system message"),
    ("compare", ["a\ud800", "", "", "", "", True], "in the text"),
])
def test_api_text_with_a_lone_surrogate_is_an_error_that_says_so(app_url, name, data, what):
    answer = _raw_call(app_url, name, *data)
    assert answer.startswith("event: error") and f"{what} is not valid Unicode" in answer


def test_api_none_in_place_of_text_is_an_error_that_says_so(client):
    from gradio_client.exceptions import AppError

    for args, name, message in [((None, "", True, False), "/tokenize", "No text was sent"),
                                (("", None, False), "/decode", "Type some token ids"),
                                (("", "Be brief", None), "/chat_template", "No user message was sent"),
                                ((None, "", "", "", "", True), "/compare", "No text was sent")]:
        with pytest.raises(AppError, match=message):
            client.predict(*args, api_name=name)


# --- real Chromium ------------------------------------------------------------------------------


def test_typing_shows_chips_and_counts_live(page):
    page.locator("#tok-chips .chip").first.wait_for(timeout=60_000)
    type_text(page, "I am excited")
    page.locator("#tok-stats .chars", has_text=re.compile(r"^12$")).wait_for(timeout=20_000)
    assert page.inner_text("#tok-stats .count") == "4"
    chips = page.locator("#tok-chips .chip")
    assert chips.all_inner_texts() == ["<|begin_of_text|>", "I", "␣am", "␣excited"]
    assert chips.nth(2).get_attribute("title") == "id 1097"
    assert "128000, 40, 1097, 12304" in page.text_content("#tok-ids .ids")


def test_typed_html_shows_literally_and_runs_nothing(page):
    page.locator("#tok-chips .chip").first.wait_for(timeout=60_000)
    typed = EVIL + " <script>alert(2)</script> ${alert(3)}"
    type_text(page, typed)
    page.locator("#tok-stats .chars", has_text=re.compile(f"^{len(typed)}$")).wait_for(timeout=20_000)
    page.wait_for_timeout(300)
    text = page.inner_text("#tok-chips").replace("␣", " ")
    assert EVIL in text and "<script>alert(2)</script>" in text and "${alert(3)}" in text
    assert page.locator("#tok-chips img, #tok-chips script").count() == 0
    assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    assert page.dialogs == []  # the fixture also fails the test on any dialog


def test_an_example_and_the_button_update_the_views(page):
    page.locator("#tok-chips .chip").first.wait_for(timeout=60_000)
    type_text(page, "x")
    page.locator("#tok-stats .chars", has_text=re.compile("^1$")).wait_for(timeout=20_000)
    page.get_by_role("button", name=re.compile("^Hi ")).click()
    page.locator("#tok-chips .chip.split").first.wait_for(timeout=20_000)  # 👋 takes several byte tokens
    assert "␣374" not in page.inner_text("#tok-chips")  # numbers are split from their space
    page.get_by_text("Numbers: how prices tokenize").click()
    assert "374.41" in page.inner_text("#tok-numbers")
    page.get_by_label("Add special tokens (encode)").uncheck()
    page.get_by_role("button", name="Tokenize", exact=True).click()
    page.wait_for_function("!document.querySelector('#tok-chips').innerText.includes('begin_of_text')",
                           timeout=20_000)
    assert not page.text_content("#tok-ids .ids").startswith("128000")


def test_a_bad_tokenizer_name_gives_one_message_and_empties_the_views(page):
    page.locator("#tok-chips .chip").first.wait_for(timeout=60_000)
    name = page.get_by_label("Tokenizer (hub id or local path)")
    name.fill("Qwen/Qwen2-7B-Instruct")
    name.press("Enter")
    page.locator("#tok-status .error").wait_for(timeout=20_000)
    type_text(page, "abcdef")  # six more live updates with the same bad tokenizer
    page.locator("#tok-stats .stale").wait_for(timeout=20_000)
    assert page.locator("#tok-chips .chip").count() == 0 and page.locator("#tok-ids .tid").count() == 0
    name.fill("offline/llama-3.1")  # back to a good one: every earlier event has been answered by then
    name.press("Enter")
    page.locator("#tok-chips .chip", has_text="abcdef").wait_for(timeout=20_000)
    messages = page.locator(".toast-body").all_inner_texts()
    assert len(messages) <= 1, messages


# --- batch_decode and the known tokenizers (issue 20, items 1 and 2) ----------------------------


def test_the_batch_decode_fold_shows_a_python_list_escaped(llama):
    out = tab.batch_decode_typed("offline/llama-3.1", "128000 40 1097\n[]\n27, 1931", False, False)
    texts = llama.batch_decode([[128000, 40, 1097], [], [27, 1931]])
    assert texts[2] == "<img"
    assert out == ('<p>3 texts</p><pre class="batch">[&#x27;&lt;|begin_of_text|&gt;I am&#x27;,\n &#x27;&#x27;,\n'
                   ' &#x27;&lt;img&#x27;]</pre>')
    assert "<img" not in out and "<|" not in out
    with pytest.warns(UserWarning):
        bad = tab.batch_decode_typed("offline/llama-3.1", f"40\n{EVIL}", False, False)
    assert bad.startswith('<p class="error">Not a token id in sequence 2') and "<img" not in bad


def test_the_tokenizer_dropdown_lists_the_known_tokenizers_and_marks_those_that_cannot_load():
    from pricer.tokenizer.loading import KNOWN_TOKENIZERS

    choices = dict((name, label) for label, name in tab.tokenizer_choices("meta-llama/Meta-Llama-3.1-8B", "./mine"))
    assert list(choices)[:len(KNOWN_TOKENIZERS)] == [k.name for k in KNOWN_TOKENIZERS] and choices["./mine"] == "./mine"
    assert choices["offline/claude-legacy"] == "Claude (legacy tokenizer shipped in anthropic 0.38, byte-level BPE, 65k)"
    assert choices["offline/all-minilm-l6-v2"].startswith("all-MiniLM-L6-v2 (WordPiece")
    assert choices["Qwen/Qwen2-7B-Instruct"].endswith("— needs the Hugging Face Hub (HF_HUB_OFFLINE is set)")
    assert "—" not in choices["meta-llama/Meta-Llama-3.1-8B"] and "—" not in choices["offline/llama-3.1"]


def test_the_comparison_defaults_to_tokenizers_that_load_offline():
    assert comparison.COMPARE_DEFAULTS[:2] == ("offline/all-minilm-l6-v2", "offline/claude-legacy")
    rows = comparison.compare(tokens.COURSE_EXAMPLE, comparison.COMPARE_DEFAULTS, reference="")
    assert [(r.error, r.count) for r in rows] == [("", 15), ("", 17), ("", 14)]


def test_comparison_rows_for_three_tokenizers_with_counts_and_the_spans_cut_differently():
    text = "Tokenizers in action 🦜"
    rows = comparison.compare(text, ["offline/all-minilm-l6-v2", "offline/claude-legacy"], reference="offline/llama-3.1")
    llama_, bert, claude = rows
    # Llama: Token|izers| in| action| 🦜 (3 byte tokens, one span); BERT: token|##izer|##s; Claude: Token|izers
    assert llama_.spans == ((0, 5), (5, 10), (11, 13), (14, 20), (21, 22))
    assert bert.spans == ((0, 5), (5, 9), (9, 10), (11, 13), (14, 20), (21, 22))
    out = views.render_comparison(rows, text)
    assert out.count("<tr><td>") == 3
    assert "<td>8</td><td>22</td><td>36.4</td><td>0</td>" in out  # Llama itself: 8 tokens per 22 characters
    assert "<td>2</td></tr>" in out  # BERT's 'izer' and 's' are not Llama's spans
    assert out.count('class="chip c1 differs"') + out.count('class="chip c2 differs"') == 2
    assert 'title="cut unlike the first tokenizer">izer</span>' in out


def test_a_comparison_with_an_unknown_hub_id_says_tokenizer_and_the_others_answer():
    out = tab.compare("the price", "", "offline/claude-legacy", "someone/no-such-tokenizer", "offline/all-minilm-l6-v2",
                      True)
    assert "Cannot load tokenizer someone/no-such-tokenizer: HF_HUB_OFFLINE is set" in out
    assert 'class="error">could not load</td>' in out and out.count("<tr><td>") == 4
    assert "Claude (legacy tokenizer" in out and "all-MiniLM-L6-v2" in out and "model" not in out.split("</table>")[0]


def test_batch_decode_endpoint_answers_what_transformers_answers(client, llama):
    from gradio_client.exceptions import AppError

    out = client.predict("", "128000 40 1097\n3430 374 400\n[]\n11410 99 250", False, False, api_name="/batch_decode")
    assert out == {"texts": llama.batch_decode([[128000, 40, 1097], [3430, 374, 400], [], [11410, 99, 250]])}
    assert out["texts"] == ["<|begin_of_text|>I am", " price is $", "", " 🦜"]
    as_json = client.predict("offline/llama-3.1", "[[128000, 40], [128009]]", True, False, api_name="/batch_decode")
    assert as_json == {"texts": ["I", ""]}
    assert client.predict("", [[40], [1097]], False, False, api_name="/batch_decode") == {"texts": ["I", " am"]}
    with pytest.raises(AppError, match=r"Not in the vocabulary: 999999 in sequence 2\. This tokenizer has 128,256"):
        client.predict("", "40\n999999", False, False, api_name="/batch_decode")
    with pytest.raises(AppError, match="Not a token id in sequence 1"):
        client.predict("", "[[1.5]]", False, False, api_name="/batch_decode")


def test_batch_decode_endpoint_names_its_inputs_and_output(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/batch_decode"]
    assert [p["parameter_name"] for p in api["parameters"]] == ["tokenizer", "sequences", "skip_special", "clean_up"]
    assert [r["label"] for r in api["returns"]] == ["batch_decoding"]


def test_compare_endpoint_answers_the_offline_tokenizers_with_counts_and_spans(client):
    out = client.predict("the price", "", "offline/all-minilm-l6-v2", "offline/claude-legacy",
                         "Qwen/Qwen2-7B-Instruct", True, api_name="/compare")
    assert [(c["count"], c["tokens_per_100_chars"]) for c in out[:3]] == [(3, 33.33), (4, 44.44), (2, 22.22)]
    assert out[1]["spans"] == [[0, 3], [4, 9]] and out[1]["ids"] == [101, 1996, 3976, 102]  # [CLS] the price [SEP]
    assert "Cannot load tokenizer Qwen/Qwen2-7B-Instruct" in out[3]["error"]


def test_the_dropdown_picks_a_known_tokenizer_and_the_batch_fold_decodes(page):
    page.locator("#tok-chips .chip").first.wait_for(timeout=60_000)
    box = page.get_by_label("Tokenizer (hub id or local path)")
    box.click()
    option = page.get_by_role("option", name=re.compile("^Claude \\(legacy tokenizer"))
    option.wait_for(timeout=10_000)
    assert page.get_by_role("option", name=re.compile("^Qwen2 .*needs the Hugging Face Hub")).count() == 1
    option.click()
    page.locator("#tok-status", has_text="Claude (legacy tokenizer").wait_for(timeout=20_000)
    type_text(page, "I am excited")
    page.locator("#tok-stats .chars", has_text=re.compile(r"^12$")).wait_for(timeout=20_000)
    assert page.inner_text("#tok-stats .count") == "3"  # Claude's: I| am| excited, no bos
    page.get_by_text("batch_decode: several sequences at once").click()
    fill_opened(page.locator("#tok-batch-ids textarea"), "45 1413\n18154")
    page.get_by_role("button", name="batch_decode", exact=True).click()
    page.locator("#tok-batch-texts pre", has_text="' excited'").wait_for(timeout=20_000)
    assert page.inner_text("#tok-batch-texts pre") == "['I am',\n ' excited']"


# --- issue #20, the live views: batch_decode beside decode, stats, the button, the server's views ---


def test_the_live_views_include_batch_decode_and_tokens_per_100_characters(llama):
    result = tab.inspect_text("Hi 🦜 <|eot_id|>", "offline/llama-3.1")
    status, stats, chips, ids, decoded, batch, numbers = views.render(result)
    assert result["batch_decode"] == llama.batch_decode([[i] for i in result["ids"]])
    assert re.findall(r'<span class="bd( special)?">([^<]*)</span>', batch) == [
        (" special" if t.startswith("<|") else "", html.escape(repr(t))) for t in result["batch_decode"]]
    assert f'<b class="per100">{100 * result["count"] / result["chars"]:.1f}</b> tokens per 100 characters' in stats
    assert html.unescape(re.sub("<[^>]+>", "", ids.split('<div class="ids">')[1])) == ", ".join(map(str, result["ids"]))
    assert decoded.endswith(f'<pre class="decoded">{html.escape(result["decoded"])}</pre>')


def test_every_server_answer_replaces_what_the_browser_painted():
    first = tab.tokenize_and_render("same text", "offline/llama-3.1", True, False)
    again = tab.tokenize_and_render("same text", "offline/llama-3.1", True, False)
    assert first[0] == again[0] and first[1:] != again[1:]  # the same views, a new answer number
    for view, html_ in zip(tab.LIVE_VIEWS, again[1:], strict=True):
        assert html_.startswith(f'<div data-view="{view}" data-answer="')


def test_the_tokenize_button_is_small_beside_live_typing_and_the_server_paints_every_view(page):
    page.locator("#tok-chips .chip").first.wait_for(timeout=60_000)
    go = page.get_by_role("button", name="Tokenize", exact=True)
    button, text_box = go.bounding_box(), page.locator("#tok-text textarea").bounding_box()
    assert {"secondary", "sm"} <= set(go.get_attribute("class").split()) and "primary" not in go.get_attribute("class")
    assert button["width"] < text_box["width"] / 4 and button["height"] < text_box["height"]
    name = page.get_by_label("Tokenizer (hub id or local path)")
    name.fill("offline/llama-3.1")  # the server answers this name: its views, the same views
    name.press("Enter")
    page.wait_for_function("!document.querySelector('#tok-status').innerText.includes('browser')", timeout=20_000)
    type_text(page, "Hi 🦜")
    page.locator("#tok-stats .chars", has_text=re.compile("^4$")).wait_for(timeout=20_000)
    assert page.locator("#tok-batch-decode .bd").first.text_content() == "'<|begin_of_text|>'"
    assert page.text_content("#tok-decoded pre") == "<|begin_of_text|>Hi 🦜"
    page.locator("#tok-chips .chip").nth(1).hover()  # hover links work on the server's views too
    assert page.locator("#tok-ids .tid.lit").all_text_contents() == ["13347"]


@pytest.mark.browser
def test_every_component_of_the_page_loads_and_the_json_fold_shows_the_answer(browser, app_url):
    """The project's own component classes (ui.api.Data, Text, Number) are drawn with their parent's
    frontend: gradio fetched a custom frontend for them (404) and the JSON fold stayed empty."""
    context = browser.new_context()
    page = context.new_page()
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    try:
        page.goto(app_url)
        page.locator("#tok-chips .chip").first.wait_for(timeout=60_000)
        page.get_by_text("JSON (what /tokenize returns)").click()
        from playwright.sync_api import expect

        expect(page.locator("#tok-json")).to_contain_text('"count"', timeout=30_000)
        assert missing == []
    finally:
        context.close()
