"""A run of one pricer over test items, as the evaluation makes it and the leaderboard keeps it:
its outcomes (pricer.metrics), the course's metrics over them, a status line, a CSV and JSON.

It sits below everything that makes or stores runs (pricer.evaluation.loop, .guesses,
.leaderboard, .chart) and imports only pricer.metrics and the ground floor.

    >>> from pricer.metrics import Outcome
    >>> Run("cpu", 2, [Outcome(0, "a", 100.0, 120.0)]).progress()
    'cpu: 1/2 items running.'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pricer.atomic import atomic_write, csv_writer
from pricer.errors import BadInput
from pricer.metrics import Metrics, Outcome, summarize


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
    pricer: str = ""
    """The registry name of the pricer that ran ('' for guesses scored from a file)."""
    estimator: str | None = None
    data: str = ""
    """The test data's source, as given."""
    id: str = ""
    """Its id on the leaderboard (pricer.evaluation.leaderboard.load_run), once recorded."""

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

    def write_csv(self, path: str | Path) -> Path:
        """One row per item, in item order: index, title, truth, guess, parsed, error, sle, color,
        and the 80% interval (low, high; empty when the pricer gives none). Whole or not at all
        (pricer.atomic); a BadInput when the disk refuses."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, newline="") as f:
                writer = csv_writer(f)  # formula-like text cells neutralised
                writer.writerow(["index", "title", "truth", "guess", "parsed", "error", "sle", "color", "low", "high"])
                for o in self.outcomes:
                    writer.writerow([o.index, o.title, o.truth, o.guess, o.parsed, round(o.error, 4),
                                     round(o.sle, 6), o.color, "" if o.low is None else o.low,
                                     "" if o.high is None else o.high])
        except OSError as exc:
            raise BadInput(f"Could not write {path}: {exc.strerror or exc}. Free some space or choose another "
                           "file; nothing was written.") from None
        return path

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "total": self.total, "seconds": self.seconds, "pricer": self.pricer,
                "estimator": self.estimator, "data": self.data, "note": self.note,
                "outcomes": [asdict(o) for o in self.outcomes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        known = {f.name for f in fields(Outcome)}
        return cls(data["label"], data["total"], [Outcome(**{k: v for k, v in o.items() if k in known})
                                                  for o in data["outcomes"]], data["seconds"],
                   note=data.get("note", ""), pricer=data.get("pricer", ""), estimator=data.get("estimator"),
                   data=data.get("data", ""))

    def snapshot(self) -> Run:
        """A copy whose outcomes list will not grow."""
        return Run(self.label, self.total, list(self.outcomes), self.seconds, self.cached, self.note,
                   self.pricer, self.estimator, self.data, self.id)
