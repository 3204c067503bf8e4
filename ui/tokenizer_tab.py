"""The Tokenizer tab: type a text and watch a tokenizer encode, decode and split it, live.

Layout, handlers and wiring over pricer.tokenizer.tokens; ui.tokenizer_views turns its results into
(escaped) HTML. The API endpoints answer data, not HTML, each under a named output (ui.api):
`/tokenize` (the same JSON object as `python -m pricer tokenize --json`), `/vocab`, `/decode`,
`/batch_decode`, `/chat_template` and `/compare`; a mistake is an error (gr.Error) saying what to do.
The tokenizer boxes are dropdowns of pricer.tokenizer.loading.KNOWN_TOKENIZERS (marked where one
cannot load here) that still take any hub id or local folder typed in.

Typing is answered in the visitor's browser for the default tokenizer (ui/browser_tokenizer.py):
ui/static/tokenizer_view.js gives inspect_text's answer and the live views' HTML there, and
tests/test_browser_tokenizer.py holds both equal to the server's. Everything else runs on the server.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict
from typing import Any

import gradio as gr

from pricer.config import settings
from pricer.data.items import SYSTEM_PROMPT
from pricer.errors import PricerError
from pricer.hub import is_local
from pricer.tokenizer import comparison, tokens, vocab
from pricer.tokenizer.loading import KNOWN_TOKENIZERS, LoadedTokenizer, available, load_tokenizer
from ui import browser_tokenizer, esc, warn
from ui.api import Data, Text, endpoint, fail
from ui.tokenizer_views import (
    CSS,
    per_100_chars,
    render,
    render_batch,
    render_chat,
    render_chips,
    render_comparison,
    render_specials,
    render_vocab,
)

TOKENIZER_CONCURRENCY = 8  # tokenizer events at once (one pool for the tab and its API); more only time-slice 2 CPUs

def product_example() -> str | None:
    """The first test prompt of the pricer dataset when it is local (PRICER_DATASET; `scripts/dev
    demo` points it at ../shared/data), else None. Never a hub download while the app builds."""
    from pricer.data.datasets import load_pricer_dataset

    source = settings().dataset
    if not is_local(source):
        return None
    try:
        return load_pricer_dataset(source, split="test", size=1)[0]["text"]
    except PricerError:
        return None


# --- handlers -----------------------------------------------------------------------------------


def _warn(exc: PricerError) -> str:
    warn(exc)
    return str(exc)


def _error(exc: PricerError) -> str:
    """A PricerError as a toast and as the view's (escaped) text."""
    return f'<p class="error">{esc(_warn(exc))}</p>'


def _load(tokenizer: str | None) -> LoadedTokenizer:
    """The named tokenizer; blank or None is the default one."""
    name = None if tokenizer is None else tokens.check_text(tokenizer, "tokenizer name").strip()
    return load_tokenizer(name or None, web=True)


def _echo(value: Any) -> Any:
    """A value sent by the client, safe to send back as JSON (a lone surrogate shown escaped)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(value, str) else value


def inspect_text(text: str, tokenizer: str, add_special: bool = True, skip_special: bool = False) -> dict:
    """What `tokenizer` does to `text`, as one JSON object; {"error": ...} when it cannot be done."""
    try:
        loaded = _load(tokenizer)
        result = tokens.inspect(loaded.tokenizer, text, add_special=add_special, skip_special=skip_special)
        numbers = tokens.numbers(loaded.tokenizer, result.text)
        first = tokens.first_multi_token_integer(loaded.tokenizer)
    except PricerError as exc:
        return {"error": str(exc), "tokenizer": _echo(tokenizer)}
    return {"tokenizer": loaded.label, "note": loaded.note, **result.to_dict(),
            "numbers": [vars(n) for n in numbers], "first_multi_token_integer": first}


def tokenize(text: str, tokenizer: str, add_special: bool = True, skip_special: bool = False) -> dict:
    """The /tokenize endpoint: what `tokenizer` does to `text`, as one JSON object (an error
    also pops up, once per click)."""
    result = inspect_text(text, tokenizer, add_special, skip_special)
    if result.get("error"):
        warn(result["error"])
    return result


LIVE_VIEWS = ("status", "stats", "chips", "ids", "decoded", "batch", "numbers")
_answers = itertools.count(1)


def live_view(view: str, html: str = "", answer: int = 0) -> str:
    """A live view as the page gets it from the server: in a node the tab's script paints into
    while the browser answers (ui/static/tokenizer_view.js), numbered so that every server answer
    replaces what the browser painted, even one equal to the server's previous answer."""
    return f'<div data-view="{view}" data-answer="{answer}">{html}</div>'


def render_page(result: dict) -> tuple:
    """The live views of a /tokenize result, each in its node (live_view)."""
    answer = next(_answers)
    return tuple(live_view(v, html, answer) for v, html in zip(LIVE_VIEWS, render(result), strict=True))


def tokenize_and_render(text: str, tokenizer: str, add_special: bool, skip_special: bool) -> tuple:
    """The live update: one event per change, so the last keystroke is never dropped. An error
    shows in the status line only: no pop-up per keystroke."""
    result = inspect_text(text, tokenizer, add_special, skip_special)
    return (result, *render_page(result))


def show_specials(tokenizer: str) -> str:
    try:
        loaded = _load(tokenizer)
    except PricerError as exc:
        return _error(exc)
    return render_specials(vocab.specials(loaded.tokenizer), loaded.label)


def _page(page: float | None) -> int:
    """A page number from the client: a whole number, 1 for anything else (None, NaN, inf)."""
    try:
        return int(page or 1)
    except (TypeError, ValueError, OverflowError):
        return 1


def lookup(tokenizer: str, query: str, page: float | None) -> tuple[str, int]:
    try:
        found = vocab.search_vocab(_load(tokenizer).tokenizer, query, _page(page))
    except PricerError as exc:
        return _error(exc), _page(page)
    return render_vocab(found), found.page


def first_page(tokenizer: str, query: str) -> tuple[str, int]:
    return lookup(tokenizer, query, 1)


def previous_page(tokenizer: str, query: str, page: float | None) -> tuple[str, int]:
    return lookup(tokenizer, query, _page(page) - 1)


def next_page(tokenizer: str, query: str, page: float | None) -> tuple[str, int]:
    return lookup(tokenizer, query, _page(page) + 1)


def decode_typed(tokenizer: str, ids: str, skip_special: bool) -> tuple[str, str]:
    try:
        result = vocab.decode_ids(_load(tokenizer).tokenizer, ids, skip_special=skip_special)
    except PricerError as exc:
        return "", _error(exc)
    return result.decoded, render_chips(result.pieces.to_dict())


def batch_decode_typed(tokenizer: str, sequences: str, skip_special: bool, clean_up: bool) -> str:
    """The batch_decode fold: several id sequences -> the list of texts, as Python shows it."""
    try:
        return render_batch(vocab.batch_decode(_load(tokenizer).tokenizer, sequences, skip_special=skip_special,
                                               clean_up=clean_up))
    except PricerError as exc:
        return _error(exc)


def tokenizer_choices(*keep: str) -> list[tuple[str, str]]:
    """The tokenizer dropdowns' choices: (label, name) of each known tokenizer, marked when it
    cannot load here, then `keep` (a configured name that is not among them)."""
    known = [(k.label + (f" — {why}" if (why := available(k)) else ""), k.name) for k in KNOWN_TOKENIZERS]
    names = {name for _, name in known}
    return known + [(name, name) for name in dict.fromkeys(keep) if name and name not in names]


def show_chat(tokenizer: str, system: str, user: str) -> str:
    try:
        return render_chat(tokens.chat_template(_load(tokenizer).tokenizer, system, user))
    except PricerError as exc:
        return _error(exc)


def compare(text: str, tokenizer: str, first: str, second: str, third: str, add_special: bool) -> str:
    try:
        return render_comparison(comparison.compare(text, [first, second, third], reference=tokenizer or "",
                                                add_special=add_special, web=True), tokens.cut(text)[0])
    except PricerError as exc:
        return _error(exc)


# --- the API: data under named outputs, a mistake as gr.Error ----------------------------------


def tokenize_api(text: str, tokenizer: str = "", add_special: bool = True, skip_special: bool = False) -> dict:
    """/tokenize: what `tokenizer` (blank: the default) does to `text`: counts, ids, pieces
    (with split_pieces and special_pieces), decoded text and numbers, as `python -m pricer
    tokenize --json` gives them."""
    result = inspect_text(text, tokenizer, add_special, skip_special)
    if result.get("error"):
        raise fail(result["error"])
    return result


def vocab_api(tokenizer: str, query: str, page: float | None = 1) -> dict:
    """/vocab: one page of the vocabulary entries matching `query` (text, part of a token, or an
    id): {query, total, page, pages, entries: [{id, token, text, special}]}."""
    try:
        found = vocab.search_vocab(_load(tokenizer).tokenizer, query, _page(page))
    except PricerError as exc:
        raise fail(exc) from exc
    return {"query": found.query, "total": found.total, "page": found.page, "pages": found.pages,
            "entries": [asdict(e) for e in found.entries]}


def decode_api(tokenizer: str, ids: str, skip_special: bool = False) -> dict:
    """/decode: token ids (text such as '128000, 40, 1097') -> {decoded, ids, pieces, split_pieces,
    special_pieces} (tokens.Split.to_dict)."""
    try:
        found = vocab.decode_ids(_load(tokenizer).tokenizer, ids, skip_special=skip_special)
    except PricerError as exc:
        raise fail(exc) from exc
    return {"decoded": found.decoded, **found.pieces.to_dict()}


def batch_decode_api(tokenizer: str, sequences: Any, skip_special: bool = False, clean_up: bool = False) -> dict:
    """/batch_decode: several id sequences (text, one per line, or a JSON list of lists; or a
    list of lists) -> {texts: one string per sequence}, as the tokenizer's batch_decode gives them."""
    try:
        texts = vocab.batch_decode(_load(tokenizer).tokenizer, sequences, skip_special=skip_special,
                                   clean_up=bool(clean_up))
    except PricerError as exc:
        raise fail(exc) from exc
    return {"texts": texts}


def chat_template_api(tokenizer: str, system: str, user: str) -> dict:
    """/chat_template: the system + user conversation through the tokenizer's chat template:
    {rendered (None without a template), ids, template_tokens, note}."""
    try:
        chat = tokens.chat_template(_load(tokenizer).tokenizer, system, user)
    except PricerError as exc:
        raise fail(exc) from exc
    return asdict(chat)


def compare_api(text: str, tokenizer: str, first: str, second: str, third: str, add_special: bool = True) -> list:
    """/compare: `text` through `tokenizer` and up to three others, one entry each: {name, label,
    count, chars, chars_per_token, tokens_per_100_chars, ids, pieces, split_pieces, special_pieces,
    spans ([start, end] of each token in the text, whitespace left out; None without offsets),
    note, error}; a tokenizer that fails has its `error` and the others still answer."""
    try:
        rows = comparison.compare(text, [first, second, third], reference=tokenizer or "", add_special=add_special,
                              web=True)
    except PricerError as exc:
        raise fail(exc) from exc
    return [{"name": c.name, "label": c.label, "count": c.count, "chars": c.chars,
             "chars_per_token": round(c.chars_per_token, 3), "tokens_per_100_chars": round(per_100_chars(c), 2),
             **c.pieces.to_dict(), "spans": None if c.spans is None else [list(x) for x in c.spans],
             "note": c.note, "error": c.error} for c in rows]


# --- layout -------------------------------------------------------------------------------------


def _html(value: str = "", **kw: Any) -> gr.HTML:
    return gr.HTML(value, css_template=CSS, js_on_load=None, **kw)


def build() -> None:
    examples = [tokens.COURSE_EXAMPLE, "Hi 👋 — 你好, مرحبا! Prices: $374.41, 1,299 and 12345.\n\tTabs too."]
    if (product := product_example()) is not None:
        examples.insert(1, product)
    status = _html(live_view("status", "<p>Loading the tokenizer…</p>"), elem_id="tok-status")
    with gr.Row():
        tokenizer = gr.Dropdown(tokenizer_choices(settings().tokenizer), value=settings().tokenizer,
                                label="Tokenizer (hub id or local path)", allow_custom_value=True, scale=3,
                                min_width=240, elem_id="tok-tokenizer",
                                info="Pick a known tokenizer, or type any hub id or local folder and press Enter.")
        # a column with a minimum width: on a phone the checkboxes go under the box instead of
        # squeezing their labels to a few clipped letters (a checkbox ignores its own min_width)
        with gr.Column(scale=1, min_width=220):
            add_special = gr.Checkbox(True, label="Add special tokens (encode)")
            skip_special = gr.Checkbox(False, label="Skip special tokens (decode)")
    text = gr.Textbox(tokens.COURSE_EXAMPLE, label="Text", lines=4, elem_id="tok-text",
                      info=f"Updates as you type; longer than {tokens.MAX_CHARS:,} characters is cut.")
    gr.Examples([[e] for e in examples], inputs=[text], label="Examples")
    with gr.Row(equal_height=True):  # typing already updates: the button is for the server's own answer
        go = gr.Button("Tokenize", variant="secondary", size="sm", scale=0, min_width=100)
        glyphs = gr.Checkbox(True, label="Show spaces, tabs and newlines as ␣ ⇥ ↵", scale=1, elem_id="tok-glyphs")
    stats = _html(live_view("stats"), elem_id="tok-stats")
    _html(elem_id="tok-share")  # the tab's script says here whether the address holds the text
    chips = _html(live_view("chips"), elem_id="tok-chips")
    with gr.Row():  # painted straight into the page by the tab's script while it answers (browser_tokenizer)
        ids = _html(live_view("ids"), elem_id="tok-ids")
        decoded = _html(live_view("decoded"), elem_id="tok-decoded")
        batch = _html(live_view("batch"), elem_id="tok-batch-decode")
    with gr.Accordion("Numbers: how prices tokenize", open=False) as numbers_fold:
        numbers = _html(live_view("numbers"), elem_id="tok-numbers")
    with gr.Accordion("Special tokens and vocabulary size", open=False):
        specials = _html(elem_id="tok-specials")
    with gr.Accordion("Vocabulary lookup", open=False):
        with gr.Row():
            query = gr.Textbox(label="Token, part of one, or id", placeholder=" price", scale=3,
                               elem_id="tok-query")
            page = gr.Number(1, label="Page", precision=0, minimum=1)
        with gr.Row():
            search = gr.Button("Look up")
            prev, nxt = gr.Button("◀ Previous page"), gr.Button("Next page ▶")
        found = _html(elem_id="tok-vocab")
    with gr.Accordion("Decode ids", open=False):
        typed = gr.Textbox("128000, 40, 1097", label="Token ids", elem_id="tok-typed-ids")
        typed_skip = gr.Checkbox(False, label="Skip special tokens")
        decode_btn = gr.Button("Decode")
        typed_text = gr.Textbox(label="Decoded", elem_id="tok-typed-decoded")
        typed_chips = _html(elem_id="tok-typed-chips")
    with gr.Accordion("batch_decode: several sequences at once", open=False):
        batch_ids = gr.Textbox("128000, 40, 1097\n3430, 374, 400\n[]", label="Token id sequences", lines=4,
                               elem_id="tok-batch-ids",
                               info="One sequence per line, or a JSON list of lists such as [[128000, 40], [3430]]; "
                                    f"at most {vocab.MAX_SEQUENCES:,} sequences and {vocab.MAX_IDS:,} ids.")
        with gr.Row():
            batch_skip = gr.Checkbox(False, label="Skip special tokens (skip_special_tokens)")
            batch_clean = gr.Checkbox(False, label="Clean up spaces (clean_up_tokenization_spaces; "
                                                   "transformers 5: WordPiece tokenizers only)")
        batch_btn = gr.Button("batch_decode")
        batch_texts = _html(elem_id="tok-batch-texts")
    with gr.Column(visible=False):  # /batch_decode's sequences as sent: text, or a list of lists
        api_sequences = Text(None, label="sequences")
    with gr.Accordion("Chat template", open=False):
        system = gr.Textbox(SYSTEM_PROMPT, label="System message")
        user = gr.Textbox(tokens.DEFAULT_USER, label="User message", lines=3)
        chat_btn = gr.Button("Render")
        chat = _html(elem_id="tok-chat")
    with gr.Accordion("Other tokenizers side by side", open=False):
        with gr.Row():
            others = [gr.Dropdown(tokenizer_choices(), value=name, label=f"Tokenizer {n + 1}", allow_custom_value=True,
                                  elem_id=f"tok-other-{n}")
                      for n, name in enumerate(comparison.COMPARE_DEFAULTS)]
        compare_btn = gr.Button("Compare")
        compared = _html(elem_id="tok-compare")
    with gr.Accordion("JSON (what /tokenize returns)", open=False) as json_fold:
        result = Data(label="/tokenize", elem_id="tok-json")  # the whole answer, without gr.JSON's per-node validation
    with gr.Column(visible=False):  # the browser's tokenizer, and a counter that asks the server instead
        browser = gr.JSON(elem_id="tok-browser")
        job = gr.Number(0, elem_id="tok-job")
    browser_tokenizer.serve_static()

    inputs, views = [text, tokenizer, add_special, skip_special], [status, stats, chips, ids, decoded, batch, numbers]
    # the API first (it takes the plain names): the same inputs, answered as data under named outputs
    # every tokenizer event runs in its own pool (CPU, milliseconds): never behind the model's
    # queue nor the default limit of 4, so 20 people typing at once are each answered in turn
    cpu = {"concurrency_id": "tokenizer", "concurrency_limit": TOKENIZER_CONCURRENCY}
    # the per-keystroke answers are sent as built (JSON-native data, finished HTML): gradio's
    # postprocess would walk every node of a long text's answer once more (benchmarks/load_bench.py)
    as_built = {"postprocess": False}
    endpoint(tokenize_api, inputs, ["tokenization"], "tokenize", **cpu, **as_built)
    endpoint(vocab_api, [tokenizer, query, page], ["vocab"], "vocab", **cpu)
    endpoint(decode_api, [tokenizer, typed, typed_skip], ["decoding"], "decode", **cpu)
    endpoint(batch_decode_api, [tokenizer, api_sequences, batch_skip, batch_clean], ["batch_decoding"],
             "batch_decode", **cpu)
    endpoint(chat_template_api, [tokenizer, system, user], ["chat"], "chat_template", **cpu)
    endpoint(compare_api, [text, tokenizer, *others, add_special], ["comparison"], "compare", **cpu)

    # the page
    go.click(tokenize, inputs, result, api_visibility="private", **cpu).success(
        render_page, result, views, api_visibility="private", show_progress="hidden", **cpu)
    # a keystroke: the browser paints the views itself (a bumped `job` asks the server instead; `result`
    # is the JSON fold's, given only while it is open)
    changes = [text.change, add_special.change, skip_special.change, tokenizer.change]
    gr.on(changes, None, [*inputs, job], [job, result], js=browser_tokenizer.LIVE_JS, api_visibility="private",
          show_progress="hidden")
    job.change(tokenize_and_render, inputs, [result, *views], trigger_mode="always_last", show_progress="hidden",
               api_visibility="private", **cpu, **as_built).success(
        None, [*inputs, job], job, js=browser_tokenizer.REDRAW_JS, api_visibility="private", show_progress="hidden")
    tokenizer.change(show_specials, tokenizer, specials, api_visibility="private", **cpu)
    search.click(lookup, [tokenizer, query, page], [found, page], api_visibility="private", **cpu)
    query.submit(first_page, [tokenizer, query], [found, page], api_visibility="private", **cpu)
    prev.click(previous_page, [tokenizer, query, page], [found, page], api_visibility="private", **cpu)
    nxt.click(next_page, [tokenizer, query, page], [found, page], api_visibility="private", **cpu)
    decode_btn.click(decode_typed, [tokenizer, typed, typed_skip], [typed_text, typed_chips],
                     api_visibility="private", **cpu)
    batch_btn.click(batch_decode_typed, [tokenizer, batch_ids, batch_skip, batch_clean], batch_texts,
                    api_visibility="private", **cpu)
    chat_btn.click(show_chat, [tokenizer, system, user], chat, api_visibility="private", **cpu)
    compare_btn.click(compare, [text, tokenizer, *others, add_special], compared, api_visibility="private", **cpu)
    root = gr.context.Context.root_block
    if root is not None:  # fill the views once the page loads, not at import (the app starts fast)
        root.load(browser_tokenizer.default_setup, None, browser, api_visibility="private", show_progress="hidden", **cpu).then(
            None, [browser, *inputs, job], [text, tokenizer, job], js=browser_tokenizer.START_JS,
            api_visibility="private", show_progress="hidden")
        root.load(show_specials, tokenizer, specials, api_visibility="private", **cpu)
    glyphs.change(None, glyphs, None, js=browser_tokenizer.GLYPHS_JS, api_visibility="private")
    # only the views on screen are drawn per keystroke: a fold is drawn when opened
    for fold, view, output in ((numbers_fold, "numbers", None), (json_fold, "json", result)):
        fold.expand(None, None, output, js=browser_tokenizer.open_js(view, True),
                    api_visibility="private")
        fold.collapse(None, None, None, js=browser_tokenizer.open_js(view, False), api_visibility="private")
