"""The Predict tab: paste a product, get its price from the 4-bit Llama (base or fine-tuned).

Named handlers over pricer.model (its `predict_texts` prices for this tab and the CLI alike),
then `build()`, which is layout and wiring only. The model loads once, on first use or in the
background at start (PRICER_PRELOAD=1); the tab is usable before. Model calls share one gradio
queue (ui.GPU_QUEUE, one at a time) and carry @spaces.GPU under ZeroGPU. Everything
shown as HTML (prices, the model's completion, notes, errors, status) goes through html.escape.
The `/predict` API endpoint returns a JSON object like `python -m pricer predict --json`.
"""

from __future__ import annotations

import functools
import html
import threading
import time
from dataclasses import asdict
from typing import Any, NamedTuple

import gradio as gr

from pricer.config import settings
from pricer.data import TestItem, load_items
from pricer.errors import PricerError
from pricer.estimates import TOP_K, estimator
from pricer.gpu import ZERO_GPU_SECONDS, on_gpu
from pricer.model import (
    ModelSpec,
    Prediction,
    load_pricer,
    loaded,
    model_status,
    predict_texts,
)
from ui import GPU_QUEUE

N_EXAMPLES = 12
FINE_TUNED, BASE = "fine-tuned", "base"
LEAD = (
    "**Which estimate leads, and why.** The big number is the course's improved estimate "
    f"(`improved_model_predict`): the {TOP_K} most likely next tokens after `Price is $`, those that "
    "are not numbers dropped, averaged weighted by probability. It is the course's best result "
    "($46.66 average error on the 250 test items with the fine-tuned model, reproducible with "
    "\"top-3 weighted (course)\" in the Evaluate tab), and it uses how sure the model is rather than "
    "a single token. Beside it: the same average over the number tokens 1-999 only (always a "
    "number), the greedy answer (the course's first method: 4 new tokens, greedy, seed 42) and the "
    "median of the number-token distribution."
)
PREDICT_GPU_SECONDS = 30  # a loaded 8B model prices one prompt in about a second
CSS_PRICE = "font-size: 2.6em; font-weight: 700; line-height: 1.1;"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _spec(choice: str) -> ModelSpec:
    return ModelSpec.from_settings(fine_tuned=choice == FINE_TUNED)


def gpu_seconds(text: str, choice: str, *_: Any, **__: Any) -> int:
    """ZeroGPU's reservation for a request (it gets the handler's arguments): short once the
    model is loaded, so visitors queue ahead; long enough for a first load otherwise."""
    return PREDICT_GPU_SECONDS if loaded(_spec(choice)) else ZERO_GPU_SECONDS


def _choices() -> list[tuple[str, str]]:
    s = settings()
    base = ("Base: " + ModelSpec.from_settings(s, fine_tuned=False).label, BASE)
    if not s.adapter:
        return [base]
    return [("Fine-tuned: " + ModelSpec.from_settings(s).label, FINE_TUNED), base]


@functools.lru_cache(maxsize=4)
def _examples(dataset: str, limit: int) -> tuple[tuple[TestItem, ...], str]:
    try:
        return tuple(load_items(dataset, size=limit)), ""
    except (PricerError, ImportError, OSError, ValueError) as exc:
        return (), f"No examples: {exc}"


def load_examples(limit: int = N_EXAMPLES) -> tuple[list[TestItem], str]:
    """The first test items of PRICER_DATASET, or none and the reason (the tab works without).
    Read once per dataset: the examples shown and the true prices looked up stay the same."""
    items, note = _examples(settings().dataset, limit)
    return list(items), note


def true_price(text: str, prompt: str) -> float | None:
    """The true price when the text (or the prompt made of it) is one of the examples, else None."""
    truths = {item.prompt.strip(): item.truth for item in load_examples()[0]}
    return truths.get(text.strip()) or truths.get(prompt)


def render_result(pred: Prediction, note: str, truth: float | None, seconds: float, loading: float) -> str:
    greedy = "no number (the course scores it as $0)" if pred.greedy is None else f"${pred.greedy:,.2f}"
    course = estimator("topk").read(pred)  # the big number; None when none of the top 3 is a number
    lead = "no number" if course is None else f"${course:,.2f}"
    rows = [
        ("Greedy answer", f"{greedy} from “{pred.completion}”"),
        (estimator("topk-numbers").label.capitalize(), f"${pred.topk_numbers:,.2f}"),
        ("Median of the number tokens", f"${pred.median:,.0f}"),
        ("Probability on number tokens", f"{pred.number_mass:.1%}"),
    ]
    if truth is not None:
        off = abs(pred.topk - truth)
        rows.insert(0, ("True price (test data)", f"${truth:,.2f} · estimate off by ${off:,.2f}"))
    took = f"{seconds:.2f} s" + (f" (plus {loading:.1f} s loading the model)" if loading >= 0.05 else "")
    rows.append(("Latency", took))
    table = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    caption = (f"the course's top-{TOP_K} weighted estimate" if course is not None else
               f"none of the {TOP_K} most likely tokens is a number (the course scores $0)")
    return (f'<div id="predict-result"><div style="{CSS_PRICE}" class="predict-price">{esc(lead)}</div>'
            f"<div>{esc(caption)}</div><table>{table}</table><p><em>{esc(note)}</em></p></div>")


def render_status(text: str) -> str:
    return f"Model: {esc(text)}"


def token_chart(pred: Prediction, k: int = TOP_K) -> Any:
    """Bar chart of the most likely number tokens; the top k (those averaged) highlighted."""
    import plotly.graph_objects as go

    labels = [f"${t}" for t, _ in pred.top_tokens]
    probs = [100 * p for _, p in pred.top_tokens]
    colors = ["#2563eb" if i < k else "#93c5fd" for i in range(len(probs))]
    fig = go.Figure(go.Bar(x=labels, y=probs, marker_color=colors,
                           hovertemplate="%{x}: %{y:.3g}%<extra></extra>"))
    fig.update_layout(title=f"Most likely number tokens after 'Price is $' (top {k} in dark)",
                      yaxis_title="probability (%)", yaxis_tickformat="~g", xaxis_type="category", height=300,
                      margin=dict(l=40, r=10, t=40, b=30))
    return fig


class Priced(NamedTuple):
    """One text priced for the tab: what the model said, and how long it took."""

    prediction: Prediction
    note: str
    """How the text became the prompt (pricer.items)."""
    truth: float | None
    """The test data's price, when the text is one of the examples."""
    seconds: float
    """Building the prompt and pricing it."""
    loading: float
    """Loading the model first (0 when it was loaded already)."""


def price(text: str, choice: str, progress: Any = None) -> Priced:
    """The one path behind the button and the API: load the chosen model (timed), then price
    the text with pricer.model.predict_texts, as the CLI does."""
    spec = _spec(choice)
    started = time.perf_counter()
    was_loaded = loaded(spec)
    load_pricer(spec, progress=progress)
    loading = 0.0 if was_loaded else time.perf_counter() - started
    started = time.perf_counter()
    ((pred, note),) = predict_texts([text], spec)
    return Priced(pred, note, true_price(text, pred.prompt), time.perf_counter() - started, loading)


def show_status(choice: str) -> str:
    return render_status(model_status(_spec(choice)))


def prompt_box(pred: Prediction) -> Any:
    return gr.Textbox(pred.prompt, label=f"The exact prompt the model saw ({pred.prompt_tokens} tokens, "
                                         "with <|begin_of_text|>)")


@on_gpu(duration=gpu_seconds)
def predict_ui(text: str, choice: str, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008 (gradio idiom)
    """The button: (result, chart, prompt, status); a PricerError becomes a warning and the
    status line says what went wrong, the rest of the page is left as it was."""
    try:
        pred, note, truth, seconds, loading = price(text, choice, progress)
    except PricerError as exc:
        gr.Warning(str(exc))
        return gr.skip(), gr.skip(), gr.skip(), show_status(choice)
    return render_result(pred, note, truth, seconds, loading), token_chart(pred), prompt_box(pred), show_status(choice)


@on_gpu(duration=gpu_seconds)
def predict_api(text: str, model: str = FINE_TUNED) -> dict:
    """Price a product: `text` is a title and description (or a dataset prompt); `model` is
    'fine-tuned' or 'base'. Returns price (greedy), estimate_course (the course's top-3
    weighted), estimate_topk (top-3 number tokens), median, prompt,
    completion, top_tokens, note, true_price (for test-data examples), latency_s, model."""
    if model not in {FINE_TUNED, BASE}:
        raise gr.Error(f"model must be '{FINE_TUNED}' or '{BASE}', not {model!r}.")
    try:
        pred, note, truth, seconds, _ = price(text, model)
    except PricerError as exc:
        raise gr.Error(str(exc)) from exc
    return {**asdict(pred), "note": note, "true_price": truth, "latency_s": round(seconds, 3),
            "model": _spec(model).label}


def tick(choice: str) -> tuple[str, Any]:
    """The status line while the default model preloads; the timer stops once it is loaded or failed."""
    default = _spec(_choices()[0][1])
    done = loaded(default) or "failed" in model_status(default)
    return show_status(choice), gr.Timer(active=not done)


def preload(spec: ModelSpec) -> None:
    """Load the model in the background; model_status(spec) then says how it went."""
    try:
        load_pricer(spec)
    except PricerError:
        pass  # model_status(spec) now says what went wrong; the status line shows it


def build() -> None:
    items, examples_note = load_examples()
    choices = _choices()
    default = choices[0][1]

    gr.Markdown("Paste a product's title (first line) and description, or pick an example from "
                "the test data, and the 4-bit Llama 3.1 8B prices it.\n\n" + LEAD)
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(label="Product: title on the first line, then the description", lines=8,
                              max_lines=20, elem_id="predict-text",
                              placeholder="Stainless Steel Garlic Press\nCrushes garlic cloves, dishwasher safe ...")
            model = gr.Radio(choices, value=default, label="Model", elem_id="predict-model")
            button = gr.Button("Estimate the price", variant="primary", elem_id="predict-button")
            if items:
                gr.Examples([[item.prompt] for item in items], inputs=[text], label="Examples from the test data",
                            example_labels=[f"${item.truth:,.2f} · {item.title[:50]}" for item in items],
                            examples_per_page=N_EXAMPLES)
            else:
                gr.Markdown(esc(examples_note))
        with gr.Column(scale=2):
            result = gr.HTML("<p>The estimate appears here.</p>", elem_id="predict-output")
            chart = gr.Plot(label="Top number tokens", elem_id="predict-chart")
    prompt = gr.Textbox(label="The exact prompt the model saw", lines=8, max_lines=14, interactive=False,
                        elem_id="predict-prompt")
    status = gr.Markdown(show_status(default), elem_id="predict-status")
    timer = gr.Timer(2.0, active=settings().preload)

    button.click(predict_ui, [text, model], [result, chart, prompt, status], api_visibility="private",
                 concurrency_id=GPU_QUEUE, concurrency_limit=1)
    text.submit(predict_ui, [text, model], [result, chart, prompt, status], api_visibility="private",
                concurrency_id=GPU_QUEUE, concurrency_limit=1)
    model.change(show_status, model, status, api_visibility="private", queue=False)
    timer.tick(tick, model, [status, timer], api_visibility="private", queue=False)
    gr.api(predict_api, api_name="predict", concurrency_id=GPU_QUEUE, concurrency_limit=1)

    if settings().preload:
        threading.Thread(target=preload, args=(_spec(default),), daemon=True, name="preload").start()
