// The Tokenizer tab's live view, computed in the visitor's browser (ui/browser_tokenizer.py says
// why and for which tokenizers). It gives what the server gives for the same text: `inspect` is
// ui/tokenizer_tab.py's inspect_text (the /tokenize answer) and the render* functions are
// ui/tokenizer_views.py's render_* (the HTML views), byte for byte; tests/test_browser_tokenizer.py
// compares both on the course's items and on hostile text. Every string put into HTML goes
// through esc().
//
// start(setup, url) loads tokenizers.js and the tokenizer.json the server exported; live(...)
// answers one keystroke, or null when the server must (another tokenizer, a lone surrogate).

const REPLACEMENT = "\uFFFD";
const NUMBER = /\p{Nd}+(?:[.,]\p{Nd}+)*/gu; // Python's \d+(?:[.,]\d+)*: any script's digits
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

let current = null; // {setup, tokenizer, singles: Map id -> text, special: Set of ids}
let last = null; // the last answer given here (for a view opened later), or null after the server's
export const timings = {}; // the last keystroke's, in ms: encode, render; ended (performance.now())
const opened = new Set(); // the folded views on screen ("numbers", "json"): only those render per keystroke

export async function start(setup, url) {
  const { Tokenizer } = await import(url(setup.library));
  const [json, config] = await Promise.all([fetchJson(url(setup.tokenizer), true), fetchJson(url(setup.config))]);
  current = { setup, tokenizer: new Tokenizer(json, config), singles: new Map(), special: new Set(setup.special_ids) };
  current.lines = byLines(json) ? new Map() : null;
}

// Encoding a long text line by line, each line's ids remembered, gives the very ids of encoding it
// whole when the tokenizer never makes a token across the start of a line: Llama 3's pre-tokenizer
// ends every piece that holds a newline at the last newline before a character that is not
// whitespace, and BPE merges stay inside a piece. So a keystroke encodes one line, not 10,000
// characters. Only for tokenizers whose added tokens hold no newline and whose special tokens
// only lead (as Llama 3's <|begin_of_text|>); tests/test_browser_tokenizer.py holds the ids equal.
const LINE_START = /(?<=[\r\n])(?=[^\s])/u;
const MAX_LINES = 20_000; // lines remembered, at most

function byLines(json) {
  return !(json.added_tokens ?? []).some((t) => /[\r\n]/.test(t.content));
}

function encode(text, addSpecial) {
  const { tokenizer, lines } = current;
  const whole = () => tokenizer.encode(text, { add_special_tokens: addSpecial }).ids;
  if (lines === null || text.length < 2_000) return whole();
  const lead = current.lead ??= tokenizer.encode("", { add_special_tokens: true }).ids;
  if (current.leadOnly === undefined) { // the special tokens only lead: "a" is lead + a
    const a = tokenizer.encode("a", { add_special_tokens: true }).ids, bare = tokenizer.encode("a", { add_special_tokens: false }).ids;
    current.leadOnly = a.join() === [...lead, ...bare].join();
  }
  if (!current.leadOnly) return whole();
  if (lines.size > MAX_LINES) lines.clear();
  const out = addSpecial ? [...lead] : [];
  for (const line of text.split(LINE_START)) {
    let ids = lines.get(line);
    if (ids === undefined) lines.set(line, ids = tokenizer.encode(line, { add_special_tokens: false }).ids);
    for (const id of ids) out.push(id);
  }
  return out;
}

async function fetchJson(address, gzipped = false) {
  const response = await fetch(address);
  if (!response.ok) throw new Error(`${address}: HTTP ${response.status}`);
  if (!gzipped) return response.json();
  return new Response(response.body.pipeThrough(new DecompressionStream("gzip"))).json();
}

export function handles(name) {
  const wanted = (name ?? "").trim(); // blank is the default, as on the server
  return current !== null && (wanted === "" || wanted === current.setup.name);
}

// live(...) answers a keystroke, painting the views on screen straight into the page: gradio's
// outputs are left alone (every output of an event costs its status tracker and a re-render through
// Svelte), and only what changed is painted (typing at the end of a 10,000-character text repaints a
// few chips, not 2,300); a folded view only while it is open. The answer, or null when the server
// must answer (another tokenizer, a lone surrogate).
export function live(text, name, addSpecial, skipSpecial) {
  asked = { name, addSpecial, skipSpecial };
  if (!handles(name)) { last = null; return null; }
  if (last !== null && last.text === text && last.name === name && last.result.add_special === Boolean(addSpecial)
      && last.result.skip_special === Boolean(skipSpecial)) return last.result; // painted already
  const began = performance.now();
  const result = inspect(text, addSpecial, skipSpecial, { numbers: opened.has("numbers") || opened.has("json") });
  if (result === null) { last = null; return null; }
  const encoded = performance.now();
  last = { result, text, name };
  for (const view of LIVE) if (view !== "numbers" || opened.has("numbers")) paint(view, result); // counts first
  const ended = performance.now();
  Object.assign(timings, { began, encode: encoded - began, render: ended - encoded, ended });
  return result;
}

export function forget() { last = null; } // a server answer: the next keystroke paints again

// A folded view opened or closed; for the JSON, its value now (the answer given here last).
export function opening(view, open) {
  if (open) opened.add(view); else opened.delete(view);
  if (!open || last === null) return undefined;
  if (last.result.numbers === undefined) last.result.numbers = numbers(cut(last.text, current.setup.max_chars)[0]);
  if (view === "numbers") { whenShown(view); return undefined; }
  return last.result;
}

// The JSON fold's value on a keystroke: the answer while the fold is open, else left as it is.
export function json(text, name, addSpecial, skipSpecial) {
  if (!opened.has("json") || !handles(name)) return undefined;
  return last?.text === text && last.result.add_special === Boolean(addSpecial)
    && last.result.skip_special === Boolean(skipSpecial) && last.result.numbers !== undefined
    ? last.result : inspect(text, addSpecial, skipSpecial) ?? undefined;
}

// --- what the tokenizer does to a text (pricer.tokens.inspect, as ui.tokenizer_tab.inspect_text gives it)

export function inspect(text, addSpecial, skipSpecial, { numbers: withNumbers = true } = {}) {
  if (typeof text !== "string" || LONE_SURROGATE.test(text)) return null; // the server says what to do
  const { setup, tokenizer } = current;
  const [kept, cutChars] = cut(text, setup.max_chars);
  const ids = encode(kept, Boolean(addSpecial));
  const chars = codePoints(kept);
  return {
    tokenizer: setup.label, note: setup.note,
    chars, count: ids.length, chars_per_token: ids.length ? Number(fixed(chars / ids.length, 3)) : 0,
    decoded: ids.length ? tokenizer.decode(ids, { skip_special_tokens: Boolean(skipSpecial) }) : "", // it refuses []
    ...pieces(ids),
    add_special: Boolean(addSpecial), skip_special: Boolean(skipSpecial), cut_chars: cutChars,
    batch_decode: batchDecode(ids, Boolean(skipSpecial)),
    numbers: withNumbers ? numbers(kept) : undefined, first_multi_token_integer: setup.first_multi_token_integer,
  };
}

// tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=skip): each id decoded alone, as
// tokenizers.js decodes it (with the tokenizer's own clean-up setting), remembered per id
function batchDecode(ids, skip) {
  const memo = skip ? (current.skipped ??= new Map()) : (current.kept ??= new Map());
  return ids.map((id) => {
    let text = memo.get(id);
    if (text === undefined) memo.set(id, text = current.tokenizer.decode([id], { skip_special_tokens: skip }));
    return text;
  });
}

function codePoints(text) { // Python's len()
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function cut(text, limit) {
  if (text.length <= limit) return [text, 0]; // UTF-16 units: never fewer than code points
  const all = Array.from(text);
  return all.length > limit ? [all.slice(0, limit).join(""), all.length - limit] : [text, 0];
}

function decodeRaw(ids) { // as the Rust backend decodes: specials kept, no clean-up
  return current.tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
}

function single(id) {
  let text = current.singles.get(id);
  if (text === undefined) current.singles.set(id, text = decodeRaw([id]));
  return text;
}

function pieces(ids) { // pricer.tokens.pieces: one piece per id, or the few ids of one split character
  const texts = [], split_pieces = [], special_pieces = [];
  for (let i = 0; i < ids.length;) {
    let end = i + 1, text = single(ids[i]);
    if (text.includes(REPLACEMENT)) {
      for (let k = i + 2; k <= Math.min(ids.length, i + current.setup.max_group); k++) {
        const whole = decodeRaw(ids.slice(i, k));
        if (!whole.includes(REPLACEMENT)) { end = k; text = whole; break; }
      }
    }
    if (end > i + 1) split_pieces.push([texts.length, end - i]);
    else if (current.special.has(ids[i])) special_pieces.push(texts.length);
    texts.push(text);
    i = end;
  }
  return { ids, pieces: texts, split_pieces, special_pieces };
}

function numbers(text, limit = 20) { // pricer.tokens.numbers
  const seen = [];
  for (const m of text.matchAll(NUMBER)) {
    if (!seen.includes(m[0])) seen.push(m[0]);
    if (seen.length >= limit) break;
  }
  return seen.map((number) => {
    const ids = current.tokenizer.encode(number, { add_special_tokens: false }).ids;
    return { number, ids, pieces: ids.map(single) };
  });
}

// --- numbers as Python formats them -------------------------------------------------------------

export function fixed(x, digits) { // f"{x:.{digits}f}" for x >= 0: the exact binary value, ties to even
  const [whole, fraction = ""] = x.toFixed(100).split("."); // toFixed(100) is exact for a double
  const rest = fraction.slice(digits);
  const half = "5".padEnd(rest.length, "0");
  let kept = BigInt(whole + fraction.slice(0, digits));
  if (rest > half || (rest === half && kept % 2n === 1n)) kept += 1n;
  const text = kept.toString().padStart(digits + 1, "0");
  return digits ? `${text.slice(0, -digits)}.${text.slice(-digits)}` : text;
}

function commas(n) { // f"{n:,}"
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// --- the views (ui.tokenizer_views.render_*) -----------------------------------------------------

export function esc(value) { // html.escape(str(value), quote=True)
  return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#x27;");
}

function visible(text) {
  const glyphs = current.setup.glyphs;
  return esc(text).replace(/[ \n\t\r]/g, (c) => `<span class="ws">${glyphs[c]}</span>`);
}

export function render(result) {
  return [renderStatus(result), renderStats(result), renderChips(result), renderIds(result),
          renderDecoded(result), renderBatchDecode(result), renderNumbers(result)];
}

export function renderStatus(result) {
  const note = result.note ? ` <span class="stand-in">${esc(result.note)}</span>` : "";
  return `<p>Tokenizer: <b>${esc(result.tokenizer)}</b>.${note}</p>`;
}

export function renderStats(result) {
  const cutNote = result.cut_chars ? `<p class="notice">Input cut to its first ${commas(result.chars)} characters `
    + `(${commas(result.cut_chars)} more were not tokenized).</p>` : "";
  const per100 = result.chars ? fixed(100 * result.count / result.chars, 1) : "0.0";
  return `<p><b class="count">${commas(result.count)}</b> tokens · <b class="chars">${commas(result.chars)}`
    + `</b> characters · <b class="per100">${per100}</b> tokens per 100 characters · `
    + `<b>${fixed(result.chars_per_token, 2)}</b> characters per token</p>${cutNote}`;
}

// one entry per piece (ui.tokenizer_views.chip_entries): its ids as "1 2 3" and its chip's HTML;
// worked out once per answer (the chips, ids and batch_decode views all ask)
const entriesOf = new WeakMap();

function chipEntries(view) {
  let out = entriesOf.get(view);
  if (out === undefined) entriesOf.set(view, out = pieceEntries(view));
  return out;
}

function pieceEntries(view) {
  const { pieces: texts, ids } = view;
  const sizes = new Array(texts.length).fill(1);
  for (const [n, size] of view.split_pieces ?? []) sizes[n] = size;
  const special = new Set(view.special_pieces ?? []);
  const out = new Array(texts.length);
  for (let n = 0, start = 0; n < texts.length; n++) {
    const size = sizes[n], mine = ids.slice(start, start + size);
    start += size;
    out[n] = { ids: mine, kind: special.has(n) ? " special" : size > 1 ? " split" : "", text: texts[n] };
  }
  return out;
}

function chipHtml(entry, n) {
  const data = entry.ids.join(" "), size = entry.ids.length;
  const title = size === 1 ? `id ${data}` : `ids ${data}: one character split over ${size} tokens`;
  return `<span class="chip c${n % 5}${entry.kind}" title="${title}" data-ids="${data}">${visible(entry.text)}</span>`;
}

const CHIP_LINE = 200; // chips per block at most (ui.tokenizer_views.CHIP_LINE)

// where each block of chips starts (ui.tokenizer_views.chip_lines): a block per line of the text,
// cut after CHIP_LINE chips; each block its own layout and paint (CSS containment)
function chipLines(entries) {
  const starts = [];
  for (let n = 0, count = 0; n < entries.length; n++, count++) {
    if (n === 0 || count === CHIP_LINE || entries[n - 1].text.endsWith("\n")) { starts.push(n); count = 0; }
  }
  return starts;
}

const chipBlock = (items) => `<div class="chips">${items.join("")}</div>`;

function chipsMore(count, limit) {
  return count > limit ? `<p class="notice">Showing the first ${commas(limit)} of ${commas(count)} pieces.</p>` : "";
}

export function renderChips(view, limit = current.setup.max_chips) {
  const entries = chipEntries(view), shown = entries.slice(0, limit);
  const html = shown.map(chipHtml);
  return `<div class="lines">${blocks(html, chipLines(shown), 0, chipBlock)}</div>${chipsMore(entries.length, limit)}`;
}

// the ids (encode), one span per piece (hovering one lights its chip and the reverse)
const idHtml = (entry) => `<span class="tid">${entry.ids.join(", ")}</span>`;

export function renderIds(result) {
  return '<p class="vhead">Token ids (encode) <button class="copy" type="button">Copy ids</button></p>'
    + `<div class="ids">${runs(chipEntries(result).map(idHtml))}</div>`;
}

const RUN = 100; // items per block of a long list (ui.tokenizer_views.RUN)

function runStarts(count) { // a block every RUN items
  const starts = [];
  for (let k = 0; k < count; k += RUN) starts.push(k);
  return starts;
}

// a long list's block: its items, ", " before every item but the list's first
const runBlock = (items, first) => `<span class="run">${items.map((h, i) => (first + i ? ", " : "") + h).join("")}</span>`;

function runs(items) { return blocks(items, runStarts(items.length), 0, runBlock); }

// the HTML of a list's blocks from block `from` on (`starts`: where each block starts); `items`
// need only hold the items of those blocks
function blocks(items, starts, from, block) {
  let out = "";
  for (let j = from; j < starts.length; j++) {
    const first = starts[j], end = j + 1 < starts.length ? starts[j + 1] : items.length;
    out += block(items.slice(first, end), first);
  }
  return out;
}

export function renderDecoded(result) {
  return `<p class="vhead">decode: one text</p><pre class="decoded">${esc(result.decoded)}</pre>`;
}

// batch_decode: one string per id, as Python prints the list (repr); specials marked
const batchHtml = (text, special) => `<span class="bd${special ? " special" : ""}">${esc(quoted(text))}</span>`;

function specialPositions(result) { // which of the ids are special (always a piece of its own)
  const special = new Set(result.special_pieces ?? []), out = new Set();
  if (special.size === 0) return out;
  chipEntries(result).reduce((start, entry, n) => { if (special.has(n)) out.add(start); return start + entry.ids.length; }, 0);
  return out;
}

export function renderBatchDecode(result) {
  const special = specialPositions(result);
  const items = result.batch_decode.map((t, n) => batchHtml(t, special.has(n)));
  return `<p class="vhead">batch_decode: one string per token</p><div class="items">${runs(items)}</div>`;
}

const UNPRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u; // str.isprintable() is false

export function quoted(text) { // Python's repr(str)
  const q = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of text) {
    if (ch === "\\" || ch === q) out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch !== " " && UNPRINTABLE.test(ch)) {
      const code = ch.codePointAt(0), hex = code.toString(16);
      out += code < 0x100 ? `\\x${hex.padStart(2, "0")}` : code < 0x10000 ? `\\u${hex.padStart(4, "0")}`
        : `\\U${hex.padStart(8, "0")}`;
    } else out += ch;
  }
  return out + q;
}

export function renderNumbers(result) {
  const first = result.first_multi_token_integer;
  const claim = first === null
    ? "Every integer from 0 to 999 is a single token here, which is why the pricer can answer a price in one token."
    : `Not every integer up to 999 is one token here: ${first} is the first that takes more.`;
  const rows = (result.numbers ?? []).map((n) => `<tr><td>${esc(n.number)}</td><td>${n.ids.length}</td>`
    + `<td>${renderChips(n)}</td><td>${esc(n.ids.join(", "))}</td></tr>`).join("");
  const table = rows ? `<table><tr><th>number</th><th>tokens</th><th>pieces</th><th>ids</th></tr>${rows}</table>`
    : "<p>No numbers in the text.</p>";
  return `<p>${esc(claim)}</p>${table}`;
}

// --- painting the live views straight into the page ---------------------------------------------
// Each live view is a gradio HTML output whose value is a node of the server's (ui.tokenizer_tab
// wraps every view it sends in <div data-view=...>, a new answer number each time, so gradio always
// replaces it). While this script answers it paints inside that node itself; a server answer replaces
// the node, and what was kept about it goes with it (gradio may morph a node in place rather than
// replace it: a stamp of ours on the node tells a node painted here from one that only looks alike).

const LIVE = ["status", "stats", "chips", "ids", "decoded", "batch", "numbers"];
const ELEM = { status: "tok-status", stats: "tok-stats", chips: "tok-chips", ids: "tok-ids", decoded: "tok-decoded",
               batch: "tok-batch-decode", numbers: "tok-numbers" };
const state = new WeakMap(); // view node -> what is painted in it
let stamps = 0;
const rootOf = (view) => document.querySelector(`#${ELEM[view]} [data-view="${view}"]`);

function paint(view, result) {
  const root = rootOf(view);
  if (root === null) whenShown(view); // not on the page yet (a fold gradio has not drawn)
  else paintInto(view, root, result);
}

function whenShown(view, frames = 120) {
  requestAnimationFrame(() => {
    const root = rootOf(view);
    if (root !== null && last !== null) paintInto(view, root, last.result);
    else if (root === null && frames > 0) whenShown(view, frames - 1);
  });
}

const WHOLE = { // the views painted whole when they change (small, or one text)
  status: (result) => renderStatus(result).replace(/<\/p>$/, ' <span class="where">Tokenized in your browser.</span></p>'),
  stats: renderStats,
  numbers: renderNumbers,
};

const LISTS = { // the list inside each listed view: its selector and the class of its blocks
  chips: { list: ".lines", item: "chips" }, // in blocks (a line of the text each): repainted a block at a time
  ids: { list: ".ids", item: "run" }, // in blocks of RUN items
  batch: { list: ".items", item: "run" },
};

function paintInto(view, root, result) {
  let seen = state.get(root);
  if (seen !== undefined && root.dataset.painted !== seen.stamp) seen = undefined; // not what we painted
  if (view in WHOLE || view === "decoded") {
    const html = view === "decoded" ? result.decoded : WHOLE[view](result);
    if (seen?.html === html) return;
    if (view === "decoded" && seen !== undefined) root.querySelector("pre").textContent = html;
    else root.innerHTML = view === "decoded" ? renderDecoded(result) : html;
    state.set(root, { html, stamp: stamp(root, seen) });
    return;
  }
  const items = listed(view, result);
  if (seen === undefined) { // a new node: painted whole once, then kept up to date item by item
    root.innerHTML = items.whole();
    const list = root.querySelector(LISTS[view].list);
    seen = { keys: items.keys, list, nodes: Array.from(list.children).filter((e) => e.classList.contains(LISTS[view].item)),
             stamp: stamp(root) };
    state.set(root, seen);
  } else {
    paintList(seen, items);
  }
  if (view === "chips") {
    const more = chipsMore(result.pieces.length, current.setup.max_chips), old = root.querySelector(":scope > p.notice");
    if ((old?.outerHTML ?? "") !== more) { old?.remove(); root.insertAdjacentHTML("beforeend", more); }
  }
}

function stamp(root, seen) {
  if (seen === undefined) root.dataset.painted = String(++stamps);
  return root.dataset.painted;
}

function listed(view, result) { // each item's key (what makes it differ), its HTML, and the whole view
  if (view === "batch") {
    const special = specialPositions(result), skip = result.skip_special ? "s" : "k";
    return { keys: result.ids.map((id) => skip + id), starts: runStarts(result.ids.length), block: runBlock,
             html: (n) => batchHtml(result.batch_decode[n], special.has(n)), whole: () => renderBatchDecode(result) };
  }
  const entries = chipEntries(result);
  if (view === "ids") {
    return { keys: entries.map((e) => e.ids.join(",")), starts: runStarts(entries.length), block: runBlock,
             html: (n) => idHtml(entries[n]), whole: () => renderIds(result) };
  }
  const shown = entries.slice(0, current.setup.max_chips);
  return { keys: shown.map((e) => e.kind + e.ids.join(" ")), starts: chipLines(shown), block: chipBlock,
           html: (n) => chipHtml(shown[n], n), whole: () => renderChips(result) };
}

function paintList(seen, { keys, starts, block, html: itemHtml }) {
  const old = seen.keys, nodes = seen.nodes, list = seen.list;
  let p = 0;
  while (p < old.length && p < keys.length && old[p] === keys[p]) p++; // the first item that changed
  if (p === old.length && p === keys.length) return;
  // the block holding it (or the last item, when items only went) goes, and every block after it:
  // the blocks before it hold the same items, cut alike (where a block starts depends on the items before)
  const q = Math.min(p, keys.length - 1);
  let j = 0;
  while (j + 1 < starts.length && starts[j + 1] <= q) j++;
  for (const node of nodes.splice(j)) node.remove();
  if (j < starts.length) { // the new blocks are parsed once, outside the page, and added together
    const items = new Array(keys.length).fill("");
    for (let n = starts[j]; n < keys.length; n++) items[n] = itemHtml(n);
    const template = document.createElement("template");
    template.innerHTML = blocks(items, starts, j, block);
    nodes.push(...template.content.children);
    list.append(template.content);
  }
  seen.keys = keys;
}

// --- what the anchors have: hover links, copy, whitespace glyphs, the state in the URL ---------

const STYLE = `
#tok-chips .chip.lit, #tok-ids .tid.lit { outline: 2px solid #2563eb; background: #dbeafe; }
#tok-ids .tid { border-radius: 3px; cursor: default; }
.pricer-plain-ws #tok-chips .ws { color: transparent; }
#tok-share:not(:has(p.share)) { display: none; }
#tok-text textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }`; /* no empty gap under the counts before the first keystroke */
export const MAX_URL = 4_000; // characters of the encoded text kept in the page's address, at most

let asked = null; // the tokenizer and options of the last keystroke gradio passed on

// A keystroke is answered on the text box's own input event, before gradio passes it on (the
// change event gradio then fires finds it answered); gradio's own event still carries the tokenizer
// and the options, and answers when this cannot.
function typed(event) {
  if (asked === null || !event.target.matches?.("#tok-text textarea")) return;
  share(event.target.value, asked.name);
  live(event.target.value, asked.name, asked.addSpecial, asked.skipSpecial);
}

export function interact() { // once per page
  if (document.getElementById("pricer-tokenizer-style")) return;
  document.addEventListener("input", typed, true);
  const style = Object.assign(document.createElement("style"), { id: "pricer-tokenizer-style", textContent: STYLE });
  document.head.append(style);
  document.addEventListener("mouseover", (event) => hover(event.target, true));
  document.addEventListener("mouseout", (event) => hover(event.target, false));
  document.addEventListener("click", (event) => {
    const button = event.target.closest?.("#tok-ids button.copy");
    if (button) copyIds(button);
  });
}

function hover(target, on) { // a chip and its id(s) light up together, whichever is hovered
  const chip = target.closest?.("#tok-chips .chips > .chip"), id = chip ? null : target.closest?.("#tok-ids .ids .tid");
  if (!chip && !id) return;
  const chips = document.querySelectorAll("#tok-chips .chips > .chip"), ids = document.querySelectorAll("#tok-ids .ids .tid");
  const n = Array.prototype.indexOf.call(chip ? chips : ids, chip ?? id);
  for (const e of [chips[n], ids[n]]) e?.classList.toggle("lit", on);
  const other = chip ? ids[n] : chips[n], box = other?.parentElement;
  if (on && other && box.scrollHeight > box.clientHeight) { // bring it into its box's view, not the page's
    const top = other.offsetTop - box.offsetTop;
    if (top < box.scrollTop || top > box.scrollTop + box.clientHeight - other.offsetHeight) box.scrollTop = top - box.clientHeight / 2;
  }
}

export function idsText() { // what "Copy ids" copies: the ids as the view shows them, "128000, 40, 1097"
  return Array.from(document.querySelectorAll("#tok-ids .ids .tid"), (e) => e.textContent).join(", ");
}

async function copyIds(button) {
  const text = idsText();
  try {
    await navigator.clipboard.writeText(text);
  } catch { // no clipboard API (a page over plain http): copy what a selection holds
    const area = Object.assign(document.createElement("textarea"), { value: text });
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy ids"; }, 1500);
}

export function glyphs(on) { // spaces, tabs and newlines in the chips as ␣ ⇥ ↵, or blank
  document.body.classList.toggle("pricer-plain-ws", !on);
}

export function shared() { // the text and tokenizer a shared address names ({} when none)
  const query = new URLSearchParams(location.search), out = {};
  if (query.has("text")) out.text = query.get("text");
  if (query.has("tokenizer")) out.tokenizer = query.get("tokenizer");
  return out;
}

// the page's address follows the text and tokenizer (?text=&tokenizer=), so a teacher can share an
// example; a text too long for an address is left out of it, and the note under the counts says so
export function share(text, name) {
  const query = new URLSearchParams(location.search);
  const fits = encodeURIComponent(text ?? "").length <= MAX_URL;
  if (fits) query.set("text", text ?? ""); else query.delete("text");
  if ((name ?? "").trim()) query.set("tokenizer", name.trim()); else query.delete("tokenizer");
  if (`?${query}` !== location.search) history.replaceState(history.state, "", `${location.pathname}?${query}${location.hash}`);
  const note = document.querySelector("#tok-share");
  if (note === null) return;
  let line = note.querySelector("[data-live=share]");
  if (line === null) note.append(line = Object.assign(document.createElement("p"), { className: "share" }));
  line.dataset.live = "share";
  line.textContent = fits ? "This page's address now holds the text and the tokenizer: copy it to share this example."
    : `The text is too long to share in the address (${commas(encodeURIComponent(text).length)} characters encoded, `
      + `${commas(MAX_URL)} at most): the address holds the tokenizer only.`;
}
