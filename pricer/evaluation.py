"""Judge a pricer the course's way: run it over the first N test items and report the average
absolute error, the RMSLE and the hit rate, with a scatter of truth against estimate.

The metrics are the course's Tester, exactly: error = |guess - truth|, SLE = (ln(truth + 1) -
ln(guess + 1))^2 (a negative guess counts as 0 in the log), green when error < $40 or < 20% of
the truth, orange when < $80 or < 40%, red otherwise; a hit is a green item. A pricer that gives
no number scores 0, as in the course, and the item is marked as unparsed.

    >>> color_for(39.99, 200.0), color_for(40.0, 200.0), color_for(40.0, 201.0)
    ('green', 'orange', 'green')
    >>> summarize([Outcome(0, "a", 100.0, 100.0), Outcome(1, "b", 100.0, 200.0)]).line()
    'Error=$50.00 RMSLE=0.49 Hits=50.0%'

It takes any predict function (a list of prompts -> a list of prices, None for "no number"),
so it does not know how a model works; `llama_predictor` adapts pricer.model to that shape. It
does not import gradio: the Evaluate tab (ui/evaluate_tab.py) and the CLI drive it. Guesses
made elsewhere are read and scored by pricer.guesses, into the same Run.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pricer.atomic import csv_writer
from pricer.errors import BadInput, PricerError
from pricer.items import QUESTION

PredictFn = Callable[[list[str]], list[float | None]]
COLORS = ("green", "orange", "red")
COLOR_LABELS = {"green": "hit (< $40 or < 20%)", "orange": "near (< $80 or < 40%)", "red": "miss"}
ESTIMATORS = ("greedy", "topk", "topk-numbers")
ESTIMATOR_NAMES = {"greedy": "greedy", "topk": "top-3 weighted (course)", "topk-numbers": "top-3 number tokens"}
CACHE_VERSION = 2  # 2: "topk" is the course's improved_model_predict (it was the number-token variant)
CHART_HEIGHT = 600  # explicit: gradio draws an autosized Plotly figure at zero height in a hidden tab
TABLE_HEADERS = ["#", "title", "truth", "guess", "error", "colour", "note"]


def color_for(error: float, truth: float) -> str:
    """The course's traffic light for one item."""
    ratio = error / truth if truth > 0 else math.inf
    if error < 40 or ratio < 0.2:
        return "green"
    if error < 80 or ratio < 0.4:
        return "orange"
    return "red"


def squared_log_error(guess: float, truth: float) -> float:
    """(ln(truth + 1) - ln(guess + 1))^2, a negative guess clipped at 0.

    >>> round(squared_log_error(0.0, math.e - 1), 6)
    1.0
    """
    return (math.log(max(truth, 0.0) + 1) - math.log(max(guess, 0.0) + 1)) ** 2


@dataclass(frozen=True)
class Outcome:
    """One test item priced: what the pricer said against the truth."""

    index: int
    """Position in the test data (0 = the first item)."""
    title: str
    truth: float
    guess: float
    """The guess scored: 0 when the pricer gave no number."""
    parsed: bool = True
    """False when the pricer gave no number (the guess then counts as 0, as in the course)."""

    @property
    def error(self) -> float:
        return abs(self.guess - self.truth)

    @property
    def sle(self) -> float:
        return squared_log_error(self.guess, self.truth)

    @property
    def color(self) -> str:
        return color_for(self.error, self.truth)

    @property
    def note(self) -> str:
        return "" if self.parsed else "no number: scored as $0"


@dataclass(frozen=True)
class Metrics:
    """The course's summary of a run, plus MSE and R^2."""

    size: int
    average_error: float
    rmsle: float
    hits: float
    """Share of green items, 0..1."""
    mse: float
    r2: float | None
    """None when the truths are all equal (R^2 is undefined)."""
    unparsed: int
    counts: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """`Error=$X.XX RMSLE=Y.YY Hits=Z.Z%`, formatted as the course's Tester does."""
        return f"Error=${self.average_error:,.2f} RMSLE={self.rmsle:,.2f} Hits={self.hits * 100:.1f}%"

    def details(self) -> str:
        r2 = "n/a" if self.r2 is None else f"{self.r2:.3f}"
        parts = [f"{self.size} items", f"MSE={self.mse:,.1f}", f"R²={r2}"]
        parts += [f"{self.counts.get(c, 0)} {c}" for c in COLORS]
        if self.unparsed:
            parts.append(f"{self.unparsed} without a number (scored as $0)")
        return ", ".join(parts)


def summarize(outcomes: Sequence[Outcome]) -> Metrics:
    """The metrics over the outcomes (all zero for none)."""
    n = len(outcomes)
    if n == 0:
        return Metrics(0, 0.0, 0.0, 0.0, 0.0, None, 0, {c: 0 for c in COLORS})
    truths = [o.truth for o in outcomes]
    squared = sum((o.guess - o.truth) ** 2 for o in outcomes)
    mean_truth = sum(truths) / n
    spread = sum((t - mean_truth) ** 2 for t in truths)
    colors = [o.color for o in outcomes]
    return Metrics(
        size=n,
        average_error=sum(o.error for o in outcomes) / n,
        rmsle=math.sqrt(sum(o.sle for o in outcomes) / n),
        hits=colors.count("green") / n,
        mse=squared / n,
        r2=1 - squared / spread if spread > 0 else None,
        unparsed=sum(not o.parsed for o in outcomes),
        counts={c: colors.count(c) for c in COLORS},
    )


# --- the test items ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TestItem:
    """One item to price: its prompt (ending in `Price is $`) and its true price."""

    __test__ = False  # not a pytest class

    index: int
    prompt: str
    truth: float
    title: str


def title_of(prompt: str) -> str:
    """The product title inside a course prompt (the line after the question).

    >>> title_of("How much does this cost to the nearest dollar?\\n\\nWidget Pro\\nA widget.\\n\\nPrice is $")
    'Widget Pro'
    """
    text = prompt.strip()
    if text.startswith(QUESTION):
        text = text[len(QUESTION):]
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


class TestItems(list):
    """TestItems in order, and a note on rows of the source that could not be used."""

    __test__ = False

    def __init__(self, items: Iterable[TestItem] = (), note: str = "") -> None:
        super().__init__(items)
        self.note = note


def load_items(source: str | Path, size: int | None = 250) -> TestItems:
    """The first `size` test items of a pricer dataset: a hub id (its test split), a saved
    dataset, or a Parquet, JSONL or CSV file with `text` and `price` (pricer.data's loader).
    A training prompt's answer is cut off, so the model never sees the price it must guess."""
    from pricer.data import as_test_prompt, load_pricer_dataset

    rows = load_pricer_dataset(str(source).strip() or None, split="test", size=size)
    notes = [rows.note] if rows.note else []
    if size is not None and len(rows) < size:
        notes.append(f"The data has {len(rows)} usable test items, fewer than the {size} asked for.")
    return TestItems((TestItem(i, as_test_prompt(row["text"]), row["price"], title_of(row["text"]))
                      for i, row in enumerate(rows)), " ".join(notes))


# --- a run ------------------------------------------------------------------------------------


@dataclass
class Run:
    """A run of one pricer over test items: complete when `len(outcomes) == total`."""

    label: str
    total: int
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    cached: bool = False
    note: str = ""
    """What to know about the data (rows skipped, fewer items than asked for)."""

    @property
    def done(self) -> bool:
        return len(self.outcomes) >= self.total

    @property
    def metrics(self) -> Metrics:
        return summarize(self.outcomes)

    def title(self) -> str:
        return f"{self.label} {self.metrics.line()}".strip()

    def progress(self) -> str:
        """How far and how fast: `label: 8/250 items running in 2.1 s (3.8 items/s).`"""
        n = len(self.outcomes)
        speed = f"{self.seconds:.1f} s ({n / self.seconds:.1f} items/s)" if self.seconds > 0 and n else ""
        if self.cached:
            return f"{self.label}: {n}/{self.total} items from the cache" + (f" (the run took {speed})." if speed else ".")
        return f"{self.label}: {n}/{self.total} items {'done' if self.done else 'running'}" + (
            f" in {speed}." if speed else ".")

    def status(self) -> str:
        """One line: how far, how fast, and the running metrics."""
        return f"{self.progress()} {self.metrics.line()}"

    def rows(self, worst_first: bool = False) -> list[list[Any]]:
        """Table rows (TABLE_HEADERS), in item order or biggest error first."""
        outcomes = sorted(self.outcomes, key=lambda o: -o.error) if worst_first else self.outcomes
        return [[o.index, o.title, round(o.truth, 2), round(o.guess, 2), round(o.error, 2), o.color, o.note]
                for o in outcomes]

    def write_csv(self, path: str | Path) -> Path:
        """One row per item, in item order: index, title, truth, guess, parsed, error, sle, color."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv_writer(f)  # formula-like text cells neutralised
            writer.writerow(["index", "title", "truth", "guess", "parsed", "error", "sle", "color"])
            for o in self.outcomes:
                writer.writerow([o.index, o.title, o.truth, o.guess, o.parsed, round(o.error, 4),
                                 round(o.sle, 6), o.color])
        return path

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "total": self.total, "seconds": self.seconds,
                "outcomes": [asdict(o) for o in self.outcomes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        return cls(data["label"], data["total"], [Outcome(**o) for o in data["outcomes"]], data["seconds"])


def outcome(item: TestItem, guess: Any) -> Outcome:
    """Score one guess; None or anything that is not a finite number counts as $0 and is marked."""
    try:
        value = math.nan if guess is None or isinstance(guess, (bool, str)) else float(guess)
    except (TypeError, ValueError):
        value = math.nan
    ok = math.isfinite(value)
    return Outcome(item.index, item.title, item.truth, value if ok else 0.0, ok)


def run(items: Sequence[TestItem], predict: PredictFn, *, label: str = "", batch_size: int = 16,
        cache_key: str | None = None) -> Iterator[Run]:
    """Price the items in batches, yielding the run so far after each batch (the last is complete).

    With a `cache_key`, a finished run is stored and a repeat yields it at once without calling
    `predict`. A stopped run (the generator closed early) is not stored.
    """
    if not items:
        raise BadInput("There are no test items to evaluate: check the data source and the size.")
    if batch_size < 1:
        raise BadInput(f"batch size must be at least 1, not {batch_size}.")
    if cache_key and (hit := cached(cache_key)) is not None:
        hit.label, hit.cached = label or hit.label, True
        yield hit
        return
    current = Run(label, len(items))
    start = time.perf_counter()
    for at in range(0, len(items), batch_size):
        batch = items[at:at + batch_size]
        guesses = list(predict([item.prompt for item in batch]))
        if len(guesses) != len(batch):
            raise PricerError(f"The pricer returned {len(guesses)} prices for {len(batch)} prompts: a predict "
                              "function must return one price (or None) per prompt, in order.")
        current.outcomes.extend(outcome(item, g) for item, g in zip(batch, guesses, strict=True))
        current.seconds = time.perf_counter() - start
        if cache_key and current.done:  # stored before the last yield: a consumer may stop there
            remember(cache_key, current)
        yield Run(current.label, current.total, list(current.outcomes), current.seconds)


def run_to_end(runs: Iterable[Run]) -> Run:
    """The last (complete) run of a stream."""
    last = None
    for current in runs:
        last = current
    if last is None:
        raise BadInput("There are no test items to evaluate.")
    return last


# --- the run cache ----------------------------------------------------------------------------


def cache_key(model: str, estimator: str, data: str, size: int) -> str:
    """The identity of a run: a repeat with the same key returns the stored run. `model` names
    the base model, adapter, revision and quantization (ModelSpec.key() and source_key)."""
    parts = json.dumps([CACHE_VERSION, model, estimator, data, size])
    return hashlib.sha256(parts.encode()).hexdigest()[:24]


def source_key(source: str | Path | None) -> str:
    """A name for a data file, model folder or hub id that changes when a local copy changes,
    so a retrained adapter saved over the old one is not served from the cache."""
    if source is None:
        return "none"
    path = Path(str(source)).expanduser()
    if not path.exists():
        return str(source)
    files = [p for p in path.iterdir() if p.is_file()] if path.is_dir() else [path]
    stats = [p.stat() for p in files]
    newest = max((st.st_mtime_ns for st in stats), default=0)
    return f"{path.resolve()}@{sum(st.st_size for st in stats)}:{newest}"


def _cache_file(key: str) -> Path:
    from pricer.tokenizer import cache_dir

    return cache_dir() / "evaluations" / f"{key}.json"


_memory: dict[str, dict[str, Any]] = {}


def cached(key: str) -> Run | None:
    """The stored run for `key`, or None."""
    data = _memory.get(key)
    if data is None:
        path = _cache_file(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        _memory[key] = data
    try:
        return Run.from_json(data)
    except (KeyError, TypeError):
        return None


def remember(key: str, finished: Run) -> None:
    data = finished.to_json()
    _memory[key] = data
    path = _cache_file(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{time.time_ns()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only disk only costs the repeat; the memory cache still serves it


# --- pricers ----------------------------------------------------------------------------------


def llama_predictor(spec: Any, estimator: str = "greedy", batch_size: int = 16,
                    progress: Any = None) -> PredictFn:
    """A predict function over pricer.model for `spec` (a ModelSpec); loads the model on first use.

    `greedy` is the course's generated price (None when it wrote no number); `topk` is the
    course's improved_model_predict (top 3 of all next tokens, non-numbers dropped: its $46.66
    with the fine-tuned model); `topk-numbers` is the top 3 of the number tokens alone.
    """
    if estimator not in ESTIMATORS:
        raise BadInput(f"estimator must be one of {', '.join(ESTIMATORS)}, not {estimator!r}.")
    loaded: list[Any] = []

    def predict(prompts: list[str]) -> list[float | None]:
        if not loaded:
            from pricer.model import load_pricer

            loaded.append(load_pricer(spec, progress=progress))
        predictions = loaded[0].predict(prompts, batch_size=batch_size)
        if estimator == "topk":  # 0 is the course's "none of the top 3 is a number": marked as such
            return [p.estimate_course or None for p in predictions]
        if estimator == "topk-numbers":
            return [p.estimate_topk for p in predictions]
        return [p.price for p in predictions]

    return predict


def model_label(spec: Any, estimator: str) -> str:
    """What ran: the model's own label (base, adapter, quantization) and the estimator."""
    name = getattr(spec, "label", None) or Path(str(spec.adapter or spec.base_model).rstrip("/")).name
    return f"{name}, {ESTIMATOR_NAMES.get(estimator, estimator)}"


def evaluate_model(data: str | Path, spec: Any, *, size: int = 250, estimator: str = "greedy",
                   batch_size: int = 16, progress: Any = None, use_cache: bool = True) -> Iterator[Run]:
    """Run the 4-bit Llama of `spec` over the first `size` test items of `data`, streaming; a
    repeat of the same (model, adapter, revision, estimator, data, size) returns at once."""
    items = load_items(data, size)
    model = f"{spec.key()}|{source_key(spec.base_model)}|{source_key(spec.adapter)}"
    key = cache_key(model, estimator, source_key(data), len(items))
    predict = llama_predictor(spec, estimator, batch_size, progress)
    for snapshot in run(items, predict, label=model_label(spec, estimator), batch_size=batch_size,
                        cache_key=key if use_cache else None):
        snapshot.note = items.note
        yield snapshot


# --- the chart --------------------------------------------------------------------------------


def figure(main: Run, compare: Run | None = None, height: int = CHART_HEIGHT) -> Any:
    """Plotly scatter of truth (x) against estimate (y), coloured by the course's traffic light,
    with the y = x line and equal axes from 0; `compare` overlays a second run (as crosses)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    runs = [r for r in (compare, main) if r is not None]
    for r in runs:
        symbol, group = ("x", "compare") if r is compare else ("circle", "main")
        for color in COLORS:
            points = [o for o in r.outcomes if o.color == color]
            fig.add_trace(go.Scatter(
                x=[o.truth for o in points], y=[o.guess for o in points], mode="markers",
                # one run: its label is the title; two: each run's legend group is titled with it
                name=COLOR_LABELS[color], legendgroup=group,
                legendgrouptitle={"text": _short(r.label or "run", 50) if compare else ""},
                marker={"color": color, "size": 7, "symbol": symbol, "opacity": 0.8},
                customdata=[[_short(o.title), o.error, o.note] for o in points],
                hovertemplate="%{customdata[0]}<br>truth $%{x:,.2f}<br>guess $%{y:,.2f}"
                              "<br>error $%{customdata[1]:,.2f} %{customdata[2]}<extra></extra>",
            ))
    values = [v for r in runs for o in r.outcomes for v in (o.truth, o.guess)]
    top = max(values, default=1.0) * 1.05 or 1.0
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="perfect (y = x)",
                             line={"color": "deepskyblue", "width": 2}, opacity=0.6, hoverinfo="skip"))
    title = "<br>".join(_short(r.title(), 200) for r in reversed(runs))
    fig.update_layout(
        title={"text": title, "font": {"size": 15}}, height=height, autosize=True,
        xaxis={"title": "ground truth ($)", "range": [0, top], "constrain": "domain"},
        yaxis={"title": "model estimate ($)", "range": [0, top], "scaleanchor": "x", "scaleratio": 1,
               "constrain": "domain"},  # both axes keep [0, top]: the plot shrinks, not the range
        # beside the plot, not under it: equal axes make the plot as tall as it is wide, so
        # a legend below would shrink it; to the right there is room to spare
        legend={"x": 1.02, "y": 1, "xanchor": "left"}, margin={"t": 90, "l": 60, "r": 20, "b": 50},
        template="plotly_white",
    )
    return fig


def _short(title: str, n: int = 60) -> str:
    # Plotly renders titles, legends and hover text as HTML: product titles and file names are
    # the user's text, so they are escaped here.
    import html

    return html.escape(title if len(title) <= n else title[:n] + "...")


def write_chart(fig: Any, path: str | Path) -> Path:
    """A self-contained HTML chart (plotly.js inlined, so it opens offline)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    return path
