"""Pricer datasets: build train/test from curated items, save, push, and load from anywhere.

The course's schema: `text` (the training prompt in train, the test prompt in test) and `price`.
`load_pricer_dataset` is the one loader the app and the CLI share: a hub id (default
`ed-donner/pricer-data`), or a local JSONL, Parquet or CSV file, a folder with `<split>.parquet`
or `<split>.jsonl`, or a `save_to_disk` folder. It returns `PricerRows`, a plain list of
`{"text": str, "price": float}` dicts (in order) that also says how many rows it skipped.
`load_items` turns the first N rows of a test split into the TestItems a pricer is judged on
(the prompt, its true price and the product title).

It does not curate raw records (pricer.data.curate) or write fine-tuning files (pricer.pricers.chat.finetune).

Longer than 450 lines: it is the one reader of every source kind (hub id, file, folder,
save_to_disk) with the one message per failure, plus building and pushing the dataset those
readers read back; one format, written and read in one place.

    >>> rows = PricerRows([{"text": "How much ...Price is $", "price": 9.99}], skipped=2, source="x.jsonl")
    >>> rows[0]["price"], rows.note
    (9.99, 'x.jsonl: skipped 2 malformed rows (a row needs a text and a numeric price).')
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pricer import hub
from pricer.atomic import scratch_folder, staged_files, target_of, writable_folder
from pricer.data.items import QUESTION, as_test_prompt, valid_unicode
from pricer.data.readers import csv_records, csv_rows, jsonl_lines
from pricer.errors import AccessDenied, BadInput, HubUnavailable, NotFound
from pricer.redact import redact

SPLITS = ("train", "test")
TABLE_SUFFIXES = (".jsonl", ".json", ".ndjson", ".parquet", ".csv", ".tsv")


class PricerRows(list):
    """A list of `{"text": str, "price": float}` rows, plus where they came from and how many
    malformed rows (no text, no numeric price, bad JSON) were skipped."""

    def __init__(self, rows: list[dict[str, Any]] = (), *, skipped: int = 0, source: str = "") -> None:
        super().__init__(rows)
        self.skipped = skipped
        self.source = source

    @property
    def note(self) -> str:
        """'' when nothing was skipped, else one line to show the user."""
        if not self.skipped:
            return ""
        s = "" if self.skipped == 1 else "s"
        return f"{self.source}: skipped {self.skipped:,} malformed row{s} (a row needs a text and a numeric price)."


# --- loading ------------------------------------------------------------------------------------


def _row(raw: Any) -> dict[str, Any] | None:
    """A clean {"text", "price"} row, or None when the row is unusable."""
    if not isinstance(raw, dict):
        return None
    text, price = raw.get("text"), raw.get("price")
    if not isinstance(text, str) or not text.strip() or isinstance(price, bool) or price is None:
        return None
    if not text.isascii() and not valid_unicode(text):  # a JSON-escaped lone surrogate
        return None
    try:
        value = float(str(price).strip().replace("$", "").replace(",", "")) if isinstance(price, str) else float(price)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return {"text": text, "price": value}


def _collect(rows: Any, size: int | None, source: str, skipped: int = 0) -> PricerRows:
    out = PricerRows(source=source, skipped=skipped)
    for raw in rows:
        if size is not None and len(out) >= size:
            break
        row = _row(raw)
        if row is None:
            out.skipped += 1
        else:
            out.append(row)
    return out


def _jsonl_rows(path: Path):
    """Parsed lines of a JSONL file; a malformed line is yielded as None (counted, not fatal)."""
    return (line.record for line in jsonl_lines(path))


def _parquet_rows(path: Path):
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow's errors share no useful base class
        raise BadInput(f"{path} is not a readable Parquet file: {exc}") from exc
    _require_columns(parquet.schema_arrow.names, path)
    for batch in parquet.iter_batches(batch_size=1000, columns=["text", "price"]):
        yield from batch.to_pylist()


def _require_columns(names: list[str], source: Any) -> None:
    missing = [c for c in ("text", "price") if c not in names]
    if missing:
        raise BadInput(f"{source} has columns {', '.join(names) or '(none)'}; a pricer dataset needs "
                       f"'text' and 'price' (missing: {', '.join(missing)}).")


def _file_rows(path: Path, size: int | None) -> PricerRows:
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".json", ".ndjson"}:
        rows = _collect(_jsonl_rows(path), size, path.name)
        if not rows and rows.skipped:
            first = next((r for r in _jsonl_rows(path) if isinstance(r, dict)), None)
            if first is not None:
                _require_columns(list(first), path.name)
        return rows
    if suffix in {".csv", ".tsv"}:
        _require_columns([h.strip().lower() for h in next(csv_rows(path), [])], path.name)
        return _collect(csv_records(path), size, path.name)
    if suffix == ".parquet":
        return _collect(_parquet_rows(path), size, path.name)
    raise BadInput(f"{path.name}: give a .jsonl, .parquet or .csv file, or a dataset folder.")


def _saved_split(path: Path, split: str) -> Any | None:
    """`split` of a folder written by save_to_disk, as (text, price) columns; None for another folder."""
    if not ((path / "dataset_dict.json").exists() or (path / "state.json").exists()):
        return None
    from datasets import load_from_disk

    data = load_from_disk(str(path))
    if hasattr(data, "keys"):  # a DatasetDict
        if split not in data:
            raise BadInput(f"{path} has splits {', '.join(data)}; no {split!r} split: give a dataset with one, "
                           "or the file of that split itself.")
        data = data[split]
    _require_columns(data.column_names, path)
    return data.select_columns(["text", "price"])


def _split_file(path: Path, split: str) -> Path:
    """The file of `split` in a folder of table files."""
    for suffix in TABLE_SUFFIXES:
        if (path / f"{split}{suffix}").exists():
            return path / f"{split}{suffix}"
    # never what the folder holds: a message may reach a web visitor
    raise BadInput(f"{path} holds no {split!r} split: expected {split}.parquet, {split}.jsonl or "
                   f"{split}.csv in it, or a save_to_disk folder. Give the folder of a pricer dataset, or the file itself.")


def _folder_rows(path: Path, split: str, size: int | None) -> PricerRows:
    saved = _saved_split(path, split)
    if saved is not None:
        return _collect(saved, size, f"{path.name}/{split}")
    return _file_rows(_split_file(path, split), size)


def _hub_split(repo: str, split: str, *, streaming: bool) -> Any:
    """`split` of a hub dataset (checked to have text and price), or a message that says what to do."""
    from datasets import load_dataset
    from huggingface_hub.errors import HfHubHTTPError

    try:
        data = load_dataset(repo, split=split, streaming=streaming, token=hub.token())
    except ValueError as exc:  # an unknown split
        raise BadInput(f"The dataset {repo} has no {split!r} split ({exc}): give a pricer dataset with "
                       f"train and test splits, such as ed-donner/pricer-data.") from exc
    except (OSError, HfHubHTTPError) as exc:
        raise HubUnavailable(redact(f"Could not read the dataset {repo} from the hub: {exc}. Try again, or give a "
                                    "local JSONL or Parquet file.", hub.token())) from exc
    _require_columns(list(data.column_names or ["text", "price"]), repo)
    return data


def _hub_rows(repo: str, split: str, size: int | None) -> PricerRows:
    # streamed when only the first rows are wanted: 550 train rows, not all 400,000
    return _collect(_hub_split(repo, split, streaming=size is not None), size, f"{repo}/{split}")


def load_pricer_dataset(source: str | os.PathLike | None = None, split: str = "test",
                        size: int | None = None, *, web: bool = False) -> PricerRows:
    """The first `size` rows (all when None) of a pricer dataset's `split`, in order.

    `source` is a hub id (default: PRICER_DATASET, else ed-donner/pricer-data), a JSONL,
    Parquet or CSV file (the file is the split), a folder with `<split>.parquet|jsonl|csv`, or
    a `save_to_disk` folder. Malformed rows are skipped and counted (`rows.skipped`,
    `rows.note`); no usable rows at all is a BadInput. A source from the web app (`web`) is a
    local path only inside the folders pricer.web_paths allows.
    """
    if size is not None and size < 1:
        raise BadInput(f"size must be at least 1, not {size}.")
    if not source or not str(source).strip():
        from pricer.config import settings

        source = settings().dataset
    name = str(source).strip()
    found = hub.resolve(name, "dataset", suffixes=TABLE_SUFFIXES, web=web)
    if isinstance(found, str):
        rows = _hub_rows(found, split, size)
    elif found.is_dir():
        rows = _folder_rows(found, split, size)
    else:
        rows = _file_rows(found, size)
    if not rows:
        reason = f" ({rows.skipped:,} malformed rows skipped)" if rows.skipped else ""
        raise BadInput(f"{name} holds no usable rows{reason}: a pricer dataset has a 'text' and a numeric "
                       "'price' per row.")
    return rows


# --- test items ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestItem:
    """One item to price: its prompt (ending in `Price is $`) and its true price."""

    __test__ = False  # not a pytest class

    index: int
    """Position in the test data (0 = the first item)."""
    prompt: str
    truth: float
    title: str


def title_of(prompt: str) -> str:
    """The product title inside a course prompt (the line after the question).

    >>> title_of("How much does this cost to the nearest dollar?\\n\\nWidget Pro\\nA widget.\\n\\nPrice is $")
    'Widget Pro'
    """
    text = prompt.strip()
    if text.startswith(QUESTION):
        text = text[len(QUESTION):]
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


class TestItems(list):
    """TestItems in order, and a note on rows of the source that could not be used."""

    __test__ = False

    def __init__(self, items: Iterable[TestItem] = (), note: str = "") -> None:
        super().__init__(items)
        self.note = note


def load_items(source: str | os.PathLike | None, size: int | None = 250, *, web: bool = False) -> TestItems:
    """The first `size` test items of a pricer dataset (any source load_pricer_dataset reads;
    None or blank: PRICER_DATASET; `web` as there). A training prompt's answer is cut off, so a
    pricer never sees the price it must guess."""
    rows = load_pricer_dataset(str(source or "").strip() or None, split="test", size=size, web=web)
    notes = [rows.note] if rows.note else []
    if size is not None and len(rows) < size:
        notes.append(f"The data has {len(rows)} usable test items, fewer than the {size} asked for.")
    return TestItems((TestItem(i, as_test_prompt(row["text"]), row["price"], title_of(row["text"]))
                      for i, row in enumerate(rows)), " ".join(notes))


# --- building -----------------------------------------------------------------------------------


def _clean_batch(batch: dict[str, list]) -> dict[str, list]:
    rows = [_row({"text": t, "price": p}) for t, p in zip(batch["text"], batch["price"], strict=True)]
    rows = [r for r in rows if r is not None]
    return {"text": [r["text"] for r in rows], "price": [r["price"] for r in rows]}


def read_items(paths: list[str | os.PathLike], cache_dir: str | None = None) -> tuple[Any, int]:
    """Curated items (JSONL from `pricer curate`, or any pricer table) of all files as one Arrow
    Dataset of (text, price), and how many malformed rows were skipped.

    datasets' JSON reader is fast but stops at a malformed line; such a file is read again by
    the tolerant reader, which skips and counts the line.
    """
    from datasets import Dataset, Features, Value, concatenate_datasets

    features = Features({"text": Value("string"), "price": Value("float64")})
    parts, skipped = [], 0
    for p in paths:
        path = Path(p).expanduser()
        if not path.is_file():
            raise NotFound(f"No such file: {p}. Give the JSONL files written by `python -m pricer curate`.")
        suffix = path.suffix.lower()
        if suffix not in TABLE_SUFFIXES:
            raise BadInput(f"{path.name}: give the .jsonl files written by `python -m pricer curate`.")
        try:
            if suffix == ".parquet":
                part = Dataset.from_parquet(str(path), cache_dir=cache_dir)
            elif suffix in {".csv", ".tsv"}:
                raise ValueError("read CSV with the tolerant reader")
            else:
                part = Dataset.from_json(str(path), cache_dir=cache_dir)
            _require_columns(part.column_names, path.name)
            read = len(part)
            part = part.map(_clean_batch, batched=True, remove_columns=part.column_names, features=features,
                            load_from_cache_file=False)
            skipped += read - len(part)
        except BadInput:
            raise
        except Exception:  # a malformed line (or CSV): the tolerant reader skips and counts
            part, bad = _tolerant_read(path, features, cache_dir)
            skipped += bad
        parts.append(part)
    return concatenate_datasets(parts), skipped


def open_split(source: str | os.PathLike, split: str = "train", cache_dir: str | None = None) -> Any:
    """A pricer dataset's `split` as an Arrow-backed datasets.Dataset of (text, price): for
    training on a whole split (400,000 items) without holding it as Python objects.

    The same sources as load_pricer_dataset: a file (the split itself), a folder with
    `<split>.parquet|jsonl|csv` or written by save_to_disk, or a hub id (HF_TOKEN for a private
    one). Rows a pricer cannot use (no text, no finite price of 0 or more) are dropped from every
    kind of source; `open_split_counted` also says how many.
    """
    return open_split_counted(source, split, cache_dir)[0]


def open_split_counted(source: str | os.PathLike, split: str = "train",
                       cache_dir: str | None = None) -> tuple[Any, int]:
    """open_split's Dataset, and how many rows it dropped as unusable."""
    found = hub.resolve(str(source).strip(), "dataset", suffixes=TABLE_SUFFIXES)
    if isinstance(found, str):
        return _cleaned(_hub_split(found, split, streaming=False), found, cache_dir)
    if found.is_dir():
        saved = _saved_split(found, split)
        if saved is not None:
            return _cleaned(saved, str(found), cache_dir)
        return read_items([_split_file(found, split)], cache_dir=cache_dir)
    return read_items([found], cache_dir=cache_dir)


def _cleaned(data: Any, name: str, cache_dir: str | None) -> tuple[Any, int]:
    """A hub or save_to_disk split's usable (text, price) rows, cleaned as a file's are (into
    `cache_dir`, never beside the user's dataset), and how many were dropped."""
    from datasets import Features, Value

    read = len(data)
    features = Features({"text": Value("string"), "price": Value("float64")})
    digest = hashlib.sha256(f"{name}|{getattr(data, '_fingerprint', '')}".encode()).hexdigest()[:16]
    target = {"cache_file_name": str(Path(cache_dir) / f"clean-{digest}.arrow")} if cache_dir else {"keep_in_memory": True}
    data = data.select_columns(["text", "price"]).map(
        _clean_batch, batched=True, remove_columns=["text", "price"], features=features, **target)
    return data, read - len(data)


def _tolerant_rows(path: str, tally: str):
    """Usable rows of a file one by one; the count of skipped rows is written to `tally` at the end."""
    file, skipped = Path(path), 0
    suffix = file.suffix.lower()
    raw_rows = csv_records(file) if suffix in {".csv", ".tsv"} else _jsonl_rows(file)
    for raw in raw_rows:
        row = _row(raw)
        if row is None:
            skipped += 1
        else:
            yield row
    Path(tally).write_text(str(skipped), encoding="utf-8")


def _tolerant_read(path: Path, features: Any, cache_dir: str | None) -> tuple[Any, int]:
    """A file read row by row into Arrow (never the whole file as Python objects), malformed rows
    skipped; returns the Dataset and how many rows were skipped."""
    import tempfile

    from datasets import Dataset

    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        tally = Path(tmp) / "skipped"
        # the tally path is new each run, so datasets never serves a cached read of an older file
        try:
            part = Dataset.from_generator(_tolerant_rows, features=features, cache_dir=cache_dir,
                                          gen_kwargs={"path": str(path), "tally": str(tally)})
        except ValueError as exc:  # datasets refuses to build a dataset of no rows
            if "no data" not in str(exc).lower():
                raise
            part = Dataset.from_dict({"text": [], "price": []}, features=features)
        skipped = int(tally.read_text(encoding="utf-8"))
    if len(part) == 0:
        _file_rows(path, 1)  # names the missing columns when the file is not a pricer table
    return part, skipped


def split_items(n: int, test_size: int, train_size: int | None = None, seed: int = 42) -> tuple[list[int], list[int]]:
    """Indices of train and test: the course's `random.seed(42); random.shuffle(sample)`, then
    train = the first `train_size`, test = the `test_size` after them.

    >>> split_items(5, 2, seed=42)
    ([3, 1, 2], [4, 0])
    """
    if test_size < 1:
        raise BadInput(f"test size must be at least 1, not {test_size}.")
    if train_size is None and test_size >= n:
        raise BadInput(f"Cannot take {test_size:,} test items from {n:,} items and leave any for train: "
                       "curate more, or ask for fewer.")
    train_size = n - test_size if train_size is None else train_size
    if train_size < 1 or train_size + test_size > n:
        raise BadInput(f"Cannot take {train_size:,} train and {test_size:,} test items from {n:,} items: "
                       "curate more, or ask for fewer.")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order[:train_size], order[train_size:train_size + test_size]


def build_dataset(items: list[str | os.PathLike], *, test_size: int, train_size: int | None = None,
                  seed: int = 42, out: str | os.PathLike, push_to_hub: str | None = None,
                  private: bool = False, dry_run: bool = False) -> str:
    """Curated JSONL files -> `out/train.parquet` and `out/test.parquet` (and the hub, when asked).

    Both files are written into a temporary folder inside `out` and moved in only once both are
    complete, so an interrupted or failed build leaves the previous pair as it was (and no
    temporary files). Returns a summary line. With `dry_run`, everything short of the upload is
    done and checked.
    """
    import shutil

    from datasets import DatasetDict

    from pricer.config import cache_folder

    names = [f"{split}.parquet" for split in SPLITS]
    folder = writable_folder(out)  # before the work, not after
    for name in names:
        target_of(folder / name)  # a FIFO or a device in the way is refused now, not after the build
    tmp = scratch_folder(cache_folder("dataset"))  # a fresh Arrow cache for this build
    try:
        rows, skipped = read_items(items, cache_dir=str(tmp))
        train_idx, test_idx = split_items(len(rows), test_size, train_size, seed)
        test = rows.select(test_idx).map(
            lambda batch: {"text": [as_test_prompt(t) for t in batch["text"]]}, batched=True,
            load_from_cache_file=False)
        data = DatasetDict({"train": rows.select(train_idx).flatten_indices(), "test": test})
        try:
            with staged_files(folder, names) as staging:
                for split, name in zip(SPLITS, names, strict=True):
                    data[split].to_parquet(str(staging / name))
        except OSError as exc:  # disk full, permissions changed mid-run
            raise BadInput(f"Could not write {folder}: {exc.strerror or exc}. Free some space or choose "
                           "another --out; the previous files there are unchanged.") from None
        line = (f"{len(train_idx):,} train and {len(test_idx):,} test items (seed {seed}) from {len(rows):,} "
                f"-> {folder / names[0]}, {folder / names[1]}")
        if skipped:
            line += f"; {PricerRows(skipped=skipped, source=', '.join(Path(p).name for p in items)).note}"
        if push_to_hub:
            line += "; " + push(data, push_to_hub, private=private, dry_run=dry_run)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return line


def push(data: Any, repo: str, *, private: bool = False, dry_run: bool = False) -> str:
    """Push a DatasetDict to the hub with HF_TOKEN (never printed); dry_run stops before the network."""
    if "/" not in repo or hub.looks_like_path(repo):
        raise BadInput(f"{repo!r} is not a hub dataset id: give owner/name, e.g. you/pricer-data.")
    token = hub.token()
    how = "create one at https://huggingface.co/settings/tokens and set it as HF_TOKEN"
    if dry_run:  # sends nothing: a missing token is noted, not refused
        plan = f"dry run: would push train and test to {repo} ({'private' if private else 'public'})"
        return plan if token else f"{plan}; HF_TOKEN is not set: the real push needs a write token ({how})"
    if not token:
        raise AccessDenied(f"Pushing to {repo} needs a write token: {how}.")
    hub.require_hub(f"the dataset {repo}")
    from httpx2 import TransportError  # huggingface_hub's HTTP client
    from huggingface_hub.errors import HfHubHTTPError

    try:
        data.push_to_hub(repo, private=private, token=token)
    except HfHubHTTPError as exc:
        denied = (f"The Hub refused to push to {repo} ({{status}}): HF_TOKEN needs write access to "
                  f"{repo.split('/')[0]} (https://huggingface.co/settings/tokens).")
        raise hub.hub_error(exc, {401: denied, 403: denied,
                                  "refused": f"The Hub refused to push to {repo} ({{status}}): {{server}}",
                                  "failed": f"Pushing to {repo} failed ({{status}}): {{server}}. Try again; the "
                                            "local files are written."}) from None
    except TransportError as exc:
        raise HubUnavailable(f"Pushing to {repo} failed: {type(exc).__name__} talking to {hub.endpoint()}. "
                             "Try again; the local files are written.") from None
    return f"pushed to {hub.endpoint()}/datasets/{repo}"
