"""The leaderboard: every evaluation run made here, kept on disk until cleared, beside the course's
published figures on the same 250 test items.

`record(run)` is called by pricer.evaluation for each finished run, and for a stopped one
(marked partial); a run replayed from the evaluation cache is recorded once, not on every
repeat. Rows live in `cache_dir()/leaderboard.json`, each run's outcomes in
`cache_dir()/leaderboard-runs/<id>.json` (for `load_run`, the scatter overlay); every write is
atomic (a temporary file renamed) under a lock, and only the newest MAX_RUNS runs are kept.
`rows()` lists them with the PUBLISHED reference rows, which are marked `published` and were not
run here. An unwritable cache folder costs only persistence: the rows are kept in memory.

It does not run pricers (pricer.evaluation) or draw anything (pricer.evaluation.chart, ui/).
"""

from __future__ import annotations

import contextlib
import json
import math
import secrets
import threading
import time
import typing
from collections.abc import Iterator, Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

from pricer.errors import BadInput
from pricer.evaluation.runs import Run

MAX_RUNS = 100  # runs kept; the oldest (and their outcome files) go first
VERSION = 1
COURSE_DATA = "the course's 250 test items (ed-donner/pricer-data)"


@dataclass(frozen=True)
class Row:
    """One line of the leaderboard: a run made here, or a figure the course published."""

    label: str
    pricer: str | None
    """The registry name (None for a published baseline that is no pricer here)."""
    estimator: str | None
    data: str
    size: int
    """Items scored (fewer than `total` in a partial run)."""
    total: int
    error: float | None
    """Average absolute error in dollars; None when not known (published figures)."""
    rmsle: float | None
    hits: float | None
    """Share of hits, 0..1."""
    coverage: float | None
    """Share of truths inside the 80% interval, 0..1; None when the pricer gives none."""
    seconds: float | None
    when: str
    """When the run finished (ISO 8601, local time); '' for published figures."""
    id: str
    """The run's id for load_run; '' for published figures."""
    published: bool = False
    """A figure from the course, on the same 250 items, not run here."""
    partial: bool = False
    """A stopped run: `size` of `total` items."""
    key: str = ""
    """The evaluation cache key of the run (what ran, on which data)."""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def line(self) -> str:
        """One line for the CLI: error, RMSLE, hits, coverage, label and what kind of row."""
        def dollars(v: float | None) -> str:
            return "—" if v is None else f"${v:,.2f}"

        def share(v: float | None) -> str:
            return "—" if v is None else f"{v * 100:.1f}%"

        rmsle = "—" if self.rmsle is None else f"{self.rmsle:.2f}"
        kind = ("published" if self.published else
                f"partial {self.size}/{self.total}" if self.partial else f"{self.size} items")
        estimator = f" [{self.estimator}]" if self.estimator else ""
        return (f"{dollars(self.error):>10} {rmsle:>6} {share(self.hits):>6} {share(self.coverage):>6}  "
                f"{self.label}{estimator} ({kind}{', ' + self.when if self.when else ''}{', ' + self.id if self.id else ''})")


def _published(label: str, pricer: str | None, error: float, estimator: str | None = None,
               hits: float | None = None) -> Row:
    return Row(label, pricer, estimator, COURSE_DATA, 250, 250, error, None, hits, None, None, "", "", published=True)


PUBLISHED: tuple[Row, ...] = (
    _published("Constant (the training average), course", None, 145.51),
    _published("Human, course", None, 126.55),
    _published("Random forest on 400,000 items, course", None, 97.11),
    _published("GPT-4o-mini, course", "frontier", 79.58),
    _published("GPT-4o, course", "frontier", 75.92),
    _published("Fine-tuned GPT-4o-mini, course", "frontier", 91.45),
    _published("Base Llama 3.1 8B (4-bit), course", "base", 395.72),
    _published("Fine-tuned Llama 3.1 8B (4-bit), top-3 weighted, course", "fine-tuned", 46.66, "topk", 0.708),
    _published("RAG with GPT-4o-mini, course", "rag", 55.55),
    _published("Ensemble, course", "ensemble", 52.86),
)
"""The course's figures on its 250 test items (average error; hits where it gave them)."""


# --- storage -------------------------------------------------------------------------------------


def _folder() -> Path:
    from pricer.config import cache_dir

    return cache_dir()


def _board_file() -> Path:
    return _folder() / "leaderboard.json"


def _run_file(run_id: str) -> Path:
    return _folder() / "leaderboard-runs" / f"{run_id}.json"


_lock = threading.Lock()
_unsaved: list[Row] = []  # rows of this process that could not be written (read-only cache folder)
_memory_runs: dict[str, dict[str, Any]] = {}  # and their outcomes


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """This process's lock, and a file lock against other processes where the system has one."""
    with _lock:
        handle = None
        try:
            folder = _folder()
            folder.mkdir(parents=True, exist_ok=True)
            handle = (folder / "leaderboard.lock").open("a")
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        except (OSError, ImportError):
            pass  # no lock file (read-only folder, or no fcntl): this process's lock still holds
        try:
            yield
        finally:
            if handle is not None:
                handle.close()


MAX_BOARD_BYTES = 20 * 2 ** 20  # MAX_RUNS rows take ~100 KB: a file this big is not a leaderboard
def _kinds(hint: Any) -> tuple[type, ...]:
    """The types a stored field may hold, from Row's annotation (an int is a float too)."""
    kinds = typing.get_args(hint) or (hint,)
    return kinds + ((int,) if float in kinds else ())


_ROW_TYPES = {name: _kinds(hint) for name, hint in typing.get_type_hints(Row).items()}
_REQUIRED = tuple(f.name for f in fields(Row) if f.default is MISSING)  # what Row(...) cannot do without
_notes: list[str] = []  # what this process found damaged and set aside, or could not save: take_notes()


def _row(data: Any) -> Row | None:
    """A stored row, or None when it is not one (a wrong type, a missing field, a bad id)."""
    if not isinstance(data, dict) or any(k not in data for k in _REQUIRED):
        return None
    for name, kinds in _ROW_TYPES.items():
        value = data.get(name)
        if name in data and (not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)):
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return None
    if not (data["id"].isalnum() and len(data["id"]) <= 64):
        return None
    return Row.from_json(data)


def _set_aside(content: str, why: str) -> None:
    """Keep damaged board content in a file of its own, and say so (take_notes); raises OSError
    when it cannot be written (then the board file is not rewritten either)."""
    path = _folder() / f"leaderboard-damaged-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}.json"
    from pricer.atomic import atomic_write

    with atomic_write(path) as f:
        f.write(content)
    _notes.append(f"{why}: set aside in {path.name} (in the cache folder); the other runs are kept.")


def _read() -> tuple[list[Row], bool]:
    """The rows of the board file, read row by row, and whether the file may be written over.

    A damaged row, or a file that cannot be parsed, is set aside in a file of its own (said by
    take_notes()) and the good rows kept, so the next write loses nothing. When that cannot be
    done, or the file cannot be read at all, the good rows are still given, with False: the file
    holds what they do not, and must not be replaced by them. No file: no rows, True.
    """
    path = _board_file()
    try:
        if path.stat().st_size > MAX_BOARD_BYTES:
            raise ValueError(f"larger than {MAX_BOARD_BYTES // 2 ** 20} MB")
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return [], True
    except (OSError, ValueError) as exc:
        _notes.append(f"The leaderboard file {path.name} cannot be read ({exc}): its runs are not shown, and it is "
                      "left as it is.")
        return [], False
    try:
        data = json.loads(text)
        stored = data.get("runs") if isinstance(data, dict) else None
        if not isinstance(stored, list):
            raise ValueError("it holds no list of runs")
    except (ValueError, RecursionError) as exc:
        why = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:80]
        return [], _put_aside(text, f"The leaderboard file could not be read ({why})", path)
    rows = [_row(r) for r in stored]
    damaged = [r for r, row in zip(stored, rows, strict=True) if row is None]
    good = [row for row in rows if row is not None]
    if not damaged:
        return good, True
    kept = _put_aside(json.dumps({"version": VERSION, "runs": damaged}, ensure_ascii=False),
                      f"{len(damaged)} damaged row{'s' if len(damaged) > 1 else ''} of the leaderboard", None)
    if kept:
        try:
            _write_atomic(path, {"version": VERSION, "runs": [r.to_json() for r in good]})
        except OSError:
            return good, False
    return good, kept


def _put_aside(content: str, why: str, remove: Path | None) -> bool:
    """_set_aside, then remove `remove`; False (and said) when the content could not be kept."""
    try:
        _set_aside(content, why)
        if remove is not None:
            remove.unlink(missing_ok=True)
        return True
    except OSError as exc:
        _notes.append(f"{why}, and could not be set aside ({exc.strerror or exc}): the file is left as it is.")
        return False


def take_notes() -> str:
    """What went wrong with the leaderboard's file since last asked ('' when nothing did): damage
    found and where it was set aside, a run that could not be saved. Said once."""
    with _lock:
        said = " ".join(dict.fromkeys(_notes))
        _notes.clear()
    return said


def _write_atomic(path: Path, data: Any) -> None:
    from pricer.atomic import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        json.dump(data, f, ensure_ascii=False)


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


# --- the public functions ---------------------------------------------------------------------------


def record(run: Run, *, key: str = "") -> Row:
    """Add `run` to the leaderboard (partial when not done) and keep its outcomes for load_run.
    A cached replay of a run already listed under the same `key` returns that row instead."""
    m = run.metrics
    with _locked():
        rows, readable = _read()  # a file holding runs these rows do not is never written over
        if run.cached and key:
            for row in [*rows, *_unsaved]:
                if row.key == key and not row.partial:
                    return row
        row = Row(run.label, run.pricer or None, run.estimator, run.data, len(run.outcomes), run.total,
                  _finite(m.average_error), _finite(m.rmsle), _finite(m.hits), _finite(m.coverage),
                  round(run.seconds, 3), time.strftime("%Y-%m-%d %H:%M:%S"), f"{time.time_ns():x}{secrets.token_hex(3)}",
                  partial=not run.done, key=key, note=run.note)
        try:
            if not readable:
                raise OSError("the leaderboard file holds runs that could not be read or set aside")
            _write_atomic(_run_file(row.id), run.to_json())
            rows.append(row)
            dropped, rows = rows[:-MAX_RUNS], rows[-MAX_RUNS:]
            _write_atomic(_board_file(), {"version": VERSION, "runs": [r.to_json() for r in rows]})
            for old in dropped:
                _run_file(old.id).unlink(missing_ok=True)
        except OSError as exc:
            _unsaved.append(row)
            del _unsaved[:-MAX_RUNS]
            _memory_runs[row.id] = run.to_json()
            _notes.append(f"A run could not be saved to the leaderboard in {_folder()} ({exc.strerror or exc}): "
                          "it is kept until this process ends.")
    return row


def runs() -> list[Row]:
    """The runs made here, oldest first (those this process could not write included); damage
    found on the way is set aside and said by take_notes()."""
    with _locked():
        return [*_read()[0], *_unsaved]


def rows(published: bool = True, made: Sequence[Row] | None = None) -> list[Row]:
    """The leaderboard: runs made here (`made`, as runs() gave them, else read now) and (unless
    `published` is False) the course's published figures, best average error first (rows
    without one last)."""
    listed = [*(runs() if made is None else made), *(PUBLISHED if published else ())]
    return sorted(listed, key=lambda r: (r.error is None, r.error if r.error is not None else 0.0))


def load_run(run_id: str) -> Run:
    """The outcomes of a recorded run, to draw it again (e.g. overlaid on another)."""

    run_id = (run_id or "").strip()
    if not run_id.isalnum() or len(run_id) > 64:
        raise BadInput(f"{run_id[:70]!r} is not a run id from the leaderboard.")
    data = _memory_runs.get(run_id)
    if data is None:
        try:
            data = json.loads(_run_file(run_id).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BadInput(f"No run {run_id} on the leaderboard (it was cleared, or dropped as one of the "
                           f"oldest beyond {MAX_RUNS}).") from exc
    try:
        found = Run.from_json(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadInput(f"The stored run {run_id} is damaged: run it again.") from exc
    found.id = run_id
    return found


def clear() -> int:
    """Forget every run made here (the published rows stay); return how many were removed."""
    with _locked():
        listed = _read()[0] + _unsaved
        for path in [_run_file(row.id) for row in listed] + [_board_file()]:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        _unsaved.clear()
        _memory_runs.clear()
        _notes.clear()
    return len(listed)
