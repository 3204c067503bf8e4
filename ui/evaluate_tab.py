"""The Evaluate tab: run any pricer over the first N test items, watch error, RMSLE, hits and
coverage, and compare runs on a leaderboard beside the course's published figures.

Whose runs a visitor sees (pricer.evaluation.leaderboard says the rules): their own, kept in
their session's Board (`Board.visits`, a gr.State), marked "your run" and seen by no one else;
the shared runs (the operator's, from the CLI, and those visitors shared with "Share"); the
course's figures with the notebook each came from. Clear forgets only the visitor's own runs.

A layout over pricer.evaluation (which runs any pricer of the registry, pricer.pricers, and
records every run on pricer.evaluation.leaderboard), pricer.evaluation.guesses (a file of guesses made elsewhere) and
pricer.evaluation.chart; the CLI's `evaluate`, `score` and `leaderboard` verbs call the same functions. What
one visitor sees and is doing lives in a `Board` (a gr.State): the run on screen, partial or
finished, its CSV (so the download always matches the chart and the table) and the run overlaid.
The run streams after each batch; Stop ends it after the batch under way and keeps what was
priced. Every message that can carry user text (a path, a file name) is escaped before gradio
renders it. Named API endpoint: /evaluate (pricer names, optional files, the metrics as numbers,
the CSV as a file).

Longer than 450 lines: one tab, its named handlers (runs that stream and stop, the
leaderboard's views, the downloads) above its layout and wiring, as the other tabs are.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from pricer import evaluation, hub
from pricer import pricers as registry
from pricer.config import settings
from pricer.errors import BadInput, HubUnavailable, PricerError
from pricer.evaluation import guesses, leaderboard
from pricer.evaluation.chart import figure
from pricer.gpu import on_gpu
from pricer.pricers.estimates import ESTIMATORS
from pricer.pricers.llama.tiny import is_tiny
from ui import api, downloads, esc, unavailable_list, warn
from ui.api import endpoint, fail

SCORE_FILE = "guesses"  # not a pricer: the choice that scores a file of guesses made elsewhere
ESTIMATE_CHOICES = [(f"{e.label}: {e.help}", e.name) for e in ESTIMATORS]
BATCH_SIZE = 8  # small batches so the chart and table refresh often
TEST_ITEMS = 250  # the course's canonical test set: a run prices its first 1..TEST_ITEMS items
EVALUATE_GPU_SECONDS = 300  # ZeroGPU reservation for a whole run: 250 items of the 8B take well under it
CHART_HEIGHT = 640  # explicit: gradio draws an autosized Plotly figure at zero height in a hidden tab
# The numbers before the title, widths in pixels: on a phone the numbers show whole and the
# table scrolls sideways to the title (with widths in shares, a 390 px screen cut them to "1…")
TABLE_HEADERS = ["#", "truth", "guess", "error", "colour", "title", "note"]
DATATYPES = ["number", "number", "number", "number", "str", "str", "str"]
COLUMN_WIDTHS = ["44px", "80px", "110px", "110px", "70px", "320px", "200px"]
BOARD_HEADERS = ["error", "RMSLE", "hits", "coverage", "pricer", "kind", "items", "data", "seconds", "when", "id",
                 "source"]
BOARD_TYPES = ["number", "number", "str", "str", "str", "str", "str", "str", "number", "str", "str", "str"]
BOARD_WIDTHS = ["84px", "64px", "64px", "80px", "300px", "170px", "70px", "200px", "74px", "150px", "130px",
                "240px"]
PUBLISHED = "published, not run here"
OWN, SHARED_RUN, VISITORS = "your run", "run here", "shared by a visitor"
TINTS = {"green": "#c8f0c8", "orange": "#ffe0b0", "red": "#ffc8c8"}
RUN_LABEL, RUNNING_LABEL = "Run", "Running… (Stop ends it)"
CLEAR_LABEL = "Clear your runs"
SHARE_LABEL = "Share the run on screen with every visitor"
SHARE_HELP = ("Your runs stay on this page, seen by you alone. Share puts the one on screen on the shared "
              "board: its figures and its per-item table (the items' titles), without an uploaded file's name.")
TEST_MODEL = ("This app runs on a random-weight TEST model (PRICER_BASE_MODEL is a tiny model written by "
              "`python -m pricer tiny-model`): the Llama pricers' prices are nonsense; their figures only "
              "show that the evaluation works.")
UPLOAD_HELP = ("Test items as JSONL, CSV or Parquet with `text` (the prompt, ending in `Price is $`) "
               "and `price` (the true price), in order.")
GUESSES_HELP = ("Guesses made elsewhere, as CSV or JSONL: a `guess` column and an `index` (0 = the "
                "first test item) or `text` (the item's prompt) column.")


# --- what runs --------------------------------------------------------------------------------


def test_model() -> bool:
    """True when the configured base model is the random-weight test model (`scripts/dev demo`)."""
    return is_tiny(settings().base_model)


def pricer_choices() -> tuple[list[tuple[str, str]], list[tuple[registry.Pricer, str]]]:
    """(label, name) of each pricer that can run here (the default first, its label naming the
    test model when it is one) and the guesses file; and those that cannot, with the reason."""
    ready, unavailable = registry.lineup()
    return [*((p.label, p.name) for p in ready), ("Score a guesses file", SCORE_FILE)], unavailable


def estimator_choices(pricer: str) -> list[tuple[str, str]]:
    """The estimates the pricer offers (the Llama's: greedy, top-3 weighted, ...), () for none."""
    if pricer == SCORE_FILE:
        return []
    try:
        offered = registry.get(pricer).estimators
    except PricerError:
        return []
    return [(label, name) for label, name in ESTIMATE_CHOICES if name in offered]


def data_source(data: str | None, data_file: str | None) -> str:
    """The uploaded file, else the typed hub id or path, else PRICER_DATASET."""
    return data_file or (data or "").strip() or settings().dataset


def data_name(source: str) -> str:
    """How the status line and the CSV name the data: a file's name, or the hub id."""
    return Path(source).name if hub.is_local(source) else source


def runs(pricer: str, estimator: str | None, size: Any, source: str, guesses_file: str | None,
         progress: Any = None) -> Iterator[evaluation.Run]:
    """The run of `pricer` (a registry name, or SCORE_FILE) over the first `size` items of
    `source`, as it grows; every run, finished or stopped, goes on the leaderboard."""
    size = _size(size)
    if pricer == SCORE_FILE:
        if not guesses_file:
            raise BadInput("Upload a guesses file to score: " + GUESSES_HELP)
        yield guesses.score_file(source, guesses_file, size=size, web=True)  # recorded on the leaderboard
        return
    chosen = registry.runnable(pricer)  # a BadInput that says why, or lists the names for any other
    if progress is not None:
        progress(0, desc="loading the test items and the pricer")

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress((done, total), desc="pricing", unit="items")

    # web: the data came from the page or the API, so a local path is read only inside the
    # folders the operator allowed (pricer.web_paths)
    yield from evaluation.evaluate(source, chosen, size=size, estimator=estimator or None, batch_size=BATCH_SIZE,
                                   progress=report, web=True)


def write_results(run: evaluation.Run, data: str) -> str:
    """The run's CSV (partial when it was stopped), named after its pricer (its registry name and
    estimator; else its label), data and size: `evaluation-cpu-test-250.jsonl-250items.csv`."""
    size = f"{len(run.outcomes)}of{run.total}" if not run.done else f"{run.total}items"
    who = [run.pricer, run.estimator or ""] if run.pricer else [run.label[:40]]
    return str(downloads.new_file(downloads.safe_name("evaluation", *who, data, size) + ".csv", run.write_csv))


def metrics_dict(run: evaluation.Run) -> dict[str, Any]:
    """The metrics of a run as numbers (the /evaluate endpoint's answer)."""
    m = run.metrics
    return {"items": m.size, "total": run.total, "done": run.done, "error": m.average_error,
            "rmsle": m.rmsle, "hits": m.hits, "coverage": m.coverage, "mse": m.mse, "r2": m.r2,
            "unparsed": m.unparsed, "seconds": run.seconds, "cached": run.cached, "label": run.label,
            "note": run.note, "id": run.id}


# --- the leaderboard ---------------------------------------------------------------------------


def _share(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _kind(row: leaderboard.Row, mine: leaderboard.Visits | None) -> str:
    """Whose a row is: the course's, this visitor's (shared or not), the operator's, another visitor's."""
    if row.published:
        return PUBLISHED
    if mine is not None and row.id in mine.runs:
        who = f"{OWN}, shared" if row.id in mine.shared else OWN
    else:
        who = VISITORS if row.visitor else SHARED_RUN
    return f"{who}, stopped: partial" if row.partial else who


def leaderboard_rows(made: Sequence[leaderboard.Row], mine: leaderboard.Visits | None = None) -> list[list[Any]]:
    """This visitor's runs (`mine`), the shared runs (as leaderboard.runs() gave them) and the
    course's published figures with their notebooks, best average error first (BOARD_HEADERS)."""
    out = []
    for r in leaderboard.rows(made=made, mine=mine.rows if mine is not None else ()):
        label = f"{r.label} [{r.estimator}]" if r.estimator and r.estimator not in r.label else r.label
        out.append([None if r.error is None else round(r.error, 2), None if r.rmsle is None else round(r.rmsle, 2),
                    _share(r.hits), _share(r.coverage), label, _kind(r, mine), f"{r.size}/{r.total}",
                    leaderboard.data_label(r.data), None if r.seconds is None else round(r.seconds, 1), r.when,
                    r.id, r.source])
    return out


def leaderboard_table(made: Sequence[leaderboard.Row], mine: leaderboard.Visits | None = None) -> Any:
    import pandas as pd

    frame = pd.DataFrame(leaderboard_rows(made, mine), columns=BOARD_HEADERS)
    tint = frame.style.map(lambda k: "color: #6b7280; font-style: italic" if k == PUBLISHED else "", subset=["kind"])
    return tint.format(na_rep="").format(precision=2, subset=["error", "RMSLE"], na_rep="").format(
        precision=1, subset=["seconds"], na_rep="")


def run_choices(made: Sequence[leaderboard.Row], mine: leaderboard.Visits | None = None) -> list[tuple[str, str]]:
    """(description, id) of this visitor's runs, then the shared runs, newest first, for the
    chart's pickers."""
    own = [] if mine is None else list(mine.rows)

    def text(r: leaderboard.Row, whose: str) -> str:
        error = "" if r.error is None else f" · ${r.error:,.2f}"
        return f"{whose}{r.when} · {r.label} · {leaderboard.data_label(r.data)} · {r.size}/{r.total}{error}"

    ids = {r.id for r in own}
    return [*((text(r, "yours · "), r.id) for r in reversed(own)),
            *((text(r, ""), r.id) for r in reversed(made) if r.id and r.id not in ids)]


def pickers(made: Sequence[leaderboard.Row], mine: leaderboard.Visits | None = None, shown: str | None = None,
            compare: str | None = None) -> tuple[Any, Any]:
    choices = run_choices(made, mine)
    ids = {value for _, value in choices}
    return (gr.Dropdown(choices=choices, value=shown if shown in ids else None),
            gr.Dropdown(choices=choices, value=compare if compare in ids else None))


# --- one visitor's tab ------------------------------------------------------------------------


@dataclass
class Board:
    """What one visitor's Evaluate tab shows and is doing (kept in a gr.State, one per session)."""

    shown: evaluation.Run | None = None
    """The run on screen: growing, finished, stopped, or picked from the leaderboard."""
    data: str = ""
    """The name of the data `shown` ran on."""
    csv: str | None = None
    """The CSV of `shown` once it has ended (finished or stopped); None while it runs."""
    compare: evaluation.Run | None = None
    """The run overlaid on the chart (picked from the leaderboard), or None."""
    running: bool = False
    """From the click on Run (queued or pricing) until the run has ended."""
    stop: bool = False
    """Set by Stop: the run ends after the batch under way."""
    armed: bool = False
    """Clear was pressed once: the next press clears this visitor's runs."""
    upload: bool = False
    """The run under way reads an uploaded file (named `upload: NAME`, to this visitor alone)."""
    visits: leaderboard.Visits = field(default_factory=leaderboard.Visits)
    """This visitor's own runs: theirs alone until they share one."""

    def claim(self) -> None:
        """Run was pressed: refused (BadInput) while this page's run is under way."""
        if self.running:
            raise BadInput("A run is already under way on this page: it goes on. Press Stop to end it first.")
        self.running, self.stop = True, False

    def start(self, data: str, upload: bool = False) -> None:
        """The run begins: the last one leaves the screen (the overlaid run stays)."""
        self.shown, self.data, self.csv, self.upload = None, data, None, upload

    def show(self, run: evaluation.Run) -> None:
        self.shown = run

    def end(self) -> None:
        """The run finished or was stopped: its CSV is written, it joins this visitor's runs, Run
        is free again."""
        if self.shown is not None:
            self.csv = write_results(self.shown, self.data)
            self.visits.keep(self.shown, upload=self.upload)
        self.running = self.stop = False

    def fail(self) -> None:
        """An error: nothing of the last run stays on screen (what it priced joins this visitor's
        runs, as a stopped one)."""
        if self.shown is not None:
            self.visits.keep(self.shown, upload=self.upload)
        self.shown, self.csv = None, None
        self.running = self.stop = False

    def pick(self, run: evaluation.Run) -> None:
        """A run from the leaderboard goes on screen, with its CSV."""
        self.shown, self.data = run, data_name(run.data) if run.data else ""
        self.csv = write_results(run, self.data)

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
        else:
            head = run.progress().rstrip(".") + where + "."
        text = f"{esc(head)}\n\n**{esc(m.line())}** ({esc(m.details())})"
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


def chart(board: Board, log: bool) -> Any:
    """The scatter of the run on screen (with the overlaid one), or None."""
    if board.shown is None:
        return None
    return figure(board.shown, board.compare, height=CHART_HEIGHT, log=log)


def run_button_state(board: Board) -> Any:
    """Run, or a disabled 'Running…' while this page's run is under way."""
    return gr.Button(RUNNING_LABEL if board.running else RUN_LABEL, interactive=not board.running)


def view(board: Board, log: bool, status: str | None = None) -> tuple:
    """(chart, status, table, download, run button) for what the board holds."""
    download = (gr.DownloadButton(value=board.csv, visible=True) if board.csv else
                gr.DownloadButton(value=None, visible=False))
    return (chart(board, log), board.status() if status is None else status, _table(board.shown), download,
            run_button_state(board))


def begin(board: Board) -> tuple:
    """The Run button, at once (before the queue): refuse a second run from this page, else
    disable Run and say whether the run starts now or waits for another visitor's."""
    try:
        board.claim()
    except BadInput as exc:
        raise gr.Error(esc(exc), print_exception=False) from exc
    note = ("Queued: another evaluation is running (one runs at a time); this one starts when it ends."
            if waiting() else "Starting: loading the test items and the pricer…")
    return run_button_state(board), esc(note)


@on_gpu(duration=EVALUATE_GPU_SECONDS)
def evaluate_ui(board: Board, pricer: str, estimator: str | None, size: float, data: str, data_file: str | None,
                guesses_file: str | None, log: bool,
                progress: gr.Progress = gr.Progress()) -> Iterator[tuple]:  # noqa: B008 (gradio idiom)
    """Stream (chart, status, table, download, run button, data panel, leaderboard, the two run
    pickers) after each batch; Stop (board.stop) ends the run after the batch under way, keeping
    what was priced. An error clears the last run from the screen, pops up and says why."""
    keep = gr.skip()
    unchanged = (keep,) * 4  # data panel, leaderboard, pickers
    source = data_source(data, data_file)
    board.start(data_name(source), upload=bool(data_file))
    if board.stop:  # Stop came while the run waited in the queue
        board.end()
        yield (*view(board, log), *unchanged)
        return
    try:
        with pricing(board):
            yield (*view(board, log, esc("Loading the test items and the pricer…")), *unchanged)
            stream = runs(pricer, estimator, size, source, guesses_file, progress)
            try:
                for current in stream:
                    board.show(current)
                    if board.stop or current.done:
                        break
                    yield (*view(board, log), *unchanged)
            finally:
                stream.close()  # a stopped run prices nothing more (and is recorded as partial)
        board.end()
        made = leaderboard.runs()  # read once for the table and the pickers
        yield (*view(board, log), keep, leaderboard_table(made, board.visits),
               *pickers(made, board.visits, _id(board.shown), _id(board.compare)))
    except HubUnavailable as exc:
        message = f"{exc} Or upload the test items (JSONL or CSV) under Test data."
        yield (*_failed(board, message, log), gr.Accordion(open=True), keep, keep, keep)
    except PricerError as exc:
        yield (*_failed(board, str(exc), log), keep, *board_views(board))


def _id(run: evaluation.Run | None) -> str | None:
    return run.id if run is not None and run.id else None


def _failed(board: Board, message: str, log: bool) -> tuple:
    warn(message)
    board.fail()
    return view(board, log, f"**Could not run:** {esc(message)}")


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


def redraw(board: Board, log: bool) -> Any:
    """The chart again (log scale toggled), without running anything."""
    return chart(board, log) if board.shown is not None else gr.skip()


def show_run(board: Board, run_id: str | None, log: bool) -> tuple:
    """A run picked from the leaderboard goes on screen: chart, status, table and its CSV."""
    if not run_id or _id(board.shown) == run_id:
        return (gr.skip(),) * 5
    if board.running:
        warn("A run is under way on this page: its results stay on screen until it ends.")
        return (gr.skip(),) * 5
    try:
        board.pick(_load(board, run_id))
    except PricerError as exc:
        warn(str(exc))
        return (gr.skip(),) * 5
    return view(board, log, esc("From the leaderboard: ") + board.status())


def overlay_run(board: Board, run_id: str | None, log: bool) -> Any:
    """A run picked from the leaderboard is overlaid on the chart (None: no overlay)."""
    try:
        board.compare = _load(board, run_id) if run_id else None
    except PricerError as exc:
        warn(str(exc))
        board.compare = None
    return chart(board, log) if board.shown is not None else gr.skip()


def _load(board: Board, run_id: str) -> evaluation.Run:
    """One of this visitor's runs, else a run of the shared board (BadInput when neither)."""
    return board.visits.load(run_id) or leaderboard.load_run(run_id)


def board_views(board: Board) -> tuple:
    """The leaderboard (this visitor's runs, the shared ones as on disk now, the course's) and the
    run pickers, the shared board read once (and a warning of any damage found in its file)."""
    made = leaderboard.runs()
    if note := leaderboard.take_notes():
        warn(note)
    return (leaderboard_table(made, board.visits),
            *pickers(made, board.visits, _id(board.shown), _id(board.compare)))


def refresh(board: Board) -> tuple:
    """The leaderboard and the run pickers when the page opens."""
    return board_views(board)


def clear_runs(board: Board) -> tuple:
    """Clear, pressed twice: forget this visitor's runs (the shared board and the published rows
    stay; the operator clears the shared board with `python -m pricer leaderboard --clear`)."""
    if not board.armed:
        board.armed = True
        n = len(board.visits.rows)
        return gr.Button(f"Press again to clear your {n} run{'s' * (n != 1)}", variant="stop"), *(gr.skip(),) * 3
    board.armed = False
    if board.compare is not None and board.visits.load(board.compare.id):
        board.compare = None
    gr.Info(f"Cleared your {board.visits.clear()} runs.")
    return gr.Button(CLEAR_LABEL, variant="secondary"), *board_views(board)


def share_run(board: Board) -> tuple:
    """Share: the run on screen, if it is one of this visitor's, goes on the shared board."""
    run_id = _id(board.shown) if not board.running else None
    try:
        shared = board.visits.publish(run_id)
    except PricerError as exc:
        warn(str(exc))
        return (gr.skip(),) * 3
    gr.Info(esc(f"Shared with every visitor: {shared.label} ({shared.size}/{shared.total} items)."))
    return board_views(board)


def show_pricer_options(pricer: str) -> tuple:
    """The pricer's estimates (none: hidden), the guesses upload for scoring a file."""
    choices = estimator_choices(pricer)
    value = choices[0][1] if choices else None
    return gr.Radio(choices=choices, value=value, visible=bool(choices)), gr.Column(visible=pricer == SCORE_FILE)


def offline_note(dataset: str) -> str:
    """'' unless the default data is a hub id and this machine is told to stay offline."""
    if hub.is_local(dataset) or not hub.offline_mode():
        return ""
    return (f"HF_HUB_OFFLINE is set, so the dataset {dataset} cannot be loaded here: upload the "
            "test items (JSONL or CSV with text and price) under Test data, or give a local path.")


# --- the API ----------------------------------------------------------------------------------


def _size(size: Any) -> int:
    """A size from the page or a client: a whole number from 1 to TEST_ITEMS (None: all of them)."""
    if size is None:
        return TEST_ITEMS
    try:
        whole = int(size)
    except (TypeError, ValueError, OverflowError):
        whole = None
    if whole is None or (isinstance(size, float) and whole != size) or not 1 <= whole <= TEST_ITEMS:
        raise BadInput(f"size must be a whole number from 1 to {TEST_ITEMS}, not {size!r}.")
    return whole


@on_gpu(duration=EVALUATE_GPU_SECONDS)
def evaluate_api(pricer: str | None = None, data: str | None = None, data_file: str | None = None,
                 guesses_file: str | None = None, size: float | None = TEST_ITEMS,
                 estimator: str | None = None) -> Iterator[tuple[dict, str | None]]:
    """Run `pricer` (a registry name such as 'cpu' or 'fine-tuned', default: the default pricer;
    or 'guesses' with a guesses file) over the first `size` (default 250) test items of
    `data_file`, else `data` (hub id or path), else PRICER_DATASET. Yields the metrics so far
    (numbers) after each batch; the last answer carries the CSV. A mistake is a gr.Error."""
    try:
        if pricer is not None and not isinstance(pricer, str):
            raise BadInput(f"pricer must be a name: {', '.join([*registry.names(), SCORE_FILE])}.")
        name = (pricer or "").strip() or registry.default_name()
        source = data_source(data, data_file)
        head = {"pricer": name, "data": data_name(source)}
        last = None
        with pricing(head):
            for last in runs(name, estimator, size, source, guesses_file):
                if not last.done:
                    yield {**head, "estimator": last.estimator, **metrics_dict(last)}, None
        if last is not None:
            yield {**head, "estimator": last.estimator, **metrics_dict(last)}, write_results(last, head["data"])
    except PricerError as exc:
        raise fail(exc) from exc


# --- layout -----------------------------------------------------------------------------------


def build() -> None:
    offline = offline_note(settings().dataset)
    choices, unavailable = pricer_choices()
    default = choices[0][1]
    gr.Markdown("Run a pricer over the first N items of the test data, as the course does: average "
                "absolute error, RMSLE and hits (within $40 or 20% of the truth), and how often the truth "
                "lies in the pricer's 80% interval (coverage). Your runs are kept on the leaderboard below, "
                "for you alone until you share one, beside the shared runs and the course's published "
                "figures on the same 250 items.")
    if test_model():
        gr.Markdown(f"**Warning:** {esc(TEST_MODEL)}", elem_id="evaluate-test-model")
    board = gr.State(Board())
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            pricer = gr.Radio(choices, value=default, label="Pricer", elem_id="evaluate-pricer")
            if unavailable:
                gr.HTML(unavailable_list(unavailable, opened=False), elem_id="evaluate-unavailable")
            estimates = estimator_choices(default)
            estimator = gr.Radio(estimates, value=estimates[0][1] if estimates else None, label="Estimate",
                                 visible=bool(estimates), elem_id="evaluate-estimator")
            with gr.Column(visible=False) as guesses_panel:
                guesses_file = gr.File(label="Guesses to score", file_types=[".csv", ".jsonl"])
                gr.Markdown(esc(GUESSES_HELP))
            size = gr.Slider(1, TEST_ITEMS, value=TEST_ITEMS, step=1, label="Test items (the first N)")
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
    with gr.Accordion("Leaderboard: your runs, the shared runs, and the course's published figures", open=True):
        with gr.Row():
            shown = gr.Dropdown([], value=None, label="Chart: show a run", elem_id="evaluate-show", scale=1,
                                min_width=280)
            compare = gr.Dropdown([], value=None, label="…and overlay another", elem_id="evaluate-overlay",
                                  scale=1, min_width=280)
        board_table = gr.Dataframe(headers=BOARD_HEADERS, datatype=BOARD_TYPES, interactive=False, wrap=False,
                                   max_height=480, elem_id="evaluate-leaderboard", column_widths=BOARD_WIDTHS,
                                   label=f"Best average error first; rows marked “{PUBLISHED}” are the course's "
                                         "figures on its 250 test items (source: the notebook)")
        gr.Markdown(esc(SHARE_HELP))
        with gr.Row():
            share = gr.Button(SHARE_LABEL, variant="secondary", size="sm", elem_id="evaluate-share")
            clear = gr.Button(CLEAR_LABEL, variant="secondary", size="sm", elem_id="evaluate-clear")

    endpoint(evaluate_api, _api_inputs(), ["metrics", lambda: gr.File(label="csv")], "evaluate",
             concurrency_id="evaluate", concurrency_limit=1)
    pricer.change(show_pricer_options, pricer, [estimator, guesses_panel], api_visibility="private")
    log.change(redraw, [board, log], plot, api_visibility="private", queue=False)
    clicked = run_button.click(begin, board, [run_button, status], api_visibility="private", queue=False)
    clicked.success(
        evaluate_ui, [board, pricer, estimator, size, data, data_file, guesses_file, log],
        [plot, status, table, download, run_button, data_panel, board_table, shown, compare],
        api_visibility="private",
        # One evaluation at a time, in its own queue: each batch takes the model's GPU lock, so
        # Predict requests slip in between batches instead of waiting for 250 items.
        concurrency_id="evaluate", concurrency_limit=1,
    ).then(finish, board, run_button, api_visibility="private", queue=False)
    stop_button.click(request_stop, board, status, api_visibility="private", queue=False)
    shown.input(show_run, [board, shown, log], [plot, status, table, download, run_button],
                api_visibility="private")
    compare.input(overlay_run, [board, compare, log], plot, api_visibility="private")
    clear.click(clear_runs, board, [clear, board_table, shown, compare], api_visibility="private", queue=False)
    share.click(share_run, board, [board_table, shown, compare], api_visibility="private",
                concurrency_id="share", concurrency_limit=1)

    root = gr.context.Context.root_block
    if root is not None:  # the leaderboard as it is on disk when the page opens
        root.load(refresh, board, [board_table, shown, compare], api_visibility="private", show_progress="hidden")


def _api_inputs() -> list[Any]:
    """/evaluate's own inputs (never shown): the API takes names, not the page's labels."""
    with gr.Column(visible=False):
        return [gr.Textbox(None, label="pricer"), gr.Textbox(None, label="data"),
                gr.File(None, label="data_file"), gr.File(None, label="guesses_file"),
                api.Number(TEST_ITEMS, label="size", precision=0), gr.Textbox(None, label="estimator")]
