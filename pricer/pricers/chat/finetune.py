"""OpenAI chat fine-tuning files from a pricer dataset's train items, as the course wrote them.

`fine_tune_train.jsonl` holds the first `train` items (default 500) and
`fine_tune_validation.jsonl` the next `validation` (default 50). Each line is
`{"messages": [system, user, assistant]}` (json.dumps' defaults: ASCII escapes, ", " and ": "),
the user message is the test prompt without " to the nearest dollar" and "\\n\\nPrice is $", the
assistant says `Price is $<price to the cent>`, and, as in the course, the last line has no
newline. Optional upload with the `openai` package (purpose "fine-tune"); it does not start a
fine-tuning job, and never prints OPENAI_API_KEY.

    >>> messages_for("How much does this cost to the nearest dollar?\\n\\nA mug\\n\\nPrice is $12.00", 11.5)[1:]
    [{'role': 'user', 'content': 'How much does this cost?\\n\\nA mug'}, {'role': 'assistant', 'content': 'Price is $11.50'}]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pricer.atomic import staged_files, target_of, writable_folder
from pricer.data.datasets import as_test_prompt, load_pricer_dataset
from pricer.data.items import SYSTEM_PROMPT
from pricer.errors import BadInput, PricerError
from pricer.redact import quoted, redact

TRAIN_FILE, VALIDATION_FILE = "fine_tune_train.jsonl", "fine_tune_validation.jsonl"


def messages_for(text: str, price: float) -> list[dict[str, str]]:
    """The course's messages for one item; `text` may be its training or its test prompt."""
    user = as_test_prompt(text).replace(" to the nearest dollar", "").replace("\n\nPrice is $", "")
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user},
        {"role": "assistant", "content": f"Price is ${price:.2f}"},
    ]


def make_jsonl(rows: list[dict[str, Any]]) -> str:
    """One `{"messages": [...]}` line per row; no newline after the last (the course's strip())."""
    return "\n".join('{"messages": ' + json.dumps(messages_for(r["text"], r["price"])) + "}" for r in rows)


def export_fine_tuning(data: str | os.PathLike | None, out: str | os.PathLike, *, train: int = 500,
                       validation: int = 50, upload: bool = False) -> str:
    """Write the two files from the train split of `data` (hub id or path); upload when asked.

    The files are written beside `out` first and moved in together once both are complete, so
    `out` always holds one export's pair: with `validation=0` the previous export's validation
    file is removed rather than left beside the new train file. Returns a summary; a failed
    upload raises a PricerError after the files are written.
    """
    if train < 1 or validation < 0:
        raise BadInput(f"Need at least 1 train item and no negative validation count (got {train}, {validation}).")
    folder = writable_folder(out)  # before reading a dataset from the hub
    for name in (TRAIN_FILE, VALIDATION_FILE):
        target_of(folder / name)  # a FIFO or a device in the way is refused now too
    names = [TRAIN_FILE, VALIDATION_FILE] if validation else [TRAIN_FILE]
    rows = load_pricer_dataset(data, split="train", size=train + validation)
    if len(rows) < train + validation:
        raise BadInput(f"{rows.source} has {len(rows):,} usable train items; {train:,} train + {validation:,} "
                       "validation were asked for.")
    stale = not validation and (folder / VALIDATION_FILE).exists()
    try:
        with staged_files(folder, [TRAIN_FILE, VALIDATION_FILE]) as staging:
            for name, part in zip(names, (rows[:train], rows[train:]), strict=False):
                (staging / name).write_text(make_jsonl(part), encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"Could not write {folder}: {exc.strerror or exc}. Free some space or choose another "
                       "--out; the previous files there are unchanged.") from None
    paths = [folder / name for name in names]
    line = f"wrote {train:,} train and {validation:,} validation items to {', '.join(map(str, paths))}"
    if stale:
        line += f"; removed the previous {VALIDATION_FILE} (no validation items asked for)"
    if rows.note:
        line += f"; {rows.note}"
    if upload:
        line += "; " + upload_files(paths)
    return line


def upload_files(paths: list[Path]) -> str:
    """Upload the files for fine-tuning; say so plainly when openai or OPENAI_API_KEY is missing."""
    key = os.environ.get("OPENAI_API_KEY", "").strip()
    try:
        import openai
    except ImportError:
        return "not uploaded: the openai package is not installed (pip install openai)"
    if not key:
        return "not uploaded: set OPENAI_API_KEY to upload"
    client = openai.OpenAI(api_key=key, max_retries=0, timeout=60)
    ids = []
    try:
        for path in paths:
            with path.open("rb") as f:
                uploaded = client.files.create(file=f, purpose="fine-tune").id
            if not isinstance(uploaded, str) or not uploaded:
                raise TypeError("no file id")
            ids.append(uploaded)
    except (openai.OpenAIError, ValueError, AttributeError, TypeError) as exc:  # refused, or an answer not JSON
        done = f" (uploaded before it: {', '.join(ids)})" if ids else ""
        why = (redact(str(exc), key) if isinstance(exc, openai.OpenAIError) else
               "the server answered with something that is not an uploaded file: is OPENAI_BASE_URL an "
               "OpenAI-compatible API (ending in /v1)?")
        raise PricerError(f"The files are written, but the upload to OpenAI failed{done}: {quoted(why, 300)}") from None
    return "uploaded as " + ", ".join(ids)
