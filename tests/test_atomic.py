"""pricer.atomic: whole files or none, written through symlinks, never into a FIFO or a device,
sets of files swapped in together, and CSV cells a spreadsheet would run as formulas neutralised."""

from __future__ import annotations

import csv
import io
import os
import stat
import subprocess
import sys

import pytest

from pricer.atomic import atomic_write, csv_writer, spreadsheet_safe, staged_files, target_of, writable_file
from pricer.errors import BadInput


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_write_replaces_the_whole_file(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")
    with atomic_write(path) as f:
        f.write("new\n")
        assert path.read_text() == "old\n"  # nothing shows until the write is complete
    assert path.read_text() == "new\n" and leftovers(tmp_path) == []


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")
    with pytest.raises(KeyboardInterrupt), atomic_write(path) as f:
        f.write("half of the new")
        raise KeyboardInterrupt
    assert path.read_text() == "old\n" and leftovers(tmp_path) == []


def test_a_write_goes_through_a_symlink_to_its_target(tmp_path):
    real = tmp_path / "data" / "items.jsonl"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "items.jsonl"
    link.symlink_to(real)
    with atomic_write(link) as f:
        f.write("new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    dangling = tmp_path / "later.jsonl"
    dangling.symlink_to(tmp_path / "data" / "created.jsonl")
    with atomic_write(dangling, "wb") as f:
        f.write(b"x")
    assert dangling.is_symlink() and (tmp_path / "data" / "created.jsonl").read_bytes() == b"x"


def test_permissions_of_the_replaced_file_are_kept(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old")
    path.chmod(0o640)
    with atomic_write(path) as f:
        f.write("new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    with atomic_write(tmp_path / "fresh.csv") as f:  # a new file gets the usual mode, not mkstemp's 0600
        f.write("x")
    assert stat.S_IMODE((tmp_path / "fresh.csv").stat().st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_fifos_devices_and_folders_are_refused_with_a_clear_message(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(BadInput, match="is a FIFO .named pipe., not a regular file"):
        target_of(fifo)
    link = tmp_path / "null-link"
    link.symlink_to("/dev/null")
    with pytest.raises(BadInput, match="-> /dev/null. is a device, not a regular file"):
        writable_file(link)
    with pytest.raises(BadInput, match="is a device"), atomic_write("/dev/null") as f:
        f.write("x")
    with pytest.raises(BadInput, match="is a folder: give the output file"):
        writable_file(tmp_path)
    assert stat.S_ISFIFO(fifo.stat().st_mode) and leftovers(tmp_path) == []


def test_staged_files_move_in_together_and_a_file_not_written_is_removed(tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "train.parquet").write_text("old train")
    (out / "validation.jsonl").write_text("old validation")
    (out / "mine.txt").write_text("not ours")
    with staged_files(out, ["train.parquet", "validation.jsonl"]) as staging:
        (staging / "train.parquet").write_text("new train")
        assert (out / "train.parquet").read_text() == "old train"
    assert (out / "train.parquet").read_text() == "new train"
    assert not (out / "validation.jsonl").exists()  # not written this time: no stale file beside the new one
    assert (out / "mine.txt").read_text() == "not ours" and leftovers(out) == []


def test_a_failed_staged_write_leaves_the_folder_as_it_was(tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "train.parquet").write_text("old train")
    (out / "test.parquet").write_text("old test")
    with pytest.raises(OSError), staged_files(out, ["train.parquet", "test.parquet"]) as staging:
        (staging / "train.parquet").write_text("new train")
        (staging / "test.parquet").write_text("half")
        raise OSError(28, "No space left on device")
    assert (out / "train.parquet").read_text() == "old train" and (out / "test.parquet").read_text() == "old test"
    assert leftovers(out) == []


def test_staging_left_by_a_killed_process_is_swept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stale = tmp_path / f".pricer-staging-{dead}-abc"
    stale.mkdir()
    (stale / "train.parquet").write_bytes(b"\0" * 1000)
    with staged_files(tmp_path, ["a.txt"]) as staging:
        (staging / "a.txt").write_text("a")
    assert leftovers(tmp_path) == []


def test_a_part_file_left_by_a_killed_writer_is_removed_by_the_next_write_and_nothing_else(tmp_path):
    """A writer killed mid-write (SIGKILL runs no clean-up) leaves .<name>.<pid>-*.part; the next
    atomic_write into that folder removes it, and keeps a live writer's part and anyone else's file."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stale = tmp_path / f".leaderboard.json.{dead}-lhnlgbrl.part"
    stale.write_bytes(b"{" * 44_000)
    live = tmp_path / f".leaderboard.json.{os.getpid()}-abcdefgh.part"  # another thread writing now
    live.write_text("{")
    theirs = [tmp_path / ".notes.12.part", tmp_path / f".x.{dead}-short.part", tmp_path / f"y.{dead}-abcdefgh.part"]
    for path in theirs:
        path.write_text("keep")
    with atomic_write(tmp_path / "leaderboard.json") as f:
        f.write("{}")
    assert not stale.exists() and live.exists() and all(p.read_text() == "keep" for p in theirs)
    assert (tmp_path / "leaderboard.json").read_text() == "{}"


@pytest.mark.parametrize("cell, safe", [
    ("=HYPERLINK(\"http://x\",\"click\")", "'=HYPERLINK(\"http://x\",\"click\")"),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("-5", "-5"), ("+1.5e3", "+1.5e3"), ("-.5", "-.5"),  # text that reads as a number is a number
    (-5, -5), (-2.5, -2.5), (0, 0), (None, None), (True, True),
    ("Mug = 3 dollars", "Mug = 3 dollars"), ("", ""), ("'=already", "'=already"),
])
def test_formula_cells_are_neutralised_and_numbers_are_not(cell, safe):
    assert spreadsheet_safe(cell) == safe


def test_the_csv_writer_neutralises_text_cells_only():
    f = io.StringIO()
    writer = csv_writer(f)
    writer.writerow(["title", "truth", "guess"])
    writer.writerows([["=1+1", -5.0, -3], ["Acme -40 dB mic", 12.5, "-7"]])
    assert list(csv.reader(io.StringIO(f.getvalue()))) == [
        ["title", "truth", "guess"], ["'=1+1", "-5.0", "-3"], ["Acme -40 dB mic", "12.5", "-7"]]


def test_the_evaluation_csv_neutralises_formula_titles(tmp_path):
    from pricer.evaluation import Outcome, Run

    run = Run("test", 2, [Outcome(0, "=HYPERLINK(\"http://evil\",\"x\")", 10.0, 5.0, True),
                          Outcome(1, "@cmd", 20.0, 21.0, True)], 1.0)
    with run.write_csv(tmp_path / "results.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[1][1] == "'=HYPERLINK(\"http://evil\",\"x\")" and rows[2][1] == "'@cmd"
    assert rows[1][2:4] == ["10.0", "5.0"]  # numbers stay numbers
