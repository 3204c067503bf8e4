"""Every file a run writes for its user: checked before the run (an unwritable --out or --chart
is said at once, not after it), and written whole or not at all (an old file survives a write
that fails half-way). Text read as bytes (standard input) must be UTF-8, or it is said where not."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pricer.atomic import writable_file
from pricer.data.readers import utf8_text
from pricer.errors import BadInput

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("option", ["--out", "--chart"])
def test_an_output_that_cannot_be_written_is_named_by_its_option_before_any_work(tmp_path, option):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(BadInput, match=f"Choose another {option}"):
        writable_file(blocker / "results.csv", option)
    with pytest.raises(BadInput, match="is a folder"):
        writable_file(tmp_path, option)
    assert writable_file(tmp_path / "new" / "results.csv", option) == tmp_path / "new" / "results.csv"


# A write that fails half-way, for real: the process may not grow a file past LIMIT bytes (the
# kernel's RLIMIT_FSIZE), so the 15 kB CSV and the 4 MB chart fail part-way through, as on a full disk.
HALF_WAY = """
import resource, signal, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from pricer.evaluation.chart import figure, write_chart
from pricer.data.datasets import TestItem
from pricer.errors import BadInput
from pricer.evaluation import Run
from pricer.metrics import outcome

items = [TestItem(i, "...Price is $", 10.0 + i, f"A product title long enough to fill the row {{i:04d}}") for i in range(250)]
run = Run("half-way", 250, [outcome(item, 20.0) for item in items])
fig = figure(run)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    {call}
except BadInput as exc:
    print("BadInput:", exc)
"""


@pytest.mark.parametrize("name, call", [
    ("results.csv", "run.write_csv(Path(sys.argv[1]))"),
    ("chart.html", "write_chart(fig, Path(sys.argv[1]))"),
])
def test_a_write_that_fails_half_way_leaves_the_old_file_and_no_temporary_one(tmp_path, name, call):
    target = tmp_path / name
    target.write_text("the previous run's file\n")
    script = HALF_WAY.format(root=str(ROOT), call=call)
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(target)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "BadInput: Could not write" in result.stdout and "File too large" in result.stdout
    assert target.read_text() == "the previous run's file\n"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_a_complete_write_replaces_the_old_file(tmp_path):
    from pricer.data.datasets import TestItem
    from pricer.evaluation import Run
    from pricer.evaluation.chart import figure, write_chart
    from pricer.metrics import outcome

    run = Run("whole", 2, [outcome(TestItem(i, "...Price is $", 10.0, f"=HYPERLINK(t{i})"), 12.0) for i in range(2)])
    (tmp_path / "r.csv").write_text("old")
    (tmp_path / "c.html").write_text("old")
    run.write_csv(tmp_path / "r.csv")
    write_chart(figure(run), tmp_path / "c.html")
    assert (tmp_path / "r.csv").read_text().splitlines()[1].startswith("0,'=HYPERLINK(t0)")
    assert (tmp_path / "c.html").read_text().rstrip().endswith("</html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.html", "r.csv"]


def test_bytes_that_are_not_utf8_are_named_not_a_traceback():
    with pytest.raises(BadInput, match=r"standard input is not UTF-8 text \(byte 6 is 0xff\)"):
        utf8_text(b"price \xff\xfe", "standard input")
    assert utf8_text("\ufeffMug €9".encode(), "standard input") == "Mug €9"
