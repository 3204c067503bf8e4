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

export async function start(setup, url) {
  const { Tokenizer } = await import(url(setup.library));
  const [json, config] = await Promise.all([fetchJson(url(setup.tokenizer), true), fetchJson(url(setup.config))]);
  current = { setup, tokenizer: new Tokenizer(json, config), singles: new Map(), special: new Set(setup.special_ids) };
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

export function live(text, name, addSpecial, skipSpecial) {
  if (!handles(name)) return null;
  const result = inspect(text, addSpecial, skipSpecial);
  if (result === null) return null;
  const [status, ...views] = render(result);
  return [result, status.replace(/<\/p>$/, ' <span class="where">Tokenized in your browser.</span></p>'), ...views];
}

// --- what the tokenizer does to a text (pricer.tokens.inspect, as ui.tokenizer_tab.inspect_text gives it)

export function inspect(text, addSpecial, skipSpecial) {
  if (typeof text !== "string" || LONE_SURROGATE.test(text)) return null; // the server says what to do
  const { setup, tokenizer } = current;
  const [kept, cutChars] = cut(text, setup.max_chars);
  const ids = tokenizer.encode(kept, { add_special_tokens: Boolean(addSpecial) }).ids;
  const chars = codePoints(kept);
  return {
    tokenizer: setup.label, note: setup.note,
    chars, count: ids.length, chars_per_token: ids.length ? Number(fixed(chars / ids.length, 3)) : 0,
    decoded: ids.length ? tokenizer.decode(ids, { skip_special_tokens: Boolean(skipSpecial) }) : "", // it refuses []
    ...pieces(ids),
    add_special: Boolean(addSpecial), skip_special: Boolean(skipSpecial), cut_chars: cutChars,
    numbers: numbers(kept), first_multi_token_integer: setup.first_multi_token_integer,
  };
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
  return [renderStatus(result), renderStats(result), renderChips(result), result.ids.join(", "),
          result.decoded, renderNumbers(result)];
}

export function renderStatus(result) {
  const note = result.note ? ` <span class="notice">${esc(result.note)}</span>` : "";
  return `<p>Tokenizer: <b>${esc(result.tokenizer)}</b>.${note}</p>`;
}

export function renderStats(result) {
  const cutNote = result.cut_chars ? `<p class="notice">Input cut to its first ${commas(result.chars)} characters `
    + `(${commas(result.cut_chars)} more were not tokenized).</p>` : "";
  return `<p><b class="chars">${commas(result.chars)}</b> characters · <b class="count">${commas(result.count)}`
    + `</b> tokens · <b>${fixed(result.chars_per_token, 2)}</b> characters per token</p>${cutNote}`;
}

export function renderChips(view, limit = current.setup.max_chips) {
  const { pieces: texts, ids } = view;
  const sizes = new Array(texts.length).fill(1);
  for (const [n, size] of view.split_pieces ?? []) sizes[n] = size;
  const special = new Set(view.special_pieces ?? []);
  const out = [];
  for (let n = 0, start = 0; n < Math.min(texts.length, limit); n++) {
    const size = sizes[n], data = ids.slice(start, start + size).join(" ");
    start += size;
    const title = size === 1 ? `id ${data}` : `ids ${data}: one character split over ${size} tokens`;
    const kind = special.has(n) ? " special" : size > 1 ? " split" : "";
    out.push(`<span class="chip c${n % 5}${kind}" title="${title}" data-ids="${data}">${visible(texts[n])}</span>`);
    if (texts[n].endsWith("\n")) out.push("<br>");
  }
  const more = texts.length > limit
    ? `<p class="notice">Showing the first ${commas(limit)} of ${commas(texts.length)} pieces.</p>` : "";
  return `<div class="chips">${out.join("")}</div>${more}`;
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
