"""The Tokenizer tab: type a text and watch a tokenizer encode, decode and split it, live.

Layout and wiring over pricer.tokens; the `render_*` functions turn its results into HTML, and
every string they put there (input, tokens, vocabulary entries, messages) goes through
html.escape. The API endpoints answer data, not HTML, each under a named output (ui.api):
`/tokenize` (the same JSON object as `python -m pricer tokenize --json`), `/vocab`, `/decode`,
`/chat_template` and `/compare`; a mistake is an error (gr.Error) saying what to do.

Typing is answered in the visitor's browser for the default tokenizer (ui/browser_tokenizer.py):
ui/static/tokenizer_view.js gives inspect_text's answer and the live views' HTML there, and
tests/test_browser_tokenizer.py holds both equal to what this module gives. Everything else here
runs on the server.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import gradio as gr

from pricer import tokens, vocab
from pricer.config import settings
from pricer.errors import PricerError
from pricer.hub import is_local
from pricer.items import SYSTEM_PROMPT
from pricer.tokenizer import LoadedTokenizer, load_tokenizer
from ui import browser_tokenizer, esc, warn
from ui.api import Data, endpoint, fail

MAX_CHIPS = 5_000  # more chips than this make the browser crawl; counts and ids stay whole
MAX_COMPARE_CHIPS = 500
TOKENIZER_CONCURRENCY = 8  # tokenizer events at once (one pool for the tab and its API); more only time-slice 2 CPUs
GLYPHS = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}
_GLYPH_SPANS = str.maketrans({c: f'<span class="ws">{g}</span>' for c, g in GLYPHS.items()})

CSS = """
.chips { line-height: 2.1; font-family: ui-monospace, monospace; font-size: 0.95em; }
.chip { display: inline-block; color: #111; padding: 0 3px; margin: 1px; border-radius: 4px;
        white-space: pre; line-height: 1.6; }
.c0 { background: #fde68a; } .c1 { background: #bfdbfe; } .c2 { background: #bbf7d0; }
.c3 { background: #fbcfe8; } .c4 { background: #ddd6fe; }
.chip.special { background: #e5e7eb; outline: 1px dashed #6b7280; }
.chip.split { outline: 2px solid #f97316; }
.ws { color: #6b7280; }
.notice { color: #b45309; font-weight: 600; }
.error { color: #b91c1c; }
table { border-collapse: collapse; } td, th { padding: 2px 8px; text-align: left; }
pre { white-space: pre-wrap; }
"""



def visible(text: str) -> str:
    """Escaped text with spaces, newlines and tabs shown as glyphs (case kept as typed)."""
    return esc(text).translate(_GLYPH_SPANS)  # one pass; escaping leaves these characters as they are


def render_chips(view: dict, limit: int = MAX_CHIPS) -> str:
    """One chip per piece of a split text (a dict as tokens.Split.to_dict gives it: ids, pieces,
    split_pieces, special_pieces), alternating colours; the id(s) on hover."""
    texts, ids = view["pieces"], view["ids"]
    sizes = [1] * len(texts)
    for n, size in view.get("split_pieces", ()):
        sizes[n] = size
    special = set(view.get("special_pieces", ()))
    out, start = [], 0
    for n, (text, size) in enumerate(zip(texts[:limit], sizes, strict=False)):
        mine = ids[start:start + size]
        start += size
        data = " ".join(map(str, mine))
        title = f"id {data}" if size == 1 else f"ids {data}: one character split over {size} tokens"
        kind = " special" if n in special else " split" if size > 1 else ""
        out.append(f'<span class="chip c{n % 5}{kind}" title="{title}" data-ids="{data}">{visible(text)}</span>')
        if text.endswith("\n"):  # lay the chips out in the text's lines
            out.append("<br>")
    more = (f'<p class="notice">Showing the first {limit:,} of {len(texts):,} pieces.</p>'
            if len(texts) > limit else "")
    return f'<div class="chips">{"".join(out)}</div>{more}'


def render_status(result: dict) -> str:
    if result.get("error"):
        return f'<p class="error">{esc(result["error"])}</p>'
    note = f' <span class="notice">{esc(result["note"])}</span>' if result.get("note") else ""
    return f"<p>Tokenizer: <b>{esc(result['tokenizer'])}</b>.{note}</p>"


def render_stats(result: dict) -> str:
    cut = (f'<p class="notice">Input cut to its first {result["chars"]:,} characters '
           f'({result["cut_chars"]:,} more were not tokenized).</p>' if result["cut_chars"] else "")
    return (f'<p><b class="chars">{result["chars"]:,}</b> characters · <b class="count">'
            f'{result["count"]:,}</b> tokens · <b>{result["chars_per_token"]:.2f}</b> characters '
            f"per token</p>{cut}")


def render_numbers(result: dict) -> str:
    first = result.get("first_multi_token_integer")
    claim = ("Every integer from 0 to 999 is a single token here, which is why the pricer can "
             "answer a price in one token." if first is None else
             f"Not every integer up to 999 is one token here: {first} is the first that takes more.")
    rows = "".join(
        f"<tr><td>{esc(n['number'])}</td><td>{len(n['ids'])}</td>"
        f"<td>{render_chips(n)}</td>"
        f"<td>{esc(', '.join(map(str, n['ids'])))}</td></tr>"
        for n in result.get("numbers", []))
    table = (f"<table><tr><th>number</th><th>tokens</th><th>pieces</th><th>ids</th></tr>{rows}</table>"
             if rows else "<p>No numbers in the text.</p>")
    return f"<p>{esc(claim)}</p>{table}"


def render_specials(sp: vocab.Specials, label: str) -> str:
    named = "".join(
        f"<tr><td>{role}</td><td>{esc(e.token) if e else '<i>none</i>'}</td><td>{e.id if e else ''}</td></tr>"
        for role, e in sp.named.items())
    added = "".join(f'<span class="chip c{n % 5}{" special" if e.special else ""}" title="id {e.id}">'
                    f"{esc(e.token)}</span> " for n, e in enumerate(sp.added))
    return (f"<p><b>{esc(label)}</b>: {sp.size:,} tokens ({sp.base_size:,} in the base vocabulary "
            f"+ {len(sp.added):,} added).</p><table><tr><th>role</th><th>token</th><th>id</th></tr>"
            f"{named}</table><details><summary>The added vocabulary ({len(sp.added):,} tokens, hover "
            f"for ids)</summary><div class=\"chips\">{added}</div></details>")


def render_vocab(found: vocab.VocabPage) -> str:
    rows = "".join(f"<tr><td>{e.id}</td><td><span class=\"chip c{n % 5}\">{visible(e.text)}</span></td>"
                   f"<td>{esc(e.token)}</td><td>{'special' if e.special else ''}</td></tr>"
                   for n, e in enumerate(found.entries))
    return (f"<p>{found.total:,} matches for <b>{visible(found.query)}</b>, page {found.page} of "
            f"{found.pages}.</p><table><tr><th>id</th><th>text</th><th>stored as</th><th></th></tr>"
            f"{rows}</table>")


def render_chat(chat: tokens.ChatRendering) -> str:
    if chat.rendered is None:
        return f"<p>{esc(chat.note)}</p>"
    return f"<p>{esc(chat.note)}</p><pre>{esc(chat.rendered)}</pre>"


def render_comparison(rows: list[tokens.Comparison]) -> str:
    out = []
    for c in rows:
        if c.error:
            out.append(f'<h4>{esc(c.name)}</h4><p class="error">{esc(c.error)}</p>')
            continue
        note = f'<p class="notice">{esc(c.note)}</p>' if c.note else ""
        out.append(f"<h4>{esc(c.label)}</h4>{note}<p><b>{c.count:,}</b> tokens · "
                   f"<b>{c.chars_per_token:.2f}</b> characters per token</p>"
                   f"{render_chips(c.pieces.to_dict(), MAX_COMPARE_CHIPS)}")
    return "".join(out) or "<p>Name up to three tokenizers to compare.</p>"


def product_example() -> str | None:
    """The first test prompt of the pricer dataset when it is local (PRICER_DATASET; `scripts/dev
    demo` points it at ../shared/data), else None. Never a hub download while the app builds."""
    from pricer.data import load_pricer_dataset

    source = settings().dataset
    if not is_local(source):
        return None
    try:
        return load_pricer_dataset(source, split="test", size=1)[0]["text"]
    except PricerError:
        return None


# --- typing, answered in the browser where it can be (ui/browser_tokenizer.py) ---------------------

# The live views' outputs are [result, status, stats, chips, ids, decoded, numbers, job]. A browser
# that has the tokenizer answers a keystroke itself and leaves `job` as it is; otherwise `job` is
# bumped, and its change asks the server. `undefined` leaves an output as it is.
_FILE_URL = ("(path) => `${(window.gradio_config?.root ?? '').replace(/\\/$/, '')}/gradio_api/file=`"
             " + path.split('/').map(encodeURIComponent).join('/')")
_KEEP = "[undefined, undefined, undefined, undefined, undefined, undefined, undefined]"
START_JS = f"""async (setup, text, name, add, skip, job) => {{
  if (setup?.browser && typeof DecompressionStream === "function") {{
    const url = {_FILE_URL};
    try {{
      const view = await import(url(setup.view));
      await view.start(setup, url);
      window.pricerTokenizerView = view;
    }} catch (error) {{
      console.warn("pricer: the Tokenizer tab tokenizes on the server:", error);
    }}
  }}
  const out = window.pricerTokenizerView?.live(text, name, add, skip);
  return out ? [...out, job] : [...{_KEEP}, (Number(job) || 0) + 1];
}}"""
LIVE_JS = f"""(text, name, add, skip, job) => {{
  const out = window.pricerTokenizerView?.live(text, name, add, skip);
  return out ? [...out, job] : [...{_KEEP}, (Number(job) || 0) + 1];
}}"""
# after a server answer: the text may have changed meanwhile; the browser redraws it if it can
REDRAW_JS = f"""(text, name, add, skip, job) => {{
  const out = window.pricerTokenizerView?.live(text, name, add, skip);
  return out ? [...out, job] : [...{_KEEP}, undefined];
}}"""


def browser_setup() -> dict:
    """What the page needs to tokenize the default tokenizer in the browser (or why it cannot)."""
    return browser_tokenizer.setup(settings().tokenizer, MAX_CHIPS, GLYPHS)


# --- handlers -----------------------------------------------------------------------------------


STALE = '<p class="notice stale">Nothing tokenized: see the message above.</p>'


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


def render(result: dict) -> tuple:
    """The views of a /tokenize result; after an error the status line says why and the other
    views are emptied, so nothing on screen belongs to an earlier text or tokenizer."""
    if result.get("error"):
        return render_status(result), STALE, "", "", "", ""
    return (render_status(result), render_stats(result), render_chips(result),
            ", ".join(map(str, result["ids"])), result["decoded"], render_numbers(result))


def tokenize_and_render(text: str, tokenizer: str, add_special: bool, skip_special: bool) -> tuple:
    """The live update: one event per change, so the last keystroke is never dropped. An error
    shows in the status line only: no pop-up per keystroke."""
    result = inspect_text(text, tokenizer, add_special, skip_special)
    return (result, *render(result))


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


def show_chat(tokenizer: str, system: str, user: str) -> str:
    try:
        return render_chat(tokens.chat_template(_load(tokenizer).tokenizer, system, user))
    except PricerError as exc:
        return _error(exc)


def compare(text: str, tokenizer: str, first: str, second: str, third: str, add_special: bool) -> str:
    try:
        return render_comparison(tokens.compare(text, [first, second, third], reference=tokenizer or "",
                                                add_special=add_special, web=True))
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
    count, chars, chars_per_token, ids, pieces, split_pieces, special_pieces, note, error}; a
    tokenizer that fails has its `error` and the others still answer."""
    try:
        rows = tokens.compare(text, [first, second, third], reference=tokenizer or "", add_special=add_special,
                              web=True)
    except PricerError as exc:
        raise fail(exc) from exc
    return [{"name": c.name, "label": c.label, "count": c.count, "chars": c.chars,
             "chars_per_token": round(c.chars_per_token, 3), **c.pieces.to_dict(),
             "note": c.note, "error": c.error} for c in rows]


# --- layout -------------------------------------------------------------------------------------


def _html(value: str = "", **kw: Any) -> gr.HTML:
    return gr.HTML(value, css_template=CSS, js_on_load=None, **kw)


def build() -> None:
    examples = [tokens.COURSE_EXAMPLE, "Hi 👋 — 你好, مرحبا! Prices: $374.41, 1,299 and 12345.\n\tTabs too."]
    if (product := product_example()) is not None:
        examples.insert(1, product)
    status = _html("<p>Loading the tokenizer…</p>", elem_id="tok-status")
    with gr.Row():
        tokenizer = gr.Textbox(settings().tokenizer, label="Tokenizer (hub id or local path)", scale=3,
                               min_width=240)
        # a column with a minimum width: on a phone the checkboxes go under the box instead of
        # squeezing their labels to a few clipped letters (a checkbox ignores its own min_width)
        with gr.Column(scale=1, min_width=220):
            add_special = gr.Checkbox(True, label="Add special tokens (encode)")
            skip_special = gr.Checkbox(False, label="Skip special tokens (decode)")
    text = gr.Textbox(tokens.COURSE_EXAMPLE, label="Text", lines=4, elem_id="tok-text",
                      info=f"Updates as you type; longer than {tokens.MAX_CHARS:,} characters is cut.")
    gr.Examples([[e] for e in examples], inputs=[text], label="Examples")
    go = gr.Button("Tokenize", variant="primary")
    stats = _html(elem_id="tok-stats")
    chips = _html(elem_id="tok-chips")
    with gr.Row():
        ids = gr.Textbox(label="Token ids (encode)", lines=3, max_lines=8, elem_id="tok-ids")
        decoded = gr.Textbox(label="Decoded (decode of those ids)", lines=3, max_lines=8, elem_id="tok-decoded")
    with gr.Accordion("Numbers: how prices tokenize", open=False):
        numbers = _html(elem_id="tok-numbers")
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
    with gr.Accordion("Chat template", open=False):
        system = gr.Textbox(SYSTEM_PROMPT, label="System message")
        user = gr.Textbox(tokens.DEFAULT_USER, label="User message", lines=3)
        chat_btn = gr.Button("Render")
        chat = _html(elem_id="tok-chat")
    with gr.Accordion("Other tokenizers side by side", open=False):
        with gr.Row():
            others = [gr.Textbox(name, label=f"Tokenizer {n + 1}", elem_id=f"tok-other-{n}")
                      for n, name in enumerate(tokens.COMPARE_DEFAULTS)]
        compare_btn = gr.Button("Compare")
        compared = _html(elem_id="tok-compare")
    with gr.Accordion("JSON (what /tokenize returns)", open=False):
        result = Data(label="/tokenize")  # the whole answer, without gr.JSON's per-node validation
    with gr.Column(visible=False):  # the browser's tokenizer, and a counter that asks the server instead
        browser = gr.JSON(elem_id="tok-browser")
        job = gr.Number(0, elem_id="tok-job")
    browser_tokenizer.serve_static()

    inputs, views = [text, tokenizer, add_special, skip_special], [status, stats, chips, ids, decoded, numbers]
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
    endpoint(chat_template_api, [tokenizer, system, user], ["chat"], "chat_template", **cpu)
    endpoint(compare_api, [text, tokenizer, *others, add_special], ["comparison"], "compare", **cpu)

    # the page
    go.click(tokenize, inputs, result, api_visibility="private", **cpu).success(
        render, result, views, api_visibility="private", show_progress="hidden", **cpu)
    live = [result, *views, job]
    gr.on([text.change, add_special.change, skip_special.change, tokenizer.submit], None,
          [*inputs, job], live, js=LIVE_JS, api_visibility="private")
    job.change(tokenize_and_render, inputs, [result, *views], trigger_mode="always_last", show_progress="hidden",
               api_visibility="private", **cpu, **as_built).success(
        None, [*inputs, job], live, js=REDRAW_JS, api_visibility="private")
    tokenizer.submit(show_specials, tokenizer, specials, api_visibility="private", **cpu)
    search.click(lookup, [tokenizer, query, page], [found, page], api_visibility="private", **cpu)
    query.submit(first_page, [tokenizer, query], [found, page], api_visibility="private", **cpu)
    prev.click(previous_page, [tokenizer, query, page], [found, page], api_visibility="private", **cpu)
    nxt.click(next_page, [tokenizer, query, page], [found, page], api_visibility="private", **cpu)
    decode_btn.click(decode_typed, [tokenizer, typed, typed_skip], [typed_text, typed_chips],
                     api_visibility="private", **cpu)
    chat_btn.click(show_chat, [tokenizer, system, user], chat, api_visibility="private", **cpu)
    compare_btn.click(compare, [text, tokenizer, *others, add_special], compared, api_visibility="private", **cpu)
    root = gr.context.Context.root_block
    if root is not None:  # fill the views once the page loads, not at import (the app starts fast)
        root.load(browser_setup, None, browser, api_visibility="private", show_progress="hidden", **cpu).then(
            None, [browser, *inputs, job], live, js=START_JS, api_visibility="private")
        root.load(show_specials, tokenizer, specials, api_visibility="private", **cpu)
