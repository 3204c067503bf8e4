"""pricer.data.datasets: one loader for hub ids and local files/folders (malformed rows skipped and
counted), and building the course's train/test schema with its seeded shuffle."""

from __future__ import annotations

import json
import random

import pytest
from stand_in import JsonHandler, hub_online, serving

from pricer.data.datasets import PricerRows, as_test_prompt, build_dataset, load_pricer_dataset, split_items
from pricer.errors import AccessDenied, BadInput, HubUnavailable, NotFound

Q = "How much does this cost to the nearest dollar?\n\n"


def prompt(i: int, price: float) -> str:
    return f"{Q}Item {i}\nA fine product number {i}.\n\nPrice is ${round(price)}.00"


def write_items(path, n, start=0):
    rows = [{"text": prompt(i, 10 + i * 1.5), "price": 10 + i * 1.5, "category": "A", "title": f"Item {i}"}
            for i in range(start, start + n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return rows


# --- loading ------------------------------------------------------------------------------------


def test_loads_the_course_test_items_in_order(test_250):
    rows = load_pricer_dataset(test_250)
    assert isinstance(rows, PricerRows) and isinstance(rows, list) and len(rows) == 250
    assert rows[0]["price"] == 374.41 and rows[0]["text"].endswith("\n\nPrice is $")
    assert set(rows[0]) == {"text", "price"} and rows.skipped == 0 and rows.note == ""
    assert load_pricer_dataset(test_250, size=10) == rows[:10]


def test_loads_train_items_from_a_file_whatever_the_split(train_550):
    rows = load_pricer_dataset(train_550, split="train", size=550)
    assert len(rows) == 550 and rows[0]["price"] == 226.95 and rows[0]["text"].endswith("Price is $227.00")


def test_malformed_rows_are_skipped_and_counted(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([
        json.dumps({"text": "ok 1", "price": 5.0}).encode(),
        b'{"text": "cut off',
        json.dumps({"text": "", "price": 3}).encode(),
        json.dumps({"text": "no price"}).encode(),
        json.dumps({"text": "bad price", "price": "abc"}).encode(),
        json.dumps({"text": "negative", "price": -1}).encode(),
        json.dumps({"text": "nan", "price": float("nan")}).encode(),
        b"[1, 2]",
        b"",
        json.dumps({"text": "ok 2 \u4e2d\u6587 \U0001f600", "price": "12.50"}).encode(),
    ]))
    rows = load_pricer_dataset(path)
    assert rows == [{"text": "ok 1", "price": 5.0}, {"text": "ok 2 中文 😀", "price": 12.5}]
    assert rows.skipped == 7
    assert rows.note == "mixed.jsonl: skipped 7 malformed rows (a row needs a text and a numeric price)."


def test_nothing_usable_is_an_error_that_names_the_columns(tmp_path):
    (tmp_path / "wrong.jsonl").write_text('{"prompt": "x", "cost": 3}\n')
    with pytest.raises(BadInput, match="columns prompt, cost.*needs 'text' and 'price'"):
        load_pricer_dataset(tmp_path / "wrong.jsonl")
    (tmp_path / "wrong.csv").write_text("prompt,cost\nx,3\n")
    with pytest.raises(BadInput, match="missing: text, price"):
        load_pricer_dataset(tmp_path / "wrong.csv")
    (tmp_path / "junk.jsonl").write_text("junk\nmore junk\n")
    with pytest.raises(BadInput, match="no usable rows .2 malformed"):
        load_pricer_dataset(tmp_path / "junk.jsonl")


def test_csv_parquet_and_folders_load_the_same_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"text": f"{Q}Thing {i}, with a comma\n\nPrice is $", "price": 1.25 * i + 1} for i in range(5)]
    with (tmp_path / "t.csv").open("w", newline="", encoding="utf-8") as f:
        import csv

        writer = csv.DictWriter(f, fieldnames=["Text", "Price"])
        writer.writeheader()
        writer.writerows({"Text": r["text"], "Price": f"${r['price']:,.2f}"} for r in rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "t.parquet")
    folder = tmp_path / "splits"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), folder / "test.parquet")
    from datasets import Dataset, DatasetDict

    DatasetDict({"train": Dataset.from_list(rows[:2]), "test": Dataset.from_list(rows)}).save_to_disk(tmp_path / "dd")
    Dataset.from_list(rows).save_to_disk(tmp_path / "ds")
    for source in ("t.csv", "t.parquet", "splits", "dd", "ds"):
        assert load_pricer_dataset(tmp_path / source, split="test") == rows, source
    assert load_pricer_dataset(tmp_path / "dd", split="train") == rows[:2]
    assert load_pricer_dataset(tmp_path / "dd", size=3) == rows[:3]
    with pytest.raises(BadInput, match="no 'validation' split"):
        load_pricer_dataset(tmp_path / "dd", split="validation")
    with pytest.raises(BadInput, match="no 'train' split"):
        load_pricer_dataset(folder, split="train")


def test_default_source_comes_from_the_settings(monkeypatch, test_250):
    monkeypatch.setenv("PRICER_DATASET", str(test_250))
    assert load_pricer_dataset(None, size=2) == load_pricer_dataset(test_250, size=2)


def test_hub_ids_fail_fast_offline_and_bad_paths_are_named(no_network):
    with pytest.raises(HubUnavailable, match="HF_HUB_OFFLINE"):
        load_pricer_dataset("ed-donner/pricer-data")
    with pytest.raises(NotFound, match="No such file"):
        load_pricer_dataset("./missing/test.jsonl")
    with pytest.raises(NotFound, match="No such file"):
        load_pricer_dataset("missing.parquet")
    with pytest.raises(BadInput, match="size"):
        load_pricer_dataset("x.jsonl", size=0)


# --- building -----------------------------------------------------------------------------------


def test_split_is_the_course_shuffle():
    sample = list(range(1000))
    random.seed(42)
    random.shuffle(sample)  # what the course did to its list of items
    train, test = split_items(1000, test_size=20, train_size=900, seed=42)
    assert train == sample[:900] and test == sample[900:920]
    assert split_items(1000, 20, seed=42)[1] == sample[980:]  # default: train is the rest
    with pytest.raises(BadInput, match="Cannot take"):
        split_items(10, 5, 6)
    with pytest.raises(BadInput, match="test size"):
        split_items(10, 0)
    with pytest.raises(BadInput, match="Cannot take 12 test items from 10 items and leave any for train"):
        split_items(10, 12)  # not "-2 train"


def test_build_writes_the_course_schema_and_loads_back(tmp_path):
    rows = write_items(tmp_path / "a.jsonl", 30) + write_items(tmp_path / "b.jsonl", 20, start=30)
    line = build_dataset([tmp_path / "a.jsonl", tmp_path / "b.jsonl"], test_size=10, train_size=35, seed=42,
                         out=tmp_path / "ds")
    assert line.startswith("35 train and 10 test items (seed 42) from 50 ->")
    train = load_pricer_dataset(tmp_path / "ds", split="train")
    test = load_pricer_dataset(tmp_path / "ds", split="test")
    train_idx, test_idx = split_items(50, 10, 35, 42)
    assert train == [{"text": rows[i]["text"], "price": rows[i]["price"]} for i in train_idx]
    assert test == [{"text": as_test_prompt(rows[i]["text"]), "price": rows[i]["price"]} for i in test_idx]
    assert all(r["text"].endswith("\n\nPrice is $") for r in test)
    import pyarrow.parquet as pq

    assert pq.read_schema(tmp_path / "ds" / "train.parquet").names == ["text", "price"]
    # same seed, same split; another seed, another split
    build_dataset([tmp_path / "a.jsonl", tmp_path / "b.jsonl"], test_size=10, train_size=35, out=tmp_path / "again")
    assert load_pricer_dataset(tmp_path / "again", split="test") == test
    build_dataset([tmp_path / "a.jsonl", tmp_path / "b.jsonl"], test_size=10, seed=7, out=tmp_path / "other")
    assert load_pricer_dataset(tmp_path / "other", split="test") != test


def test_build_rejects_bad_items_clearly(tmp_path):
    write_items(tmp_path / "a.jsonl", 5)
    with pytest.raises(BadInput, match="Cannot take"):
        build_dataset([tmp_path / "a.jsonl"], test_size=10, out=tmp_path / "ds")
    with pytest.raises(NotFound, match="No such file"):
        build_dataset([tmp_path / "nope.jsonl"], test_size=1, out=tmp_path / "ds")


def test_push_is_dry_runnable_and_never_shows_the_token(tmp_path, monkeypatch):
    write_items(tmp_path / "a.jsonl", 12)
    secret = "hf_SeCrEtT0kenValue1234567890"
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no token file either
    with pytest.raises(AccessDenied, match="HF_TOKEN"):
        build_dataset([tmp_path / "a.jsonl"], test_size=2, out=tmp_path / "ds", push_to_hub="me/pricer-data")
    # a dry run sends nothing: without a token it still shows the plan, the token's absence noted
    line = build_dataset([tmp_path / "a.jsonl"], test_size=2, out=tmp_path / "ds", push_to_hub="me/pricer-data",
                         dry_run=True)
    assert "dry run: would push train and test to me/pricer-data (public); HF_TOKEN is not set" in line
    monkeypatch.setenv("HF_TOKEN", secret)
    line = build_dataset([tmp_path / "a.jsonl"], test_size=2, out=tmp_path / "ds", push_to_hub="me/pricer-data",
                         private=True, dry_run=True)
    assert "dry run: would push train and test to me/pricer-data (private)" in line and secret not in line
    with pytest.raises(HubUnavailable) as exc:  # the real push stops at the network boundary, offline
        build_dataset([tmp_path / "a.jsonl"], test_size=2, out=tmp_path / "ds", push_to_hub="me/pricer-data")
    assert secret not in str(exc.value)
    with pytest.raises(BadInput, match="owner/name"):
        build_dataset([tmp_path / "a.jsonl"], test_size=2, out=tmp_path / "ds", push_to_hub="pricer-data")


def test_build_skips_and_counts_malformed_item_lines(tmp_path):
    rows = write_items(tmp_path / "a.jsonl", 12)
    with (tmp_path / "a.jsonl").open("a") as f:
        f.write('{"text": "cut off\n{"text": "no price"}\n' + "[" * 100_000 + "]" * 100_000 + "\n")
    line = build_dataset([tmp_path / "a.jsonl"], test_size=2, out=tmp_path / "ds")
    assert line.startswith("10 train and 2 test items (seed 42) from 12 ->")
    assert line.endswith("a.jsonl: skipped 3 malformed rows (a row needs a text and a numeric price).")
    train_idx, _ = split_items(12, 2, seed=42)
    assert load_pricer_dataset(tmp_path / "ds", split="train")[0]["text"] == rows[train_idx[0]]["text"]


def test_build_from_files_of_the_wrong_shape_names_the_columns(tmp_path):
    (tmp_path / "a.csv").write_text("title,cost\nA mug,3\n", encoding="utf-8")
    with pytest.raises(BadInput, match="missing: text, price"):
        build_dataset([tmp_path / "a.csv"], test_size=1, out=tmp_path / "ds")
    (tmp_path / "b.jsonl").write_text('{"title": "A mug", "cost": 3}\n{broken\n', encoding="utf-8")
    with pytest.raises(BadInput, match="missing: text, price"):
        build_dataset([tmp_path / "b.jsonl"], test_size=1, out=tmp_path / "ds")


def test_build_reads_csv_items_and_counts_their_bad_rows(tmp_path):
    rows = write_items(tmp_path / "a.jsonl", 6)
    with (tmp_path / "a.csv").open("w", encoding="utf-8", newline="") as f:
        import csv

        writer = csv.writer(f)
        writer.writerow(["text", "price"])
        writer.writerows([[r["text"], r["price"]] for r in rows] + [["no price", "n/a"]])
    line = build_dataset([tmp_path / "a.csv"], test_size=2, out=tmp_path / "ds")
    assert line.startswith("4 train and 2 test items (seed 42) from 6 ->") and "skipped 1 malformed row " in line


def test_a_row_with_an_escaped_lone_surrogate_is_skipped_not_a_crash(tmp_path):
    rows = write_items(tmp_path / "a.jsonl", 6)
    with (tmp_path / "a.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps({"text": "How much? A \ud800 mug\n\nPrice is $3.00", "price": 3.0}) + "\n")
    line = build_dataset([tmp_path / "a.jsonl"], test_size=2, out=tmp_path / "ds")
    assert line.startswith("4 train and 2 test items (seed 42) from 6 ->") and "skipped 1 malformed row " in line
    loaded = load_pricer_dataset(tmp_path / "a.jsonl", split="train")
    assert len(loaded) == 6 and loaded.skipped == 1 and loaded[0]["text"] == rows[0]["text"]


class RefusingHub(JsonHandler):
    """A Hub that refuses every request as unauthorized, and records the paths asked for."""

    paths: list[str] = []

    def answer(self):
        RefusingHub.paths.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_json(401, {"error": "Invalid credentials in Authorization header"})


def test_a_refused_push_is_one_message_without_the_token(tmp_path, monkeypatch):
    import datasets

    write_items(tmp_path / "a.jsonl", 12)
    secret = "hf_SeCrEtT0kenValue1234567890"
    monkeypatch.setenv("HF_TOKEN", secret)
    RefusingHub.paths = []
    with serving(RefusingHub) as url:
        hub_online(monkeypatch, url)
        monkeypatch.setattr(datasets.config, "HF_ENDPOINT", url)  # datasets read HF_ENDPOINT at import
        with pytest.raises(AccessDenied, match="refused to push to me/pricer-data .401.: HF_TOKEN needs write") as exc:
            build_dataset([tmp_path / "a.jsonl"], test_size=2, out=tmp_path / "ds", push_to_hub="me/pricer-data")
    assert RefusingHub.paths and secret not in str(exc.value)
    assert (tmp_path / "ds" / "train.parquet").exists()  # the local files are kept


# --- nothing lost: a rebuild swaps in a complete pair or nothing --------------------------------


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize(("failure", "raised", "message"), [
    (KeyboardInterrupt, KeyboardInterrupt, None),
    (lambda: OSError(28, "No space left on device"), BadInput,
     "No space left on device.*previous files there are unchanged"),
])
def test_an_interrupted_rebuild_keeps_the_previous_pair_whole(tmp_path, monkeypatch, failure, raised, message):
    import datasets

    write_items(tmp_path / "a.jsonl", 30)
    build_dataset([tmp_path / "a.jsonl"], test_size=5, seed=1, out=tmp_path / "ds")
    before = _files(tmp_path / "ds")
    write_parquet = datasets.Dataset.to_parquet

    def dies_writing_test(self, path, *args, **kwargs):  # a kill or a full disk half way through the pair
        if "test" in str(path):
            with open(path, "wb") as f:
                f.write(b"PAR1 half a file")
            raise failure()
        return write_parquet(self, path, *args, **kwargs)

    monkeypatch.setattr(datasets.Dataset, "to_parquet", dies_writing_test)
    with pytest.raises(raised, match=message):
        build_dataset([tmp_path / "a.jsonl"], test_size=5, seed=2, out=tmp_path / "ds")
    assert _files(tmp_path / "ds") == before  # no 0-byte train.parquet, no new train beside the old test
    assert load_pricer_dataset(tmp_path / "ds", split="test")  # still readable


def test_a_build_leaves_no_temporary_files(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("PRICER_CACHE", str(cache))
    write_items(tmp_path / "a.jsonl", 12)
    build_dataset([tmp_path / "a.jsonl"], test_size=2, out=tmp_path / "ds")
    assert sorted(_files(tmp_path / "ds")) == ["test.parquet", "train.parquet"]
    assert list((cache / "dataset").iterdir()) == []
    with pytest.raises(BadInput):  # a failed build cleans up too
        build_dataset([tmp_path / "a.jsonl"], test_size=50, out=tmp_path / "ds")
    assert list((cache / "dataset").iterdir()) == []


def test_a_build_writes_through_a_symlink_and_refuses_a_fifo_before_any_work(tmp_path):
    import os

    write_items(tmp_path / "a.jsonl", 12)
    (tmp_path / "store").mkdir()
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "train.parquet").symlink_to(tmp_path / "store" / "train.parquet")
    build_dataset([tmp_path / "a.jsonl"], test_size=2, out=tmp_path / "ds")
    assert (tmp_path / "ds" / "train.parquet").is_symlink() and (tmp_path / "store" / "train.parquet").stat().st_size
    os.mkfifo(tmp_path / "ds" / "test.parquet.fifo")
    (tmp_path / "ds" / "test.parquet").unlink()
    (tmp_path / "ds" / "test.parquet.fifo").rename(tmp_path / "ds" / "test.parquet")
    with pytest.raises(BadInput, match="test.parquet is a FIFO"):
        build_dataset([tmp_path / "a.jsonl"], test_size=2, out=tmp_path / "ds")


# --- a whole split as Arrow (training) -----------------------------------------------------------


def test_open_split_reads_files_folders_and_saved_datasets_as_the_same_arrow_rows(tmp_path):
    from datasets import Dataset, DatasetDict

    from pricer.data.datasets import open_split

    rows = [{"text": f"item {n}", "price": float(n + 1)} for n in range(5)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    DatasetDict({"train": Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "saved"))
    for source in (tmp_path / "train.jsonl", tmp_path, tmp_path / "saved"):
        data = open_split(source, "train", cache_dir=str(tmp_path / "cache"))
        assert data.column_names == ["text", "price"] and data.to_list() == rows, source
    with pytest.raises(BadInput, match="no 'test' split"):
        open_split(tmp_path / "saved", "test")
    with pytest.raises(BadInput, match="no 'test' split: expected test.parquet"):
        open_split(tmp_path, "test")
    with pytest.raises(NotFound, match="No such"):
        open_split(tmp_path / "missing.parquet")


def test_unusable_rows_are_dropped_and_counted_from_every_kind_of_source(tmp_path):
    from datasets import Dataset, DatasetDict

    from pricer.data.datasets import open_split_counted

    good = [{"text": f"item {n}", "price": float(n + 1)} for n in range(3)]
    bad = [{"text": "refund", "price": -5.0}, {"text": " ", "price": 5.0}, {"text": "nan", "price": float("nan")}]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in good + bad), encoding="utf-8")
    DatasetDict({"train": Dataset.from_list(good + bad)}).save_to_disk(str(tmp_path / "saved"))
    for source, cache in ((tmp_path / "train.jsonl", tmp_path / "cache"), (tmp_path / "saved", tmp_path / "cache"),
                          (tmp_path / "saved", None)):
        data, dropped = open_split_counted(source, "train", cache_dir=cache and str(cache))
        assert (data.to_list(), dropped) == (good, 3), source
    assert sorted(p.name for p in (tmp_path / "saved" / "train").iterdir() if p.name.startswith("cache-")) == []
