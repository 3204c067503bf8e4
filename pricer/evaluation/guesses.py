"""Score guesses made elsewhere (a frontier model, a spreadsheet, a human) against the truths of
the test items, the course's way: a CSV or JSONL file with a `guess` column and an `index` (0 =
the first test item) or `text` (the item's prompt) column, or the course's headerless
`human_output.csv` (prompt, guess). Every mismatch is explained rather than scored.

    >>> parse_guess("$1,299.00"), parse_guess("n/a")
    (1299.0, None)

The scoring itself is pricer.evaluation's (the same Outcome, Run and metrics as a model run).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pricer.data.datasets import TestItem, load_items
from pricer.data.readers import csv_records, csv_rows, jsonl_lines
from pricer.errors import BadInput
from pricer.evaluation import leaderboard
from pricer.evaluation.runs import Run
from pricer.metrics import outcome
from pricer.web_paths import readable_upload

GUESS_COLUMNS = ("guess", "prediction", "estimate")
_NUMBER = re.compile(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?")


def parse_guess(value: Any) -> float | None:
    """A guess cell -> dollars, or None when it holds no number.

    >>> parse_guess("$1,299.00"), parse_guess(42), parse_guess("n/a"), parse_guess("")
    (1299.0, 42.0, None, None)
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    found = _NUMBER.search(str(value).replace(",", "").replace("$", ""))
    return float(found.group()) if found else None


def _guess_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV or JSONL file of guesses as dicts, or a BadInput saying why it cannot be read."""
    if not path.is_file():
        raise BadInput(f"No such file: {path}.")
    try:
        if path.suffix.lower() in {".jsonl", ".json", ".ndjson"}:
            return _jsonl_guess_rows(path)
        if path.suffix.lower() == ".csv":
            return _csv_guess_rows(path)
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path.name} is not UTF-8 text (byte {exc.start}): save it as a UTF-8 "
                       "CSV or JSONL file.") from exc
    except csv.Error as exc:
        raise BadInput(f"{path.name} is not a readable CSV file ({exc}).") from exc
    raise BadInput(f"{path.name}: give a .csv or .jsonl file of guesses.")


def _jsonl_guess_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in jsonl_lines(path):
        if isinstance(line.error, UnicodeDecodeError):
            raise BadInput(f"Line {line.number} of {path.name} is not UTF-8 text (byte {line.error.start}): "
                           "save it as a UTF-8 CSV or JSONL file.")
        if line.error is not None:
            reason = getattr(line.error, "msg", None) or type(line.error).__name__
            raise BadInput(f"Line {line.number} of {path.name} is not JSON ({reason}): "
                           "give one JSON object per line.")
        if not isinstance(line.record, dict):
            raise BadInput(f"Line {line.number} of {path.name} is not a JSON object.")
        rows.append(line.record)
    return rows


def _csv_guess_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV of guesses; a headerless two-column file (the course's human_output.csv:
    prompt, guess) is read as text, guess."""
    raw = list(csv_rows(path))
    if raw and not any(c.strip().lower() in GUESS_COLUMNS for c in raw[0]):
        if all(len(r) == 2 for r in raw) and parse_guess(raw[0][1]) is not None:
            return [{"text": r[0], "guess": r[1]} for r in raw]
        raise BadInput(f"{path.name} needs a header row naming a `guess` column and an `index` "
                       f"or `text` column (it has: {', '.join(raw[0][:6])}).")
    return list(csv_records(path))


def read_guesses(path: str | Path, items: Sequence[TestItem], size: int | None = None) -> list[float | None]:
    """One guess for each of the first `size` items from a CSV/JSONL of guesses made elsewhere,
    matched by `index` (0 = the first test item) or by `text` (the item's prompt). Every mismatch
    is explained; guesses for items beyond `size` are ignored."""
    path = Path(path)
    size = len(items) if size is None else min(size, len(items))
    rows = _guess_rows(path)
    if not rows:
        raise BadInput(f"{path.name} holds no guesses: give one row per test item with a `guess` column.")
    columns = {str(k).strip().lower() for k in rows[0]}
    guess_col = next((c for c in GUESS_COLUMNS if c in columns), None)
    if guess_col is None:
        raise BadInput(f"{path.name} has no `guess` column (columns: {', '.join(sorted(columns))}).")
    by_text = {item.prompt.strip(): item.index for item in items}
    guesses: dict[int, float | None] = {}
    unknown: list[str] = []
    for n, raw_row in enumerate(rows):
        row = {str(k).strip().lower(): v for k, v in raw_row.items()}
        where = _locate(row, n, by_text, len(items), path.name, unknown)
        if where is None:
            continue
        if where in guesses:
            raise BadInput(f"{path.name} has two guesses for item {where}: keep one per item.")
        guesses[where] = parse_guess(row.get(guess_col))
    if unknown:
        raise BadInput(f"{len(unknown)} guesses in {path.name} match no test item's text "
                       f"(first: {unknown[0][:80]!r}): are they for this dataset?")
    missing = [i for i in range(size) if i not in guesses]
    if missing:
        have = size - len(missing)
        hint = f" They cover the first {have}: set the size to {have}." if missing[0] == have else ""
        shown = ", ".join(map(str, missing[:8])) + (" ..." if len(missing) > 8 else "")
        raise BadInput(f"{path.name} has no guess for {len(missing)} of the first {size} test items "
                       f"(index {shown}).{hint}")
    return [guesses[i] for i in range(size)]


def _locate(row: dict[str, Any], n: int, by_text: dict[str, int], count: int, name: str,
            unknown: list[str]) -> int | None:
    if row.get("index") not in (None, ""):
        try:
            index = int(float(str(row["index"])))
        except (ValueError, OverflowError) as exc:  # "x", or "inf" (a float no int can hold)
            raise BadInput(f"Row {n} of {name}: index {row['index']!r} is not a whole number.") from exc
        if index < 0:
            raise BadInput(f"Row {n} of {name}: index {index} is negative (0 is the first test item).")
        if index >= count:
            raise BadInput(f"Row {n} of {name}: index {index} is beyond the {count} test items "
                           "(0 is the first): are these guesses for this dataset?")
        return index
    text = row.get("text", row.get("prompt"))
    if not isinstance(text, str) or not text.strip():
        raise BadInput(f"Row {n} of {name} has neither `index` nor `text`: say which item it prices.")
    if text.strip() in by_text:
        return by_text[text.strip()]
    unknown.append(text.strip())
    return None


def score(items: Sequence[TestItem], guesses_path: str | Path, size: int | None = None,
          label: str | None = None) -> Run:
    """Score a file of guesses made elsewhere (a frontier model, a spreadsheet) against the truths
    of the first `size` items. Pass all the items so guesses matched by text find theirs."""
    guesses = read_guesses(guesses_path, items, size)
    return Run(label or Path(guesses_path).name, len(guesses),
               [outcome(item, g) for item, g in zip(items, guesses, strict=False)])


def score_file(data: str | Path, guesses: str | Path, *, size: int = 250, web: bool = False) -> Run:
    """Score a guesses file against the truths of the first `size` test items of `data`, and
    record the run on the leaderboard (as `guesses: FILE`), for the CLI's `score` and the
    Evaluate tab alike. From the web app (`web`) both are read only inside the folders
    pricer.web_paths allows, and the run is the visitor's (off the shared board, as in evaluate)."""
    name = Path(guesses).name
    if web:
        guesses = readable_upload(guesses)
    items = load_items(data, None, web=web)
    scored = score(items, guesses, size)
    scored.note, scored.label, scored.data = items.note, f"guesses: {name}", str(data or "")
    scored.id = leaderboard.record(scored, visitor=web).id
    return scored
