"""Typing in the Tokenizer tab is answered in the browser (ui/browser_tokenizer.py and
ui/static/tokenizer_view.js): the same answer and views as the server's, byte for byte, and no
server call per keystroke; the server still answers whatever the browser cannot."""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

import pytest
from conftest import type_text

from pricer.tokenizer import tokens
from ui import browser_tokenizer, tokenizer_tab, tokenizer_views

HOSTILE = [
    "",
    " ",
    "<img src=x onerror=alert(1)> <script>alert(2)</script> & \"double\" 'single' ${alert(3)}",
    "<|begin_of_text|>hello<|eot_id|><|reserved_special_token_5|><|end_of_text|>",
    "🦜👨‍👩‍👧🏳️‍🌈 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎𠜱 — 你好, مرحبا, Здравствуйте",
    "\r\n\r\n  \t\t x  \n\n\n   ",
    "\ufffd a replacement character typed, \u200b zero width, \ufeff BOM",
    "\x00 NUL \x1b[31m escape \x7f",
    "١٢٣٫٤ ٣٤ ² ¹²³ ⅷ 1,299.99 $374.41 12345678901234567890 0.5 .5 5.",
    "don't I'M it'S we'LL THEY'RE you'VE",
    " ".join(str(n) for n in range(30)),  # more than the 20 numbers the view lists
    "a🦜" * (tokens.MAX_CHARS // 2 + 5),  # cut at MAX_CHARS code points, not UTF-16 units
]


def _items(path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text().splitlines()]


def _joins(page) -> list[str]:
    """The event requests the page sends to the server from now on (gradio's queue/join)."""
    sent: list[str] = []
    page.on("request", lambda r: "/queue/join" in r.url and sent.append(r.url))
    return sent


@pytest.fixture
def ready(page):
    page.locator("#tok-status", has_text="Tokenized in your browser").wait_for(timeout=60_000)
    return page


def _python(cases: list[tuple[str, bool, bool]]) -> list[tuple[dict, list[str]]]:
    out = []
    for text, add, skip in cases:
        result = json.loads(json.dumps(tokenizer_tab.inspect_text(text, "", add, skip)))
        out.append((result, list(tokenizer_views.render(result))))
    return out


def _browser(page, cases: list[tuple[str, bool, bool]]) -> list[tuple[dict, list[str]]]:
    return [tuple(r) for r in page.evaluate(
        """cases => cases.map(([text, add, skip]) => {
             const view = window.pricerTokenizerView, result = view.inspect(text, add, skip);
             return [result, view.render(result)];
           })""", cases)]


def _compare(page, cases: list[tuple[str, bool, bool]]) -> None:
    for (text, add, skip), (py, py_views), (js, js_views) in zip(cases, _python(cases), _browser(page, cases),
                                                                 strict=True):
        where = f"{text[:60]!r} add={add} skip={skip}"
        assert js == py, where
        assert js_views == py_views, where


def test_typing_is_answered_in_the_browser_with_no_server_call(ready):
    sent = _joins(ready)
    type_text(ready, "I am excited <b>x</b> 🦜")
    ready.locator("#tok-stats .chars", has_text=re.compile("^23$")).wait_for(timeout=20_000)
    chips = ready.locator("#tok-chips .chip")
    assert chips.all_inner_texts()[:4] == ["<|begin_of_text|>", "I", "␣am", "␣excited"]
    assert ready.locator("#tok-chips .chip.split").count() == 1  # the parrot: one character, several ids
    assert ready.locator("#tok-chips b").count() == 0  # typed HTML shows as text
    ready.get_by_label("Add special tokens (encode)").uncheck()
    ready.wait_for_function("!document.querySelector('#tok-chips').innerText.includes('begin_of_text')",
                            timeout=20_000)
    assert sent == []


def test_the_browser_gives_the_servers_answer_and_views_for_real_items(ready, test_250, train_550):
    texts = _items(test_250) + _items(train_550)
    cases = [(t, True, False) for t in texts] + [(t, False, True) for t in texts[:50]]
    _compare(ready, cases)


def test_the_browser_gives_the_servers_answer_and_views_for_hostile_text(ready):
    cases = [(t, add, skip) for t in HOSTILE for add, skip in ((True, False), (False, True), (True, True))]
    _compare(ready, cases)


def test_the_browser_formats_decimals_as_python_does(ready):
    rng = random.Random(7)
    values = [0.0, 0.125, 0.375, 2.675, 3.125, 1.005, 12.5, 99.995, 1 / 3, 2 / 3, 1e-9, 123456.785]
    values += [rng.randrange(1, 100_000) / rng.randrange(1, 40_000) for _ in range(2_000)]
    values += [n / 8 for n in range(400)] + [n / 1000 for n in range(2_000)]
    got = ready.evaluate("values => values.map(v => [window.pricerTokenizerView.fixed(v, 2), "
                         "window.pricerTokenizerView.fixed(v, 3)])", values)
    assert got == [[f"{v:.2f}", f"{v:.3f}"] for v in values]


def test_a_lone_surrogate_is_left_to_the_server(ready):
    assert ready.evaluate("window.pricerTokenizerView.inspect('a\\ud800b', true, false)") is None
    assert ready.evaluate("window.pricerTokenizerView.live('ok', 'someone/else', true, false)") is None


def test_another_tokenizer_is_answered_by_the_server_and_the_default_by_the_browser_again(ready):
    sent = _joins(ready)
    name = ready.get_by_label("Tokenizer (hub id or local path)")
    name.fill("offline/llama-3.1")
    name.press("Enter")
    ready.wait_for_function("(s => s.startsWith('Tokenizer: Llama 3.1 (offline copy') && !s.includes('browser'))"
                            "(document.querySelector('#tok-status').innerText)", timeout=20_000)
    type_text(ready, "abc")
    ready.locator("#tok-chips .chip", has_text="abc").wait_for(timeout=20_000)
    assert sent, "the server answered the other tokenizer"
    name.fill("")  # blank is the default, as on the server
    name.press("Enter")
    ready.locator("#tok-status", has_text="Tokenized in your browser").wait_for(timeout=20_000)
    before = len(sent)
    type_text(ready, "xyz")
    ready.locator("#tok-chips .chip", has_text="xyz").wait_for(timeout=20_000)
    assert len(sent) == before


def test_a_browser_that_cannot_fetch_the_tokenizer_is_answered_by_the_server(browser, app_url):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.route("**/tokenizer.json.gz", lambda r: r.fulfill(status=404))
        page.goto(app_url)
        page.locator("#tok-chips .chip").first.wait_for(timeout=60_000)
        assert "Tokenized in your browser" not in page.inner_text("#tok-status")
        sent = _joins(page)
        type_text(page, "I am excited")
        page.locator("#tok-stats .chars", has_text=re.compile("^12$")).wait_for(timeout=20_000)
        assert page.locator("#tok-chips .chip").all_inner_texts() == ["<|begin_of_text|>", "I", "␣am", "␣excited"]
        assert sent
    finally:
        context.close()


# --- the server's side: what it exports and when it refuses --------------------------------------


def test_the_export_is_the_servers_own_tokenizer_written_once_and_only_it_served(clean_settings, llama):
    from gradio.data_classes import _StaticFiles

    setup = browser_tokenizer.setup("")
    assert setup["browser"] is True and setup["name"] == ""
    exported = gzip.decompress(open(setup["tokenizer"], "rb").read()).decode()
    assert json.loads(exported) == json.loads(llama.backend_tokenizer.to_str())
    assert json.loads(open(setup["config"]).read()) == {"clean_up_tokenization_spaces": False}
    assert setup["special_ids"] == sorted(tokens.special_ids(llama)) and len(setup["special_ids"]) == 256
    assert setup["first_multi_token_integer"] is None and setup["max_chars"] == tokens.MAX_CHARS
    folder = Path(setup["tokenizer"]).parent
    written = folder.joinpath("tokenizer.json.gz").stat().st_mtime_ns
    assert browser_tokenizer.setup("") == setup  # the same files, not rewritten
    assert folder.joinpath("tokenizer.json.gz").stat().st_mtime_ns == written
    assert sorted(p.name for p in folder.iterdir()) == ["tokenizer.json.gz", "tokenizer_config.json"]
    assert folder.resolve() in _StaticFiles.all_paths and folder.parent.resolve() not in _StaticFiles.all_paths


def test_a_tokenizer_of_another_scheme_stays_on_the_server(clean_settings, monkeypatch, tiny_bpe):
    monkeypatch.setenv("PRICER_TOKENIZER", str(tiny_bpe))
    setup = browser_tokenizer.default_setup()
    assert setup == {"browser": False, "view": str(browser_tokenizer.VIEW),
                     "reason": f"{tiny_bpe} is not of Llama 3's scheme: tokenized on the server."}


def test_a_cache_that_cannot_take_the_export_leaves_the_tokenizer_on_the_server(clean_settings, tmp_path, llama):
    from pricer.config import cache_dir

    cache_dir().mkdir(parents=True, exist_ok=True)
    (cache_dir() / browser_tokenizer.EXPORTS).write_text("a file where the folder should be")
    setup = browser_tokenizer.setup("")
    assert setup["browser"] is False and setup["reason"].startswith("Tokenized on the server: ")
    assert "PRICER_CACHE" in setup["reason"]


# --- issue #20: batch_decode, views painted straight into the page, hover, copy, the address ----

LONG = [  # over 2,000 characters: the browser encodes these line by line, each line remembered
    "\n".join(["Price is $374.41.", "don't\n'sure'", " \n\tindented", "<|eot_id|>\nafter", "\r\n\r\nX",
               "1234567\n89", ".\n\nDot", "🦜\n龘\n", "  \n  x", "\u3000\nwide"] * 40),
    "no newline at all " * 150,
    "\n" * 2_100 + "end",
    ("line one\n" * 300) + "<|begin_of_text|>" + ("\nx" * 50),
]


def test_the_browser_gives_the_servers_answer_for_long_texts_encoded_line_by_line(ready, test_250):
    texts = LONG + ["\n".join(_items(test_250)[k:k + 6]) for k in range(0, 60, 6)]
    assert all(len(t) > 2_000 for t in texts)
    _compare(ready, [(t, add, skip) for t in texts for add, skip in ((True, False), (False, True))])


def test_batch_decode_in_the_browser_is_the_servers_one_string_per_token(ready):
    cases = [(t, True, skip) for t in ("🦜 你好 𠜎", "<|eot_id|>a  \n\n\t b", "it's \"quoted\" \\ back") for skip in (False, True)]
    for (text, _, skip), (py, _views) in zip(cases, _python(cases), strict=True):
        js = ready.evaluate("([t, s]) => window.pricerTokenizerView.inspect(t, true, s).batch_decode", [text, skip])
        assert js == py["batch_decode"], text
    quoted = ready.evaluate("ts => ts.map(t => window.pricerTokenizerView.quoted(t))",
                            ["a", "it's", "say \"hi\"", "both ' and \"", "\n\t\r\\", "\x00\x7f\x9f", "\u200b\ufeff\u2028",
                             "\U000e0001", "\u00a0 \u3000", "é 🦜 \ufffd"])
    assert quoted == [repr(t) for t in ["a", "it's", "say \"hi\"", "both ' and \"", "\n\t\r\\", "\x00\x7f\x9f",
                                        "\u200b\ufeff\u2028", "\U000e0001", "\u00a0 \u3000", "é 🦜 \ufffd"]]


def _shown(page) -> dict:
    """Each live view as the page shows it, and the server's HTML for the same text parsed by the
    same page (so both are serialised alike)."""
    return page.evaluate("""() => Object.fromEntries(['status', 'stats', 'chips', 'ids', 'decoded', 'batch'].map(v =>
      [v, document.querySelector(`[data-view="${v}"]`).innerHTML]))""")


def _parsed(page, views: list[str]) -> dict:
    return page.evaluate("""views => Object.fromEntries(views.map(([v, html]) => {
      const t = document.createElement('template'); t.innerHTML = html; return [v, t.innerHTML]; }))""", views)


def test_the_views_painted_in_the_page_are_the_servers_views_through_every_kind_of_edit(ready, test_250):
    box = ready.locator("#tok-text textarea")
    long = "\n".join(_items(test_250)[:8])
    one = long.replace("\n", " ")  # one line of chips: blocks of CHIP_LINE, a newline typed into one and taken out
    edits = [long, long + " and 🦜", long[:500] + "X" + long[500:], long[:3000], one, one[:700] + "\n" + one[700:], one,
             "<b>x</b> 你好\n\t<|eot_id|>", "", long]
    for text in edits:
        box.fill(text)
        ready.locator("#tok-stats .chars", has_text=re.compile(f"^{len(text):,}$")).wait_for(timeout=20_000)
        ready.wait_for_timeout(100)
        shown = _shown(ready)
        (py, py_views), = _python([(text, True, False)])
        want = _parsed(ready, list(zip(["status", "stats", "chips", "ids", "decoded", "batch"], py_views, strict=False)))
        for view in ("stats", "chips", "ids", "decoded", "batch"):
            assert shown[view] == want[view], (view, text[:40])
        assert shown["status"].startswith(want["status"][:-4]) and "Tokenized in your browser" in shown["status"]


def test_the_batch_decode_view_lists_quoted_strings_with_specials_marked(ready):
    type_text(ready, "Hi 🦜")
    ready.locator("#tok-stats .chars", has_text=re.compile("^4$")).wait_for(timeout=20_000)
    items = ready.locator("#tok-batch-decode .bd").all_text_contents()  # off-screen blocks are not laid out
    assert items[:2] == ["'<|begin_of_text|>'", "'Hi'"] and len(items) == ready.evaluate(
        "window.pricerTokenizerView.inspect('Hi 🦜', true, false).ids.length")
    assert all("\ufffd" in t for t in items[2:])  # the parrot's bytes, one string each
    assert ready.locator("#tok-batch-decode .bd.special").all_text_contents() == ["'<|begin_of_text|>'"]
    assert ready.text_content("#tok-decoded pre.decoded") == "<|begin_of_text|>Hi 🦜"


def test_hovering_a_chip_lights_its_id_and_the_reverse(ready):
    type_text(ready, "I am 🦜")
    ready.locator("#tok-stats .chars", has_text=re.compile("^6$")).wait_for(timeout=20_000)
    ready.locator("#tok-chips .chip", has_text="␣am").hover()
    assert ready.locator("#tok-ids .tid.lit").all_text_contents() == ["1097"]
    ready.locator("#tok-ids .tid").last.hover()  # the parrot: one character, several ids
    lit = ready.locator("#tok-chips .chip.lit")
    assert lit.count() == 1 and lit.get_attribute("class").split()[-2:] == ["split", "lit"]
    assert ready.locator("#tok-ids .tid.lit").count() == 1 and ", " in ready.text_content("#tok-ids .tid.lit")


def test_the_copy_button_copies_the_ids(browser, app_url):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    try:
        page = context.new_page()
        page.goto(app_url)
        page.locator("#tok-status", has_text="Tokenized in your browser").wait_for(timeout=60_000)
        type_text(page, "I am excited")
        page.locator("#tok-stats .chars", has_text=re.compile("^12$")).wait_for(timeout=20_000)
        page.get_by_role("button", name="Copy ids").click()
        page.get_by_role("button", name="Copied").wait_for(timeout=5_000)
        assert page.evaluate("navigator.clipboard.readText()") == "128000, 40, 1097, 12304"
    finally:
        context.close()


def test_the_whitespace_glyphs_toggle_hides_and_shows_them(ready):
    type_text(ready, "a b")
    ready.locator("#tok-stats .chars", has_text=re.compile("^3$")).wait_for(timeout=20_000)
    glyph = ready.locator("#tok-chips .ws").first
    shown = glyph.evaluate("e => getComputedStyle(e).color")
    ready.get_by_label("Show spaces, tabs and newlines as ␣ ⇥ ↵").uncheck()
    ready.wait_for_function("getComputedStyle(document.querySelector('#tok-chips .ws')).color === 'rgba(0, 0, 0, 0)'",
                            timeout=10_000)
    ready.get_by_label("Show spaces, tabs and newlines as ␣ ⇥ ↵").check()
    ready.wait_for_function(f"getComputedStyle(document.querySelector('#tok-chips .ws')).color === {shown!r}",
                            timeout=10_000)


def test_an_address_with_text_and_tokenizer_fills_them(browser, app_url):
    from urllib.parse import quote

    context = browser.new_context()
    try:
        page = context.new_page()
        text = "Share <b>me</b> 🦜"
        page.goto(f"{app_url}?text={quote(text)}&tokenizer={quote('offline/llama-3.1')}")
        page.locator("#tok-stats .chars", has_text=re.compile(f"^{len(text)}$")).wait_for(timeout=60_000)
        assert page.locator("#tok-text textarea").input_value() == text
        page.locator("#tok-status", has_text="offline copy").wait_for(timeout=20_000)
        assert page.locator("#tok-chips b").count() == 0
    finally:
        context.close()


def test_typing_keeps_the_text_in_the_address_unless_it_is_too_long(ready):
    from urllib.parse import parse_qs, urlparse

    sent = _joins(ready)
    type_text(ready, "a&b=c #x")
    ready.wait_for_function("new URLSearchParams(location.search).get('text') === 'a&b=c #x'", timeout=10_000)
    assert "holds the text" in ready.inner_text("#tok-share")
    long = "x" * (ready.evaluate("window.pricerTokenizerView.MAX_URL") + 1)
    ready.locator("#tok-text textarea").fill(long)
    ready.wait_for_function("!new URLSearchParams(location.search).has('text')", timeout=10_000)
    assert "too long to share" in ready.inner_text("#tok-share")
    from pricer.config import settings

    assert parse_qs(urlparse(ready.url).query)["tokenizer"] == [settings().tokenizer]  # the dropdown's value
    assert sent == []


def test_a_folded_view_is_drawn_when_opened_and_kept_up_while_open(ready):
    type_text(ready, "Price 374.41")
    ready.locator("#tok-stats .chars", has_text=re.compile("^12$")).wait_for(timeout=20_000)
    ready.get_by_text("Numbers: how prices tokenize").click()
    ready.locator("#tok-numbers td", has_text=re.compile("^374.41$")).first.wait_for(timeout=10_000)
    type_text(ready, "Price 12")
    ready.locator("#tok-numbers td", has_text=re.compile("^12$")).first.wait_for(timeout=10_000)
    # the JSON fold's answer, drawn when opened and while open (its gr.JSON is a custom component
    # this test app does not serve, so it is asked here rather than read off the page)
    view = "window.pricerTokenizerView"
    assert ready.evaluate(f"{view}.json('abc', '', true, false)") is None  # closed: left as it is
    opened = ready.evaluate(f"{view}.opening('json', true)")
    assert opened["decoded"] == "<|begin_of_text|>Price 12" and opened["numbers"][0]["number"] == "12"
    assert ready.evaluate(f"{view}.json('abc', '', true, false)")["decoded"] == "<|begin_of_text|>abc"
