"""pricer.pricers.chat.rag_index: a real all-MiniLM-L6-v2 index of the course's items (tests/rag_data.py) finds
similar products, never a training copy of the product asked about, and survives being stopped,
reloaded and damaged."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import numpy as np
import pytest
from rag_data import rows

from pricer.config import settings
from pricer.errors import BadInput, HubUnavailable, NotFound
from pricer.pricers.chat import embeddings, rag_index
from pricer.pricers.chat.rag_index import RagIndex, description, text_keys, title


def test_the_packaged_model_is_the_hubs_all_minilm_l6_v2():
    weights = embeddings.model_path() / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert digest == embeddings.WEIGHTS_SHA256
    vectors = embeddings.embed(["Steel mug, 12 oz", "Stainless steel coffee cup", "Brake rotor kit for trucks"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.5 > vectors[0] @ vectors[2]


def test_the_course_items_for_test_item_1_come_back_in_the_courses_order(built, index):
    """The course's Chroma store of 400,000 items gave these 5 for test item 1 (its week 8 notebook)."""
    found = index.search([built["tests"][1]["text"]])[0]
    assert [n.title for n in found] == [title(description(r["text"])) for r in built["extras"]]
    assert [n.price for n in found] == [r["price"] for r in built["extras"]]
    assert all(a.similarity >= b.similarity for a, b in zip(found, found[1:], strict=False))
    assert found[0].similarity > 0.85


@pytest.mark.parametrize(("item", "words", "top"), [
    (0, ("compressor",), 2),  # an A/C compressor kit: A/C compressors first
    (3, ("laptop", "latitude", "elitebook", "notebook", "tablet"), 5),  # an HP laptop: computers
    (9, ("light", "lamp"), 5),  # LED shop lights: lights and lamps
])
def test_the_nearest_items_are_products_of_the_same_kind(built, index, item, words, top):
    found = index.search([built["tests"][item]["text"]])[0][:top]
    assert all(any(w in n.title.lower() for w in words) for n in found), [n.title for n in found]


def test_no_test_item_is_ever_given_its_own_training_copy(built, index):
    """All 250 test items, each with a training copy in the index: the copy is the nearest item of
    all (the same text, the same vector) until the leak guard removes it."""
    tests, at = built["tests"], built["copies_at"]
    vectors = index.vectors[at:at + len(tests)]
    keys = [text_keys(description(t["text"])) for t in tests]
    unguarded = index.nearest(vectors, [(0, 0)] * len(tests), k=1)
    assert [hits[0][0] for hits in unguarded] == list(range(at, at + len(tests)))
    guarded = index.nearest(vectors, keys, k=5)
    for i, hits in enumerate(guarded):
        assert len(hits) == 5
        copies = {at + i} | ({built["disguised_at"]} if i == 0 else set())
        assert not copies & {row for row, _ in hits}, i
        texts = [text for text, _ in index.items([row for row, _ in hits])]
        assert all(rag_index.normalise(t) != rag_index.normalise(description(tests[i]["text"])) for t in texts)


def test_a_copy_in_other_case_spacing_and_punctuation_is_excluded_too(built, index):
    query = built["tests"][0]["text"]
    assert text_keys(description(query)) == tuple(int(k) for k in index.keys[built["disguised_at"]])
    rows_found = {n.row for n in index.search([query], k=20)[0]}
    assert not rows_found & {built["copies_at"], built["disguised_at"]}


def test_a_pasted_product_is_searched_like_a_prompt(index):
    pasted = "Motorcraft YB3125 Fan Clutch\nFan clutch assembly for Ford trucks, OE replacement."
    assert index.search([pasted])[0][0].title.startswith("Motorcraft")


def test_the_index_is_saved_once_and_loaded_without_pickle(built, index):
    folder = built["folder"]
    manifest = json.loads((folder / "index.json").read_text())
    assert manifest["complete"] and manifest["count"] == len(index) == 301
    assert manifest["model"] == "sentence-transformers/all-MiniLM-L6-v2" and manifest["dtype"] == "float16"
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == [
        "embeddings.npy", "index.json", "items.jsonl", "keys.npy", "offsets.npy", "prices.npy"]
    stored = np.load(folder / "embeddings.npy", allow_pickle=False)
    assert stored.dtype == np.float16 and np.array_equal(stored.astype(np.float32), index.vectors)
    assert index.items([0])[0] == (description(built["train"][0]["text"]), built["train"][0]["price"])
    again = rag_index.build([str(built["source"])], folder)  # the same data: reused, nothing embedded
    assert (again.count, again.embedded) == (301, 0) and "already built" in again.line()
    assert rag_index.missing(folder) is None


def test_a_stopped_build_continues_after_its_last_complete_chunk(built, index, shared_data, tmp_path):
    source, out = str(shared_data / "train-550.jsonl"), tmp_path / "index"
    seen: list[int] = []

    def stop_at_32(done, total):
        seen.append(done)
        if done >= 32:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rag_index.build(source, out, size=40, chunk=16, progress=stop_at_32)
    manifest = json.loads((out / "index.json").read_text())
    assert (manifest["chunks_done"], manifest["complete"]) == (1, False)
    assert "not finished" in rag_index.missing(out)
    with pytest.raises(BadInput, match="not finished"):
        RagIndex.load(out)
    seen.clear()
    resumed = rag_index.build(source, out, size=40, chunk=16, progress=lambda done, total: seen.append(done))
    assert seen[0] > 16 and seen[-1] == 40 and (resumed.count, resumed.embedded) == (40, 24)
    assert "resumed after 16" in resumed.line()
    again = RagIndex.load(out)  # the same rows as the first 40 of the shared index, embedded in other batches
    assert np.allclose(again.vectors, index.vectors[:40], atol=2e-3)
    assert np.array_equal(again.prices, index.prices[:40])
    assert not (out / "work").exists()


def test_a_damaged_index_is_refused_with_what_to_do(built, tmp_path):
    for name, damage in [
        ("embeddings.npy", lambda p: p.write_bytes(p.read_bytes()[:1000])),
        ("items.jsonl", lambda p: p.write_bytes(p.read_bytes()[:-10])),
        ("keys.npy", lambda p: np.save(p, np.array([{"evil": 1}], dtype=object), allow_pickle=True)),
        ("index.json", lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "count": 7}))),
    ]:
        copy = tmp_path / name
        shutil.copytree(built["folder"], copy)
        damage(copy / name)
        with pytest.raises(BadInput, match=rf"damaged.*build it again with `python -m pricer rag-index --data "
                                           rf"\S+.* --out {re.escape(str(copy))}`"):
            RagIndex.load(copy)


def test_a_folder_of_other_files_or_another_index_is_not_overwritten(built, shared_data, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BadInput, match="not empty"):
        rag_index.build(str(shared_data / "train-550.jsonl"), tmp_path, size=3)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(BadInput, match="other data"):
        rag_index.build(str(shared_data / "train-550.jsonl"), built["folder"], size=3)


def test_sources_are_files_folders_or_hub_ids(shared_data, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "data"
    data.mkdir()
    train = rows(shared_data / "train-550.jsonl")[:4]
    pq.write_table(pa.table({"text": [r["text"] for r in train] + [""], "price": [r["price"] for r in train] + [1.0]}),
                   data / "train.parquet")
    built = rag_index.build(str(data), tmp_path / "from-folder", progress=lambda d, t: None)
    assert (built.count, built.skipped) == (4, 1)
    with pytest.raises(NotFound):
        rag_index.build("./no/such/file.jsonl", tmp_path / "x")
    with pytest.raises(HubUnavailable):
        rag_index.build("someone/pricer-data", tmp_path / "y")  # HF_HUB_OFFLINE=1 in the tests


def test_pricer_rag_data_names_the_index(monkeypatch, tmp_path, built):
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path))
    monkeypatch.setenv("PRICER_RAG_DATA", "a.jsonl, b.jsonl")
    assert settings().rag_data == "a.jsonl, b.jsonl"
    folder = rag_index.default_folder()
    assert folder.parent == tmp_path / "rag" and folder.name.startswith("a.jsonl+b.jsonl-train-")
    assert rag_index.build_command() == "python -m pricer rag-index --data a.jsonl b.jsonl"
    assert rag_index.build_command("c.jsonl", out="idx") == "python -m pricer rag-index --data c.jsonl --out idx"
    assert rag_index.missing(folder) == f"no RAG index at {folder}"
    monkeypatch.setenv("PRICER_RAG_DATA", str(built["folder"]))  # an index folder is used as it is
    assert rag_index.default_folder() == built["folder"]
    with pytest.raises(BadInput, match="names a built index"):
        rag_index.build()
    monkeypatch.delenv("PRICER_RAG_DATA")
    assert settings().rag_data == "ed-donner/pricer-data"  # the course's dataset, never PRICER_DATASET's test file
    assert rag_index.default_folder().name.startswith("ed-donner-pricer-data-train-")


def test_a_changed_byte_or_an_edited_item_of_the_same_length_is_refused_by_its_sha256(built, tmp_path):
    """Shapes and sizes cannot see these: a flipped byte inside embeddings.npy, a price edited in
    items.jsonl without changing its length. The manifest's sha256 of each file does."""
    def flip(p):
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 0x10
        p.write_bytes(bytes(data))

    def edit_price(p):
        text = p.read_text(encoding="utf-8")
        at = text.index('"price": ') + len('"price": ')
        digit = text[at]
        p.write_text(text[:at] + ("1" if digit != "1" else "2") + text[at + 1:], encoding="utf-8")

    for name, damage in (("embeddings.npy", flip), ("items.jsonl", edit_price)):
        copy = tmp_path / name
        shutil.copytree(built["folder"], copy)
        assert RagIndex.load(copy).manifest["sha256"][name] == rag_index.file_sha256(copy / name)
        size = (copy / name).stat().st_size
        damage(copy / name)
        assert (copy / name).stat().st_size == size
        with pytest.raises(BadInput, match=rf"{name} was changed or corrupted: it does not match the sha256"):
            RagIndex.load(copy)


def test_the_damage_hint_never_says_to_build_from_the_index_folder_itself(built, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(built["folder"], copy)
    manifest = json.loads((copy / "index.json").read_text())
    (copy / "index.json").write_text(json.dumps({**manifest, "sources": [str(copy)], "count": 7}))
    with pytest.raises(BadInput, match=rf"--data YOUR_TRAINING_ITEMS --out {re.escape(str(copy))}`") as raised:
        RagIndex.load(copy)
    assert f"--data {copy}" not in str(raised.value)


def test_the_next_build_removes_a_killed_joins_half_written_files(built, tmp_path):
    copy = tmp_path / "index"
    shutil.copytree(built["folder"], copy)
    stale = [copy / ".embeddings.npy.999999.tmp", copy / ".items.jsonl.999999.tmp"]
    for path in stale:
        path.write_bytes(b"half written")
    again = rag_index.build([str(built["source"])], copy, progress=lambda done, total: None)
    assert again.embedded == 0  # the index was complete: reused, not rebuilt
    assert not any(p.exists() for p in stale)
    assert RagIndex.load(copy).manifest == RagIndex.load(built["folder"]).manifest


def test_a_full_disk_during_a_build_is_one_message_and_the_build_can_continue(built, tmp_path, monkeypatch):
    def full(folder, work, chunks, total):  # the embeddings are all made: joining them fills the disk
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rag_index, "_join", full)
    out = tmp_path / "index"
    with pytest.raises(BadInput, match=r"Cannot write the RAG index in .*No space left on device\. Free some space "
                                       r"and run the same command again") as raised:
        rag_index.build([str(built["source"])], out, progress=lambda done, total: None)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__  # no chain of tracebacks
    monkeypatch.undo()
    again = rag_index.build([str(built["source"])], out, progress=lambda done, total: None)
    assert again.embedded == 0  # every chunk was kept: only the join ran again
    assert RagIndex.load(out).manifest["count"] == built["built"].count
