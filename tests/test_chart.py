"""pricer.evaluation.chart: the course's scatter of truth against estimate, its overlay, its axes (linear or
log, outliers drawn at the edge), and escaping."""

from __future__ import annotations

import math

import pytest

from pricer.evaluation import Run
from pricer.evaluation.chart import axis_range, figure, write_chart
from pricer.metrics import COLOR_LABELS, COLORS, Outcome


def test_chart_has_a_trace_per_colour_the_diagonal_and_equal_axes_from_zero():
    done = Run("mine", 3, [Outcome(0, "<b>x</b>", 100.0, 110.0), Outcome(1, "b", 200.0, 150.0),
                           Outcome(2, "c", 300.0, 10.0)])
    fig = figure(done)
    markers = [t for t in fig.data if t.mode == "markers"]
    assert [t.marker.color for t in markers] == ["green", "orange", "red"]
    assert [list(t.x) for t in markers] == [[100.0], [200.0], [300.0]]
    assert [list(t.y) for t in markers] == [[110.0], [150.0], [10.0]]
    line = next(t for t in fig.data if t.mode == "lines")
    assert list(line.x) == list(line.y) and line.x[0] == 0 and line.x[1] >= 300
    layout = fig.layout
    assert layout.height is None and figure(done, height=480).layout.height == 480  # None: its container's
    assert layout.xaxis.range == layout.yaxis.range == (0, line.x[1])
    assert layout.yaxis.scaleanchor == "x"
    assert layout.xaxis.constrain == layout.yaxis.constrain == "domain"  # neither range may grow below 0
    assert layout.title.text.split("<br>") == ["mine", done.metrics.line()]  # two short lines fit a phone
    assert markers[0].customdata[0][0] == "&lt;b&gt;x&lt;/b&gt;"  # hover text is escaped
    assert "truth" in markers[0].hovertemplate and "error" in markers[0].hovertemplate
    # one run: the title names it, the legend only the colours, across under the plot (so on a
    # phone the plot keeps the whole width); nothing is beyond the axes, so no note says so
    assert [t.name for t in markers] == [COLOR_LABELS[c] for c in COLORS]
    assert layout.legend.orientation == "h" and layout.legend.y < 0
    assert not layout.annotations


def test_chart_escapes_a_file_name_in_its_title_and_legend():
    done = Run('<a href="x">g</a>.csv', 1, [Outcome(0, "a", 100.0, 100.0)])
    fig = figure(done)
    assert "<a" not in fig.layout.title.text and "&lt;a href" in fig.layout.title.text
    assert all("<a" not in t.name for t in fig.data)
    overlaid = figure(done, Run("base", 1, [Outcome(0, "a", 100.0, 90.0)]))
    assert "&lt;a href" in overlaid.data[3].legendgrouptitle.text  # its legend group is titled, escaped


def test_chart_overlays_a_second_run_with_its_own_symbol_and_title_line():
    base = Run("base", 1, [Outcome(0, "a", 100.0, 900.0)])
    tuned = Run("tuned", 1, [Outcome(0, "a", 100.0, 95.0)])
    fig = figure(tuned, base)
    markers = [t for t in fig.data if t.mode == "markers"]
    assert len(markers) == 6
    assert {t.marker.symbol for t in markers if t.legendgrouptitle.text == "base" and not len(t.x)} == {"x"}
    assert {t.marker.symbol for t in markers if t.legendgrouptitle.text == "tuned"} == {"circle"}
    assert fig.layout.title.text.split("<br>") == ["tuned", tuned.metrics.line(), "base", base.metrics.line()]
    # the base run's 900 for a $100 item is beyond twice the largest truth: drawn at the top
    # edge as an open triangle, its real value in the hover data
    top = fig.layout.yaxis.range[1]
    assert top < 900
    (wild,) = [t for t in markers if t.legendgrouptitle.text == "base" and len(t.y)]
    assert list(wild.y) == [top] and wild.marker.symbol == "triangle-up-open" and wild.customdata[0][4] == 900.0


def _spread(n: int = 50) -> list[Outcome]:
    """n items priced within 10% of truths from $20 to $1,000."""
    return [Outcome(i, f"item {i}", 20.0 + i * 980 / (n - 1), (20.0 + i * 980 / (n - 1)) * 1.1) for i in range(n)]


def test_one_wild_guess_does_not_squash_the_chart_it_is_drawn_at_the_edge_with_its_value():
    outcomes = _spread() + [Outcome(50, "wild", 100.0, 1e6), Outcome(51, "negative", 100.0, -50.0)]
    fig = figure(Run("mine", 52, outcomes))
    low, high = fig.layout.xaxis.range
    assert low == 0 and 1_100 <= high < 1_200  # from the truths and the sane guesses, not from 1e6
    assert fig.layout.yaxis.range == fig.layout.xaxis.range
    points = {d[0]: (x, y, s) for t in fig.data if t.mode == "markers"
              for x, y, d, s in zip(t.x, t.y, t.customdata, _symbols(t), strict=True)}
    assert points["wild"] == (100.0, high, "triangle-up") and points["negative"] == (100.0, 0, "triangle-down")
    assert points["item 0"][2] == "circle"
    wild = next(d for t in fig.data if t.mode == "markers" for d in t.customdata if d[0] == "wild")
    assert wild[4] == 1e6 and "drawn at its top" in wild[5]  # the hover shows the real guess
    hover = next(t for t in fig.data if t.mode == "markers").hovertemplate
    assert "customdata[4]" in hover and "%{y" not in hover
    assert "2 beyond the axes" in fig.layout.annotations[0].text


def _symbols(trace) -> list[str]:
    s = trace.marker.symbol
    return list(s) if isinstance(s, (list, tuple)) else [s] * len(trace.x)


def test_log_axes_start_below_the_smallest_price_and_put_zero_guesses_at_the_bottom_edge():
    outcomes = _spread() + [Outcome(50, "none", 300.0, 0.0, parsed=False)]
    fig = figure(Run("mine", 51, outcomes), log=True)
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "log"
    low, high = (10 ** v for v in fig.layout.xaxis.range)  # Plotly takes log axes' range in log10
    assert 10 < low < 20 and 1_100 <= high < 1_200
    (unparsed,) = [(x, y, s) for t in fig.data if t.mode == "markers"
                   for x, y, d, s in zip(t.x, t.y, t.customdata, _symbols(t), strict=True) if d[0] == "none"]
    assert unparsed[1] == pytest.approx(low) and unparsed[2] == "triangle-down"
    line = next(t for t in fig.data if t.mode == "lines")
    assert list(line.x) == list(line.y) == pytest.approx([low, high])  # y = x across the log axes


@pytest.mark.parametrize(("truths", "guesses", "log", "expected"), [
    ([100.0], [100.0], False, (0.0, 105.0)),
    ([100.0, 300.0], [590.0], False, (0.0, 590.0 * 1.05)),  # under twice the largest truth: shown
    ([100.0, 300.0], [610.0], False, (0.0, 315.0)),         # over it: at the edge
    ([], [], False, (0.0, 1.05)),
    ([0.0], [5.0], False, (0.0, 5.25)),                     # no positive truth: everything shown
    ([1.75e308, 5.0], [5.0], False, (0.0, 1.75e308)),           # never an infinite axis
])
def test_the_axis_range(truths, guesses, log, expected):
    assert axis_range(truths, guesses, log) == pytest.approx(expected)
    low, high = axis_range(truths, guesses, True)
    assert 0 < low < high and math.isfinite(high)


def test_the_chart_file_opens_offline_and_fills_the_window(tmp_path):
    done = Run("mine", 1, [Outcome(0, "a", 100.0, 90.0)])
    path = write_chart(figure(done), tmp_path / "charts" / "c.html")
    page = path.read_text(encoding="utf-8")
    assert "<script src=" not in page and "plotly.js v" in page  # plotly.js inlined, nothing fetched
    assert 'class="plotly-graph-div" style="height:100%' in page and "mine\\u003cbr\\u003eError=$10.00" in page
