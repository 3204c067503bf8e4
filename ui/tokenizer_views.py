"""The Tokenizer tab's HTML views of pricer.tokenizer.tokens' results; every string they put into HTML
(input, tokens, vocabulary entries, messages) goes through html.escape.

The live views (`render`: status, counts, chips, ids, decoding, batch_decode, numbers) are also
built in the visitor's browser: ui/static/tokenizer_view.js mirrors each `render_*` of them, and
tests/test_browser_tokenizer.py holds both equal.
"""

from __future__ import annotations

from pricer.tokenizer import comparison, tokens, vocab
from ui import esc

MAX_CHIPS = 5_000  # more chips than this make the browser crawl; counts and ids stay whole
MAX_COMPARE_CHIPS = 500
GLYPHS = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}
_GLYPH_SPANS = str.maketrans({c: f'<span class="ws">{g}</span>' for c, g in GLYPHS.items()})

CSS = """
.lines { contain: content; }
.chips { line-height: 2.1; font-family: ui-monospace, monospace; font-size: 0.95em; contain: content; }
.chip { display: inline-block; color: #111; padding: 0 3px; margin: 1px; border-radius: 4px;
        white-space: pre; line-height: 1.6; }
.c0 { background: #fde68a; } .c1 { background: #bfdbfe; } .c2 { background: #bbf7d0; }
.c3 { background: #fbcfe8; } .c4 { background: #ddd6fe; }
.chip.special { background: #e5e7eb; outline: 1px dashed #6b7280; }
.chip.split { outline: 2px solid #f97316; }
.ws { color: #6b7280; }
.notice { color: #b45309; font-weight: 600; }
.stand-in { color: var(--body-text-color-subdued); }  /* the offline copy standing in: the same tokens, no warning */
.error { color: #b91c1c; }
table { border-collapse: collapse; } td, th { padding: 2px 8px; text-align: left; }
pre { white-space: pre-wrap; }
.vhead { font-weight: 600; margin: 0 0 4px; }
.vhead .copy { font-weight: 400; font-size: 0.85em; padding: 0 6px; margin-left: 6px; border: 1px solid #9ca3af;
               border-radius: 4px; cursor: pointer; }
.ids, .items, pre.decoded { max-height: 12em; overflow-y: auto; font-family: ui-monospace, monospace;
                            font-size: 0.9em; margin: 0; overflow-wrap: anywhere; contain: content; }
.run { display: block; content-visibility: auto; contain-intrinsic-size: auto 3em; }
.ids, .items, pre.decoded { content-visibility: auto; contain-intrinsic-block-size: auto 12em; }
.items::before { content: "["; } .items::after { content: "]"; }
.bd.special { background: #e5e7eb; outline: 1px dashed #6b7280; border-radius: 3px; }
"""



def visible(text: str) -> str:
    """Escaped text with spaces, newlines and tabs shown as glyphs (case kept as typed)."""
    return esc(text).translate(_GLYPH_SPANS)  # one pass; escaping leaves these characters as they are


def _piece_ids(view: dict) -> list[list[int]]:
    """The ids of each piece of a split text (a dict as tokens.Split.to_dict gives it)."""
    sizes = [1] * len(view["pieces"])
    for n, size in view.get("split_pieces", ()):
        sizes[n] = size
    out, start = [], 0
    for size in sizes:
        out.append(view["ids"][start:start + size])
        start += size
    return out


def render_chips(view: dict, limit: int = MAX_CHIPS) -> str:
    """One chip per piece of a split text (a dict as tokens.Split.to_dict gives it: ids, pieces,
    split_pieces, special_pieces), alternating colours; the id(s) on hover."""
    texts = view["pieces"]
    special = set(view.get("special_pieces", ()))
    out = []
    for n, (text, mine) in enumerate(zip(texts[:limit], _piece_ids(view), strict=False)):
        size = len(mine)
        data = " ".join(map(str, mine))
        title = f"id {data}" if size == 1 else f"ids {data}: one character split over {size} tokens"
        kind = " special" if n in special else " split" if size > 1 else ""
        out.append(f'<span class="chip c{n % 5}{kind}" title="{title}" data-ids="{data}">{visible(text)}</span>')
    starts = chip_lines(texts[:limit])
    ends = [*starts[1:], len(out)] if starts else []
    lines = "".join(f'<div class="chips">{"".join(out[a:b])}</div>' for a, b in zip(starts, ends, strict=True))
    more = (f'<p class="notice">Showing the first {limit:,} of {len(texts):,} pieces.</p>'
            if len(texts) > limit else "")
    return f'<div class="lines">{lines}</div>{more}'


CHIP_LINE = 200  # chips per block at most, where a line of the text holds more


def chip_lines(texts: list[str]) -> list[int]:
    """Where each block of chips starts: a block per line of the text (after a piece that ends in a
    newline), cut after CHIP_LINE chips. Each block is its own layout and paint (CSS containment), so
    a keystroke on a long text lays out and paints the block it changes, not 2,300 chips."""
    starts, count = [], 0
    for n in range(len(texts)):
        if n == 0 or count == CHIP_LINE or texts[n - 1].endswith("\n"):
            starts.append(n)
            count = 0
        count += 1
    return starts


def render_status(result: dict) -> str:
    if result.get("error"):
        return f'<p class="error">{esc(result["error"])}</p>'
    note = f' <span class="stand-in">{esc(result["note"])}</span>' if result.get("note") else ""
    return f"<p>Tokenizer: <b>{esc(result['tokenizer'])}</b>.{note}</p>"


def render_stats(result: dict) -> str:
    cut = (f'<p class="notice">Input cut to its first {result["chars"]:,} characters '
           f'({result["cut_chars"]:,} more were not tokenized).</p>' if result["cut_chars"] else "")
    per_100 = 100 * result["count"] / result["chars"] if result["chars"] else 0.0
    return (f'<p><b class="count">{result["count"]:,}</b> tokens · <b class="chars">'
            f'{result["chars"]:,}</b> characters · <b class="per100">{per_100:.1f}</b> tokens per 100 '
            f'characters · <b>{result["chars_per_token"]:.2f}</b> characters per token</p>{cut}')


def render_ids(result: dict) -> str:
    """The ids (encode), one span per piece (a split character's ids together), so hovering one
    lights its chip and the reverse; a button copies them as "128000, 40, 1097"."""
    spans = [f'<span class="tid">{", ".join(map(str, mine))}</span>' for mine in _piece_ids(result)]
    return ('<p class="vhead">Token ids (encode) <button class="copy" type="button">Copy ids</button></p>'
            f'<div class="ids">{_runs(spans)}</div>')


RUN = 100  # items per block of a long list: a keystroke lays out the blocks it changes, not 2,300 items


def _runs(items: list[str]) -> str:
    """A list's items, ", " between them, in blocks of RUN (each block its own layout)."""
    return "".join('<span class="run">' + "".join((", " if k + i else "") + h for i, h in enumerate(items[k:k + RUN]))
                   + "</span>" for k in range(0, len(items), RUN))


def render_decoded(result: dict) -> str:
    return f'<p class="vhead">decode: one text</p><pre class="decoded">{esc(result["decoded"])}</pre>'


def _special_positions(result: dict) -> set[int]:
    """Which of the ids are special tokens (a special token is always a piece of its own)."""
    starts, start = [], 0
    for mine in _piece_ids(result):
        starts.append(start)
        start += len(mine)
    return {starts[n] for n in result.get("special_pieces", ())}


def render_batch_decode(result: dict) -> str:
    """`batch_decode`'s list as Python prints it (each string's repr), special tokens marked."""
    special = _special_positions(result)
    items = [f'<span class="bd{" special" if n in special else ""}">{esc(repr(t))}</span>'
             for n, t in enumerate(result["batch_decode"])]
    return f'<p class="vhead">batch_decode: one string per token</p><div class="items">{_runs(items)}</div>'



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


def render_comparison(rows: list[comparison.Comparison], text: str = "") -> str:
    """The same text through several tokenizers: a table of counts (tokens, characters, tokens
    per 100 characters, spans cut unlike the first row's), then each one's spans over `text`
    (those the first row does not cut alike outlined) and its chips; a failure on its own line."""
    if not rows:
        return "<p>Name up to three tokenizers to compare.</p>"
    reference = rows[0] if not rows[0].error and rows[0].spans is not None else None
    table, out = [], []
    for c in rows:
        if c.error:
            table.append(f'<tr><td>{esc(c.name)}</td><td colspan="4" class="error">could not load</td></tr>')
            out.append(f'<h4>{esc(c.name)}</h4><p class="error">{esc(c.error)}</p>')
            continue
        unlike = differing_spans(c, reference)
        table.append(f"<tr><td>{esc(c.label)}</td><td>{c.count:,}</td><td>{c.chars:,}</td>"
                     f"<td>{per_100_chars(c):.1f}</td><td>{'' if unlike is None else f'{len(unlike):,}'}</td></tr>")
        note = f'<p class="notice">{esc(c.note)}</p>' if c.note else ""
        spans = render_spans(text, c.spans, unlike or set()) if text and c.spans is not None else ""
        out.append(f"<h4>{esc(c.label)}</h4>{note}<p><b>{c.count:,}</b> tokens · "
                   f"<b>{c.chars_per_token:.2f}</b> characters per token</p>{spans}"
                   f"{render_chips(c.pieces.to_dict(), MAX_COMPARE_CHIPS)}")
    versus = esc(reference.label) if reference else "the first"
    return (f"<table><tr><th>tokenizer</th><th>tokens</th><th>characters</th><th>tokens per 100 characters</th>"
            f"<th>spans cut unlike {versus}</th></tr>{''.join(table)}</table>{''.join(out)}")


STALE = '<p class="notice stale">Nothing tokenized: see the message above.</p>'


def render(result: dict) -> tuple:
    """The views of a /tokenize result; after an error the status line says why and the other
    views are emptied, so nothing on screen belongs to an earlier text or tokenizer."""
    if result.get("error"):
        return render_status(result), STALE, "", "", "", "", ""
    return (render_status(result), render_stats(result), render_chips(result), render_ids(result),
            render_decoded(result), render_batch_decode(result), render_numbers(result))


# --- comparison and batch_decode views ---------------------------------------------------------

DIFFERS = "outline: 2px solid #dc2626;"  # a span the reference tokenizer does not cut alike


def per_100_chars(c: comparison.Comparison) -> float:
    """Tokens per 100 characters (the playgrounds' measure: lower is a denser tokenizer)."""
    return 100 * c.count / c.chars if c.chars else 0.0


def differing_spans(c: comparison.Comparison, reference: comparison.Comparison | None) -> set[tuple[int, int]] | None:
    """The spans of `c` that are not spans of `reference` (None when either has no spans)."""
    if reference is None or c.spans is None or reference.spans is None:
        return None
    return set(c.spans) - set(reference.spans)


def render_spans(text: str, spans: tuple[tuple[int, int], ...], unlike: set[tuple[int, int]],
                 limit: int = MAX_COMPARE_CHIPS) -> str:
    """`text` cut where a tokenizer cuts it: one chip per span (the first `limit`), the spans in
    `unlike` outlined; the text between spans (whitespace, or what the tokenizer skips) as is."""
    out, cursor = [], 0
    for n, (start, end) in enumerate(spans[:limit]):
        if start < cursor:  # overlapping offsets: show each character once
            continue
        out.append(visible(text[cursor:start]))
        differs = (start, end) in unlike
        style = f' style="{DIFFERS}" title="cut unlike the first tokenizer"' if differs else ""
        out.append(f'<span class="chip c{n % 5}{" differs" if differs else ""}"{style}>'
                   f"{visible(text[start:end])}</span>")
        cursor = end
    more = f'<span class="notice"> … ({len(spans):,} spans in all)</span>' if len(spans) > limit else ""
    return f'<div class="chips spans">{"".join(out)}{more}</div>'


def render_batch(texts: list[str]) -> str:
    """batch_decode's answer as Python prints the list (the course's view): each text quoted by
    repr, a newline as \\n, one text a line, HTML-escaped."""
    items = ",\n ".join(esc(repr(t)) for t in texts)
    return f'<p>{len(texts):,} text{"" if len(texts) == 1 else "s"}</p><pre class="batch">[{items}]</pre>'
