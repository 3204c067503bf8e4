"""pricer.chart: the course's scatter of truth against estimate, its overlay, and escaping."""

from __future__ import annotations

from pricer.chart import figure, write_chart
from pricer.evaluation import Run
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
    assert done.metrics.line() in layout.title.text
    assert markers[0].customdata[0][0] == "&lt;b&gt;x&lt;/b&gt;"  # hover text is escaped
    assert "truth" in markers[0].hovertemplate and "error" in markers[0].hovertemplate
    # one run: the title names it, the legend only the colours, beside the plot (not under it)
    assert [t.name for t in markers] == [COLOR_LABELS[c] for c in COLORS]
    assert layout.legend.x > 1


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
    assert {t.marker.symbol for t in markers if t.legendgrouptitle.text == "base"} == {"x"}
    assert {t.marker.symbol for t in markers if t.legendgrouptitle.text == "tuned"} == {"circle"}
    assert fig.layout.title.text.split("<br>") == [tuned.title(), base.title()]
    assert fig.layout.xaxis.range[1] >= 900


def test_the_chart_file_opens_offline_and_fills_the_window(tmp_path):
    done = Run("mine", 1, [Outcome(0, "a", 100.0, 90.0)])
    path = write_chart(figure(done), tmp_path / "charts" / "c.html")
    page = path.read_text(encoding="utf-8")
    assert "<script src=" not in page and "plotly.js v" in page  # plotly.js inlined, nothing fetched
    assert 'class="plotly-graph-div" style="height:100%' in page and "mine Error=$10.00" in page
