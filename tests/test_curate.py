"""pricer.data.curate: local JSONL/Parquet sources and hub categories -> curated JSONL, with every bad
input counted by reason, parallel reading and curation equal to the serial result, and the
course's record-by-record code as the reference."""

from __future__ import annotations

import json

import pytest
from stand_in import JsonHandler, hub_online, serving

from pricer.data import curate
from pricer.data.curate import CurationSummary, curate_to_jsonl, read_jsonl
from pricer.data.items import curate_batch
from pricer.errors import BadInput, HubUnavailable, NotFound

BODY = ("Fits most 2004 to 2012 pickups and ships with the mounting hardware, gaskets and a printed "
        "guide, so the swap takes under an hour with hand tools. ") * 8


def good(title="Acme Radiator Cap", price=24.99, **fields):
    return {"title": title, "description": [BODY], "features": ["Steel", "Rubber seal"],
            "details": {"Brand": "Acme", "Batteries Required?": "No"}, "price": price,
            "images": [], "main_category": "Automotive"} | fields


# Each bad input of the issue, as a raw record (or a raw line), with what it must become.
AWKWARD = [
    (good(price=None), "missing price"), (good(price="None"), "missing price"), (good(price=""), "missing price"),
    (good(price="$12.99"), "bad price"), (good(price="from 5.00"), "bad price"), (good(price="—"), "bad price"),
    (good(price="nan"), "price out of range"), (good(price="-5"), "price out of range"),
    (good(price=1200), "price out of range"),
    ({"title": "No price key", "description": [BODY]}, "missing price"),
    ({"price": 10.0, "description": [BODY]}, "missing title"),
    (good(description=[], features=[], details={}), "too short"),
    (good(description=None, features=None, details=None), "too short"),
    (good(title="😀 Emoji 🎉 Mug", description=["🔥 " * 30 + BODY]), None),
    (good(title="高品质不锈钢保温杯", description=["高品质不锈钢材料，经久耐用。" * 20 + BODY]), None),
    (good(title="منتج عالي الجودة", description=["منتج عالي الجودة مع ضمان " * 20 + BODY]), None),
    (good(description=["Long description. " * 6000]), None),  # ~100 KB
    (good(price="7.5"), None), (good(price=19), None),
]
MALFORMED = [b'{"title": "cut off', b"not json at all", b"[1, 2, 3]", b'"a string"', b"\xff\xfe bad utf-8 \x80",
             b'{"title": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"]  # too deep for json.loads


def write_raw(path, records, malformed=()):
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in records] + list(malformed)
    path.write_bytes(b"\n".join(lines[:3] + [b"", b"   "] + lines[3:]) + b"\n")  # blank lines are not records
    return path


def read_out(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_bad_input_is_counted_by_reason_and_good_ones_kept(tmp_path, llama):
    raw = write_raw(tmp_path / "meta_Automotive.jsonl", [r for r, _ in AWKWARD], MALFORMED)
    summary = curate_to_jsonl(raw, tmp_path / "items.jsonl", workers=1)
    expected = {}
    for _, reason in AWKWARD:
        if reason:
            expected[reason] = expected.get(reason, 0) + 1
    expected["malformed JSON line"] = len(MALFORMED)
    assert summary.rejected == expected
    assert summary.records == len(AWKWARD) + len(MALFORMED)
    kept = read_out(tmp_path / "items.jsonl")
    assert summary.kept == len(kept) == sum(reason is None for _, reason in AWKWARD)
    reference = curate_batch([r for r, reason in AWKWARD if reason is None], llama, "Automotive")
    assert kept == [item.to_record() for item in reference]
    assert {row["category"] for row in kept} == {"Automotive"}
    assert kept[0]["title"] == "😀 Emoji 🎉 Mug" and "高品质" in kept[1]["text"]


def test_output_matches_the_course_code_on_realistic_records(tmp_path, shared_data):
    from benchmarks.course_loader import ItemLoader
    from benchmarks.curate_bench import realistic_records
    from pricer.data.items import hub_record

    raw = realistic_records(300, seed=3, shared=shared_data)
    write_raw(tmp_path / "meta_Toys_and_Games.jsonl", raw)
    summary = curate_to_jsonl(tmp_path / "meta_Toys_and_Games.jsonl", tmp_path / "out.jsonl", workers=1)
    loader = ItemLoader("Toys_and_Games", None)
    course = [item for item in (loader.from_datapoint(hub_record(r)) for r in raw) if item]
    kept = read_out(tmp_path / "out.jsonl")
    assert [row["text"] for row in kept] == [item.prompt for item in course]
    assert [row["price"] for row in kept] == [item.price for item in course]
    assert summary.category == "Toys_and_Games" and summary.kept == len(course) > 100


def test_parallel_byte_ranges_read_every_line_once(tmp_path):
    lines = [json.dumps({"title": f"t{i}", "price": i, "description": ["é" * (i % 50)]}) for i in range(500)]
    path = tmp_path / "raw.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    size = path.stat().st_size
    for cuts in ([0, size], [0, 1, 2, size], [0, 997, 5000, 5001, size], list(range(0, size, 333)) + [size]):
        ranges = [(str(path), a, b) for a, b in zip(cuts, cuts[1:], strict=False)]
        assert [row["title"] for row in read_jsonl(ranges)] == [f"t{i}" for i in range(500)]


def test_two_workers_give_the_same_file_as_one(tmp_path, shared_data, monkeypatch):
    from benchmarks.curate_bench import realistic_records

    monkeypatch.setattr(curate, "MIN_SHARD_BYTES", 50_000)  # several byte ranges, read in parallel
    raw = realistic_records(2500, seed=5, shared=shared_data)
    write_raw(tmp_path / "meta_Electronics.jsonl", raw, MALFORMED)
    one = curate_to_jsonl(tmp_path / "meta_Electronics.jsonl", tmp_path / "one.jsonl", workers=1)
    two = curate_to_jsonl(tmp_path / "meta_Electronics.jsonl", tmp_path / "two.jsonl", workers=2)
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    assert (one.kept, one.rejected, one.records) == (two.kept, two.rejected, two.records)
    assert two.records == 2500 + len(MALFORMED)


def test_hub_form_parquet_and_folders_curate_like_jsonl(tmp_path, llama):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pricer.data.items import hub_record

    records = [r for r, _ in AWKWARD]
    write_raw(tmp_path / "meta_Appliances.jsonl", records)
    hub_rows = [hub_record(r) for r in records]  # details a JSON string, price a string
    folder = tmp_path / "parquet"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(hub_rows[:10]), folder / "part-0.parquet")
    pq.write_table(pa.Table.from_pylist(hub_rows[10:]), folder / "part-1.parquet")
    a = curate_to_jsonl(tmp_path / "meta_Appliances.jsonl", tmp_path / "a.jsonl", workers=1)
    b = curate_to_jsonl(folder, tmp_path / "b.jsonl", workers=1, category="Appliances")
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    assert a.rejected == b.rejected and a.kept == b.kept > 0


def test_limit_and_append(tmp_path):
    write_raw(tmp_path / "meta_A.jsonl", [good(title=f"Item {i}") for i in range(30)])
    first = curate_to_jsonl(tmp_path / "meta_A.jsonl", tmp_path / "out.jsonl", limit=7, workers=2)
    second = curate_to_jsonl(tmp_path / "meta_A.jsonl", tmp_path / "out.jsonl", limit=3, append=True,
                             category="B")
    rows = read_out(tmp_path / "out.jsonl")
    assert (first.records, second.records, len(rows)) == (7, 3, 10)
    assert [r["category"] for r in rows] == ["A"] * 7 + ["B"] * 3


def test_a_hub_category_fails_fast_offline(tmp_path, no_network):
    with pytest.raises(HubUnavailable, match="HF_HUB_OFFLINE"):
        curate_to_jsonl("Appliances", tmp_path / "out.jsonl")


def test_bad_sources_say_what_to_do(tmp_path):
    with pytest.raises(NotFound, match="No such file"):
        curate_to_jsonl(tmp_path / "missing.jsonl", tmp_path / "out.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(BadInput, match="holds no records"):
        curate_to_jsonl(tmp_path / "empty.jsonl", tmp_path / "out.jsonl")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BadInput, match="not a .jsonl or .parquet"):
        curate_to_jsonl(tmp_path / "notes.txt", tmp_path / "out.jsonl")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(BadInput, match="Parquet"):
        curate_to_jsonl(tmp_path / "broken.parquet", tmp_path / "out.jsonl")
    with pytest.raises(BadInput, match="workers"):
        curate_to_jsonl(tmp_path / "empty.jsonl", tmp_path / "out.jsonl", workers=0)


def test_curated_items_given_as_raw_records_are_refused_not_curated_to_nothing(tmp_path):
    items = [{"text": "How much does this cost to the nearest dollar?\n\nMug\n\nPrice is $3.00", "price": 3.0,
              "category": "Kitchen", "title": "Mug"}] * 3
    (tmp_path / "items.jsonl").write_text("{broken\n" + "".join(json.dumps(i) + "\n" for i in items))
    with pytest.raises(BadInput, match="holds curated pricer items .* pricer dataset --items"):
        curate_to_jsonl(tmp_path / "items.jsonl", tmp_path / "out.jsonl")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(items), tmp_path / "train.parquet")
    with pytest.raises(BadInput, match="holds curated pricer items"):
        curate_to_jsonl(tmp_path / "train.parquet", tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_category_names_and_the_summary_line():
    assert curate.category_name("data/meta_Appliances.jsonl") == "Appliances"
    assert curate.category_name("raw_meta_Toys_and_Games") == "Toys_and_Games"
    assert curate.category_name("x/Office_Products.parquet") == "Office_Products"
    summary = CurationSummary("Appliances", 94327, 28625, {"missing price": 40000, "too short": 25702}, 12.07)
    assert summary.line() == ("Appliances: kept 28,625 of 94,327 (rejected: 40,000 missing price, "
                              "25,702 too short) in 12.1 s")
    assert CurationSummary("A", 3, 3).line() == "A: kept 3 of 3 (none rejected) in 0.0 s"


class FakeDatasetHub(JsonHandler):
    """Serves raw/meta_categories/meta_<Category>.jsonl of the Amazon dataset like the hub's resolve
    endpoint (HEAD for metadata, GET for the bytes); other files are missing."""

    files: dict[str, bytes] = {}

    def _answer(self, body: bool) -> None:
        name = self.path.split("/resolve/main/", 1)[-1].split("?")[0]
        data = self.files.get(name)
        if data is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{abs(hash(data))}"')
        self.send_header("X-Repo-Commit", "a" * 40)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self):  # noqa: N802
        self._answer(body=False)

    def do_GET(self):  # noqa: N802
        self._answer(body=True)


@pytest.fixture
def dataset_hub(monkeypatch, tmp_path):
    FakeDatasetHub.files = {}
    with serving(FakeDatasetHub) as url:
        hub_online(monkeypatch, url)
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
        monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub-cache"))
        yield FakeDatasetHub.files


def test_a_hub_category_is_downloaded_then_curated(dataset_hub, tmp_path, llama):
    records = [r for r, _ in AWKWARD]
    dataset_hub["raw/meta_categories/meta_Musical_Instruments.jsonl"] = (
        "".join(json.dumps(r) + "\n" for r in records).encode())
    summary = curate_to_jsonl("Musical_Instruments", tmp_path / "out.jsonl", workers=1)
    kept = read_out(tmp_path / "out.jsonl")
    assert summary.category == "Musical_Instruments" and summary.records == len(records)
    assert kept == [item.to_record() for item in curate_batch([r for r, why in AWKWARD if why is None], llama,
                                                              "Musical_Instruments")]
    with pytest.raises(NotFound, match="has no category 'Musical_Instrument'.*case-sensitive"):
        curate_to_jsonl("Musical_Instrument", tmp_path / "out.jsonl")


def test_gzipped_jsonl_is_read_like_plain(tmp_path):
    import gzip

    raw = write_raw(tmp_path / "meta_Office_Products.jsonl", [r for r, _ in AWKWARD], MALFORMED)
    (tmp_path / "gz").mkdir()
    (tmp_path / "gz" / "meta_Office_Products.jsonl.gz").write_bytes(gzip.compress(raw.read_bytes()))
    plain = curate_to_jsonl(raw, tmp_path / "plain.jsonl", workers=1)
    zipped = curate_to_jsonl(tmp_path / "gz" / "meta_Office_Products.jsonl.gz", tmp_path / "zipped.jsonl", workers=1)
    assert zipped.category == "Office_Products" and zipped.rejected == plain.rejected
    assert (tmp_path / "plain.jsonl").read_bytes() == (tmp_path / "zipped.jsonl").read_bytes()


def test_an_escaped_lone_surrogate_is_rejected_not_a_crash(tmp_path):
    # valid JSON, but no UTF-8 file or Arrow column can hold "\ud800": the record is counted
    lone = json.dumps(good(title="Mug \ud800 cup")).encode()
    pair = json.dumps(good(title="Mug \U0001f600 cup")).encode()  # an escaped surrogate pair is an emoji
    raw = tmp_path / "meta_Kitchen.jsonl"
    raw.write_bytes(lone + b"\n" + pair + b"\n")
    summary = curate_to_jsonl(raw, tmp_path / "items.jsonl", workers=1)
    assert summary.rejected == {"invalid Unicode": 1} and summary.kept == 1
    assert read_out(tmp_path / "items.jsonl")[0]["title"] == "Mug \U0001f600 cup"


def test_raw_lone_surrogate_bytes_in_one_line_are_counted_not_fatal(tmp_path):
    # U+D800 written as raw UTF-8-style bytes (ED A0 80), not as a JSON escape: json.loads accepts it
    lone = json.dumps(good(title="Mug X cup"), ensure_ascii=False).encode().replace(b"X", b"\xed\xa0\x80")
    raw = tmp_path / "meta_Kitchen.jsonl"
    raw.write_bytes(lone + b"\n" + json.dumps(good(title="Mug cup")).encode() + b"\n")
    summary = curate_to_jsonl(raw, tmp_path / "items.jsonl", workers=1)
    assert summary.rejected == {"invalid Unicode": 1} and summary.kept == 1


def test_more_workers_than_cpus_are_capped_with_a_note(tmp_path):
    import os

    cpus = len(os.sched_getaffinity(0))
    write_raw(tmp_path / "meta_A.jsonl", [good(title=f"Item {i}") for i in range(5)])
    summary = curate_to_jsonl(tmp_path / "meta_A.jsonl", tmp_path / "out.jsonl", workers=1000)
    assert summary.kept == 5
    assert summary.note.startswith(f"used {cpus} worker") and "not 1,000" in summary.note
    assert summary.line().endswith(summary.note)
    assert curate.usable_workers(1) == (1, "")


@pytest.mark.parametrize("damage", ["cut short", "corrupt", "not gzip"])
def test_a_damaged_gzip_source_gives_a_clear_message(tmp_path, damage):
    import gzip

    whole = gzip.compress(b"".join(json.dumps(good(title=f"Item {i}")).encode() + b"\n" for i in range(300)))
    data = {"cut short": whole[: len(whole) // 2], "corrupt": whole[:40] + bytes(len(whole) - 48) + whole[-8:],
            "not gzip": b"this was never gzip"}[damage]
    (tmp_path / "meta_A.jsonl.gz").write_bytes(data)
    with pytest.raises(BadInput, match=r"meta_A.jsonl.gz cannot be read to the end .*cut short or corrupt"):
        curate_to_jsonl(tmp_path / "meta_A.jsonl.gz", tmp_path / "out.jsonl", workers=1)
    assert not (tmp_path / "out.jsonl").exists()


def test_out_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    write_raw(tmp_path / "meta_A.jsonl", [good(title=f"Item {i}") for i in range(4)])
    (tmp_path / "store").mkdir()
    link = tmp_path / "items.jsonl"
    link.symlink_to(tmp_path / "store" / "items.jsonl")
    curate_to_jsonl(tmp_path / "meta_A.jsonl", link, workers=1)
    curate_to_jsonl(tmp_path / "meta_A.jsonl", link, workers=1, limit=2, append=True, category="B")
    assert link.is_symlink() and len(read_out(tmp_path / "store" / "items.jsonl")) == 6


def test_out_as_a_fifo_or_a_device_is_refused_before_any_work(tmp_path):
    import os

    write_raw(tmp_path / "meta_A.jsonl", [good()])
    os.mkfifo(tmp_path / "pipe.jsonl")
    with pytest.raises(BadInput, match="pipe.jsonl is a FIFO .named pipe., not a regular file"):
        curate_to_jsonl(tmp_path / "meta_A.jsonl", tmp_path / "pipe.jsonl", workers=1)
    (tmp_path / "null.jsonl").symlink_to("/dev/null")
    with pytest.raises(BadInput, match="is a device, not a regular file"):
        curate_to_jsonl(tmp_path / "meta_A.jsonl", tmp_path / "null.jsonl", workers=1)
    assert (tmp_path / "null.jsonl").is_symlink() and os.path.exists("/dev/null")


def test_an_interrupted_append_keeps_the_earlier_items_whole(tmp_path):
    write_raw(tmp_path / "meta_A.jsonl", [good(title=f"Item {i}") for i in range(6)])
    curate_to_jsonl(tmp_path / "meta_A.jsonl", tmp_path / "out.jsonl", workers=1)
    before = (tmp_path / "out.jsonl").read_bytes()
    curated = curate.curate_raw(curate.load_raw([tmp_path / "meta_A.jsonl"], workers=1), category="A", workers=1)

    class KilledAfterOneBatch:  # the real curated rows, with a kill after the first batch is written
        def iter(self, batch_size):
            yield next(iter(curated.iter(batch_size=2)))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        curate.write_items(KilledAfterOneBatch(), tmp_path / "out.jsonl", category="A", append=True)
    assert (tmp_path / "out.jsonl").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta_A.jsonl", "out.jsonl"]
