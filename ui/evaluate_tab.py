"""The Evaluate tab: run a pricer over the first N test items and watch error, RMSLE and hits.

A layout over pricer.evaluation and pricer.chart, which do all the work (the CLI's `evaluate` and
`score` verbs call the same functions); the estimates offered are pricer.estimates' table. The run streams: progress bar, running metrics, scatter and table
update after each batch, and Stop cancels it. Named API endpoint: /evaluate.
"""

from __future__ import annotations

import html
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from pricer import evaluation, guesses, hub
from pricer.chart import figure
from pricer.config import settings
from pricer.errors import HubUnavailable, PricerError
from pricer.estimates import ESTIMATORS
from pricer.gpu import on_gpu

FINE_TUNED = "Fine-tuned Llama 3.1 8B (4-bit, QLoRA)"
BASE = "Base Llama 3.1 8B (4-bit)"
SCORE_FILE = "Score a guesses file"
PRICERS = [FINE_TUNED, BASE, SCORE_FILE]
ESTIMATE_CHOICES = [(f"{e.label}: {e.help}", e.name) for e in ESTIMATORS]
BATCH_SIZE = 8  # small batches so the chart and table refresh often
EVALUATE_GPU_SECONDS = 300  # ZeroGPU reservation for a whole run: 250 items of the 8B take well under it
CHART_HEIGHT = 600  # explicit: gradio draws an autosized Plotly figure at zero height in a hidden tab
TABLE_HEADERS = ["#", "title", "truth", "guess", "error", "colour", "note"]
DATATYPES = ["number", "str", "number", "number", "number", "str", "str"]
TINTS = {"green": "#c8f0c8", "orange": "#ffe0b0", "red": "#ffc8c8"}
COURSE = ("The course's figures on the same 250 items (average error): constant $145.51, random "
          "forest $97.11, GPT-4o $75.92, base Llama 3.1 4-bit $395.72, fine-tuned top-3 weighted "
          "$46.66 (70.8% hits).")
UPLOAD_HELP = ("Test items as JSONL, CSV or Parquet with `text` (the prompt, ending in `Price is $`) "
               "and `price` (the true price), in order.")
GUESSES_HELP = ("Guesses made elsewhere, as CSV or JSONL: a `guess` column and an `index` (0 = the "
                "first test item) or `text` (the item's prompt) column.")


def _status(message: str, error: bool = False) -> str:
    return ("**Could not run:** " if error else "") + html.escape(message)


def _spec(pricer: str) -> Any:
    from pricer.model import ModelSpec

    return ModelSpec.configured(fine_tuned=pricer == FINE_TUNED, s=settings())


def _results_file(done: evaluation.Run) -> str:
    folder = Path(tempfile.mkdtemp(prefix="pricer-evaluation-"))
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in done.label)[:60] or "run"
    return str(done.write_csv(folder / f"evaluation-{name}.csv"))


def table_rows(run: evaluation.Run, worst_first: bool = False) -> list[list[Any]]:
    """One row per item (TABLE_HEADERS), in item order or biggest error first."""
    outcomes = sorted(run.outcomes, key=lambda o: -o.error) if worst_first else run.outcomes
    return [[o.index, o.title, round(o.truth, 2), round(o.guess, 2), round(o.error, 2), o.color, o.note]
            for o in outcomes]


def _table(rows: list[list[Any]]) -> Any:
    """The per-item rows with the colour cell tinted green/orange/red."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=TABLE_HEADERS)
    tint = frame.style.map(lambda c: f"background-color: {TINTS.get(c, 'transparent')}", subset=["colour"])
    return tint.format(precision=2, subset=["truth", "guess", "error"])


def _view(current: evaluation.Run, previous: evaluation.Run | None, overlay: bool) -> tuple:
    """(figure, status, table, download) for a run so far."""
    fig = figure(current, previous if overlay and previous else None, height=CHART_HEIGHT)
    m = current.metrics
    text = (f"{html.escape(current.progress())}\n\n**{html.escape(m.line())}** "
            f"({html.escape(m.details())})")
    if current.note:
        text += f"\n\n{html.escape(current.note)}"
    table = _table(table_rows(current, worst_first=current.done))
    download = gr.DownloadButton(value=_results_file(current), visible=True) if current.done else gr.skip()
    return fig, text, table, download


def _data_source(data: str, data_file: str | None) -> str:
    return data_file or (data or "").strip() or settings().dataset


@on_gpu(duration=EVALUATE_GPU_SECONDS)
def evaluate(pricer: str, estimator: str, size: float, data: str, data_file: str | None,
             guesses_file: str | None, overlay: bool, previous: evaluation.Run | None,
             progress: gr.Progress = gr.Progress()) -> Iterator[tuple]:  # noqa: B008 (gradio idiom)
    """Run (or score) and stream: chart, status, table (worst misses first when done), CSV, and
    the finished run kept for the next overlay. Errors become a warning and a status line."""
    source = _data_source(data, data_file)
    try:
        if pricer == SCORE_FILE:
            if not guesses_file:
                raise PricerError("Upload a guesses file to score: " + GUESSES_HELP)
            runs = iter([guesses.score_file(source, guesses_file, size=int(size), web=True)])
        else:
            progress(0, desc="loading the test items and the model")
            runs = evaluation.evaluate_model(source, _spec(pricer), size=int(size), estimator=estimator,
                                             batch_size=BATCH_SIZE, progress=progress, web=True)
        for current in runs:
            progress((len(current.outcomes), current.total), desc="pricing", unit="items")
            yield (*_view(current, previous, overlay), current if current.done else previous, gr.skip())
    except HubUnavailable as exc:
        gr.Warning(str(exc))
        message = _status(f"{exc} Or upload the test items (JSONL or CSV) under Test data.", error=True)
        yield gr.skip(), message, gr.skip(), gr.skip(), previous, gr.Accordion(open=True)
    except PricerError as exc:
        gr.Warning(str(exc))
        yield gr.skip(), _status(str(exc), error=True), gr.skip(), gr.skip(), previous, gr.skip()


def show_pricer_options(pricer: str) -> tuple:
    """Estimator for the model pricers, the guesses upload for scoring a file."""
    return gr.Radio(visible=pricer != SCORE_FILE), gr.Column(visible=pricer == SCORE_FILE)


def offline_note(dataset: str) -> str:
    """'' unless the default data is a hub id and this machine is told to stay offline."""
    if hub.is_local(dataset) or not hub.offline_mode():
        return ""
    return (f"HF_HUB_OFFLINE is set, so the dataset {dataset} cannot be loaded here: upload the "
            "test items (JSONL or CSV with text and price) under Test data, or give a local path.")


def build() -> None:
    offline = offline_note(settings().dataset)
    gr.Markdown("Run a pricer over the first N items of the test data, as the course does: average "
                "absolute error, RMSLE and hits (within $40 or 20% of the truth). " + COURSE)
    with gr.Row():
        with gr.Column(scale=1):
            pricer = gr.Radio(PRICERS, value=FINE_TUNED, label="Pricer")
            estimator = gr.Radio(ESTIMATE_CHOICES, value=ESTIMATORS[0].name, label="Estimate")
            with gr.Column(visible=False) as guesses_panel:
                guesses_file = gr.File(label="Guesses to score", file_types=[".csv", ".jsonl"])
                gr.Markdown(html.escape(GUESSES_HELP))
            size = gr.Slider(1, 250, value=250, step=1, label="Test items (the first N)")
            overlay = gr.Checkbox(False, label="Overlay the previous run (e.g. base vs fine-tuned)")
            with gr.Row():
                run_button = gr.Button("Run", variant="primary")
                stop_button = gr.Button("Stop", variant="stop")
            with gr.Accordion("Test data", open=bool(offline)) as data_panel:
                data = gr.Textbox(settings().dataset, label="Hub id or local path",
                                  info="the test split is used; the first N items, in order")
                data_file = gr.File(label="…or upload test items", file_types=[".jsonl", ".csv", ".parquet"])
                gr.Markdown(html.escape(UPLOAD_HELP))
        with gr.Column(scale=2):
            status = gr.Markdown(html.escape(offline) or "Choose a pricer and press Run.",
                                 elem_id="evaluate-status")
            plot = gr.Plot(label="Truth against estimate", elem_id="evaluate-plot")
    table = gr.Dataframe(headers=TABLE_HEADERS, datatype=DATATYPES, interactive=False,
                         label="Per item (worst misses first when the run ends; click a header to sort)",
                         max_height=420, wrap=False, max_chars=70, elem_id="evaluate-table",
                         column_widths=["6%", "46%", "10%", "10%", "10%", "8%", "10%"])
    download = gr.DownloadButton("Download results (CSV)", visible=False)
    previous = gr.State(None)

    pricer.change(show_pricer_options, pricer, [estimator, guesses_panel], api_visibility="private")
    running = run_button.click(
        evaluate, [pricer, estimator, size, data, data_file, guesses_file, overlay, previous],
        [plot, status, table, download, previous, data_panel], api_name="evaluate",
        # One evaluation at a time, in its own queue: each batch takes the model's GPU lock, so
        # Predict requests slip in between batches instead of waiting for 250 items.
        concurrency_id="evaluate", concurrency_limit=1,
    )
    stop_button.click(None, cancels=[running], api_visibility="private")
