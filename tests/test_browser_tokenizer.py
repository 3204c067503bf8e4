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
    assert setup == {"browser": False, "reason": f"{tiny_bpe} is not of Llama 3's scheme: tokenized on the server."}


def test_a_cache_that_cannot_take_the_export_leaves_the_tokenizer_on_the_server(clean_settings, tmp_path, llama):
    from pricer.config import cache_dir

    cache_dir().mkdir(parents=True, exist_ok=True)
    (cache_dir() / browser_tokenizer.EXPORTS).write_text("a file where the folder should be")
    setup = browser_tokenizer.setup("")
    assert setup["browser"] is False and setup["reason"].startswith("Tokenized on the server: ")
    assert "PRICER_CACHE" in setup["reason"]
