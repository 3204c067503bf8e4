"""Writing user files so that nothing is lost: whole or not at all, through symlinks, never into
a FIFO or a device, and CSV cells a spreadsheet would run as formulas neutralised.

Every file the pipeline writes for a user (curated items, train/test Parquet, fine-tuning JSONL,
result CSVs) goes through here:

- `writable_file(path, option)`: checked before the work, so an unwritable output is said at
  once, not after minutes of work.
- `atomic_write(path)`: a temporary file in the target's own folder, flushed to disk, then
  `os.replace`d onto the target; a failure or an interrupt leaves the old file as it was and no
  temporary file behind. A symlink is written through to its target (the link stays a link).
- `staged_files(folder, names)`: several files that belong together (train + test) written into
  a temporary folder beside them and moved in only when all of them are complete.
- `scratch_folder(parent)`: a run's intermediate files, in a folder that a later run removes
  if this one was killed before it could clean up.
- `spreadsheet_safe(cell)` / `csv_writer(f)`: a text cell starting with `=`, `+`, `-`, `@`, tab
  or carriage return gets a leading `'` (OWASP's advice against CSV injection); numbers, and
  text that reads as a plain number, are left as they are.

    >>> [spreadsheet_safe(c) for c in ["=1+1", "-5", -5, "@SUM(A1)", "Mug"]]
    ["'=1+1", '-5', -5, "'@SUM(A1)", 'Mug']

It decides nothing about what is written (the modules that own each file do) and never prints.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import os
import re
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from pricer.errors import BadInput

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP: CSV injection
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
STAGING_PREFIX = ".pricer-staging-"
STAGING = re.compile(re.escape(STAGING_PREFIX) + r"([0-9]{1,10})(?:-.*)?", re.DOTALL)  # scratch_folder's: <prefix><pid>-*


# --- where a write lands ------------------------------------------------------------------------


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def target_of(path: str | os.PathLike) -> Path:
    """The file a write to `path` should replace: `path` itself, or the file its symlink(s) point
    to. A BadInput when that is a folder, a FIFO, a device or a socket.

    A dangling symlink resolves to the file it names, which the write then creates.
    """
    path = Path(path).expanduser()
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = target.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # not there yet: writable_folder says if it can be
        return target
    except OSError as exc:
        raise BadInput(f"Cannot use {path}: {exc.strerror or exc}. Choose another output file.") from None
    if stat.S_ISDIR(mode):
        raise BadInput(f"{path} is a folder: give the output file, e.g. {path / 'items.jsonl'}.")
    if not stat.S_ISREG(mode):
        shown = f"{path} (-> {target})" if target != path else str(path)
        raise BadInput(f"{shown} is {_kind(mode)}, not a regular file: pricer writes a whole file and "
                       "renames it into place. Choose a regular file as the output.")
    return target


def writable_folder(folder: str | os.PathLike, fix: str = "Choose another --out.") -> Path:
    """`folder`, created when missing, after a real test write (os.access says yes to root on
    /proc); a BadInput saying what to do (`fix`) otherwise. Check before minutes of work, not after."""
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"Cannot create the folder {folder}: {exc.strerror or exc}. {fix}") from None
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise BadInput(f"Cannot write to {folder}: {exc.strerror or exc}. {fix}") from None
    return folder


def writable_file(out: str | os.PathLike, option: str = "--out") -> Path:
    """`out` checked before any work: a regular file (or none yet, or a symlink to one) in a
    folder that can be written; the BadInput names `option`. Returns `out` as a Path (not its
    symlink's target). Call it first for every file a run writes at its end (--out, --chart)."""
    path = Path(out).expanduser()
    writable_folder(target_of(path).parent, fix=f"Choose another {option}.")
    return path


# --- writing ------------------------------------------------------------------------------------


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _settle(tmp: Path, target: Path) -> None:
    """Give `tmp` the permissions the target has (or a new file would get), and put it on disk."""
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    os.chmod(tmp, mode)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems cannot fsync a folder; the rename stands
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _replace(source: Path, target: Path) -> None:
    """Move a complete file onto `target` in one step (through a copy when on another disk)."""
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        with atomic_write(target, "wb") as out, open(source, "rb") as f:
            shutil.copyfileobj(f, out)
        source.unlink()
    _sync_folder(target.parent)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", *, encoding: str | None = "utf-8",
                 newline: str | None = None) -> Iterator[IO[Any]]:
    """A file object that replaces `path` (or its symlink's target) only when the block ends
    without an error; otherwise the old file stays and the temporary one is removed.

    `mode` is "w" (text) or "wb". OSError from the disk is left to the caller, who knows which
    option to name in the message.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes whole files ('w' or 'wb'), not {mode!r}")
    target = target_of(path)
    _sweep_once(target.parent)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".part", dir=target.parent)
    tmp = Path(name)
    try:
        with open(fd, mode, encoding=None if "b" in mode else encoding,
                  newline=None if "b" in mode else newline) as f:
            yield f
        _settle(tmp, target)
        _replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


LEFT_PART = re.compile(r"\..+\.([0-9]{1,10})-[a-z0-9_]{8}\.part")  # atomic_write's: .<name>.<pid>-<mkstemp's 8>.part
_swept: set[Path] = set()
_swept_lock = threading.Lock()


def _sweep_once(folder: Path) -> None:
    """sweep_stale for atomic_write's parts, once per folder and process: a folder of many files
    is listed once, not per write."""
    with _swept_lock:
        if folder in _swept:
            return
        _swept.add(folder)
    sweep_stale(folder, LEFT_PART)


@contextlib.contextmanager
def staged_files(folder: str | os.PathLike, names: Sequence[str]) -> Iterator[Path]:
    """A temporary folder inside `folder` to write the files `names` into; when the block ends
    without an error each one written there replaces its namesake in `folder`, and each one not
    written is removed from `folder`, so the set is always one run's. On an error `folder` is
    left as it was. Nothing temporary stays behind either way.

    The files are moved in one after the other as the last step, each in one rename, once all
    are complete: a reader never sees a half-written file.
    """
    folder = writable_folder(folder)
    targets = {name: target_of(folder / name) for name in names}  # a FIFO is refused before any work
    staging = scratch_folder(folder)
    try:
        yield staging
        for name in names:
            if (staging / name).exists():
                _settle(staging / name, targets[name])
        for name in names:
            if (staging / name).exists():
                _replace(staging / name, targets[name])
            elif targets[name].exists():
                targets[name].unlink()
        _sync_folder(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def scratch_folder(parent: Path) -> Path:
    """A new temporary folder in `parent` for one run's intermediate files, named so that
    `sweep_stale` removes it once this process is gone; earlier runs' leftovers are swept now."""
    parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(parent)
    return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=parent))


def sweep_stale(folder: Path, pattern: re.Pattern[str] = STAGING) -> None:
    """Remove the entries of `folder` whose whole name matches `pattern` (its group 1 a pid) left
    by a process that no longer runs (one killed mid-write runs no clean-up of its own):
    scratch_folder's `<STAGING_PREFIX><pid>-*` folders, atomic_write's parts."""
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            if not (found := pattern.fullmatch(entry.name)) or _alive(int(found[1])):
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


# --- CSV ----------------------------------------------------------------------------------------


def spreadsheet_safe(cell: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, with a leading `'`; anything else as is
    (numbers are numbers, and '-5' or '+1.5e3' read as numbers, not formulas)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


class _SafeWriter:
    """csv.writer whose rows go through spreadsheet_safe."""

    def __init__(self, f: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(f, **kwargs)

    def writerow(self, row: Sequence[Any]) -> Any:
        return self._writer.writerow([spreadsheet_safe(c) for c in row])

    def writerows(self, rows: Any) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(f: IO[str], **kwargs: Any) -> _SafeWriter:
    """A csv.writer (same arguments) that neutralises formula-like text cells."""
    return _SafeWriter(f, **kwargs)
