"""The course's scatter of a run: truth (x) against estimate (y), each item coloured by the
course's traffic light, with the y = x line and equal axes from 0; optionally a second run
overlaid (as crosses) to compare two pricers. A Plotly figure, or a self-contained HTML file.

Product titles and run labels are the user's text: Plotly renders them as HTML, so they are
escaped here. It does not run a pricer (pricer.evaluation) or compute metrics (pricer.metrics).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pricer.atomic import atomic_write
from pricer.errors import BadInput
from pricer.metrics import COLOR_LABELS, COLORS

if TYPE_CHECKING:
    from pricer.evaluation import Run


def figure(main: Run, compare: Run | None = None, height: int | None = None) -> Any:
    """Plotly scatter of truth (x) against estimate (y) of `main`, with `compare` overlaid;
    `height` in pixels (None: as tall as its container makes it)."""
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
