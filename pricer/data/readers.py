"""The one JSONL reader and the one CSV reader: every file of rows pricer is given (raw Amazon
records to curate, pricer datasets, guesses to score) is read here, a line or a row at a time,
so a file of any size streams and a malformed line is reported where it is instead of stopping
the read. Text given as bytes (standard input) is decoded here too (`utf8_text`).

It does not decide what a row means: pricer.data.curate turns records into the hub's form,
pricer.data.datasets into (text, price) rows, pricer.evaluation.guesses into guesses.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "rows.jsonl"
    >>> _ = path.write_bytes(b'{"price": 1}\\n\\n{broken\\n')
    >>> [(line.number, line.record, line.error is None) for line in jsonl_lines(path)]
    [(1, {'price': 1}, True), (3, None, False)]
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from pricer.errors import BadInput


class JsonLine(NamedTuple):
    """One non-blank line of a JSONL file, parsed."""

    number: int
    """1 for the first line read (blank lines count), so a message can point at it."""
    raw: bytes
    """The line as read, newline included."""
    record: Any
    """The parsed JSON value (any JSON: a caller checks it is an object); None when malformed."""
    error: ValueError | RecursionError | None
    """Why the line is not JSON (a UnicodeDecodeError when it is not UTF-8), or None."""


def jsonl_lines(path: str | os.PathLike, start: int = 0, end: int | None = None) -> Iterator[JsonLine]:
    """The non-blank lines of a JSONL file (gzip-compressed when its name ends in .gz), parsed.

    With a byte range, only the lines that start within [start, end) are read, so that
    processes reading consecutive ranges of one file read every line exactly once (a gzip file
    is always read whole). A malformed line is yielded with its error, never raised.
    """
    number = 0
    for raw in _lines(Path(path), start, end):
        number += 1
        if not raw.strip():
            continue
        try:
            yield JsonLine(number, raw, json.loads(raw), None)
        except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, or nested too deep to parse
            yield JsonLine(number, raw, None, exc)


def _lines(path: Path, start: int, end: int | None) -> Iterator[bytes]:
    if path.name.endswith(".gz"):
        import gzip

        with gzip.open(path, "rb") as f:
            yield from f
        return
    with path.open("rb") as f:
        if start:
            f.seek(start - 1)
            f.readline()  # finish the line that began before our range
        while end is None or f.tell() < end:
            line = f.readline()
            if not line:
                break
            yield line


def csv_rows(path: str | os.PathLike) -> Iterator[list[str]]:
    """The non-blank rows of a CSV file (tab-separated when its name ends in .tsv), header
    included, as lists of cells. UTF-8, with or without a byte-order mark; a file that is not
    raises UnicodeDecodeError, a broken one csv.Error."""
    path = Path(path)
    dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
    with path.open(newline="", encoding="utf-8-sig") as f:
        for row in csv.reader(f, dialect=dialect):
            if row:
                yield row


def csv_records(path: str | os.PathLike) -> Iterator[dict[str, str | None]]:
    """The rows of a CSV file after its header, as dicts keyed by the header's names lower-cased
    and stripped (`Price ` -> `price`): cells beyond the header are dropped, missing ones None."""
    rows = csv_rows(path)
    header = [name.strip().lower() for name in next(rows, [])]
    for row in rows:
        yield {name: row[i] if i < len(row) else None for i, name in enumerate(header)}


def utf8_text(data: bytes, source: str) -> str:
    """`data` as UTF-8 text (a byte-order mark dropped), or a BadInput saying where `source` is not.

    >>> utf8_text(b"Mug \\xe2\\x82\\xac9", "standard input")
    'Mug €9'
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{source} is not UTF-8 text (byte {exc.start:,} is 0x{data[exc.start]:02x}): convert it "
                       "to UTF-8 first, e.g. `iconv -f latin1 -t utf-8`.") from None
