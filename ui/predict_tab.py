"""The Predict tab: paste a product and every pricer that can run here prices it, side by side.

Named handlers over the pricer registry (pricer.pricers: every pricer prices a list of texts the
same way, as the CLI's `predict --pricer` does), then `build()`, which is layout and wiring
only. The default pricer comes first; each answer shows its price, its 80% interval, its time and
what it adds (the Llama's completion and most likely number tokens, the items RAG retrieved, an
ensemble's members); pricers that cannot run here are listed with the reason. What one visitor
is doing lives in a `Desk` (a gr.State): the text is checked before anything loads, the button
says what it is doing while a model loads, and a second request while one is under way is
refused with a message, never dropped. Everything shown as HTML goes through html.escape.

Endpoints: `/price` (a text and pricer names -> a result per pricer, as numbers) and `/predict`
(the Llama alone, with all its estimates, like `python -m pricer predict --json`).

Longer than 450 lines: one tab, its named handlers (the side-by-side /price and the Llama's
/predict, one request at a time) above its layout and wiring, as the other tabs are.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import gradio as gr

from pricer import pricers as registry
from pricer.config import settings
from pricer.data.datasets import TestItem, load_items
from pricer.errors import BadInput, PricerError
from pricer.evaluation.chart import PAGE_LAYOUT
from pricer.gpu import ZERO_GPU_SECONDS, gpu_busy, on_gpu
from pricer.pricers.base import MAX_TEXT_CHARS
from pricer.pricers.chat import client as chat_client
from pricer.pricers.estimates import TOP_K, estimator
from pricer.pricers.llama.model import ModelSpec, Prediction, load_pricer, loaded, model_status
from pricer.pricers.llama.pricer import LlamaPricer
from pricer.redact import quoted
from pricer.tokenizer import tokens
from ui import GPU_QUEUE, PRICE_CONCURRENCY, PRICE_QUEUE, api, esc, unavailable_list, warn
from ui.api import endpoint, fail
from ui.examples import EXAMPLES

N_EXAMPLES = 12
FINE_TUNED, BASE = "fine-tuned", "base"
LLAMA_ESTIMATOR = "topk"  # the course's improved estimate leads the Llama's answers (its best: $46.66)
LEAD = (
    "**How the Llama answers.** Its price is the course's improved estimate "
    f"(`improved_model_predict`): the {TOP_K} most likely next tokens after `Price is $`, those that "
    "are not numbers dropped, averaged weighted by probability ($46.66 average error on the 250 test "
    "items with the fine-tuned model). Its details add the same average over the number tokens "
    "1-999 only, the greedy answer (the course's first method) and the median of the number-token "
    "distribution; its 80% interval is the 10% and 90% quantiles of that distribution."
)
PREDICT_GPU_SECONDS = 30  # a loaded 8B model prices one prompt in about a second
CSS_PRICE = "font-size: 2.2em; font-weight: 700; line-height: 1.1;"
PASTE = "Paste a product's title and description first (the first line is the title)."


def _spec(choice: str) -> ModelSpec:
    return ModelSpec.from_settings(fine_tuned=choice == FINE_TUNED)


# --- the test data's examples -------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _examples(dataset: str, limit: int) -> tuple[tuple[TestItem, ...], str]:
    try:
        return tuple(load_items(dataset, size=limit)), ""
    except (PricerError, ImportError, OSError, ValueError) as exc:
        return (), f"No examples: {exc}"


def load_examples(limit: int = N_EXAMPLES) -> tuple[list[TestItem], str]:
    """The first test items of PRICER_DATASET (a hub id or a local path), or none and the reason
    (the tab works without). Read once per dataset: the examples shown and the true prices looked
    up stay the same."""
    items, note = _examples(settings().dataset, limit)
    return list(items), note


def true_price(text: str, prompt: str = "") -> float | None:
    """The true price when the text (or the prompt made of it) is one of the examples, else None."""
    truths = {item.prompt.strip(): item.truth for item in load_examples()[0]}
    return truths.get((text or "").strip()) or truths.get(prompt)


# --- pricing with every pricer ----------------------------------------------------------------


class Answer(NamedTuple):
    """One pricer's answer to one text, for the tab and the API."""

    name: str
    label: str
    estimate: registry.Estimate | None
    """None when it failed (then `error` says why)."""
    seconds: float
    error: str = ""
    loading: bool = False
    """Its model loaded first (the time includes the load)."""

    def to_json(self) -> dict[str, Any]:
        e = self.estimate
        return {"pricer": self.name, "label": self.label, "price": e.price if e else None,
                "low": e.low if e else None, "high": e.high if e else None, "seconds": round(self.seconds, 3),
                "details": e.details if e else {}}


def lineup(chosen: Sequence[str] | None = None) -> tuple[list[registry.Pricer], list[tuple[registry.Pricer, str]]]:
    """(the pricers to ask, default first; those that cannot run here with the reason). `chosen`
    limits the first list to those names (None: every pricer that can run)."""
    ready, unavailable = registry.lineup()
    return [p for p in ready if chosen is None or p.name in chosen], unavailable


def llama_here() -> bool:
    """True when a Llama pricer can run here: only then are its own panels (the number-token
    chart, the exact prompt, the model's status) shown."""
    return any(isinstance(p, LlamaPricer) for p in lineup()[0])


READ_NOTE_FROM = 1.25  # a paste this many times longer than what was read gets a note saying so


def reading_note(text: str) -> str:
    """What of a long paste the pricers read: like the training items, its first MAX_TOKENS Llama
    tokens (the rest changes no price), said as the Tokenizer tab says what it cut; '' when the
    whole text (or a dataset prompt) was read."""
    from pricer.data.items import MAX_TOKENS, PREFIX, QUESTION, build_prompt, dataset_prompt

    text = text.strip()
    if dataset_prompt(text):
        return ""
    try:
        prompt, _ = build_prompt(text)
    except PricerError:
        return ""
    read = max(len(prompt) - len(f"{QUESTION}\n\n\n\n{PREFIX}"), 0)
    if len(text) <= READ_NOTE_FROM * max(read, 1):
        return ""
    return (f"Read as the training items were cut: the title and description's first {MAX_TOKENS} tokens, about "
            f"{read:,} of the {len(text):,} characters pasted. The rest changed no price.")


def _estimator(pricer: registry.Pricer) -> str | None:
    return LLAMA_ESTIMATOR if LLAMA_ESTIMATOR in pricer.estimators else None


def _needs_loading(pricer: registry.Pricer) -> bool:
    spec = getattr(pricer, "spec", None)
    try:
        return callable(spec) and not loaded(spec())
    except (ValueError, PricerError):
        return False


def ask(pricer: registry.Pricer, text: str) -> Answer:
    """`pricer`'s answer to `text`, timed; a PricerError becomes the answer's error."""
    loading = _needs_loading(pricer)
    started = time.perf_counter()
    try:
        (estimate,) = pricer.price([text], estimator=_estimator(pricer))
    except PricerError as exc:
        return Answer(pricer.name, pricer.label, None, time.perf_counter() - started, str(exc), loading)
    return Answer(pricer.name, pricer.label, estimate, time.perf_counter() - started, "", loading)


def check_text(text: Any) -> str:
    """The pasted text, or a BadInput saying what to paste (checked before any model loads)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        raise BadInput(PASTE)
    text = tokens.check_text(text, "product text")  # a string, and valid Unicode
    if len(text) > MAX_TEXT_CHARS:  # a pricer reads its first 160 tokens: megabytes are a mistake
        raise BadInput(f"This text is {len(text):,} characters: paste at most {MAX_TEXT_CHARS:,} (a product's title "
                       "and description; the pricers read about the first 800 characters of the description).")
    return text


# --- rendering -------------------------------------------------------------------------------


def _dollars(value: float | None) -> str:
    return "no number" if value is None else f"${value:,.2f}"


def _interval(e: registry.Estimate) -> str:
    return "—" if e.low is None or e.high is None else f"${e.low:,.2f} – ${e.high:,.2f}"


NOWRAP = ' style="white-space: nowrap"'  # numbers never break over lines: the table scrolls instead
RESULT_CSS = """
.read-note { color: var(--body-text-color-subdued); font-size: 0.9em; }
.nothing-priced { color: var(--body-text-color-subdued); font-style: italic; }
/* a phone: each pricer's answer is a card of labelled lines, every figure in view without scrolling */
@media (max-width: 640px) {
  table.answers tr:first-child { display: none; }
  table.answers, table.answers tbody, table.answers tr, table.answers td { display: block; width: 100%; }
  table.answers tr { border-top: 1px solid var(--border-color-primary); padding: 6px 0; }
  table.answers td { padding: 1px 4px; border: none; }
  table.answers td[data-label]::before { content: attr(data-label) ": "; color: var(--body-text-color-subdued); }
}
"""


def _who(name: str, label: str) -> str:
    """A pricer in a table cell: its name, and its label (the model) in small print."""
    return f'<div style="min-width: 11em"><b>{esc(name)}</b><br><small>{esc(label)}</small></div>'


def render_answers(title: str, answers: Sequence[Answer], pending: Sequence[registry.Pricer],
                   unavailable: Sequence[tuple[registry.Pricer, str]], truth: float | None, read: str = "") -> str:
    """The side-by-side table: the default pricer's price big, then a row per pricer (price,
    interval, time, off by), pending ones marked, then those that cannot run here and why.
    `read`: what of a long text was read (reading_note)."""
    lead = next((a for a in answers if a.estimate is not None), None)
    head = f'<p class="priced">Priced: <b>{esc(title)}</b></p>'
    if read:
        head += f'<p class="read-note">{esc(read)}</p>'
    if truth is not None:
        head += f'<p class="truth">True price (test data): <b>${truth:,.2f}</b></p>'
    big = ""
    if lead is not None:
        big = (f'<div style="{CSS_PRICE}" class="predict-price">{esc(_dollars(lead.estimate.price))}</div>'
               f"<div>{esc(lead.label)}</div>")
    rows = []
    for a in answers:
        if a.estimate is None:
            rows.append(f'<tr class="failed"><td>{_who(a.name, a.label)}</td><td colspan="4" class="error">'
                        f"{esc(a.error)}</td></tr>")
            continue
        e = a.estimate
        off = "" if truth is None or e.price is None else f"${abs(e.price - truth):,.2f}"
        loading = "<br><small>with the model's load</small>" if a.loading else ""
        rows.append(f'<tr data-pricer="{esc(a.name)}"><td>{_who(a.name, a.label)}</td>'
                    f'<td class="price" data-label="price"{NOWRAP}>{esc(_dollars(e.price))}</td>'
                    f'<td data-label="80% interval"{NOWRAP}>{esc(_interval(e))}</td>'
                    f'<td data-label="time"{NOWRAP}>{a.seconds:.2f} s{loading}</td>'
                    f'<td data-label="off by"{NOWRAP}>{esc(off) or "—"}</td></tr>')
    rows += [f'<tr class="pending"><td>{_who(p.name, p.label)}</td><td colspan="4">pricing…</td></tr>'
             for p in pending]
    # its own sideways scroll: on a phone the table is wider than the screen, the page is not
    table = ('<div class="answers-wrap" style="overflow-x: auto; max-width: 100%"><table class="answers">'
             "<tr><th>pricer</th><th>price</th><th>80% interval</th><th>time</th><th>off by</th></tr>"
             f"{''.join(rows)}</table></div>")
    return f'<div id="predict-result">{head}{big}{table}{unavailable_list(unavailable, opened=True)}</div>'


def render_details(answers: Sequence[Answer]) -> str:
    """What each pricer adds beside its price: the Llama's estimates and completion, a note on
    how the text was read, the items RAG retrieved, an ensemble's members."""
    parts = []
    for a in answers:
        if a.estimate is None:
            continue
        d = a.estimate.details
        rows: list[tuple[str, str]] = []
        if "completion" in d:
            greedy = _dollars(d.get("greedy"))
            rows.append(("Greedy answer", f"{greedy} from “{d['completion']}”"))
        if "topk_numbers" in d:
            rows.append((estimator("topk-numbers").label.capitalize(), _dollars(d["topk_numbers"])))
        if "median" in d:
            rows.append(("Median of the number tokens", _dollars(d["median"])))
        if "number_mass" in d:
            rows.append(("Probability on number tokens", f"{d['number_mass']:.1%}"))
        if "reply" in d:
            rows.append(("The model's reply", quoted(str(d["reply"]))))
        if isinstance(d.get("members"), dict):
            rows += [(f"member {name}", _dollars(price)) for name, price in d["members"].items()]
        if d.get("note"):
            rows.append(("Note", str(d["note"])))
        retrieved = d.get("retrieved")
        table = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
        block = f"<h4>{esc(a.label)}</h4><table>{table}</table>" if rows else f"<h4>{esc(a.label)}</h4>"
        if isinstance(retrieved, list) and retrieved:  # RAG: the training items it was shown
            items = "".join(f"<tr><td>{esc(r.get('title', ''))}</td><td>{esc(_dollars(r.get('price')))}</td>"
                            f"<td>{esc(r.get('similarity', ''))}</td></tr>" for r in retrieved if isinstance(r, dict))
            block += (f'<table class="retrieved"><tr><th>similar item retrieved</th><th>price</th>'
                      f"<th>similarity</th></tr>{items}</table>")
        parts.append(block)
    return "".join(parts) or "<p>No details.</p>"


def token_chart(top_tokens: Sequence[Sequence[Any]], k: int = TOP_K) -> Any:
    """Bar chart of the most likely number tokens; the top k (those averaged) highlighted."""
    import plotly.graph_objects as go

    labels = [f"${t}" for t, _ in top_tokens]
    probs = [100 * p for _, p in top_tokens]
    colors = ["#2563eb" if i < k else "#93c5fd" for i in range(len(probs))]
    fig = go.Figure(go.Bar(x=labels, y=probs, marker_color=colors,
                           hovertemplate="%{x}: %{y:.3g}%<extra></extra>"))
    fig.update_layout(title=f"Most likely number tokens after 'Price is $' (top {k} in dark)",
                      yaxis_title="probability (%)", yaxis_tickformat="~g", xaxis_type="category", height=300,
                      margin=dict(l=40, r=10, t=40, b=30), **PAGE_LAYOUT)
    return fig


def llama_views(answers: Sequence[Answer]) -> tuple[Any, Any]:
    """(chart, prompt box) from the first Llama answer, or skips when no Llama answered."""
    for a in answers:
        d = a.estimate.details if a.estimate is not None else {}
        if d.get("top_tokens") and "prompt" in d:
            label = f"The exact prompt the Llama saw ({d.get('prompt_tokens', 0)} tokens, with <|begin_of_text|>)"
            return token_chart(d["top_tokens"]), gr.Textbox(d["prompt"], label=label)
    return gr.skip(), gr.skip()


def render_status(text: str) -> str:
    return f"Model: {esc(text)}"


def show_status(choice: str = FINE_TUNED) -> str:
    """The Llama's status line: not loaded, loading, loaded (device, dtype, memory), or failed."""
    try:
        return render_status(model_status(_spec(choice)))
    except ValueError as exc:  # settings that make no model (e.g. PRICER_QUANTIZATION=16bit)
        return render_status(f"the Llama settings are not usable: {exc}")


# --- one visitor's tab ------------------------------------------------------------------------


@dataclass
class Desk:
    """What one visitor's Predict tab is doing (kept in a gr.State, one per session)."""

    busy: bool = False
    """From the click until every chosen pricer has answered."""
    text: str = ""
    """The text being priced (what the answers shown belong to)."""
    names: list[str] = field(default_factory=list)
    refusal: str = ""
    """Why the last click priced nothing (the answers shown are cleared), or ''."""

    def claim(self, text: Any, names: Sequence[str] | None) -> str:
        """The button: the text checked (BadInput) and the desk taken; refused while busy."""
        self.refusal = ""
        if self.busy:  # the answers on screen belong to the request under way: they stay
            raise BadInput("Still pricing the text you sent before: its answers are on their way. "
                           "Press again once they are in.")
        try:
            text = check_text(text)
            if names is not None and not names:
                raise BadInput("Tick at least one pricer.")
        except BadInput as exc:
            self.refusal, self.text = str(exc), ""
            raise
        self.busy, self.text, self.names = True, text, list(names or [])
        return text

    def release(self) -> None:
        self.busy = False


def _title(text: str) -> str:
    """The product's title: the line after the course's question, or the first line pasted."""
    from pricer.data.datasets import title_of

    try:
        return title_of(text) or text.strip().splitlines()[0]
    except (IndexError, ValueError):
        return text.strip()[:80]


def begin(desk: Desk, text: str, names: list[str] | None) -> tuple:
    """The button, at once (before any queue or model load): check the text and refuse a second
    request, each with a pop-up; else disable the button saying what it waits for."""
    try:
        desk.claim(text, names)
    except BadInput as exc:
        warn(str(exc))
        raise gr.Error(esc(exc), visible=False, print_exception=False) from exc
    loading = any(_needs_loading(p) for p in lineup(desk.names or None)[0])
    label = "Loading the model, then pricing…" if loading else "Pricing…"
    waiting = f"<p>{esc(label)} <b>{esc(_title(desk.text))}</b></p>"
    return gr.Button(label, interactive=False), waiting


def refused(desk: Desk) -> tuple:
    """After a click that priced nothing: the last product's answers leave the screen (they would
    read as this text's), replaced by what to do; a click refused while pricing changes nothing."""
    if not desk.refusal:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    shown = f'<div id="predict-result" class="refused"><p class="nothing-priced">Nothing priced: {esc(desk.refusal)}</p></div>'
    return shown, "<p>No details.</p>", None, gr.Textbox(value="")


def gpu_seconds(desk: Any = None, *_: Any, **__: Any) -> int:
    """ZeroGPU's reservation for a request: short once the Llama is loaded, so visitors queue
    ahead; long enough for a first load otherwise."""
    try:
        return PREDICT_GPU_SECONDS if loaded(_spec(FINE_TUNED)) else ZERO_GPU_SECONDS
    except ValueError:
        return PREDICT_GPU_SECONDS


WAITING = " · **waiting for the GPU**: another request is on the model; this one is next in line."


def price_all(desk: Desk, progress: gr.Progress = gr.Progress()) -> Iterator[tuple]:  # noqa: B008 (gradio idiom)
    """Every chosen pricer prices the desk's text, default first; the table grows as each
    answers: (result, details, chart, prompt, status). Not on the GPU itself: only the Llama's
    model work waits for it (the status line says so while another request holds it); a chat
    model answers as a visitor's (chat_client.for_a_visitor: within WEB_DEADLINE, in a shared place)."""
    try:
        ready, unavailable = lineup(desk.names or None)
        truth = true_price(desk.text)
        title, read = _title(desk.text), reading_note(desk.text)
        answers: list[Answer] = []
        for n, pricer in enumerate(ready):
            waiting = WAITING if getattr(pricer, "uses_gpu", False) and gpu_busy() else ""
            yield (render_answers(title, answers, ready[n:], unavailable, truth, read), gr.skip(), gr.skip(), gr.skip(),
                   show_status() + waiting)
            if progress is not None:
                progress((n, len(ready)), desc=f"{pricer.name}{waiting and ' (waiting for the GPU)'}", unit="pricers")
            with chat_client.for_a_visitor():
                answers.append(ask(pricer, desk.text))
        chart, prompt = llama_views(answers)
        yield (render_answers(title, answers, [], unavailable, truth, read), render_details(answers), chart, prompt,
               show_status())
    finally:
        desk.release()


def finish(desk: Desk) -> Any:
    """After a request, whatever happened to it (even a bug): the button is free again."""
    desk.release()
    return gr.Button("Estimate the price", interactive=True)


def pricer_choices() -> tuple[list[tuple[str, str]], list[str]]:
    """(label, name) of every pricer that can run here, the default first, and the names ticked."""
    ready, _ = lineup()
    return [(p.label, p.name) for p in ready], [p.name for p in ready]


# --- the API ----------------------------------------------------------------------------------


def _names(value: Any) -> list[str]:
    """Pricer names from the client: one name, a comma-separated list, or a list (None: the default)."""
    if value is None or value == "" or value == []:
        return [registry.default_name()]
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise BadInput(f"pricers must be a name or a list of names ({', '.join(registry.names())}).")
    names = [v.strip() for v in value if v.strip()]
    for name in names:
        registry.get(name)  # a BadInput listing the names for an unknown one
    return list(dict.fromkeys(names))


def price_api(text: str, pricers: Any = None) -> dict:
    """/price: `text` (a title and description, or a dataset prompt) priced by each pricer named in
    `pricers` (one name, several as a list or comma-separated; default: the default pricer).
    Answers {"true_price", "prices": [{pricer, label, price, low, high, seconds, details}]}; a
    pricer that cannot run here or fails is an error naming it."""
    try:
        text = check_text(text)
        chosen = _names(pricers)
        answers = []
        for name in chosen:
            pricer = registry.runnable(name)
            with chat_client.for_a_visitor():  # only a Llama waits for the GPU, inside
                answer = ask(pricer, text)
            if answer.error:
                raise PricerError(f"The {name} pricer failed: {answer.error}")
            answers.append(answer)
    except PricerError as exc:
        raise fail(exc) from exc
    return {"true_price": true_price(text), "prices": [a.to_json() for a in answers]}


# --- the Llama alone (/predict, the CLI's `predict` answer) ------------------------------------


class Priced(NamedTuple):
    """One text priced by the Llama: what the model said, and how long it took."""

    prediction: Prediction
    note: str
    """How the text became the prompt (pricer.data.items)."""
    truth: float | None
    """The test data's price, when the text is one of the examples."""
    seconds: float
    """Building the prompt and pricing it."""
    loading: float
    """Loading the model first (0 when it was loaded already)."""


def price(text: str, choice: str, progress: Any = None) -> Priced:
    """The Llama path behind /predict: load the chosen model (timed), then price the text with
    LlamaPricer.predict, the road every Llama price takes (the base model when no adapter is set)."""
    spec = _spec(choice)
    pricer = LlamaPricer(bool(spec.adapter), spec)
    started = time.perf_counter()
    was_loaded = loaded(spec)
    load_pricer(spec, progress=progress)
    loading = 0.0 if was_loaded else time.perf_counter() - started
    started = time.perf_counter()
    ((pred, note),), _ = pricer.predict([text])
    return Priced(pred, note, true_price(text, pred.prompt), time.perf_counter() - started, loading)


@on_gpu(duration=gpu_seconds)
def predict_api(text: str, model: str = FINE_TUNED) -> dict:
    """/predict: the Llama alone. `text` is a title and description (or a dataset prompt);
    `model` is 'fine-tuned' or 'base'. Returns every estimate (greedy, topk, topk_numbers,
    median), the interval, prompt, completion, top_tokens, note, true_price, latency_s, model."""
    if model not in {FINE_TUNED, BASE}:
        raise gr.Error(f"model must be '{FINE_TUNED}' or '{BASE}', not {str(model)[:60]!r}.", print_exception=False)
    try:
        pred, note, truth, seconds, _ = price(text, model)
    except (PricerError, ValueError) as exc:
        raise fail(str(exc)) from exc
    return {**asdict(pred), "note": note, "true_price": truth, "latency_s": round(seconds, 3),
            "model": _spec(model).label}


def tick() -> tuple[str, Any]:
    """The status line while the Llama preloads; the timer stops once it is loaded or failed."""
    try:
        spec = _spec(FINE_TUNED)  # the base model when no adapter is set
    except ValueError:
        return show_status(), gr.Timer(active=False)
    done = loaded(spec) or "failed" in model_status(spec)
    return show_status(), gr.Timer(active=not done)


def preload(spec: ModelSpec) -> None:
    """Load the model in the background; model_status(spec) then says how it went."""
    try:
        load_pricer(spec)
    except PricerError:
        pass  # model_status(spec) now says what went wrong; the status line shows it


# --- layout -----------------------------------------------------------------------------------


def build() -> None:
    items, examples_note = load_examples()
    choices, ticked = pricer_choices()
    llama = llama_here()

    gr.Markdown("Paste a product (title on the first line, then its description) or pick an example: every "
                "pricer that can run here prices it side by side, each with its 80% interval.")
    desk = gr.State(Desk())
    with gr.Row():
        with gr.Column(scale=3, min_width=300):
            text = gr.Textbox(label="Product: title on the first line, then the description", lines=6,
                              max_lines=20, elem_id="predict-text",
                              placeholder="Stainless Steel Garlic Press\nCrushes garlic cloves, dishwasher safe ...")
            chosen = gr.CheckboxGroup(choices, value=ticked, label="Pricers", elem_id="predict-pricers")
            button = gr.Button("Estimate the price", variant="primary", elem_id="predict-button")
            if items:
                gr.Examples([[item.prompt] for item in items], inputs=[text], label="Examples from the test data",
                            example_labels=[f"${item.truth:,.2f} · {item.title[:50]}" for item in items],
                            examples_per_page=N_EXAMPLES)
            else:  # a Space that cannot read the test data still has products to try
                gr.Examples([[e.text] for e in EXAMPLES], inputs=[text], label="Example products",
                            example_labels=[e.title[:50] for e in EXAMPLES], examples_per_page=N_EXAMPLES)
                gr.Markdown(f"<small>{esc(examples_note)}</small>", elem_id="predict-examples-note")
        with gr.Column(scale=3, min_width=300):
            result = gr.HTML("<p>The estimates appear here.</p>", elem_id="predict-output", css_template=RESULT_CSS)
            with gr.Accordion("What each pricer adds", open=False):
                details = gr.HTML(elem_id="predict-details")
            # the Llama's own panels: only where a Llama pricer can run (elsewhere they stay empty)
            with gr.Accordion("How the Llama answers", open=False, visible=llama):
                gr.Markdown(LEAD)
            chart = gr.Plot(label="The Llama's most likely number tokens", elem_id="predict-chart", visible=llama)
    prompt = gr.Textbox(label="The exact prompt the Llama saw", lines=8, max_lines=14, interactive=False,
                        elem_id="predict-prompt", visible=llama)
    status = gr.Markdown(show_status() if llama else "", elem_id="predict-status", visible=llama)
    timer = gr.Timer(2.0, active=settings().preload)

    with gr.Column(visible=False):  # the API takes any names (the boxes list only those that can run)
        names = gr.JSON(None, label="pricers")
        api_text = api.Text(None, label="text")  # what a client sent, for price_api's own check
    beside = {"concurrency_id": PRICE_QUEUE, "concurrency_limit": PRICE_CONCURRENCY}  # only a Llama waits for the GPU
    endpoint(price_api, [api_text, names], ["result"], "price", **beside)
    for trigger in (button.click, text.submit):
        # begin is queued (so its pop-up shows) but in its own group: it never waits behind a pricer
        started = trigger(begin, [desk, text, chosen], [button, result], api_visibility="private",
                          show_progress="hidden", concurrency_limit=None)
        started.failure(refused, desk, [result, details, chart, prompt], api_visibility="private", queue=False)
        started.success(
            price_all, desk, [result, details, chart, prompt, status], api_visibility="private", **beside,
            show_progress="minimal",  # the table shows each answer as it comes: no overlay over it
        ).then(finish, desk, button, api_visibility="private", queue=False)
    timer.tick(tick, None, [status, timer], api_visibility="private", queue=False)
    gr.api(predict_api, api_name="predict", concurrency_id=GPU_QUEUE, concurrency_limit=1)

    if settings().preload:
        try:
            spec = _spec(FINE_TUNED)  # the base model when no adapter is set
        except ValueError:
            return
        threading.Thread(target=preload, args=(spec,), daemon=True, name="preload").start()
