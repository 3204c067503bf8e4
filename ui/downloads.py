"""Files the app hands out for download (evaluation CSVs): one temporary folder per process,
holding the newest KEEP files, removed when the process exits.

Gradio copies a file it serves into its own cache when the handler returns, so a file here only
has to live until then; older ones are deleted as new ones come (the cache's copies age out
through the Blocks' delete_cache). Each file sits in a numbered subfolder, so two visitors'
files of the same name never overwrite each other and the name the browser saves is clean.
It writes nothing itself: callers pass a function that writes the file.
"""

from __future__ import annotations

import atexit
import itertools
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

PREFIX = "pricer-evaluation-"
KEEP = 16  # files kept at once: enough for every visitor's latest download to be copied by gradio
MAX_NAME = 90

_lock = threading.Lock()
_folder: Path | None = None
_counter = itertools.count()


def folder() -> Path:
    """This process's download folder (made on first use, removed at exit)."""
    global _folder
    with _lock:
        if _folder is None or not _folder.is_dir():
            _folder = Path(tempfile.mkdtemp(prefix=PREFIX))
            atexit.register(shutil.rmtree, _folder, True)
        return _folder


def safe_name(*parts: str) -> str:
    """A file name from free text (a pricer label, a data source): letters, digits, `-_.` only.

    >>> safe_name("evaluation", "Llama 3.1 (4bit), greedy", "../shared/data/test-250.jsonl")
    'evaluation-Llama-3.1-4bit-greedy-test-250.jsonl'
    """
    words = [re.sub(r"[^A-Za-z0-9_.]+", "-", Path(p).name if "/" in p else p).strip("-.") for p in parts]
    return "-".join(w for w in words if w)[:MAX_NAME] or "file"


def new_file(name: str, write: Callable[[Path], object]) -> Path:
    """A fresh path `<folder>/<n>/<name>`, filled by `write(path)`; the oldest files beyond
    KEEP are removed."""
    base = folder()
    with _lock:
        slot = base / str(next(_counter))
        slot.mkdir()
        old = sorted((p for p in base.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    for stale in old[:-KEEP]:
        shutil.rmtree(stale, ignore_errors=True)
    path = slot / name
    write(path)
    return path
