"""The Evaluate tab: run a pricer over the first N test items and watch error, RMSLE and hits.

A layout over pricer.evaluation and pricer.chart, which do all the work (the CLI's `evaluate` and
`score` verbs call the same functions); the estimates offered are pricer.estimates' table. What
one visitor sees and is doing lives in a `Board` (a gr.State): the run on screen, partial or
finished, and its CSV, so the download always matches the chart and the table. The run streams
after each batch; Stop ends it after the batch under way and keeps what was priced. Every
message that can carry user text (a path, a file name) is escaped before gradio renders it.
Named API endpoint: /evaluate (pricer names, optional files, metrics as numbers, the CSV as a file).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from pricer import evaluation, guesses, hub
from pricer.chart import figure
from pricer.config import settings
from pricer.errors import BadInput, HubUnavailable, PricerError
from pricer.estimates import ESTIMATORS
from pricer.gpu import on_gpu
from pricer.tiny import is_tiny
from ui import downloads

FINE_TUNED, BASE, SCORE_FILE = "fine-tuned", "base", "guesses"
PRICERS = (FINE_TUNED, BASE, SCORE_FILE)
ESTIMATE_CHOICES = [(f"{e.label}: {e.help}", e.name) for e in ESTIMATORS]
BATCH_SIZE = 8  # small batches so the chart and table refresh often
EVALUATE_GPU_SECONDS = 300  # ZeroGPU reservation for a whole run: 250 items of the 8B take well under it
CHART_HEIGHT = 640  # explicit: gradio draws an autosized Plotly figure at zero height in a hidden tab
# The numbers before the title, widths in pixels: on a phone the numbers show whole and the
# table scrolls sideways to the title (with widths in shares, a 390 px screen cut them to "1…")
TABLE_HEADERS = ["#", "truth", "guess", "error", "colour", "title", "note"]
DATATYPES = ["number", "number", "number", "number", "str", "str", "str"]
COLUMN_WIDTHS = ["44px", "80px", "110px", "110px", "70px", "320px", "200px"]
TINTS = {"green": "#c8f0c8", "orange": "#ffe0b0", "red": "#ffc8c8"}
RUN_LABEL, RUNNING_LABEL = "Run", "Running… (Stop ends it)"
TEST_MODEL = ("This app runs on a random-weight TEST model (PRICER_BASE_MODEL is a tiny model written by "
              "`python -m pricer tiny-model`): its prices are nonsense; the figures only show that the "
              "evaluation works.")
COURSE = ("The course's figures on the same 250 items (average error): constant $145.51, random "
          "forest $97.11, GPT-4o $75.92, base Llama 3.1 4-bit $395.72, fine-tuned top-3 weighted "
          "$46.66 (70.8% hits).")
UPLOAD_HELP = ("Test items as JSONL, CSV or Parquet with `text` (the prompt, ending in `Price is $`) "
               "and `price` (the true price), in order.")
GUESSES_HELP = ("Guesses made elsewhere, as CSV or JSONL: a `guess` column and an `index` (0 = the "
                "first test item) or `text` (the item's prompt) column.")


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def warn(message: str) -> None:
    """A pop-up: gradio renders its text as HTML, so it is escaped (it may quote a path or file name)."""
    gr.Warning(esc(message))


# --- what runs --------------------------------------------------------------------------------


def test_model() -> bool:
    """True when the configured base model is the random-weight test model (`scripts/dev demo`)."""
    return is_tiny(settings().base_model)


def pricer_choices() -> list[tuple[str, str]]:
    """(label, name) of each choice; the labels say so when the model is the test model."""
    mark = " · TEST MODEL (nonsense prices)" if test_model() else ""
    return [("Fine-tuned Llama 3.1 8B (4-bit, QLoRA)" + mark, FINE_TUNED),
            ("Base Llama 3.1 8B (4-bit)" + mark, BASE),
            ("Score a guesses file", SCORE_FILE)]


def _spec(pricer: str) -> Any:
    from pricer.model import ModelSpec

    return ModelSpec.configured(fine_tuned=pricer == FINE_TUNED, s=settings())


def data_source(data: str | None, data_file: str | None) -> str:
    """The uploaded file, else the typed hub id or path, else PRICER_DATASET."""
    return data_file or (data or "").strip() or settings().dataset


def data_name(source: str) -> str:
    """How the status line and the CSV name the data: a file's name, or the hub id."""
    return Path(source).name if hub.is_local(source) else source


def runs(pricer: str, estimator: str | None, size: int, source: str, guesses_file: str | None,
         progress: Any = None) -> Iterator[evaluation.Run]:
    """The run of `pricer` (a name in PRICERS) over the first `size` items of `source`, as it grows."""
    if pricer not in PRICERS:
        raise BadInput(f"pricer must be one of {', '.join(map(repr, PRICERS))}, not {pricer!r}.")
    if not 1 <= size <= 250:
        raise BadInput(f"size must be a whole number from 1 to 250, not {size}.")
    if pricer == SCORE_FILE:
        if not guesses_file:
            raise BadInput("Upload a guesses file to score: " + GUESSES_HELP)
        yield guesses.score_file(source, guesses_file, size=size)
        return
    if progress is not None:
        progress(0, desc="loading the test items and the model")
    yield from evaluation.evaluate_model(source, _spec(pricer), size=size, estimator=estimator or "greedy",
                                         batch_size=BATCH_SIZE, progress=progress)


def write_results(run: evaluation.Run, data: str) -> str:
    """The run's CSV (partial when it was stopped), named after its pricer, data and size."""
    size = f"{len(run.outcomes)}of{run.total}" if not run.done else f"{run.total}items"
    return str(downloads.new_file(downloads.safe_name("evaluation", run.label, data, size) + ".csv", run.write_csv))


def metrics_dict(run: evaluation.Run) -> dict[str, Any]:
    """The metrics of a run as numbers (the /evaluate endpoint's answer)."""
    m = run.metrics
    return {"items": m.size, "total": run.total, "done": run.done, "error": m.average_error,
            "rmsle": m.rmsle, "hits": m.hits, "mse": m.mse, "r2": m.r2, "unparsed": m.unparsed,
            "coverage": getattr(m, "coverage", None), "seconds": run.seconds, "cached": run.cached,
            "label": run.label, "note": run.note}


# --- one visitor's tab ------------------------------------------------------------------------


@dataclass
class Board:
    """What one visitor's Evaluate tab shows and is doing (kept in a gr.State, one per session)."""

    shown: evaluation.Run | None = None
    """The run on screen: growing, finished or stopped."""
    data: str = ""
    """The name of the data `shown` ran on."""
    csv: str | None = None
    """The CSV of `shown` once it has ended (finished or stopped); None while it runs."""
    previous: evaluation.Run | None = None
    """The last finished run before `shown`, for the overlay."""
    running: bool = False
    """From the click on Run (queued or pricing) until the run has ended."""
    stop: bool = False
    """Set by Stop: the run ends after the batch under way."""

    def claim(self) -> None:
        """Run was pressed: refused (BadInput) while this page's run is under way."""
        if self.running:
            raise BadInput("A run is already under way on this page: it goes on. Press Stop to end it first.")
        self.running, self.stop = True, False

    def start(self, data: str) -> None:
        """The run begins: the last one leaves the screen (a finished one stays for the overlay)."""
        if self.shown is not None and self.shown.done:
            self.previous = self.shown
        self.shown, self.data, self.csv = None, data, None

    def show(self, run: evaluation.Run) -> None:
        self.shown = run

    def end(self) -> None:
        """The run finished or was stopped: its CSV is written, Run is free again."""
        if self.shown is not None:
            self.csv = write_results(self.shown, self.data)
        self.running = self.stop = False

    def fail(self) -> None:
        """An error: nothing of the last run stays on screen."""
        self.shown, self.csv = None, None
        self.running = self.stop = False

    @property
    def stopped(self) -> bool:
        return self.shown is not None and not self.shown.done and not self.running

    def status(self) -> str:
        """The status line (Markdown, escaped): how far, on which data, the metrics."""
        run = self.shown
        if run is None:
            return "Stopped before it started." if not self.running and self.data else "Choose a pricer and press Run."
        m = run.metrics
        where = f" on {self.data}" if self.data else ""
        if self.stopped:
            head = (f"{run.label}{where}: **stopped** at {len(run.outcomes)}/{run.total} items; the metrics, "
                    f"table and CSV cover the {len(run.outcomes)} priced.")
            head = esc(head)
        else:
            head = esc(run.progress().rstrip(".") + where + ".")
        text = f"{head}\n\n**{esc(m.line())}** ({esc(m.details())})"
        if run.note:
            text += f"\n\n{esc(run.note)}"
        return text


_active: set[int] = set()  # id() of the runs pricing now (page or API): a new one waits for them
_active_lock = threading.Lock()


@contextmanager
def pricing(key: object) -> Iterator[None]:
    """Counts a run as active while it prices (what `waiting()` reports)."""
    with _active_lock:
        _active.add(id(key))
    try:
        yield
    finally:
        with _active_lock:
            _active.discard(id(key))


def waiting() -> bool:
    """True when another evaluation is pricing: a new one queues behind it (one at a time)."""
    with _active_lock:
        return bool(_active)


def _table(run: evaluation.Run | None) -> Any:
    """The per-item rows (worst misses first once the run has ended), the colour cell tinted."""
    import pandas as pd

    rows = [] if run is None else table_rows(run, worst_first=run.done)
    frame = pd.DataFrame(rows, columns=TABLE_HEADERS)
    tint = frame.style.map(lambda c: f"background-color: {TINTS.get(c, 'transparent')}", subset=["colour"])
    return tint.format(precision=2, subset=["truth", "guess", "error"])


def table_rows(run: evaluation.Run, worst_first: bool = False) -> list[list[Any]]:
    """One row per item (TABLE_HEADERS), in item order or biggest error first."""
    outcomes = sorted(run.outcomes, key=lambda o: -o.error) if worst_first else run.outcomes
    return [[o.index, round(o.truth, 2), round(o.guess, 2), round(o.error, 2), o.color, o.title, o.note]
            for o in outcomes]


def chart(board: Board, overlay: bool, log: bool) -> Any:
    """The scatter of the run on screen (with the previous one when asked), or None."""
    if board.shown is None:
        return None
    compare = board.previous if overlay else None
    return figure(board.shown, compare, height=CHART_HEIGHT, log=log)


def run_button_state(board: Board) -> Any:
    """Run, or a disabled 'Running…' while this page's run is under way."""
    return gr.Button(RUNNING_LABEL if board.running else RUN_LABEL, interactive=not board.running)


def view(board: Board, overlay: bool, log: bool, status: str | None = None) -> tuple:
    """(chart, status, table, download, run button) for what the board holds."""
    download = (gr.DownloadButton(value=board.csv, visible=True) if board.csv else
                gr.DownloadButton(value=None, visible=False))
    return (chart(board, overlay, log), board.status() if status is None else status, _table(board.shown),
            download, run_button_state(board))


def begin(board: Board) -> tuple:
    """The Run button, at once (before the queue): refuse a second run from this page, else
    disable Run and say whether the run starts now or waits for another visitor's."""
    try:
        board.claim()
    except BadInput as exc:
        raise gr.Error(esc(exc), print_exception=False) from exc
    note = ("Queued: another evaluation is running (one runs at a time); this one starts when it ends."
            if waiting() else "Starting: loading the test items and the model…")
    return run_button_state(board), esc(note)


@on_gpu(duration=EVALUATE_GPU_SECONDS)
def evaluate_ui(board: Board, pricer: str, estimator: str, size: float, data: str, data_file: str | None,
                guesses_file: str | None, overlay: bool, log: bool,
                progress: gr.Progress = gr.Progress()) -> Iterator[tuple]:  # noqa: B008 (gradio idiom)
    """Stream (chart, status, table, download, run button, data panel) after each batch; Stop
    (board.stop) ends the run after the batch under way, keeping what was priced. An error
    clears the last run from the screen, pops up and says why in the status line."""
    keep = gr.skip()
    source = data_source(data, data_file)
    board.start(data_name(source))
    if board.stop:  # Stop came while the run waited in the queue
        board.end()
        yield (*view(board, overlay, log), keep)
        return
    try:
        with pricing(board):
            yield (*view(board, overlay, log, esc("Loading the test items and the model…")), keep)
            stream = runs(pricer, estimator, int(size), source, guesses_file, progress)
            try:
                for current in stream:
                    board.show(current)
                    if board.stop or current.done:
                        break
                    progress((len(current.outcomes), current.total), desc="pricing", unit="items")
                    yield (*view(board, overlay, log), keep)
            finally:
                stream.close()  # a stopped run prices nothing more (and is not cached)
        board.end()
        yield (*view(board, overlay, log), keep)
    except HubUnavailable as exc:
        message = f"{exc} Or upload the test items (JSONL or CSV) under Test data."
        yield (*_failed(board, message, overlay, log), gr.Accordion(open=True))
    except PricerError as exc:
        yield (*_failed(board, str(exc), overlay, log), keep)


def _failed(board: Board, message: str, overlay: bool, log: bool) -> tuple:
    warn(message)
    board.fail()
    return view(board, overlay, log, f"**Could not run:** {esc(message)}")


def request_stop(board: Board) -> Any:
    """The Stop button: the run ends after the batch under way (its results so far are kept)."""
    if not board.running:
        return gr.skip()
    board.stop = True
    return esc("Stopping after the batch under way… the items priced so far are kept.")


def finish(board: Board) -> Any:
    """After a run, whatever happened to it (even a bug): the Run button is free again."""
    board.running = board.stop = False
    return run_button_state(board)


def redraw(board: Board, overlay: bool, log: bool) -> Any:
    """The chart again (log scale or overlay toggled), without running anything."""
    return chart(board, overlay, log) if board.shown is not None else gr.skip()


def show_pricer_options(pricer: str) -> tuple:
    """Estimator for the model pricers, the guesses upload for scoring a file."""
    return gr.Radio(visible=pricer != SCORE_FILE), gr.Column(visible=pricer == SCORE_FILE)


def offline_note(dataset: str) -> str:
    """'' unless the default data is a hub id and this machine is told to stay offline."""
    if hub.is_local(dataset) or not hub.offline_mode():
        return ""
    return (f"HF_HUB_OFFLINE is set, so the dataset {dataset} cannot be loaded here: upload the "
            "test items (JSONL or CSV with text and price) under Test data, or give a local path.")


# --- the API ----------------------------------------------------------------------------------


def _size(size: Any) -> int:
    """The API's size: a whole number (default 250); pricer checks the range."""
    if size is None:
        return 250
    try:
        return int(size)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadInput(f"size must be a whole number from 1 to 250, not {size!r}.") from exc


@on_gpu(duration=EVALUATE_GPU_SECONDS)
def evaluate_api(pricer: str = FINE_TUNED, data: str | None = None, data_file: str | None = None,
                 guesses_file: str | None = None, size: float | None = 250,
                 estimator: str | None = None) -> Iterator[tuple[dict, str | None]]:
    """Run `pricer` ('fine-tuned', 'base', or 'guesses' with a guesses file) over the first
    `size` (default 250) test items of `data_file`, else `data` (hub id or path), else
    PRICER_DATASET. Yields the metrics so far (numbers) after each batch; the last answer
    carries the CSV. A mistake is a gr.Error saying what to do."""
    try:
        source = data_source(data, data_file)
        head = {"pricer": pricer, "estimator": estimator, "data": data_name(source)}
        last = None
        with pricing(head):
            for last in runs(pricer, estimator, _size(size), source, guesses_file):
                if not last.done:
                    yield {**head, **metrics_dict(last)}, None
        if last is not None:
            yield {**head, **metrics_dict(last)}, write_results(last, head["data"])
    except PricerError as exc:
        raise gr.Error(str(exc), print_exception=False) from exc


# --- layout -----------------------------------------------------------------------------------


def build() -> None:
    offline = offline_note(settings().dataset)
    gr.Markdown("Run a pricer over the first N items of the test data, as the course does: average "
                "absolute error, RMSLE and hits (within $40 or 20% of the truth). " + COURSE)
    if test_model():
        gr.Markdown(f"**Warning:** {esc(TEST_MODEL)}", elem_id="evaluate-test-model")
    board = gr.State(Board())
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            pricer = gr.Radio(pricer_choices(), value=FINE_TUNED, label="Pricer", elem_id="evaluate-pricer")
            estimator = gr.Radio(ESTIMATE_CHOICES, value=ESTIMATORS[0].name, label="Estimate")
            with gr.Column(visible=False) as guesses_panel:
                guesses_file = gr.File(label="Guesses to score", file_types=[".csv", ".jsonl"])
                gr.Markdown(esc(GUESSES_HELP))
            size = gr.Slider(1, 250, value=250, step=1, label="Test items (the first N)")
            with gr.Row():
                overlay = gr.Checkbox(False, label="Overlay the previous run (e.g. base vs fine-tuned)")
                log = gr.Checkbox(False, label="Log scale")
            with gr.Row():
                run_button = gr.Button(RUN_LABEL, variant="primary", elem_id="evaluate-run")
                stop_button = gr.Button("Stop", variant="stop", elem_id="evaluate-stop")
            with gr.Accordion("Test data", open=bool(offline)) as data_panel:
                data = gr.Textbox(settings().dataset, label="Hub id or local path", elem_id="evaluate-data",
                                  info="the test split is used; the first N items, in order")
                data_file = gr.File(label="…or upload test items", file_types=[".jsonl", ".csv", ".parquet"])
                gr.Markdown(esc(UPLOAD_HELP))
        with gr.Column(scale=2, min_width=300):
            status = gr.Markdown(esc(offline) or "Choose a pricer and press Run.", elem_id="evaluate-status")
            plot = gr.Plot(label="Truth against estimate", elem_id="evaluate-plot")
    table = gr.Dataframe(headers=TABLE_HEADERS, datatype=DATATYPES, interactive=False,
                         label="Per item (worst misses first when the run ends; click a header to sort)",
                         max_height=420, wrap=False, max_chars=70, elem_id="evaluate-table",
                         column_widths=COLUMN_WIDTHS)
    download = gr.DownloadButton("Download results (CSV)", visible=False, elem_id="evaluate-download")

    pricer.change(show_pricer_options, pricer, [estimator, guesses_panel], api_visibility="private")
    gr.on([overlay.change, log.change], redraw, [board, overlay, log], plot, api_visibility="private",
          queue=False)
    clicked = run_button.click(begin, board, [run_button, status], api_visibility="private", queue=False)
    clicked.success(
        evaluate_ui, [board, pricer, estimator, size, data, data_file, guesses_file, overlay, log],
        [plot, status, table, download, run_button, data_panel], api_visibility="private",
        # One evaluation at a time, in its own queue: each batch takes the model's GPU lock, so
        # Predict requests slip in between batches instead of waiting for 250 items.
        concurrency_id="evaluate", concurrency_limit=1,
    ).then(finish, board, run_button, api_visibility="private", queue=False)
    stop_button.click(request_stop, board, status, api_visibility="private", queue=False)

    with gr.Column(visible=False):  # the /evaluate endpoint's own inputs and outputs, never shown
        api_inputs = [gr.Textbox(FINE_TUNED, label="pricer"), gr.Textbox(None, label="data"),
                      gr.File(None, label="data_file"), gr.File(None, label="guesses_file"),
                      gr.Number(250, label="size", precision=0), gr.Textbox(None, label="estimator")]
        api_outputs = [gr.JSON(label="metrics"), gr.File(label="csv")]
        api_button = gr.Button()
    api_button.click(evaluate_api, api_inputs, api_outputs, api_name="evaluate", concurrency_id="evaluate",
                     concurrency_limit=1)
