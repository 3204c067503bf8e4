"""The RAG pricer's index: training items (product text and price) with their all-MiniLM-L6-v2
embeddings, built once on disk, searched for the items most similar to a product.

Built from any pricer dataset (a hub id's train split, local JSONL/Parquet/CSV files or folders,
several at once) read as Arrow, a chunk of rows at a time, so 400,000 items never sit in memory as
Python objects. Each chunk's embeddings (float16) and items (JSONL) are written to `work/` and
recorded in `index.json` as they complete: an interrupted build, run again with the same
arguments, continues after the last complete chunk. The last step joins the chunks into

    index.json      the manifest: format, model, sources, rows, skipped, build time, complete
    embeddings.npy  float16 (n, 384), unit length: 400,000 items = 307 MB
    items.jsonl     {"text", "price"} per item: the product text (title line, description)
    offsets.npy     int64 (n + 1): where each line of items.jsonl starts, so a hit reads one line
    prices.npy      float64 (n,)
    keys.npy        uint64 (n, 2): hashes of the normalised title and of the normalised text

No pickle anywhere (numpy files are read with allow_pickle=False). A damaged folder is refused
with a message saying how to rebuild it.

The store is plain numpy: the embeddings as one float32 matrix in memory, an exact search (one
matrix product per block of 65,536 items, argpartition for the top k). Measured with
benchmarks/rag_bench.py on this shared 2-CPU machine (one thread, under a load of ~9): at 12,687
items (the index of ../shared/data) a query takes 1.8 ms against 1.2 ms for FAISS's exact
IndexFlatIP and 0.3 ms for its float16 index; at 400,000 items (586 MiB) 100-220 ms against 67
and 37 ms, but 250 queries at once 9.4 s against 18.4 and 11.1 s (numpy's matrix product wins
batches). Embedding the query with MiniLM takes 15-60 ms and the chat request it feeds 0.3-1 s,
so the search is never what a user waits for at this size and still fine at 400,000: FAISS
would add a compiled dependency to save ~0.1 s a query at the largest size only. Chroma (the
course's choice) adds a database and an approximate HNSW search built item by item. float16 on
disk halves the files; the search runs in float32 because numpy's float16 products are 15x slower.

Embedding is the build's cost: 66 ms of CPU per item (MiniLM over ~160 word pieces; all but 1%
of the items exceed 128), so 400,000 items take about 7 CPU-hours here, a run of hours on 2
cores that can be stopped and resumed at will, or minutes on a GPU (sentence-transformers uses
one when there is one).

Leak guard: an item whose normalised title or normalised text equals the query's is never
returned for that query (`normalise`: case-folded, punctuation and spacing ignored), so a
training copy of a test item cannot be its own context.

It does not talk to a chat model (pricer.pricers.chat.rag) or embed texts itself (pricer.pricers.chat.embeddings).

Longer than 450 lines: the index's format is written (build, in bounded chunks, atomically)
and read back defensively (every file checked, a damaged one named) in one place, with the
search over it; apart, the writer and the reader could drift.

    >>> description("How much does this cost to the nearest dollar?\\n\\nA mug\\nSteel.\\n\\nPrice is $12.00")
    'A mug\\nSteel.'
    >>> normalise("  Motorcraft YB3125   Fan-Clutch!\\n")
    'motorcraft yb3125 fan clutch'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pricer.atomic import atomic_write
from pricer.data.datasets import open_split_counted
from pricer.data.items import PREFIX, QUESTION
from pricer.errors import BadInput, PricerError

FORMAT = 1
MANIFEST, EMBEDDINGS, ITEMS, OFFSETS, PRICES, KEYS = (
    "index.json", "embeddings.npy", "items.jsonl", "offsets.npy", "prices.npy", "keys.npy")
CHUNK = 4096  # rows a chunk: what a resumed build may redo (about 30 s of embedding on 2 CPUs)
STEP = 256  # rows embedded between progress reports
BLOCK = 65_536  # rows a search multiplies at once: 250 queries x 65,536 float32 scores = 64 MB
K = 5  # the course's RAG context: the 5 most similar items
QUESTION_LINE = f"{QUESTION}\n\n"
PRICE_LINE = f"\n\n{PREFIX}"
ProgressFn = Callable[[int, int], Any]  # progress(done, total)


# --- texts --------------------------------------------------------------------------------------


def description(text: str) -> str:
    """The product text of a prompt, as the course's RAG took it (`description(item)`): the question
    and `Price is $...` removed; pasted text (title line, then description) stays as it is."""
    return text.replace(QUESTION_LINE, "").split(PRICE_LINE)[0].strip()


def title(text: str) -> str:
    """The first non-blank line of a product text."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def normalise(text: str) -> str:
    """Text compared for the leak guard: case-folded words and numbers, single-spaced."""
    return " ".join(re.findall(r"[^\W_]+", text.casefold()))


def _hash(text: str) -> int:
    """A 64-bit hash of normalised text; 0 for none (an empty text matches nothing)."""
    text = normalise(text)
    if not text:
        return 0
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") or 1


def text_keys(text: str) -> tuple[int, int]:
    """(title key, text key) of a product text: two items with an equal key are the same product."""
    return _hash(title(text)), _hash(text)


# --- where an index lives -----------------------------------------------------------------------


def parse_sources(sources: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """A list of sources from a list or a comma-separated string (PRICER_RAG_DATA).

    >>> parse_sources("a.jsonl, b.jsonl,")
    ['a.jsonl', 'b.jsonl']
    """
    items = str(sources).split(",") if isinstance(sources, (str, os.PathLike)) else [str(s) for s in sources]
    found = [s.strip() for s in items if s.strip()]
    if not found:
        raise BadInput("Give the training items to index: a hub id, or JSONL/Parquet/CSV files or folders.")
    return found


def _identity(source: str) -> str:
    path = Path(source).expanduser()
    return str(path.resolve()) if path.exists() else source


def index_folder(sources: Sequence[str], split: str = "train") -> Path:
    """The folder under cache_dir()/rag where the index of these sources lives by default."""
    from pricer.config import cache_dir

    names = "+".join(Path(s).name if Path(s).expanduser().exists() else s for s in sources)
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "-", names)[:60].strip("-.") or "index"
    digest = hashlib.sha256(json.dumps([[_identity(s) for s in sources], split]).encode()).hexdigest()[:10]
    return cache_dir() / "rag" / f"{slug}-{split}-{digest}"


def default_folder(data: str | None = None) -> Path:
    """The index the RAG pricer uses: PRICER_RAG_DATA (or `data`) when it is an index folder,
    else the default folder of the index built from it."""
    from pricer.config import rag_data

    data = (data or "").strip() or rag_data()
    path = Path(data).expanduser()
    if (path / MANIFEST).is_file():
        return path
    return index_folder(parse_sources(data))


def build_command(data: str | None = None, out: str | os.PathLike | None = None) -> str:
    """The command that builds the index of `data` (default PRICER_RAG_DATA's) into `out` (default
    its own folder), for messages."""
    from pricer.config import rag_data

    data = (data or "").strip() or rag_data()
    where = "" if out is None else f" --out {out}"
    return f"python -m pricer rag-index --data {' '.join(parse_sources(data))}{where}"


def missing(folder: str | os.PathLike) -> str | None:
    """None when `folder` holds a complete index, else why not. Cheap: reads the manifest only."""
    path = Path(folder).expanduser()
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no RAG index at {path}"
    except (OSError, ValueError):
        return f"the RAG index at {path} is unreadable"
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return f"{path} holds no RAG index of format {FORMAT}"
    if not manifest.get("complete"):
        return f"the RAG index at {path} is not finished (its build was interrupted)"
    return None


DATA_FILES = (EMBEDDINGS, ITEMS, OFFSETS, PRICES, KEYS)  # what the manifest's sha256 covers


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read a MiB at a time (about 1 s for a 400,000-item index's 600 MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(2 ** 20):
            digest.update(block)
    return digest.hexdigest()


_verified: set[tuple[str, ...]] = set()  # indexes whose files matched their sha256, as they were then


def _changed_file(folder: Path, digests: Any) -> str | None:
    """The first of DATA_FILES whose bytes do not match the manifest's sha256 (None: all match).
    Checked once per process for each state of the files (their sizes and times)."""
    if not isinstance(digests, dict) or set(digests) != set(DATA_FILES):
        return MANIFEST
    try:
        stats = [(name, (folder / name).stat()) for name in DATA_FILES]
        state = tuple(f"{name}:{st.st_size}:{st.st_mtime_ns}" for name, st in stats)
    except OSError:
        return MANIFEST
    if (str(folder.resolve()), *state) in _verified:
        return None
    for name in DATA_FILES:
        if file_sha256(folder / name) != digests[name]:
            return name
    _verified.add((str(folder.resolve()), *state))
    return None


def manifest_key(manifest: dict[str, Any]) -> str:
    """A short identity of a built index (its sources, rows and build time) for cache keys."""
    parts = [manifest.get(k) for k in ("sources", "source_keys", "split", "count", "built_at")]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def folder_key(folder: str | os.PathLike) -> str:
    """manifest_key of the index in `folder` without loading it ('none' when there is none)."""
    manifest = _read_manifest(Path(folder).expanduser())
    return manifest_key(manifest) if manifest and manifest.get("complete") else "none"


def _source_key(source: str, table: Any) -> str:
    """What a resumed build checks: a local file's size and time, a hub dataset's fingerprint."""
    from pricer.hub import source_key

    path = Path(source).expanduser()
    return source_key(path) if path.exists() else f"{source}@{getattr(table, '_fingerprint', '')}"


# --- building -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    """What a build did."""

    folder: Path
    count: int
    """Items in the index."""
    skipped: int
    """Rows of the sources without a text or a numeric price."""
    embedded: int
    """Items embedded by this run (fewer than `count` when it resumed, 0 when already built)."""
    seconds: float

    def line(self) -> str:
        """`indexed 12,687 items (12,687 embedded in 95.1 s, 133 items/s) in ~/.cache/pricer/pricers/chat/rag/...`"""
        if not self.embedded:
            return f"the RAG index of {self.count:,} items is already built in {self.folder}"
        speed = f", {self.embedded / self.seconds:,.0f} items/s" if self.seconds > 0 else ""
        resumed = "" if self.embedded == self.count else f", resumed after {self.count - self.embedded:,}"
        skipped = f"; {self.skipped:,} malformed rows skipped" if self.skipped else ""
        return (f"indexed {self.count:,} items ({self.embedded:,} embedded in {self.seconds:.1f} s{speed}{resumed}) "
                f"in {self.folder}{skipped}")


def _write_json(path: Path, data: Any) -> None:
    with atomic_write(path) as f:
        f.write(json.dumps(data, indent=1))


def _save_npy(path: Path, array: Any) -> None:
    import numpy as np

    with atomic_write(path, "wb") as f:
        np.save(f, array, allow_pickle=False)


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


@contextlib.contextmanager
def _lock(folder: Path) -> Iterator[None]:
    """One build per folder at a time (POSIX advisory lock; released when the process dies)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    with (folder / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BadInput(f"Another build is writing the RAG index in {folder}: wait for it, or choose "
                           "another --out.") from None
        yield


def _bar(total: int, done: int) -> tuple[ProgressFn, Callable[[], None]]:
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=done, unit="item", desc="RAG index", dynamic_ncols=True)

    def report(now: int, _total: int) -> None:
        bar.update(now - bar.n)

    return report, bar.close


def build(sources: str | Sequence[str] | None = None, out: str | os.PathLike | None = None, *,
          split: str = "train", size: int | None = None, chunk: int = CHUNK, batch_size: int | None = None,
          progress: ProgressFn | None = None) -> Built:
    """Index the first `size` usable rows (all when None) of the `split` of `sources` (default
    PRICER_RAG_DATA), in order, into `out` (default: index_folder(sources, split), where the RAG
    pricer looks). A complete index of the same rows is reused; an interrupted one is continued.
    progress(done, total) after each few hundred items; a progress bar on stderr when none is given."""
    from pricer.atomic import writable_folder
    from pricer.config import rag_data
    from pricer.pricers.chat import embeddings

    if sources is None:
        if (Path(rag_data()).expanduser() / MANIFEST).is_file():
            raise BadInput(f"PRICER_RAG_DATA names a built index ({rag_data()}): give the training items to index "
                           "with --data.")
        sources = rag_data()
    names = parse_sources(sources)
    if size is not None and size < 1:
        raise BadInput(f"size must be at least 1, not {size}.")
    if chunk < 1:
        raise BadInput(f"chunk must be at least 1, not {chunk}.")
    reason = embeddings.unavailable()
    if reason:
        raise PricerError(f"Cannot build a RAG index: {reason}.")
    folder = writable_folder(Path(out).expanduser() if out else index_folder(names, split))
    if _read_manifest(folder) is None and any(p.name != ".lock" for p in folder.iterdir()):
        raise BadInput(f"{folder} is not empty and holds no RAG index: give a new or empty folder as --out.")
    try:
        return _build(folder, names, split, size, chunk, batch_size, progress)
    except OSError as exc:  # the disk filled up, or the folder went away: one message, no traceback chain
        raise BadInput(f"Cannot write the RAG index in {folder}: {exc.strerror or exc}. Free some space and run "
                       "the same command again: it continues after its last complete chunk.") from None


def _build(folder: Path, names: list[str], split: str, size: int | None, chunk: int, batch_size: int | None,
           progress: ProgressFn | None) -> Built:
    """build's work, in `folder` (checked): read, embed chunk by chunk, join, write the manifest."""
    from pricer.pricers.chat import embeddings

    start = time.perf_counter()
    with _lock(folder):
        for stale in [*folder.glob(f".{EMBEDDINGS}.*.tmp"), *folder.glob(f".{ITEMS}.*.tmp")]:
            stale.unlink(missing_ok=True)  # a killed join's half-written files (the lock: no build runs here)
        work = folder / "work"
        work.mkdir(exist_ok=True)
        tables, skipped, keys = [], 0, []
        for name in names:
            table, bad = open_split_counted(name, split, cache_dir=str(work))
            tables.append(table)
            skipped += bad
            keys.append(_source_key(name, table))
        from datasets import concatenate_datasets

        table = concatenate_datasets(tables) if len(tables) > 1 else tables[0]
        total = len(table) if size is None else min(size, len(table))
        if total == 0:
            raise BadInput(f"{', '.join(names)} hold no usable rows to index (a row needs a text and a numeric price).")
        plan = {"format": FORMAT, "model": embeddings.MODEL, "dim": embeddings.DIM, "sources": names,
                "source_keys": keys, "split": split, "rows": total, "skipped": skipped, "chunk": chunk}
        old = _read_manifest(folder)
        same = old is not None and all(old.get(k) == v for k, v in plan.items())
        if old is not None and old.get("complete"):
            if same:
                return Built(folder, total, skipped, 0, 0.0)
            raise BadInput(f"{folder} already holds a RAG index of other data ({', '.join(old.get('sources', []))}): "
                           "choose another --out, or delete that folder first.")
        done = int(old.get("chunks_done", 0)) if same and old is not None else 0
        _write_json(folder / MANIFEST, {**plan, "chunks_done": done, "complete": False})
        chunks = (total + chunk - 1) // chunk
        first = min(done * chunk, total)
        close = None
        if progress is None:
            progress, close = _bar(total, first)
        try:
            for j in range(done, chunks):
                rows = table[j * chunk:min((j + 1) * chunk, total)]
                _embed_chunk(work, j, rows["text"], rows["price"], j * chunk, total, batch_size, progress)
                _write_json(folder / MANIFEST, {**plan, "chunks_done": j + 1, "complete": False})
            _join(folder, work, chunks, total)
        finally:
            if close is not None:
                close()
        seconds = time.perf_counter() - start
        _write_json(folder / MANIFEST, {**plan, "chunks_done": chunks, "complete": True, "count": total,
                                        "dtype": "float16", "built_seconds": round(seconds, 1),
                                        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                        "sha256": {name: file_sha256(folder / name) for name in DATA_FILES}})
        shutil.rmtree(work, ignore_errors=True)
    return Built(folder, total, skipped, total - first, seconds)


def _embed_chunk(work: Path, j: int, texts: list[str], prices: list[float], at: int, total: int,
                 batch_size: int | None, progress: ProgressFn) -> None:
    """Embed one chunk and write its two files (atomically: a killed run leaves no half chunk)."""
    import numpy as np

    from pricer.pricers.chat import embeddings

    products = [description(t) for t in texts]
    parts = []
    for i in range(0, len(products), STEP):
        parts.append(embeddings.embed(products[i:i + STEP], batch_size or embeddings.BATCH_SIZE))
        progress(at + min(i + STEP, len(products)), total)
    _save_npy(work / f"{j:06d}.npy", np.concatenate(parts).astype(np.float16))
    lines = "".join(json.dumps({"text": t, "price": p}, ensure_ascii=False) + "\n" for t, p in zip(products, prices, strict=True))
    with atomic_write(work / f"{j:06d}.jsonl") as f:
        f.write(lines)


def _join(folder: Path, work: Path, chunks: int, total: int) -> None:
    """The chunks as the index's files, streamed: one chunk in memory at a time."""
    import numpy as np

    from pricer.pricers.chat import embeddings

    emb_tmp = folder / f".{EMBEDDINGS}.{os.getpid()}.tmp"
    items_tmp = folder / f".{ITEMS}.{os.getpid()}.tmp"
    vectors = np.lib.format.open_memmap(emb_tmp, mode="w+", dtype=np.float16, shape=(total, embeddings.DIM))
    offsets = np.zeros(total + 1, dtype=np.int64)
    prices = np.zeros(total, dtype=np.float64)
    keys = np.zeros((total, 2), dtype=np.uint64)
    row = 0
    with items_tmp.open("wb") as out:
        for j in range(chunks):
            part = np.load(work / f"{j:06d}.npy", allow_pickle=False)
            vectors[row:row + len(part)] = part
            with (work / f"{j:06d}.jsonl").open("rb") as lines:
                for i, line in enumerate(lines):
                    item = json.loads(line)
                    offsets[row + i] = out.tell()
                    out.write(line)
                    prices[row + i] = item["price"]
                    keys[row + i] = text_keys(item["text"])
            row += len(part)
        offsets[row] = out.tell()
    if row != total:
        raise PricerError(f"The RAG index build found {row:,} items in its chunks, not {total:,}: build it again.")
    vectors.flush()
    del vectors
    for name, array in ((OFFSETS, offsets), (PRICES, prices), (KEYS, keys)):
        _save_npy(folder / name, array)
    emb_tmp.replace(folder / EMBEDDINGS)
    items_tmp.replace(folder / ITEMS)


# --- searching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Neighbour:
    """A training item found for a query."""

    row: int
    """Its position in the index."""
    text: str
    """The product text (title line, then description) as the model is shown it."""
    price: float
    similarity: float
    """Cosine similarity to the query, -1..1."""

    @property
    def title(self) -> str:
        return title(self.text)

    def to_json(self) -> dict[str, Any]:
        """What the Predict tab shows: title, price, similarity."""
        return {"title": self.title, "price": self.price, "similarity": round(self.similarity, 4)}


class RagIndex:
    """A built index, loaded: `search(texts)` gives each text's nearest training items."""

    def __init__(self, folder: Path, manifest: dict[str, Any], vectors: Any, prices: Any, keys: Any,
                 offsets: Any) -> None:
        self.folder, self.manifest = folder, manifest
        self.vectors, self.prices, self.keys, self.offsets = vectors, prices, keys, offsets

    def __len__(self) -> int:
        return len(self.prices)

    @property
    def key(self) -> str:
        """Identity of this index (changes when it is rebuilt), for cache keys."""
        return manifest_key(self.manifest)

    @classmethod
    def load(cls, folder: str | os.PathLike | None = None) -> RagIndex:
        """The index in `folder` (default: default_folder()); a BadInput saying how to build or
        rebuild it when it is missing, unfinished or damaged."""
        import numpy as np

        from pricer.pricers.chat import embeddings

        path = Path(folder).expanduser() if folder else default_folder()
        def how() -> str:  # for a message only
            return build_command(out=None if folder is None else path)

        reason = missing(path)
        if reason:
            raise BadInput(f"{reason}: build it with `{how()}`.")
        manifest = _read_manifest(path) or {}

        def damaged(what: str) -> BadInput:
            sources = manifest.get("sources")
            usable = isinstance(sources, list) and bool(sources) and all(
                isinstance(x, str) and x.strip() and Path(x).expanduser().resolve() != path.resolve() for x in sources)
            data = " ".join(sources) if usable else "YOUR_TRAINING_ITEMS"  # the items it was built from, never itself
            again = f"python -m pricer rag-index --data {data} --out {path}"
            return BadInput(f"The RAG index at {path} is damaged ({what}): delete the folder and build it again "
                            f"with `{again}`.")

        count = manifest.get("count")
        if not isinstance(count, int) or count < 1 or manifest.get("dim") != embeddings.DIM:
            raise damaged("its manifest")
        try:
            stored = np.load(path / EMBEDDINGS, mmap_mode="r", allow_pickle=False)
            prices = np.load(path / PRICES, allow_pickle=False)
            keys = np.load(path / KEYS, allow_pickle=False)
            offsets = np.load(path / OFFSETS, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise damaged(f"{type(exc).__name__}: {exc}") from None
        checks = [(stored.shape == (count, embeddings.DIM) and stored.dtype == np.float16, EMBEDDINGS),
                  (prices.shape == (count,) and prices.dtype == np.float64, PRICES),
                  (keys.shape == (count, 2) and keys.dtype == np.uint64, KEYS),
                  (offsets.shape == (count + 1,) and offsets.dtype == np.int64, OFFSETS)]
        for ok, name in checks:
            if not ok:
                raise damaged(f"{name} does not match {count:,} items")
        size = (path / ITEMS).stat().st_size if (path / ITEMS).exists() else -1
        if offsets[0] != 0 or offsets[-1] != size or np.any(np.diff(offsets) <= 0):
            raise damaged(f"{ITEMS} does not match its offsets")
        if "sha256" in manifest:  # indexes built before checksums have none: their shapes are checked above
            changed = _changed_file(path, manifest["sha256"])
            if changed is not None:
                raise damaged(f"{changed} was changed or corrupted: it does not match the sha256 in {MANIFEST}")
        vectors = np.empty((count, embeddings.DIM), dtype=np.float32)
        for at in range(0, count, BLOCK):  # float16 -> float32 a block at a time: no second full copy
            vectors[at:at + BLOCK] = stored[at:at + BLOCK]
        if not np.all(np.isfinite(vectors[:: max(1, count // 1000)])):
            raise damaged(f"{EMBEDDINGS} holds values that are not numbers")
        return cls(path, manifest, vectors, prices, keys, offsets)

    def nearest(self, vectors: Any, query_keys: Sequence[tuple[int, int]], k: int = K) -> list[list[tuple[int, float]]]:
        """For each query vector, the k (row, similarity) of the highest dot product, best first,
        never a row whose title key or text key equals the query's (the leak guard)."""
        import numpy as np

        queries = np.asarray(vectors, dtype=np.float32).reshape(-1, self.vectors.shape[1])
        qkeys = np.asarray(query_keys, dtype=np.uint64).reshape(-1, 2)
        m, n = len(queries), len(self.vectors)
        k = min(k, n)
        if k < 1:
            return [[] for _ in range(m)]
        best_scores = np.full((m, 0), -np.inf, dtype=np.float32)
        best_rows = np.zeros((m, 0), dtype=np.int64)
        for at in range(0, n, BLOCK):
            scores = queries @ self.vectors[at:at + BLOCK].T
            block_keys = self.keys[at:at + BLOCK]
            for column in (0, 1):
                same = (block_keys[None, :, column] == qkeys[:, None, column]) & (qkeys[:, None, column] != 0)
                scores[same] = -np.inf
            if scores.shape[1] > k:
                top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            else:
                top = np.broadcast_to(np.arange(scores.shape[1]), (m, scores.shape[1]))
            best_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
            best_rows = np.concatenate([best_rows, top + at], axis=1)
            if best_scores.shape[1] > k:
                keep = np.argpartition(-best_scores, k - 1, axis=1)[:, :k]
                best_scores = np.take_along_axis(best_scores, keep, axis=1)
                best_rows = np.take_along_axis(best_rows, keep, axis=1)
        results = []
        for scores, rows in zip(best_scores, best_rows, strict=True):
            order = sorted(range(len(rows)), key=lambda i: (-scores[i], rows[i]))
            results.append([(int(rows[i]), float(scores[i])) for i in order if np.isfinite(scores[i])])
        return results

    def items(self, rows: Sequence[int]) -> list[tuple[str, float]]:
        """(product text, price) of each row, read from items.jsonl (one line each)."""
        found = []
        with (self.folder / ITEMS).open("rb") as f:
            for row in rows:
                f.seek(int(self.offsets[row]))
                data = json.loads(f.read(int(self.offsets[row + 1] - self.offsets[row])))
                found.append((data["text"], float(data["price"])))
        return found

    def search(self, texts: Sequence[str], k: int = K) -> list[list[Neighbour]]:
        """The k training items most similar to each text (a prompt or pasted product), best first."""
        from pricer.pricers.chat import embeddings

        products = [description(t) for t in texts]
        hits = self.nearest(embeddings.embed(products), [text_keys(p) for p in products], k)
        return [[Neighbour(row, text, price, similarity)
                 for (row, similarity), (text, price) in zip(pairs, self.items([r for r, _ in pairs]), strict=True)]
                for pairs in hits]
