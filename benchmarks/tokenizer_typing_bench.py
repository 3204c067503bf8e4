"""Typing benchmark: one visitor typing into the Tokenizer tab on a 10,000-character text.

    python benchmarks/tokenizer_typing_bench.py                 # the app as it is, idle
    python benchmarks/tokenizer_typing_bench.py --busy          # a CPU-pricer evaluation in a loop beside it
    python benchmarks/tokenizer_typing_bench.py --keys 40 --chars 10000

Starts the app (`python app.py` on the tiny test model, offline, as benchmarks/load_bench.py
does), opens the Tokenizer tab in headless Chromium (Debian's /usr/bin/chromium through Python
Playwright), fills the text box with a --chars text, waits until the browser tokenizes it, then
types --keys keystrokes at the end of the text, one at a time, each after the last is painted.

For each keystroke, timed in the page with performance.now():
  encode   tokenizers.js taking the text apart (the module's own timing when it reports one,
           else `inspect` of the same text timed on its own)
  render   the rest of the event's JavaScript: building and painting the views
  paint    from the event's end to the frame with the last view on screen (gradio applying the
           outputs, style, layout and paint)
  key->counts      from the input event to the frame that shows the new token count
  key->last view   from the input event to the frame that shows every live view updated
                   (counts, chips, ids, decoding), found by checking each animation frame and
                   taking the next one (double requestAnimationFrame: that frame was painted)

`--busy` runs `python -m pricer evaluate --pricer cpu --data ../shared/data/test-250.jsonl` in a
loop in a subprocess while typing (the machine's other load is not controlled: say what ran).
Figures only: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_bench import DATA, ROOT, SEED_TEXT, start_app  # noqa: E402  (a sibling script)

KEYSTROKE_JS = """async ({text, settle}) => {
  const real = window.__pricerView ?? (window.__pricerView = window.pricerTokenizerView);
  const marks = {};
  window.pricerTokenizerView = {...real, live: (...args) => {
    marks.called = performance.now();
    const out = real.live(...args);
    marks.returned = performance.now();
    return out;
  }};
  const expected = real.inspect(text, true, false);
  const fmt = (n) => n.toLocaleString('en-US');
  const value = (sel) => { const el = document.querySelector(sel); return el ? (el.value ?? el.textContent) : null; };
  const batchOk = () => { const b = document.querySelector('#tok-batch-decode .items');
    return !b || b.getElementsByClassName('bd').length === expected.ids.length; };  // the batch_decode view, where there is one
  const idsShown = () => { const t = document.querySelector('#tok-ids textarea');  // a textbox before #20
    return t ? t.value : document.querySelector('#tok-ids .ids')?.textContent; };
  const decodedShown = () => value('#tok-decoded textarea') ?? value('#tok-decoded pre.decoded');
  const countsOk = () => document.querySelector('#tok-stats .count')?.textContent === fmt(expected.count);
  const wantIds = expected.ids.join(', ');
  const chipsOk = () => { const chips = document.querySelectorAll('#tok-chips .chips > .chip');
    return chips.length === Math.min(expected.pieces.length, 5000); };
  const allOk = () => countsOk() && idsShown() === wantIds && decodedShown() === expected.decoded && chipsOk() && batchOk();
  const frame = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
  const box = document.querySelector('#tok-text textarea');
  const started = performance.now();
  box.value = text;
  box.dispatchEvent(new Event('input', {bubbles: true}));
  let counts = null, last = null, seenCounts = false, seenAll = false;
  const give_up = started + 30000;
  while (last === null) {
    const t = await frame();
    if (seenCounts && counts === null) counts = t;
    if (seenAll) last = t;
    if (!seenCounts && countsOk()) seenCounts = true;
    if (!seenAll && allOk()) seenAll = true;
    if (t > give_up) return {error: 'no update in 30 s'};
  }
  const timings = real.timings ? {...real.timings} : null;
  let encode = timings?.encode, render = timings?.render;
  if (encode === undefined) {
    const t0 = performance.now(); real.inspect(text, true, false); encode = performance.now() - t0;
    render = (marks.returned - marks.called) - encode;
  }
  await new Promise((r) => setTimeout(r, settle));
  return {encode, render, paint: last - (timings?.ended ?? marks.returned), counts: counts - started,
          last: last - started, dispatch: (timings?.began ?? marks.called) - started};
}"""


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def evaluation_loop(stop: threading.Event, runs: list[float]) -> None:
    """The CPU pricer over the 250 test items, again and again, until `stop`."""
    while not stop.is_set():
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "pricer", "evaluate", "--pricer", "cpu", "--data", str(DATA),
                                 "--no-cache"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None:
            if stop.wait(0.2):
                proc.terminate()
                proc.wait(timeout=20)
                return
        runs.append(time.perf_counter() - started)


def type_and_time(url: str, args: argparse.Namespace) -> list[dict]:
    from playwright.sync_api import sync_playwright

    base = (SEED_TEXT * (args.chars // len(SEED_TEXT) + 1))[:args.chars]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.locator("#tok-status", has_text="Tokenized in your browser").wait_for(timeout=300_000)
        page.locator("#tok-text textarea").fill(base)
        page.locator("#tok-stats .chars", has_text=f"{len(base):,}").wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
        alphabet, text, out = "abcdefghij klmnop qrstu vwxyz,. $1299 ", base, []
        for k in range(args.keys + 3):  # the first 3 warm up
            text += alphabet[k % len(alphabet)]
            result = page.evaluate(KEYSTROKE_JS, {"text": text, "settle": args.gap})
            if "error" in result:
                raise SystemExit(f"keystroke {k}: {result['error']}")
            if k >= 3:
                out.append(result)
        browser.close()
    return out


def report(results: list[dict], label: str) -> None:
    print(f"{label}: {len(results)} keystrokes")
    for key, name in (("encode", "encode"), ("render", "render"), ("paint", "paint"), ("dispatch", "key->event"),
                      ("counts", "key->counts"), ("last", "key->last view")):
        values = [r[key] for r in results]
        print(f"  {name:<15} p50 {pct(values, 0.5):6.1f} ms   p95 {pct(values, 0.95):6.1f} ms   "
              f"mean {statistics.fmean(values):6.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=30, help="keystrokes timed (at least 20)")
    ap.add_argument("--chars", type=int, default=10_000, help="length of the text typed into")
    ap.add_argument("--gap", type=float, default=150, help="ms between keystrokes")
    ap.add_argument("--busy", action="store_true", help="a CPU-pricer evaluation in a loop beside the typing")
    ap.add_argument("--url", help="an app already running at this local URL instead of starting one")
    args = ap.parse_args()
    args.keys = max(20, min(args.keys, 1000))
    with tempfile.TemporaryDirectory(prefix="pricer-typing-") as tmp:
        proc, url = (None, args.url) if args.url else start_app(Path(tmp))
        stop, runs = threading.Event(), []
        runner = threading.Thread(target=evaluation_loop, args=(stop, runs), daemon=True)
        try:
            if args.busy:
                runner.start()
                time.sleep(3)  # the evaluation under way before the first keystroke
            results = type_and_time(url, args)
        finally:
            stop.set()
            if args.busy:
                runner.join(timeout=30)
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
    where = "beside a CPU-pricer evaluation loop" if args.busy else "idle"
    report(results, f"Tokenizer tab, {args.chars:,}-character text, {where}")
    if args.busy:
        print(f"  evaluations finished meanwhile: {len(runs)}" + (f" ({statistics.fmean(runs):.1f} s each)" if runs else ""))


if __name__ == "__main__":
    main()
