"""Load benchmark: starts the app on the tiny test model and drives N gradio clients at /tokenize.

    python benchmarks/load_bench.py                       # 20 clients for 60 s
    python benchmarks/load_bench.py --evaluate            # ... with a 250-item /evaluate beside them
    python benchmarks/load_bench.py --clients 5 --seconds 30
    python benchmarks/load_bench.py --minutes 10          # memory soak: RSS every 30 s, and its growth
    python benchmarks/load_bench.py --browser [--evaluate] # N Chromium pages typing into the Tokenizer tab
    python benchmarks/load_bench.py --price --sessions 300 --calls 3   # /price (CPU pricer) from 300 visitors

Each client is a thread with its own gradio_client.Client, calling /tokenize with a ~10,000-character
text that changes every call the way typing does (a character added, sometimes one deleted), then
waiting --think seconds (0 = back-to-back). Prints calls/s, p50/p95/max latency, errors, bytes per
answer, and the server's resident memory (RSS, from /proc via psutil) before and after.

The clients share the machine with the server, so they are kept light: `ssl_verify=False` (the
URL is local http) stops gradio_client building a TLS context, loading every CA certificate, for
each request; that alone had cost the clients more CPU per call than the server spent answering.
`--chars 10` measures the floor: gradio's own cost per call (queue, SSE, HTTP) with almost no work.

`--price` measures Predict's /price: first one client calling it back to back (--baseline calls),
then --sessions visitors at once (each its own gradio_client.Client, a new server session, all
connected before the first call) making --calls calls each with --pricer (default cpu), each a
different product; p50/p95/max latency and calls/s of both, so the load's throughput reads
against one client's.

`--browser` measures what a visitor sees: N pages (one browser context each: N visitors) in Debian's
Chromium type into the Tokenizer tab back to back, one character per keystroke, for --seconds.
A keystroke's latency runs from the input event to the counts line showing the new length; each
page also counts the event requests it sent to the server (gradio's queue/join) while typing, and
the server's CPU seconds over the run are printed. The pages share this machine's cores with
each other and the server, where each visitor would have their own, so N pages at once measure a
worst case; `--clients 1` is one visitor's view.

The app runs as `python app.py` in a child process on 127.0.0.1 (a free port), offline, on a tiny
model written by `python -m pricer tiny-model` (like `scripts/dev demo`), with ../shared/data's
test items as PRICER_DATASET when present. All traffic goes to that local server; the run is
bounded in time and stops the server by itself. Figures only: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "test-250.jsonl"
SEED_TEXT = ("Stainless steel 12-cup coffee maker, programmable, 1,200 W, $79.99. Brews hot and "
             "iced coffee; 24-hour timer, auto shut-off. 你好 👋 Prices: 374.41, 1,299 and 12345.\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def start_app(workdir: Path) -> tuple[subprocess.Popen, str]:
    model = workdir / "tiny-model"
    subprocess.run([sys.executable, "-m", "pricer", "tiny-model", "--out", str(model)], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    env = {**os.environ, "PRICER_BASE_MODEL": str(model), "PRICER_ADAPTER": str(model / "adapter"),
           "PRICER_ADAPTER_REVISION": "none", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "PRICER_CACHE": str(workdir / "cache"), "GRADIO_SERVER_NAME": "127.0.0.1", "PORT": str(port)}
    if DATA.exists() and "PRICER_DATASET" not in os.environ:
        env["PRICER_DATASET"] = str(DATA)
    log = open(workdir / "app.log", "wb")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited ({proc.returncode}); see {workdir / 'app.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the app did not start within 180 s")


def typed_texts(seed: int, chars: int):
    """An endless run of ~`chars`-character texts, each one keystroke after the last."""
    rng = random.Random(seed)
    base = (SEED_TEXT * (chars // len(SEED_TEXT) + 1))[:chars]
    text = base
    alphabet = "abcdefghijklmnopqrstuvwxyz      ,.$0123456789\n"
    while True:
        if rng.random() < 0.15 and len(text) > chars // 2:
            text = text[:-1]
        else:
            text += rng.choice(alphabet)
        if len(text) > chars + 500:  # a new paste: start over from another cut of the base
            k = rng.randrange(len(SEED_TEXT))
            text = base[k:] + base[:k]
        yield text


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.sizes: list[int] = []
        self.errors: list[str] = []

    def add(self, seconds: float, size: int) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.sizes.append(size)

    def fail(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


def client_loop(url: str, n: int, stop: threading.Event, stats: Stats, chars: int, think: float,
                renew: int = 0) -> None:
    """One typist; with `renew`, a new client (a new visitor, a new server session) every `renew` calls."""
    from gradio_client import Client

    client, calls = None, 0
    texts = typed_texts(n, chars)
    while not stop.is_set():
        if client is None or (renew and calls and calls % renew == 0):
            if client is not None:
                client.close()
            try:
                client = Client(url, verbose=False, ssl_verify=False)
            except Exception as exc:  # noqa: BLE001 (a benchmark counts every failure)
                stats.fail(f"connect: {exc!r}"[:200])
                return
        calls += 1
        text = next(texts)
        started = time.perf_counter()
        try:
            answer = client.predict(text, "", True, False, api_name="/tokenize")
        except Exception as exc:  # noqa: BLE001
            stats.fail(repr(exc)[:200])
            continue
        stats.add(time.perf_counter() - started, len(json.dumps(answer, ensure_ascii=False).encode()))
        if think:
            stop.wait(think)
    if client is not None:
        client.close()


def evaluate_loop(url: str, size: int, out: dict) -> None:
    from gradio_client import Client

    started = time.perf_counter()
    try:
        client = Client(url, verbose=False, ssl_verify=False)
        metrics, _csv = client.predict("fine-tuned", None, None, None, size, None, api_name="/evaluate")
        out["metrics"] = metrics
    except Exception as exc:  # noqa: BLE001
        out["error"] = repr(exc)[:300]
    out["seconds"] = time.perf_counter() - started


def print_evaluation(evaluation: dict, waited: float) -> None:
    """The evaluation run beside the load: its time and figures, its error, or that it still runs."""
    if "seconds" not in evaluation:
        print(f"  /evaluate: still running after {waited:.0f} s more (left to the server)")
    elif "error" in evaluation:
        print(f"  /evaluate: error after {evaluation['seconds']:.0f} s: {evaluation['error']}")
    else:
        print(f"  /evaluate: {evaluation['seconds']:.0f} s, " + ", ".join(
            f"{k} {v}" for k, v in evaluation["metrics"].items() if k not in ("pricer", "data", "estimator")))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load(url: str, pid: int, args: argparse.Namespace) -> None:
    stats, stop = Stats(), threading.Event()
    evaluation: dict = {}
    before = rss_mb(pid)
    threads = [threading.Thread(target=client_loop, args=(url, n, stop, stats, args.chars, args.think, args.renew),
                                daemon=True)
               for n in range(args.clients)]
    if args.evaluate:
        threads.append(threading.Thread(target=evaluate_loop, args=(url, 250, evaluation), daemon=True))
    started = time.perf_counter()
    for t in threads:
        t.start()
    stop.wait(args.seconds)
    stop.set()
    elapsed = time.perf_counter() - started
    for t in threads[:args.clients]:
        t.join(timeout=60)
    after = rss_mb(pid)
    lat = stats.latencies
    print(f"clients {args.clients}, {args.seconds:.0f} s, texts ~{args.chars:,} chars, think {args.think} s, "
          f"new session every {args.renew or 'never'} calls"
          f"{', with a 250-item /evaluate beside them' if args.evaluate else ''}")
    if lat:
        print(f"  /tokenize: {len(lat)} calls, {len(lat) / elapsed:.1f} calls/s, p50 {pct(lat, 0.5) * 1000:.0f} ms, "
              f"p95 {pct(lat, 0.95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms")
        print(f"  bytes per answer: mean {statistics.mean(stats.sizes):,.0f}, max {max(stats.sizes):,}")
    print(f"  errors: {len(stats.errors)}" + (f" (first: {stats.errors[0]})" if stats.errors else ""))
    print(f"  server RSS: {before:.0f} MB before, {after:.0f} MB after ({after - before:+.0f} MB)")
    if args.evaluate:
        for t in threads[args.clients:]:
            t.join(timeout=args.evaluate_wait)
        print_evaluation(evaluation, args.evaluate_wait)


TYPING_JS = """async ({seconds, base, seed}) => {
  const box = document.querySelector('#tok-text textarea'), stats = document.querySelector('#tok-stats');
  const shown = () => stats.querySelector('.chars')?.textContent;
  const until = (want) => new Promise((resolve, reject) => {
    if (shown() === want) return resolve();
    const timer = setTimeout(() => { watch.disconnect(); reject(new Error(`no update to ${want} in 30 s`)); }, 30000);
    const watch = new MutationObserver(() => {
      if (shown() === want) { clearTimeout(timer); watch.disconnect(); resolve(); }
    });
    watch.observe(stats, {subtree: true, childList: true, characterData: true});
  });
  let state = seed, text = base;
  const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const alphabet = 'abcdefghijklmnopqrstuvwxyz      ,.$0123456789\\n';
  const latencies = [], errors = [], end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    text = random() < 0.15 ? text.slice(0, -1) : text + alphabet[Math.floor(random() * alphabet.length)];
    const want = [...text].length.toLocaleString('en-US'), started = performance.now();
    box.value = text;
    box.dispatchEvent(new Event('input', {bubbles: true}));
    try { await until(want); latencies.push((performance.now() - started) / 1000); }
    catch (error) { errors.push(String(error)); }
  }
  return {latencies, errors};
}"""


def browser_load(url: str, pid: int, args: argparse.Namespace) -> None:
    """N Chromium pages typing into the Tokenizer tab at once (see the module's docstring)."""
    import asyncio

    import psutil
    from playwright.async_api import async_playwright

    base = (SEED_TEXT * (args.chars // len(SEED_TEXT) + 1))[:args.chars]

    async def visitor(browser, n: int, go: asyncio.Event, ready: list) -> dict:
        context = await browser.new_context()
        page = await context.new_page()
        sent: list[str] = []
        await page.goto(url)
        await page.locator("#tok-chips .chip").first.wait_for(timeout=300_000)
        where = await page.inner_text("#tok-status")
        await page.locator("#tok-text textarea").fill(base)
        await page.locator("#tok-stats .chars", has_text=f"{len(base):,}").wait_for(timeout=300_000)
        ready.append("Tokenized in your browser" in where)
        await go.wait()
        page.on("request", lambda r: "/queue/join" in r.url and sent.append(r.url))
        result = await page.evaluate(TYPING_JS, {"seconds": args.seconds, "base": base, "seed": n + 1})
        await context.close()
        return {**result, "sent": len(sent)}

    async def run() -> None:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium",
                                              args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            go, ready = asyncio.Event(), []
            tasks = [asyncio.create_task(visitor(browser, n, go, ready)) for n in range(args.clients)]
            while len(ready) < args.clients and not any(t.done() for t in tasks):
                await asyncio.sleep(0.5)
            evaluation: dict = {}
            runner = None
            if args.evaluate:
                runner = threading.Thread(target=evaluate_loop, args=(url, 250, evaluation), daemon=True)
                runner.start()
            server = psutil.Process(pid)
            before, cpu_before, started = rss_mb(pid), sum(server.cpu_times()[:2]), time.perf_counter()
            go.set()
            results = await asyncio.gather(*tasks)
            elapsed, cpu = time.perf_counter() - started, sum(server.cpu_times()[:2]) - cpu_before
            after = rss_mb(pid)
            await browser.close()
        lat = [x for r in results for x in r["latencies"]]
        errors = [e for r in results for e in r["errors"]]
        print(f"browser: {args.clients} pages typing into the Tokenizer tab, {args.seconds:.0f} s, "
              f"texts ~{args.chars:,} chars, tokenized in the browser on {sum(ready)} of {len(ready)} pages"
              f"{', with a 250-item /evaluate beside them' if args.evaluate else ''}")
        if lat:
            print(f"  keystrokes: {len(lat)}, {len(lat) / elapsed:.1f}/s, p50 {pct(lat, 0.5) * 1000:.0f} ms, "
                  f"p95 {pct(lat, 0.95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms")
        print(f"  errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
        print(f"  event requests sent to the server while typing: {sum(r['sent'] for r in results)}")
        print(f"  server: {cpu:.1f} CPU s over {elapsed:.0f} s; RSS {before:.0f} MB before, {after:.0f} MB after "
              f"({after - before:+.0f} MB)")
        if runner is not None:
            runner.join(timeout=args.evaluate_wait)
            print_evaluation(evaluation, args.evaluate_wait)

    asyncio.run(run())


def soak(url: str, pid: int, args: argparse.Namespace) -> None:
    """Clients typing for --minutes; RSS sampled every 30 s."""
    stats, stop = Stats(), threading.Event()
    threads = [threading.Thread(target=client_loop, args=(url, n, stop, stats, args.chars, args.think, args.renew),
                                daemon=True)
               for n in range(args.clients)]
    series = [(0.0, rss_mb(pid))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    end = started + args.minutes * 60
    while (now := time.perf_counter()) < end:
        stop.wait(min(30, end - now))
        series.append((time.perf_counter() - started, rss_mb(pid)))
        print(f"  {series[-1][0]:6.0f} s  RSS {series[-1][1]:7.0f} MB  calls {len(stats.latencies)}", flush=True)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    lat = stats.latencies
    first_minute = next((mb for s, mb in series if s >= 60), series[-1][1])
    print(f"soak: {args.clients} clients for {args.minutes:g} min, new session every {args.renew or 'never'} calls, "
          f"{len(lat)} calls, {len(stats.errors)} errors"
          + (f", p95 {pct(lat, 0.95) * 1000:.0f} ms" if lat else ""))
    print(f"  RSS series (MB): {' '.join(f'{mb:.0f}' for _, mb in series)}")
    print(f"  growth: {series[-1][1] - series[0][1]:+.0f} MB from the start, "
          f"{series[-1][1] - first_minute:+.0f} MB after the first minute (warm-up excluded)")


PRODUCT = "Stainless steel garlic press {n}\nCrushes whole cloves with a long lever; dishwasher safe, 9 inches."


def price_load(url: str, pid: int, args: argparse.Namespace) -> None:
    """One client at /price back to back, then --sessions visitors making --calls calls each at once."""
    from gradio_client import Client

    def line(what: str, lat: list[float], elapsed: float, errors: list[str]) -> str:
        figures = (f"{len(lat)} calls, {len(lat) / elapsed:.1f} calls/s, p50 {pct(lat, 0.5) * 1000:.0f} ms, "
                   f"p95 {pct(lat, 0.95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms") if lat else "no calls"
        return f"  {what}: {figures}; errors {len(errors)}" + (f" (first: {errors[0]})" if errors else "")

    one = Client(url, verbose=False, ssl_verify=False)
    lat: list[float] = []
    started = time.perf_counter()
    for n in range(args.baseline):
        t = time.perf_counter()
        one.predict(PRODUCT.format(n=n), args.pricer, api_name="/price")
        lat.append(time.perf_counter() - t)
    print(f"/price with the {args.pricer} pricer; server RSS {rss_mb(pid):.0f} MB before")
    print(line("one client", lat, time.perf_counter() - started, []))

    stats, go = Stats(), threading.Event()
    clients: list = [None] * args.sessions
    doors = threading.Semaphore(16)  # a few at a time: 300 at once time out fetching the app's config

    def visitor(k: int) -> None:
        try:
            with doors:
                clients[k] = Client(url, verbose=False, ssl_verify=False)
        except Exception as exc:  # noqa: BLE001 (a benchmark counts every failure)
            stats.fail(f"connect: {exc!r}"[:200])
            return
        go.wait()
        for c in range(args.calls):
            t = time.perf_counter()
            try:
                clients[k].predict(PRODUCT.format(n=f"{k}-{c}"), args.pricer, api_name="/price")
            except Exception as exc:  # noqa: BLE001
                stats.fail(repr(exc)[:200])
                continue
            stats.add(time.perf_counter() - t, 0)

    threads = [threading.Thread(target=visitor, args=(k,), daemon=True) for k in range(args.sessions)]
    connecting = time.perf_counter()
    for t in threads:
        t.start()
    while sum(c is not None for c in clients) + len(stats.errors) < args.sessions and \
            time.perf_counter() - connecting < 600:
        time.sleep(0.2)
    print(f"  {sum(c is not None for c in clients)} sessions connected in {time.perf_counter() - connecting:.0f} s")
    started = time.perf_counter()
    go.set()
    for t in threads:
        t.join(timeout=900)
    elapsed = time.perf_counter() - started
    print(line(f"{args.sessions} sessions x {args.calls} calls", stats.latencies, elapsed, stats.errors))
    print(f"  server RSS {rss_mb(pid):.0f} MB after")


def _mode(args: argparse.Namespace):
    return browser_load if args.browser else price_load if args.price else soak if args.minutes else load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--chars", type=int, default=10_000, help="length of each client's text")
    ap.add_argument("--think", type=float, default=0.0, help="seconds a client waits between calls")
    ap.add_argument("--renew", type=int, default=0,
                    help="each client becomes a new visitor (a new session) every this many calls")
    ap.add_argument("--evaluate", action="store_true", help="run a 250-item /evaluate beside the clients")
    ap.add_argument("--evaluate-wait", type=float, default=300, help="seconds to wait for it after the load")
    ap.add_argument("--minutes", type=float, default=0, help="memory soak of this many minutes instead")
    ap.add_argument("--browser", action="store_true", help="Chromium pages typing into the Tokenizer tab instead")
    ap.add_argument("--price", action="store_true", help="visitors calling /price instead (see --sessions)")
    ap.add_argument("--sessions", type=int, default=300, help="with --price: visitors at once")
    ap.add_argument("--calls", type=int, default=3, help="with --price: calls each visitor makes")
    ap.add_argument("--baseline", type=int, default=100, help="with --price: calls one client makes first")
    ap.add_argument("--pricer", default="cpu", help="with --price: the pricer(s) asked")
    ap.add_argument("--url", help="drive an app already running at this local URL (with --pid)")
    ap.add_argument("--pid", type=int, help="the process id of that app, for its memory")
    args = ap.parse_args()
    args.clients = max(1, min(args.clients, 200))
    args.seconds = max(1.0, min(args.seconds, 3600))
    args.minutes = max(0.0, min(args.minutes, 120))
    args.sessions = max(1, min(args.sessions, 1000))
    args.calls, args.baseline = max(1, min(args.calls, 100)), max(1, min(args.baseline, 10_000))
    if args.url:
        if not args.url.startswith(("http://127.0.0.1:", "http://localhost:")) or not args.pid:
            raise SystemExit("--url must be a local app (http://127.0.0.1:PORT/) and needs --pid")
        _mode(args)(args.url, args.pid, args)
        return
    with tempfile.TemporaryDirectory(prefix="pricer-load-") as tmp:
        proc, url = start_app(Path(tmp))
        try:
            from gradio_client import Client

            Client(url, verbose=False, ssl_verify=False).predict("warm up 123", "", True, False, api_name="/tokenize")
            _mode(args)(url, proc.pid, args)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
