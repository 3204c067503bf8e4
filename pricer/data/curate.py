"""Whole categories of raw Amazon metadata -> curated pricer items (JSONL), in parallel, with progress.

A source is a category of `McAuley-Lab/Amazon-Reviews-2023` (e.g. `Appliances`: the same file the
hub's `raw_meta_Appliances` config reads) or local JSONL / Parquet file(s) or a folder of them.
Records flow through two `datasets` passes, both Arrow-backed on disk, so a category of millions
of records is never held as Python objects:

1. read: JSONL lines -> the hub's form (details as a JSON string, price as a string), with a
   malformed line kept as a row that says so, read in parallel byte ranges of the files;
2. curate: `Dataset.map` in batches of 1,000 records (the course's chunk) over `workers`
   processes; each batch is prepared by pricer.data.items and tokenized in one Rust call.

It does not split train/test (pricer.data.datasets) or write fine-tuning files (pricer.pricers.chat.finetune).

    >>> CurationSummary("Appliances", 94327, 28625, {"missing price": 40000}, 12.1).line()
    'Appliances: kept 28,625 of 94,327 (rejected: 40,000 missing price) in 12.1 s'
"""

from __future__ import annotations

import json
import os
import shutil
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pricer import hub
from pricer.atomic import atomic_write, scratch_folder, target_of, writable_file
from pricer.data.items import curate_batch, hub_record, valid_unicode
from pricer.data.readers import jsonl_lines
from pricer.errors import BadInput, HubUnavailable, NotFound

HUB_DATASET = "McAuley-Lab/Amazon-Reviews-2023"
# The categories the course curated; the hub has more (any raw_meta_<Category> name works).
COURSE_CATEGORIES = (
    "Automotive", "Electronics", "Office_Products", "Tools_and_Home_Improvement",
    "Cell_Phones_and_Accessories", "Toys_and_Games", "Appliances", "Musical_Instruments",
)
CHUNK = 1000  # records per batch: the course's CHUNK_SIZE
COLUMNS = ("title", "description", "features", "details", "price")
JSONL_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz")
PARQUET_SUFFIXES = (".parquet",)
MIN_SHARD_BYTES = 64 << 20  # below this, splitting a file between processes costs more than it saves


@dataclass
class CurationSummary:
    """What one category gave: counts by outcome and the time taken."""

    category: str
    records: int
    """Raw records read, malformed lines included (blank lines are not records)."""
    kept: int
    rejected: dict[str, int] = field(default_factory=dict)
    """Rejection reason -> count, most frequent first."""
    seconds: float = 0.0
    out: str = ""
    note: str = ""
    """What the user should know about how the run went (e.g. fewer workers than asked for)."""

    def line(self) -> str:
        reasons = ", ".join(f"{n:,} {reason}" for reason, n in self.rejected.items())
        return (f"{self.category}: kept {self.kept:,} of {self.records:,} "
                f"({'rejected: ' + reasons if reasons else 'none rejected'}) in {self.seconds:.1f} s"
                + (f"; {self.note}" if self.note else ""))


def _raw_features() -> Any:
    from datasets import Features, List, Value

    return Features({
        "title": Value("string"), "description": List(Value("string")), "features": List(Value("string")),
        "details": Value("string"), "price": Value("string"), "error": Value("string"),
    })


def _item_features() -> Any:
    from datasets import Features, Value

    return Features({"text": Value("string"), "price": Value("float64"), "title": Value("string"),
                     "reason": Value("string")})


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(JSONL_SUFFIXES + PARQUET_SUFFIXES))
        if not files:
            raise BadInput(f"{path} holds no .jsonl or .parquet files of raw records.")
        return files
    if not path.name.endswith(JSONL_SUFFIXES + PARQUET_SUFFIXES):
        raise BadInput(f"{path} is not a .jsonl or .parquet file of raw Amazon metadata records.")
    return [path]


def category_name(source: str | os.PathLike) -> str:
    """`meta_Appliances.jsonl` -> `Appliances`; `raw_meta_Toys_and_Games` -> `Toys_and_Games`."""
    name = Path(source).name
    for suffix in sorted(JSONL_SUFFIXES + PARQUET_SUFFIXES, key=len, reverse=True):
        name = name.removesuffix(suffix)
    return name.removeprefix("raw_").removeprefix("meta_") or "items"


def download_category(name: str) -> Path:
    """The raw JSONL of a hub category, from the hub cache or downloaded (with progress)."""
    hub.require_hub(f"the {name} category of {HUB_DATASET}")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

    try:
        return Path(hf_hub_download(HUB_DATASET, f"raw/meta_categories/meta_{name}.jsonl", repo_type="dataset",
                                    token=hub.token(), endpoint=hub.endpoint()))
    except EntryNotFoundError as exc:
        raise NotFound(
            f"{HUB_DATASET} has no category {name!r}. Names are case-sensitive with underscores, "
            f"e.g. {', '.join(COURSE_CATEGORIES[:4])}; or give a local path."
        ) from exc
    except (HfHubHTTPError, OSError) as exc:
        raise HubUnavailable(f"Could not download the {name} category from the hub: {exc}. Try again, or "
                              "download its raw JSONL yourself and give its local path.") from exc


def resolve_source(source: str | os.PathLike) -> tuple[list[Path], str]:
    """Local files (or the downloaded hub category) and the category name they default to."""
    found = hub.resolve(source, None, suffixes=JSONL_SUFFIXES + PARQUET_SUFFIXES, hub_name="a hub category name")
    if isinstance(found, Path):
        return _files(found), category_name(found)
    name = category_name(found)
    return [download_category(name)], name


def _byte_ranges(files: list[Path], parts: int) -> list[tuple[str, int, int]]:
    """Split JSONL files into about `parts` byte ranges (gzip files stay whole)."""
    total = sum(f.stat().st_size for f in files)
    step = max(MIN_SHARD_BYTES, -(-total // max(parts, 1)))
    ranges = []
    for f in files:
        size = f.stat().st_size
        if f.name.endswith(".gz"):
            ranges.append((str(f), 0, -1))
            continue
        ranges.extend((str(f), start, min(start + step, size)) for start in range(0, max(size, 1), step))
    return ranges


def read_jsonl(ranges: list[tuple[str, int, int]], limit: int | None = None):
    """Rows in the hub's form from JSONL byte ranges (end -1: the whole file); a malformed line
    becomes a row whose `error` says so, so that it is counted instead of stopping the run."""
    count = 0
    for path, start, end in ranges:
        for line in jsonl_lines(path, start, None if end < 0 else end):
            if limit is not None and count >= limit:
                return
            count += 1
            record = line.record
            if not isinstance(record, dict):
                error = "malformed JSON line"
            elif (b"\\u" in line.raw or b"\xed" in line.raw) and not valid_unicode(record):  # a lone surrogate, escaped or raw
                error = "invalid Unicode"
            else:
                yield {**hub_record(record), "error": None}
                continue
            yield {c: None for c in COLUMNS} | {"description": [], "features": [], "error": error}


def _not_curated(names: set[str], path: Path) -> None:
    """A pricer table (text, price) given as raw records would curate to nothing: say so."""
    if "text" in names and not names & {"description", "features", "details"}:
        raise BadInput(f"{path} holds curated pricer items (text, price), not raw Amazon metadata records: "
                       "give it to `python -m pricer dataset --items`, or curate the raw category instead.")


def _first_record_fields(path: Path) -> set[str]:
    """The keys of the first JSON object among the first lines of a JSONL file (empty if none)."""
    import itertools

    for line in itertools.islice(jsonl_lines(path), 100):
        if isinstance(line.record, dict):
            return set(line.record)
    return set()


def _bad_gzip(files: list[Path], exc: BaseException) -> BadInput:
    """A BadInput naming the gzip file(s) that cannot be read to the end (found by reading each
    one through: only done once reading has failed)."""
    import gzip

    bad = []
    for f in (f for f in files if f.name.endswith(".gz")):
        try:
            with gzip.open(f, "rb") as stream:
                while stream.read(1 << 20):
                    pass
        except (OSError, EOFError, zlib.error):
            bad.append(str(f))
    if not bad:
        raise exc  # not a gzip problem after all: keep the original error and its traceback
    return BadInput(f"{', '.join(bad)} cannot be read to the end ({exc}): the gzip file is cut short or corrupt. "
                    "Download it again, or give the uncompressed JSONL.")


def load_raw(files: list[Path], *, workers: int = 2, limit: int | None = None,
             cache_dir: str | None = None) -> Any:
    """Raw records of local files as a datasets.Dataset in the hub's form (Arrow, on disk)."""
    from datasets import Dataset
    from datasets.exceptions import DatasetGenerationError

    jsonl = [f for f in files if f.name.endswith(JSONL_SUFFIXES)]
    parquet = [f for f in files if f.name.endswith(PARQUET_SUFFIXES)]
    if jsonl and parquet:
        raise BadInput("Give JSONL or Parquet files, not both at once (curate them one after the other).")
    try:
        for f in jsonl:
            _not_curated(_first_record_fields(f), f)
    except (OSError, EOFError, zlib.error) as exc:  # a .gz that is not gzip at all
        raise _bad_gzip(jsonl, exc) from None
    if jsonl:
        ranges = [(str(f), 0, f.stat().st_size) for f in jsonl] if limit else _byte_ranges(jsonl, workers)
        parallel = workers > 1 and not limit and len(ranges) > 1
        try:
            raw = Dataset.from_generator(read_jsonl, features=_raw_features(), cache_dir=cache_dir,
                                         gen_kwargs={"ranges": ranges, "limit": limit},
                                         num_proc=min(workers, len(ranges)) if parallel else None)
        except ValueError as exc:  # datasets refuses to build a dataset of no rows
            if "no data" not in str(exc):
                raise
            raise BadInput(f"{', '.join(map(str, jsonl))} holds no records (expected one JSON object per line).") from exc
        except DatasetGenerationError as exc:  # raised while reading: a .gz cut short or corrupt
            if not isinstance(exc.__cause__, (OSError, EOFError, zlib.error)):
                raise
            raise _bad_gzip(jsonl, exc.__cause__) from None
    else:
        import pyarrow.parquet as pq

        try:
            names = set.intersection(*(set(pq.read_schema(f).names) for f in parquet))
            _not_curated(names, parquet[0])
            if not {"title", "price"} & names:
                raise BadInput(f"{parquet[0]} has no title or price column: it does not hold raw Amazon "
                               f"metadata records (columns: {', '.join(sorted(names))}).")
            raw = Dataset.from_parquet([str(f) for f in parquet], columns=[c for c in COLUMNS if c in names],
                                       cache_dir=cache_dir)
        except BadInput:
            raise
        except Exception as exc:  # pyarrow's errors share no useful base class
            raise BadInput(f"Could not read the Parquet file(s) {', '.join(map(str, parquet))}: {exc}") from exc
    if limit is not None and len(raw) > limit:
        raw = raw.select(range(limit))
    return raw


def _curate_map(batch: dict[str, list], tokenizer_name: str) -> dict[str, list]:
    """One batch of raw rows -> text (training prompt), price, title, reason, row for row."""
    from pricer.tokenizer.loading import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_name).tokenizer  # cached: loaded once per process
    n = len(batch[next(iter(batch.keys()))])
    errors = batch.get("error") or [None] * n
    columns = {c: batch.get(c) or [None] * n for c in COLUMNS}
    good = [i for i in range(n) if errors[i] is None]
    records = []
    for i in good:
        record = {c: columns[c][i] for c in COLUMNS}
        if isinstance(record["details"], dict):  # a Parquet struct: keys of other rows are null
            record["details"] = {k: v for k, v in record["details"].items() if v is not None}
        records.append(record)
    out: dict[str, list] = {"text": [None] * n, "price": [None] * n, "title": [None] * n, "reason": list(errors)}
    for i, result in zip(good, curate_batch(records, tokenizer), strict=True):
        if isinstance(result, str):
            out["reason"][i] = result
        else:
            out["text"][i], out["price"][i], out["title"][i] = result.prompt, result.price, result.title
    return out


def curate_raw(raw: Any, *, category: str, workers: int = 2, tokenizer: str | None = None) -> Any:
    """A raw Dataset -> a Dataset of (text, price, title, reason), one row per raw record."""
    from pricer.tokenizer import llama_bpe
    from pricer.tokenizer.loading import LLAMA_31, OFFLINE_LLAMA, load_tokenizer

    if workers > 1:  # one Rust thread pool per process is plenty; also silences fork warnings
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    loaded = load_tokenizer(tokenizer or LLAMA_31)  # resolved once (hub, local or offline copy)
    llama_bpe.encoder(loaded.tokenizer)  # built here once; forked workers inherit it
    name = OFFLINE_LLAMA if loaded.source == "offline" else loaded.requested
    raw = raw.select_columns([c for c in (*COLUMNS, "error") if c in raw.column_names])  # read only these
    return raw.map(
        _curate_map, batched=True, batch_size=CHUNK, num_proc=workers if workers > 1 and len(raw) > CHUNK else None,
        remove_columns=raw.column_names, features=_item_features(), fn_kwargs={"tokenizer_name": name},
        desc=f"Curating {category}", load_from_cache_file=False,
    )


def write_items(curated: Any, out: str | os.PathLike, *, category: str, append: bool = False) -> tuple[int, Counter]:
    """Write the kept rows as JSONL (text, price, category, title); count rejections by reason.

    Written whole beside `out` (or beside the file its symlink points to) and then renamed into
    place; `append` copies the existing items in first. A failed or interrupted run never
    leaves half a file, and the old one stays as it was.
    """
    reasons: Counter = Counter()
    kept = 0
    path = writable_file(out)
    try:
        with atomic_write(path, "wb") as f:
            if append and target_of(path).exists():
                with target_of(path).open("rb") as earlier:
                    shutil.copyfileobj(earlier, f)
            for batch in curated.iter(batch_size=CHUNK):
                for text, price, title, reason in zip(batch["text"], batch["price"], batch["title"],
                                                      batch["reason"], strict=True):
                    if reason is not None:
                        reasons[reason] += 1
                        continue
                    kept += 1
                    f.write(json.dumps({"text": text, "price": price, "category": category, "title": title},
                                       ensure_ascii=False).encode("utf-8") + b"\n")
    except OSError as exc:  # disk full, permissions changed mid-run
        raise BadInput(f"Could not write {path}: {exc.strerror or exc}. Free some space or choose another --out.") from None
    return kept, reasons


def usable_workers(workers: int) -> tuple[int, str]:
    """`workers` capped at the CPUs this process may use, and a note when it was capped: more
    processes than CPUs only add memory (1,000 asked for: 1,100 processes, 14 GB)."""
    if workers < 1:
        raise BadInput(f"workers must be at least 1, not {workers}.")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if workers <= cpus:
        return workers, ""
    return cpus, f"used {cpus} worker{'s' * (cpus > 1)}, not {workers:,}: this machine has {cpus} CPU{'s' * (cpus > 1)}"


def curate_to_jsonl(source: str | os.PathLike, out: str | os.PathLike, *, category: str | None = None,
                    workers: int = 2, limit: int | None = None, tokenizer: str | None = None,
                    append: bool = False) -> CurationSummary:
    """Curate one source (hub category name or local path) into `out` and summarise it."""
    workers, note = usable_workers(workers)
    if limit is not None and limit < 1:
        raise BadInput(f"limit must be at least 1, not {limit}.")
    import datasets

    start = time.perf_counter()
    writable_file(out)  # before minutes of curation, not after
    files, default_name = resolve_source(source)
    category = category or default_name
    datasets.utils.logging.set_verbosity_error()  # keep the progress bars, drop the chatter
    from pricer.config import cache_folder

    tmp = scratch_folder(cache_folder("curate"))  # fresh Arrow cache: never a stale file
    try:
        raw = load_raw(files, workers=workers, limit=limit, cache_dir=str(tmp))
        if len(raw) == 0:
            raise BadInput(f"{source} holds no records (expected one JSON object per line, or Parquet rows).")
        curated = curate_raw(raw, category=category, workers=workers, tokenizer=tokenizer)
        kept, reasons = write_items(curated, out, category=category, append=append)
        records = len(raw)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return CurationSummary(category, records, kept, dict(reasons.most_common()),
                           time.perf_counter() - start, str(out), note)
