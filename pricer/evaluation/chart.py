"""The course's scatter of a run: truth (x) against estimate (y), each item coloured by the
course's traffic light, with the y = x line and equal axes; optionally a second run overlaid (as
crosses) to compare two pricers. A Plotly figure, or a self-contained HTML file.

The axes are chosen from the truths, so one wild guess cannot squash the chart: they reach a
little past the largest value that is at most OUTLIER_FACTOR times the largest truth; an
estimate beyond them (and, on the log scale, one at or below $0) is drawn at the axis' edge as
a triangle pointing its way, its real value on hover. Linear axes start at 0; `log=True` gives
log axes from just below the smallest positive value kept.

Product titles and run labels are the user's text: Plotly renders them as HTML, so they are
escaped here. It does not run a pricer (pricer.evaluation) or compute metrics (pricer.metrics).

    >>> axis_range([10.0, 200.0], [12.0, 5_000.0])
    (0.0, 210.0)
    >>> axis_range([10.0, 200.0], [12.0, 0.0], log=True)
    (8.0, 210.0)
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pricer.atomic import atomic_write
from pricer.errors import BadInput
from pricer.metrics import COLOR_LABELS, COLORS

if TYPE_CHECKING:
    from pricer.evaluation.runs import Run

OUTLIER_FACTOR = 2.0  # an estimate over twice the largest truth (or under half the smallest, on log axes) is an outlier
HEADROOM = 1.05  # the axes reach 5% past the largest value shown
LOG_FOOT = 1.25  # log axes start 20% below the smallest positive value shown
ABOVE, BELOW = "above", "below"
SYMBOLS = {  # (main run, overlaid run): inside the axes, beyond the top edge, beyond the bottom edge
    None: ("circle", "x"),
    ABOVE: ("triangle-up", "triangle-up-open"),
    BELOW: ("triangle-down", "triangle-down-open"),
}


def axis_range(truths: Sequence[float], guesses: Sequence[float], log: bool = False) -> tuple[float, float]:
    """(low, high) in dollars for both axes: every truth inside, and every estimate that is no
    outlier (see the module docstring). Linear axes start at 0."""
    finite = [v for v in (*truths, *guesses) if math.isfinite(v)]
    positive_truths = [t for t in truths if math.isfinite(t) and t > 0]
    top_truth = max(positive_truths, default=0.0)
    limit = OUTLIER_FACTOR * top_truth if top_truth > 0 else math.inf
    kept = [v for v in finite if v <= limit] or [1.0]
    high = max(kept) * HEADROOM
    if not math.isfinite(high) or high <= 0:
        high = max(max(kept), 1.0)
    if not log:
        return 0.0, high
    floor = min(positive_truths, default=1.0) / OUTLIER_FACTOR
    low = min((v for v in kept if v >= floor and v > 0), default=floor) / LOG_FOOT
    return (low, high) if low < high else (high / 10, high)


def _placed(value: float, low: float, high: float, log: bool) -> tuple[float, str | None]:
    """Where a value is drawn on an axis of [low, high], and which edge it is beyond (or None)."""
    if value > high:
        return high, ABOVE
    if value < low or (log and value <= 0):
        return low, BELOW
    return value, None


def figure(main: Run, compare: Run | None = None, height: int | None = None, log: bool = False) -> Any:
    """Plotly scatter of truth (x) against estimate (y) of `main`, with `compare` overlaid;
    `height` in pixels (None: as tall as its container makes it); `log` for log axes."""
    import plotly.graph_objects as go

    fig = go.Figure()
    runs = [r for r in (compare, main) if r is not None]
    low, high = axis_range([o.truth for r in runs for o in r.outcomes],
                           [o.guess for r in runs for o in r.outcomes], log)
    beyond = 0
    for r in runs:
        overlaid = r is compare
        group = "compare" if overlaid else "main"
        for color in COLORS:
            points = [o for o in r.outcomes if o.color == color]
            xs, ys, symbols, data = [], [], [], []
            for o in points:
                x, x_edge = _placed(o.truth, low, high, log)
                y, y_edge = _placed(o.guess, low, high, log)
                edge = y_edge or x_edge
                beyond += edge is not None
                xs.append(x)
                ys.append(y)
                symbols.append(SYMBOLS[edge][overlaid])
                where = f" (beyond the axis: drawn at its {'top' if edge == ABOVE else 'bottom'})" if edge else ""
                data.append([_short(o.title), o.error, html.escape(o.note), o.truth, o.guess, where,
                             _interval(o)])
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="markers",
                # one run: its label is the title; two: each run's legend group is titled with it
                name=COLOR_LABELS[color], legendgroup=group,
                legendgrouptitle={"text": _short(r.label or "run", 50) if compare else ""},
                marker={"color": color, "size": 7, "opacity": 0.8,
                        # one symbol for the trace unless its points differ
                        "symbol": symbols if len(set(symbols)) > 1 else (symbols or [SYMBOLS[None][overlaid]])[0]},
                customdata=data,
                hovertemplate="%{customdata[0]}<br>truth $%{customdata[3]:,.2f}<br>guess $%{customdata[4]:,.2f}"
                              "%{customdata[5]}%{customdata[6]}<br>error $%{customdata[1]:,.2f} "
                              "%{customdata[2]}<extra></extra>",
            ))
    fig.add_trace(go.Scatter(x=[low, high], y=[low, high], mode="lines", name="perfect (y = x)",
                             line={"color": "deepskyblue", "width": 2}, opacity=0.6, hoverinfo="skip"))
    # each run's label and metrics on lines of their own: one long line is cut on a phone
    title = "<br>".join(f"{_short(r.label or 'run', 70)}<br>{r.metrics.line()}" for r in reversed(runs))
    top_margin = 30 + 19 * 2 * len(runs) + (30 if beyond else 0)
    axis = {"type": "log", "range": [math.log10(low), math.log10(high)]} if log else {"range": [low, high]}
    fig.update_layout(
        title={"text": title, "font": {"size": 14}}, height=height, autosize=True,
        xaxis={"title": "ground truth ($)", **axis, "constrain": "domain"},
        yaxis={"title": "model estimate ($)", **axis, "scaleanchor": "x", "scaleratio": 1,
               "constrain": "domain"},  # both axes keep their range: the plot shrinks, not the range
        # under the plot, across: on a phone the plot then gets the whole width (beside it, the
        # legend took two thirds of 390 px); equal axes leave room below on a wide screen
        legend={"orientation": "h", "x": 0, "y": -0.12, "xanchor": "left", "yanchor": "top"},
        margin={"t": top_margin, "l": 60, "r": 20, "b": 40},
        **PAGE_LAYOUT,
    )
    if beyond:
        fig.add_annotation(
            text=f"{beyond} beyond the axes, drawn at the edge (▲ ▼):<br>hover for the value",
            xref="paper", yref="paper", x=0, y=1.0, xanchor="left", yanchor="bottom", showarrow=False,
            font={"size": 11, "color": "#555"})
    return fig


PAGE_LAYOUT = {"template": "plotly_white", "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}
"""Every chart's backdrop: transparent, so it sits on the page's own colour, light or dark (the
app's CSS recolours the text and grid in dark mode), and on a written chart's white page."""


def _interval(o: Any) -> str:
    """The 80% interval of an outcome for the hover text, when its pricer gave one."""
    low, high = getattr(o, "low", None), getattr(o, "high", None)
    return "" if low is None or high is None else f"<br>80% interval ${low:,.2f} - ${high:,.2f}"


def _short(title: str, n: int = 60) -> str:
    return html.escape(title if len(title) <= n else title[:n] + "...")


def write_chart(fig: Any, path: str | Path) -> Path:
    """A self-contained HTML chart (plotly.js inlined, so it opens offline), as tall as the
    browser window when the figure sets no height."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:  # whole or not at all: an old chart survives a failed write
            fig.write_html(f, include_plotlyjs=True, full_html=True)
    except OSError as exc:
        raise BadInput(f"Could not write {path}: {exc.strerror or exc}. Free some space or choose another "
                       "file; nothing was written.") from None
    return path
