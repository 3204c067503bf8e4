"""The leaderboard: the course's published figures on its 250 test items, the shared runs (the
operator's, and those visitors chose to share), and each web visitor's own runs, theirs alone.

Who sees what, on a public Space as on a laptop:
- `record(run)` is the operator's (the CLI: `python -m pricer evaluate`, `score`): the run goes on
  the shared board, which every visitor sees. pricer.evaluation calls it for each finished run
  and for a stopped one (marked partial); a run replayed from the evaluation cache is recorded
  once, not on every repeat.
- `record(run, visitor=True)` is the web app's (the page and its API): the row gets an id and
  nothing is written. A page keeps its runs in a `Visits` (in its gr.State, one per session: the
  session, not anything a caller sends, says whose a run is), at most MAX_VISITS, seen by that
  visitor alone and marked as theirs. `Visits.publish` puts one on the shared board when they ask:
  once per run, an upload's file name removed, at most PUBLISH_RATE shares per PUBLISH_WINDOW from
  all visitors, the oldest shared rows dropped beyond MAX_PUBLISHED (never an operator's run).
- A data column names a hub id, or a local file by its name alone, never where it sits on a disk
  (`data_label`); an upload is `upload: NAME` to its uploader, `an uploaded file` once shared.

Shared rows live in `cache_dir()/leaderboard.json`, each run's outcomes in
`cache_dir()/leaderboard-runs/<id>.json` (for `load_run`, the scatter overlay); every write is
atomic (a temporary file renamed) under a lock; the newest MAX_RUNS operator runs are kept. A
damaged row is set aside in a file of its own and said (take_notes), never written over. `rows()`
lists them with the PUBLISHED rows, each with the course notebook it was read from. An
unwritable cache folder costs only persistence: the rows are kept in memory.

It does not run pricers (pricer.evaluation) or draw anything (pricer.evaluation.chart, ui/).

Longer than 450 lines: the shared board's file (read row by row, damage set aside), the course's
figures with their sources, and a visitor's own runs with sharing are one store's rules, under
one lock; apart, each would reach into the others' file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import threading
import time
import typing
from collections.abc import Iterator, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pricer import hub
from pricer.errors import BadInput
from pricer.evaluation.runs import Run

MAX_RUNS = 100  # operator runs kept; the oldest (and their outcome files) go first
MAX_PUBLISHED = 30  # visitors' shared runs kept beside them; the oldest shared go first
MAX_VISITS = 20  # runs one page's session keeps
PUBLISH_RATE, PUBLISH_WINDOW = 20, 600.0  # shares from all visitors per 10 minutes
UPLOAD, SHARED_UPLOAD = "upload: ", "an uploaded file"
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
    """A hub id, or a local file's name (data_label); never a path."""
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
    source: str = ""
    """The course notebook a published figure was read from ('' for a run)."""
    visitor: bool = False
    """A web visitor's run that they shared (Visits.publish)."""

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
        kind = (f"published, {self.source}" if self.published else
                f"partial {self.size}/{self.total}" if self.partial else f"{self.size} items")
        estimator = f" [{self.estimator}]" if self.estimator else ""
        return (f"{dollars(self.error):>10} {rmsle:>6} {share(self.hits):>6} {share(self.coverage):>6}  "
                f"{self.label}{estimator} ({kind}{', ' + self.when if self.when else ''}{', ' + self.id if self.id else ''})")


def _published(label: str, pricer: str | None, error: float, rmsle: float | None, hits: float | None,
               source: str, estimator: str | None = None) -> Row:
    return Row(label, pricer, estimator, COURSE_DATA, 250, 250, error, rmsle, hits, None, None, "", "",
               published=True, source=source)


WEEK6, FRONTIER, TUNED = "week6/day3.ipynb", "week6/day4-results.ipynb", "week6/day5-results.ipynb"
COLAB = " (its Colab notebook; the output is not in the repo)"
PUBLISHED: tuple[Row, ...] = (
    _published("Random guess, course", None, 340.74, 1.72, 0.116, WEEK6),
    _published("Constant (the training average), course", None, 145.51, 1.22, 0.168, WEEK6),
    _published("Linear regression on 4 features, course", None, 139.34, 1.17, 0.156, WEEK6),
    _published("Bag of words + linear regression, course", None, 113.60, 0.99, 0.248, WEEK6),
    _published("word2vec + linear regression, course", None, 115.47, 1.01, 0.276, WEEK6),
    _published("word2vec + SVR, course", None, 112.52, 0.93, 0.264, WEEK6),
    _published("Random forest on 400,000 items, course", None, 97.11, 0.88, 0.340, WEEK6),
    _published("Human, course", None, 126.55, 1.00, 0.320, FRONTIER),
    _published("GPT-4o-mini, course", "frontier", 79.58, 0.59, 0.520, FRONTIER),
    _published("GPT-4o, course", "frontier", 75.92, 0.75, 0.580, FRONTIER),
    _published("Claude 3.5 Sonnet, course", None, 100.83, 0.60, 0.508, FRONTIER),
    _published("Fine-tuned GPT-4o-mini, course", "frontier", 91.45, 0.68, 0.440, TUNED),
    _published("Base Llama 3.1 8B (4-bit), course", "base", 395.72, None, None, "week7/day2.ipynb" + COLAB),
    _published("Fine-tuned Llama 3.1 8B (4-bit), top-3 weighted, course", "fine-tuned", 46.66, None, 0.708,
               "week7/day5.ipynb" + COLAB, "topk"),
    _published("RAG with GPT-4o-mini, course", "rag", 55.55, 0.46, 0.668, "week8_wip/day2.3.ipynb"),
    _published("Random forest on the RAG vectors, course", None, 100.94, 0.93, 0.308, "week8_wip/day2.4.ipynb"),
    _published("Ensemble, course", "ensemble", 52.86, 0.50, 0.676, "week8_wip/day2.4.ipynb"),
)
"""The course's figures on its 250 test items, from the chart titles of its 2024 notebooks
(`Error=$75.92 RMSLE=0.75 Hits=58.0%`) in ed-donner/llm_engineering: week6/ at 2f997952f (day3)
and 8338dfc24 (the -results copies), week8_wip/ at e02dca505 (the week-8 notebooks' outputs
before they were cleared). The two Llama rows were run in Colab notebooks whose outputs are not
in the repo: their figures (no RMSLE printed there) are as the course gave them."""


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
    row = Row.from_json(data)
    return replace(row, data=data_label(row.data))


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


def data_label(data: str) -> str:
    """How a row names its data: a hub id as given, a local path by its file name alone.

        >>> data_label("/home/me/data/test-250.jsonl"), data_label("ed-donner/pricer-data")
        ('test-250.jsonl', 'ed-donner/pricer-data')
    """
    if data and (os.path.isabs(data) or hub.looks_like_path(data) or hub.is_local(data)):
        return Path(data).name or "a local folder"
    return data


def _new_row(run: Run, key: str = "", run_id: str = "", data: str | None = None) -> Row:
    m = run.metrics
    return Row(run.label, run.pricer or None, run.estimator, data_label(run.data) if data is None else data,
               len(run.outcomes), run.total, _finite(m.average_error), _finite(m.rmsle), _finite(m.hits),
               _finite(m.coverage), round(run.seconds, 3), time.strftime("%Y-%m-%d %H:%M:%S"),
               run_id or f"{time.time_ns():x}{secrets.token_hex(3)}", partial=not run.done, key=key, note=run.note)


def _trimmed(rows: list[Row]) -> tuple[list[Row], list[Row]]:
    """(kept, dropped): the newest MAX_RUNS operator runs and MAX_PUBLISHED shared ones, in order."""
    room = {False: MAX_RUNS, True: MAX_PUBLISHED}
    keep = set()
    for at in range(len(rows) - 1, -1, -1):
        if room[rows[at].visitor] > 0:
            room[rows[at].visitor] -= 1
            keep.add(at)
    return [r for i, r in enumerate(rows) if i in keep], [r for i, r in enumerate(rows) if i not in keep]


def _write_row(rows: list[Row], row: Row, run: dict[str, Any]) -> None:
    """The board with `row` added (its outcomes first), trimmed; OSError when it cannot be."""
    _write_atomic(_run_file(row.id), run)
    kept, dropped = _trimmed([*rows, row])
    _write_atomic(_board_file(), {"version": VERSION, "runs": [r.to_json() for r in kept]})
    for old in dropped:
        _run_file(old.id).unlink(missing_ok=True)


# --- the public functions ---------------------------------------------------------------------------


def record(run: Run, *, key: str = "", visitor: bool = False) -> Row:
    """Add `run` to the shared board (partial when not done) and keep its outcomes for load_run.
    A cached replay of a run already listed under the same `key` returns that row instead.
    `visitor`: a web visitor's run; its row is made (with an id) and nothing is written: their
    page keeps it (Visits.keep), and only Visits.publish shares it."""
    if visitor:
        return _new_row(run, key)
    with _locked():
        rows, readable = _read()  # a file holding runs these rows do not is never written over
        if run.cached and key:
            for row in [*rows, *_unsaved]:
                if row.key == key and not row.partial:
                    return row
        row = _new_row(run, key)
        try:
            if not readable:
                raise OSError("the leaderboard file holds runs that could not be read or set aside")
            _write_row(rows, row, run.to_json())
        except OSError as exc:
            _unsaved.append(row)
            del _unsaved[:-MAX_RUNS]
            _memory_runs[row.id] = run.to_json()
            _notes.append(f"A run could not be saved to the leaderboard in {_folder()} ({exc.strerror or exc}): "
                          "it is kept until this process ends.")
    return row


_shared_at: list[float] = []  # when visitors shared runs, for PUBLISH_RATE


def publish(row: Row, run: Run) -> Row:
    """Share a visitor's run (the row their Visits made, and its outcomes) on the shared board:
    an upload's name and the run's note (which may name files) left out. Sharing the same run
    again returns its row. A BadInput when the row is not a run's, too many were shared in the
    last PUBLISH_WINDOW seconds, or the board cannot be written (nothing is then written)."""
    upload = row.data.startswith(UPLOAD)
    shared = replace(row, label=row.label if row.pricer else "guesses scored from an uploaded file",
                     data=SHARED_UPLOAD if upload else data_label(row.data), note="", key="", visitor=True)
    if (row.published or _row(shared.to_json()) != shared or (row.size, row.total) != (len(run.outcomes), run.total)):
        raise BadInput("Only a run of yours, as this page made it, can be shared.")
    with _locked():
        rows, readable = _read()
        if any(r.id == row.id for r in rows):
            return next(r for r in rows if r.id == row.id)
        now = time.monotonic()
        _shared_at[:] = [t for t in _shared_at if now - t < PUBLISH_WINDOW]
        if len(_shared_at) >= PUBLISH_RATE:
            raise BadInput(f"{PUBLISH_RATE} runs were shared in the last {PUBLISH_WINDOW / 60:.0f} minutes: "
                           "share this one a little later (it stays on your page meanwhile).")
        outcomes = Run(shared.label, run.total, run.outcomes, run.seconds, pricer=run.pricer,
                       estimator=run.estimator, data=shared.data).to_json()
        try:
            if not readable:
                raise OSError("the shared board holds runs that could not be read")
            _write_row(rows, shared, outcomes)
        except OSError as exc:
            raise BadInput(f"The run could not be shared ({exc.strerror or exc}): it stays on your page.") from None
        _shared_at.append(now)
    return shared


@dataclass
class Visits:
    """One web visitor's own runs (kept in their page's session, a gr.State): the newest
    MAX_VISITS, seen by them alone until they share one (publish)."""

    rows: list[Row] = field(default_factory=list)
    runs: dict[str, Run] = field(default_factory=dict)
    """Their outcomes, by row id (to draw a run again)."""
    shared: set[str] = field(default_factory=set)
    """The ids of those they shared."""

    def keep(self, run: Run, *, upload: bool = False) -> Row | None:
        """Keep a run this visitor made (its id from record(visitor=True)); None for a run with
        no id or no items. An upload is named `upload: NAME`; a cached replay of a run already
        kept returns that row."""
        if not run.id or not run.outcomes:
            return None
        row = _new_row(run, run_id=run.id, data=UPLOAD + Path(run.data).name if upload else None)
        for old in self.rows:
            same = (old.label, old.data, old.size, old.total, old.error) == (
                row.label, row.data, row.size, row.total, row.error)
            if old.id == row.id or (run.cached and same and not old.partial):
                return old
        self.rows.append(row)
        self.runs[row.id] = run.snapshot()
        for old in self.rows[:-MAX_VISITS]:
            self.runs.pop(old.id, None)
            self.shared.discard(old.id)
        del self.rows[:-MAX_VISITS]
        return row

    def load(self, run_id: str | None) -> Run | None:
        """One of this visitor's runs (None when it is not theirs)."""
        run = self.runs.get(run_id or "")
        return None if run is None else run.snapshot()

    def publish(self, run_id: str | None) -> Row:
        """Share one of this visitor's runs on the shared board (leaderboard.publish)."""
        row = next((r for r in self.rows if r.id == run_id), None)
        if row is None:
            raise BadInput("Only a run of yours on this page can be shared: run one, or pick one of yours "
                           "under “Chart: show a run”.")
        shared = publish(row, self.runs[row.id])
        self.shared.add(row.id)
        return shared

    def clear(self) -> int:
        """Forget this visitor's runs (the shared board is the operator's: `leaderboard --clear`)."""
        n = len(self.rows)
        self.rows, self.runs, self.shared = [], {}, set()
        return n


def runs() -> list[Row]:
    """The shared board's runs, oldest first (those this process could not write included); damage
    found on the way is set aside and said by take_notes()."""
    with _locked():
        return [*_read()[0], *_unsaved]


def rows(published: bool = True, made: Sequence[Row] | None = None, mine: Sequence[Row] = ()) -> list[Row]:
    """The leaderboard: a visitor's own runs (`mine`, from their Visits), the shared runs (`made`,
    as runs() gave them, else read now; one of `mine` they shared is listed once, as theirs) and
    (unless `published` is False) the course's published figures, best average error first (rows
    without one last)."""
    own = {r.id for r in mine}
    shared = [r for r in (runs() if made is None else made) if r.id not in own]
    listed = [*mine, *shared, *(PUBLISHED if published else ())]
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
            raise BadInput(f"No run {run_id} on the shared board (it was cleared, or dropped as one of the "
                           "oldest).") from exc
    try:
        found = Run.from_json(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadInput(f"The stored run {run_id} is damaged: run it again.") from exc
    found.id = run_id
    return found


def clear() -> int:
    """Forget every run on the shared board, the operator's and those visitors shared (the
    course's published rows stay); return how many were removed."""
    with _locked():
        listed = _read()[0] + _unsaved
        for path in [_run_file(row.id) for row in listed] + [_board_file()]:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        _unsaved.clear()
        _memory_runs.clear()
        _notes.clear()
    return len(listed)
