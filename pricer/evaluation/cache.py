"""The evaluation cache: a finished run stored under its identity, so a repeat returns at once.

A run's identity (`cache_key`) is what answered (the pricer's own cache_key: model, adapter,
revision, estimator...), the data and the size. Runs are JSON files in PRICER_CACHE/evaluations,
written atomically and capped (the oldest go first), and the newest are also kept in memory. A
disk that refuses a write costs only the repeat. It does not run anything (pricer.evaluation.loop).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from pricer.atomic import atomic_write
from pricer.evaluation.runs import Run

CACHE_VERSION = 3  # 3: runs carry the pricer's 80% interval; 2: "topk" is the course's improved_model_predict
CACHE_RUNS = 200  # finished runs kept in the evaluation cache, the oldest dropped first...
CACHE_BYTES = 100 * 2**20  # ...and at most this much of them on disk
MEMORY_RUNS = 32  # runs also kept in memory


def cache_key(model: str, estimator: str, data: str, size: int) -> str:
    """The identity of a run: a repeat with the same key returns the stored run. `model` names
    what answers (a pricer's cache_key: e.g. the base model, adapter, revision and quantization)."""
    parts = json.dumps([CACHE_VERSION, model, estimator, data, size])
    return hashlib.sha256(parts.encode()).hexdigest()[:24]


def _cache_file(key: str) -> Path:
    from pricer.config import cache_dir

    return cache_dir() / "evaluations" / f"{key}.json"


_memory: OrderedDict[str, dict[str, Any]] = OrderedDict()  # by cache file: another PRICER_CACHE, another cache
_memory_lock = threading.Lock()


def _keep_in_memory(key: str, data: dict[str, Any]) -> None:
    with _memory_lock:
        _memory[key] = data
        _memory.move_to_end(key)
        while len(_memory) > MEMORY_RUNS:
            _memory.popitem(last=False)


def cached(key: str) -> Run | None:
    """The stored run for `key`, or None."""
    path = _cache_file(key)
    data = _memory.get(str(path))
    if data is None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        _keep_in_memory(str(path), data)
    try:
        return Run.from_json(data)
    except (KeyError, TypeError, AttributeError):
        return None


def remember(key: str, finished: Run) -> None:
    """Store a finished run under `key` (atomically), then drop the oldest runs beyond the cap."""
    data = finished.to_json()
    path = _cache_file(key)
    _keep_in_memory(str(path), data)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            json.dump(data, f)
        prune(path.parent)
    except OSError:
        pass  # a read-only disk only costs the repeat; the memory cache still serves it


def prune(folder: Path, runs: int | None = None, size: int | None = None) -> int:
    """Delete the oldest stored runs (by modification time) until at most `runs` files and `size`
    bytes are left (CACHE_RUNS, CACHE_BYTES); return how many were deleted."""
    runs = CACHE_RUNS if runs is None else runs
    size = CACHE_BYTES if size is None else size
    found = []
    for p in folder.glob("*.json"):
        try:
            st = p.stat()
        except OSError:
            continue
        found.append((st.st_mtime_ns, st.st_size, p))
    found.sort(key=lambda f: f[0], reverse=True)  # newest first
    kept_bytes, deleted = 0, 0
    for n, (_, bytes_, p) in enumerate(found):
        kept_bytes += bytes_
        if n >= runs or (kept_bytes > size and n > 0):
            p.unlink(missing_ok=True)
            deleted += 1
    return deleted
