"""The CPU pricer: texts in either form, training that gives the same bytes from the same data,
loading that refuses a damaged model, intervals, and the shipped model's figures on real data."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pricer.cli import main
from pricer.errors import BadInput, ModelUnavailable, NotFound
from pricer.pricers.cpu.features import FeatureSpec, product_parts
from pricer.pricers.cpu.model import MANIFEST_FILE, SHIPPED, WEIGHTS_FILE, load_model
from pricer.pricers.cpu.training import figures, train

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "How much does this cost to the nearest dollar?"
SMALL = FeatureSpec(word_bits=12, char_bits=10)  # a fixture's model: 5,120 weights, not 393,216

# Words whose prices differ by a factor of ten, so a model trained on them can be checked.
KINDS = [("Heavy duty compressor kit", "steel pump motor assembly with hoses and valves", 350.0),
         ("Replacement charging cable", "braided cord with plastic connector for phones", 9.0),
         ("Portable generator", "gasoline engine inverter outlets and wheels for camping", 600.0),
         ("Sticker pack", "vinyl decals in assorted colours for laptops and bottles", 5.0)]


def prompt(title: str, body: str, price: float | None = None) -> str:
    answer = "" if price is None else f"{round(price)}.00"
    return f"{QUESTION}\n\n{title}\n{body}\n\nPrice is ${answer}"


def fixture_rows(n: int = 48, scale: float = 1.0) -> list[dict]:
    rows = []
    for i in range(n):
        title, body, price = KINDS[i % len(KINDS)]
        price = round(price * scale * (0.8 + 0.05 * (i % 9)), 2)
        rows.append({"text": prompt(f"{title} model {i}", f"{body}, size {i % 5}"), "price": price})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def small_sources(tmp_path):
    return [write_jsonl(tmp_path / "main.jsonl", fixture_rows()),
            write_jsonl(tmp_path / "other.jsonl", fixture_rows(40, scale=0.3))]


@pytest.fixture(scope="module")
def shipped():
    return load_model()


# --- texts --------------------------------------------------------------------------------------


def test_a_dataset_prompt_is_split_into_title_and_description_without_its_answer():
    assert product_parts(prompt("Widget Pro", "A widget.\nSecond line", 12.0)) == ("Widget Pro", "A widget.\nSecond line")
    assert product_parts(prompt("Widget Pro", "A widget.")) == ("Widget Pro", "A widget.")


def test_pasted_text_is_scrubbed_like_the_training_data_and_cut():
    title, body = product_parts('Widget "Pro" [2024]\n' + "word " * 400 + "PARTNO12345")
    assert title == "Widget Pro 2024"
    assert len(body) <= 1000 and "PARTNO12345" not in body


@pytest.mark.parametrize("text", ["", "   \n ", None, 42])
def test_empty_text_is_refused_with_what_to_give(text):
    with pytest.raises(BadInput, match="title and description"):
        product_parts(text)


def test_importing_the_cpu_pricer_loads_no_numeric_library():
    probe = "import sys, pricer.pricers.cpu; print(','.join(m for m in ('numpy', 'scipy', 'sklearn', 'torch') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


# --- training -----------------------------------------------------------------------------------


def test_training_on_a_small_fixture_prices_what_it_learned(small_sources, tmp_path):
    model = train(small_sources, validation=8, out=tmp_path / "model", progress=False, spec=SMALL)
    pump, cable = model.predict([prompt("Heavy duty compressor kit", "steel pump motor assembly"),
                                 "Replacement charging cable\nbraided cord for phones"])
    assert pump.price > 100 > 20 > cable.price
    assert model.info["training"][0]["items"] == 40 and model.info["training"][1]["items"] == 40
    assert model.info["validation"]["items"] == 8
    card = (tmp_path / "model" / "CARD.md").read_text(encoding="utf-8")
    assert "main.jsonl" in card and "other.jsonl" in card and "80% interval coverage" in card


def test_sources_priced_like_are_cross_validated_and_their_out_of_fold_estimates_kept(small_sources, tmp_path,
                                                                                      monkeypatch):
    """Two sources to price like (weight 1, folds over both), one other: the interval comes from
    the out-of-fold errors, and each item trained on keeps the estimate of the fold model that
    did not see it, which `held_out` pricing gives back, marked."""
    from pricer.pricers.cpu import training

    monkeypatch.setattr(training, "LEARNING_CURVE", (20, 100))  # a fixture's folds train on 48 items
    second = write_jsonl(tmp_path / "second.jsonl", [{"text": r["text"].replace(" model ", " mark "), "price": r["price"]}
                                                     for r in fixture_rows(12, scale=1.1)])
    model = train([small_sources[0], second, small_sources[1]], like=2, out=tmp_path / "model", progress=False,
                  spec=SMALL)
    assert [t["items"] for t in model.info["training"]] == [48, 12, 40]
    assert [t["weight"].startswith("1 ") for t in model.info["training"]] == [True, True, False]
    assert model.info["validation"] == {"source": None}
    assert model.info["cross_validation"]["figures"]["items"] == 60
    assert model.info["cross_validation"]["figures"]["coverage"] == pytest.approx(0.8, abs=0.05)
    assert [p["trained_on"] for p in model.info["learning_curve"]["points"]] == [20, 48]
    assert len(model.trained_keys) == 60
    texts = [r["text"] for r in fixture_rows()[:3]] + [prompt("Sticker pack", "never seen before")]
    held, own = model.predict(texts, held_out=True), model.predict(texts)
    assert [e.details for e in held] == [{"out_of_fold": True}] * 3 + [{}]
    assert held[3] == own[3] and all(h.price != o.price for h, o in zip(held[:3], own[:3], strict=True))
    loaded = load_model(tmp_path / "model")  # the estimates survive the file
    assert loaded.predict(texts, held_out=True) == held
    card = (tmp_path / "model" / "CARD.md").read_text(encoding="utf-8")
    assert "Learning curve" in card and "| 20 | 60 |" in card and "Out-of-fold estimates: the 60 items" in card


def test_training_refuses_a_like_count_it_cannot_use(small_sources, tmp_path):
    for like in (0, 3, True):
        with pytest.raises(BadInput, match="like"):
            train(small_sources, like=like, out=tmp_path / "m", progress=False, spec=SMALL)
    with pytest.raises(BadInput, match="other_weight"):
        train(small_sources, other_weight=2.0, out=tmp_path / "m", progress=False, spec=SMALL)


def test_the_same_data_gives_the_same_model_bytes_with_any_number_of_workers(small_sources, tmp_path):
    for name, workers in (("a", 1), ("b", 2)):
        train(small_sources, validation=8, out=tmp_path / name, progress=False, spec=SMALL, workers=workers)
    for file in (WEIGHTS_FILE, MANIFEST_FILE, "CARD.md"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_a_parquet_file_or_a_folder_of_splits_trains_the_same_model(small_sources, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in small_sources[0].read_text().splitlines()]
    folder = tmp_path / "data"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), folder / "train.parquet")
    train([small_sources[0]], validation=8, out=tmp_path / "jsonl", progress=False, spec=SMALL)
    train([folder], validation=8, out=tmp_path / "folder", progress=False, spec=SMALL)
    train([folder / "train.parquet"], validation=8, out=tmp_path / "parquet", progress=False, spec=SMALL)
    weights = {(tmp_path / d / WEIGHTS_FILE).read_bytes() for d in ("jsonl", "folder", "parquet")}
    assert len(weights) == 1


def test_a_later_source_is_weighted_to_the_first_sources_prices():
    import numpy as np

    from pricer.pricers.cpu.training import price_bins, price_weights

    cheap_mostly = np.array([5.0] * 90 + [300.0] * 10)
    reference = np.array([5.0] * 10 + [300.0] * 90)
    table = price_weights(cheap_mostly, reference)
    weights = table[price_bins(cheap_mostly)]
    assert weights[-1] > 5 > 1 > 0.2 > weights[0]  # rare pricey items count more, the cheap ones less
    weighted_share = weights[-10:].sum() / weights.sum()
    assert weighted_share == pytest.approx(0.9, abs=0.05)  # as in the reference


def test_training_refuses_what_it_cannot_use(small_sources, tmp_path):
    with pytest.raises(BadInput, match="hold out"):
        train(small_sources, validation=500, out=tmp_path / "m", progress=False, spec=SMALL)
    with pytest.raises(NotFound, match="No such file"):
        train([tmp_path / "missing.jsonl"], out=tmp_path / "m", progress=False)
    with pytest.raises(BadInput, match="at least one"):
        train([], out=tmp_path / "m", progress=False)


# --- loading ------------------------------------------------------------------------------------


def copy_of_shipped(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(SHIPPED, folder)
    return folder


def test_a_corrupted_weights_file_is_refused(tmp_path):
    folder = copy_of_shipped(tmp_path)
    data = bytearray((folder / WEIGHTS_FILE).read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one weight
    (folder / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelUnavailable, match="corrupted or was changed.*retrain it"):
        load_model(folder)


def test_a_tampered_file_with_a_matching_sha256_is_still_checked(tmp_path):
    import hashlib

    import numpy as np
    from safetensors.numpy import save

    folder = copy_of_shipped(tmp_path)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    settings = json.dumps({"format": "pricer-cpu/1", "features": FeatureSpec().to_dict()})
    good = {"weights": np.zeros(FeatureSpec().width, np.float16), "intercept": np.zeros(1),
            "interval": np.array([-0.5, 0.5])}
    cases = {
        "should be float16 of shape": save({"weights": np.zeros(7, np.float16), "intercept": np.zeros(1),
                                   "interval": np.array([-0.5, 0.5])}, metadata={"pricer": settings}),
        "not finite": save({"weights": np.full(FeatureSpec().width, np.nan, np.float16), "intercept": np.zeros(1),
                            "interval": np.array([-0.5, 0.5])}, metadata={"pricer": settings}),
        "malformed": b"\x80\x04\x95 not a safetensors file, e.g. a pickle",
        "must come together": save({**good, "trained_keys": np.arange(3, dtype=np.int64)}, metadata={"pricer": settings}),
        "sorted without repeats": save({**good, "trained_keys": np.array([3, 1, 2], dtype=np.int64),
                                        "out_of_fold": np.zeros(3)}, metadata={"pricer": settings}),
        "tensors no CPU model has": save({**good, "code": np.zeros(1)}, metadata={"pricer": settings}),
    }
    for message, data in cases.items():
        (folder / WEIGHTS_FILE).write_bytes(data)
        manifest["sha256"] = hashlib.sha256(data).hexdigest()
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
        with pytest.raises(ModelUnavailable, match=message):
            load_model(folder)


def test_a_missing_model_says_how_to_make_one(tmp_path):
    with pytest.raises(ModelUnavailable, match="python -m pricer train"):
        load_model(tmp_path)


# --- the shipped model --------------------------------------------------------------------------


def test_the_shipped_model_is_small_and_carded():
    assert (SHIPPED / WEIGHTS_FILE).stat().st_size < 4 * 2 ** 20
    card = (SHIPPED / "CARD.md").read_text(encoding="utf-8")
    assert "train-community.jsonl" in card and "test-250.jsonl" in card


def test_the_shipped_card_is_the_card_of_the_shipped_models_figures(shipped, tmp_path):
    """CARD.md's tables and checksum say what model.json records (whose figures the tests below
    recompute from the data)."""
    from pricer.pricers.cpu.training import write_card

    def facts(card: Path) -> list[str]:
        return [line for line in card.read_text(encoding="utf-8").splitlines()
                if line.startswith("|") or "sha256" in line or line.startswith("80% interval")]

    shutil.copy(SHIPPED / WEIGHTS_FILE, tmp_path)  # the card quotes its sha256
    assert len(facts(SHIPPED / "CARD.md")) == 17
    assert facts(write_card(shipped, tmp_path)) == facts(SHIPPED / "CARD.md")


def test_intervals_contain_the_estimate(shipped):
    texts = [prompt(t, b) for t, b, _ in KINDS] + ["x", "Mug\nBlue"]
    for estimate in shipped.predict(texts):
        assert 0 <= estimate.low <= estimate.price <= estimate.high


def test_predict_takes_a_list_not_one_text(shipped):
    with pytest.raises(BadInput, match="list"):
        shipped.predict("Mug\nBlue")


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_figures(model, rows: list[dict], recorded: dict) -> None:
    got = figures(model.predict([r["text"] for r in rows]), [r["price"] for r in rows]).to_dict()
    assert got == pytest.approx(recorded, abs=1e-4)


def in_distribution(shared_data: Path) -> list[dict]:
    """The course's 1,550 items the shipped model is priced like: train-550, then the test split's extra 1,000."""
    extra = shared_data / "test-split-extra-1000.jsonl"
    if not extra.exists():
        pytest.skip(f"the real data is not at {shared_data} (clone with ../shared beside the repo)")
    return rows_of(shared_data / "train-550.jsonl") + rows_of(extra)


def test_the_shipped_model_was_cross_validated_on_the_courses_1550_items(shipped, shared_data):
    rows = in_distribution(shared_data)
    assert [(t["source"], t["items"]) for t in shipped.info["training"]] == [
        ("train-550.jsonl", 550), ("test-split-extra-1000.jsonl", 1000), ("train-community.jsonl", 12132)]
    assert shipped.info["cross_validation"]["figures"]["items"] == len(rows) == 1550
    curve = [p["trained_on"] for p in shipped.info["learning_curve"]["points"]]
    assert curve == [250, 500, 1000, 1240]
    errors = [p["figures"]["average_error"] for p in shipped.info["learning_curve"]["points"]]
    assert errors == sorted(errors, reverse=True)  # more of the course's items, smaller errors


def test_the_shipped_models_out_of_fold_estimates_give_its_cards_cross_validation_figures(shipped, shared_data):
    """Each of the 1,550 items priced held out gets the estimate of the fold model that did not
    see it: together they are the card's cross-validation figures, and its interval covers 80%."""
    rows = in_distribution(shared_data)
    texts = [r["text"] for r in rows]
    held = shipped.predict(texts, held_out=True)
    assert all(e.details == {"out_of_fold": True} for e in held)
    got = figures(held, [r["price"] for r in rows]).to_dict()
    assert got == pytest.approx(shipped.info["cross_validation"]["figures"], abs=1e-4)
    assert got["coverage"] == pytest.approx(0.8, abs=0.002)
    own = shipped.predict(texts)
    assert figures(own, [r["price"] for r in rows]).average_error < got["average_error"] - 10  # it saw them
    assert not any(e.details for e in own)


def test_the_shipped_model_reproduces_its_cards_test_figures(shipped, test_250):
    recorded = shipped.info["test"]["figures"]
    check_figures(shipped, rows_of(test_250), recorded)
    assert not any(e.details for e in shipped.predict([r["text"] for r in rows_of(test_250)], held_out=True))
    # better than a person (the course's human, $126.55); the issue's $110 is not reached
    # (pricer/pricers/cpu/shipped/README.md: every method tried, and the learning curve)
    assert recorded["average_error"] < 126.55
    assert 0.75 <= recorded["coverage"] <= 0.85


def test_train_rebuilds_the_shipped_model_byte_for_byte_from_the_cards_command(shared_data, tmp_path):
    """The shipped README's command, run here, gives the shipped files (model, manifest, card)."""
    in_distribution(shared_data)
    readme = (SHIPPED / "README.md").read_text(encoding="utf-8")
    command = readme.split("```bash\n", 1)[1].split("\n```", 1)[0].replace("\\\n", " ")
    words = shlex.split(command)
    assert words[:4] == ["python", "-m", "pricer", "train"]
    words = [w.replace("../shared/data", str(shared_data)) for w in words[3:]]
    out = tmp_path / "rebuilt"
    words[words.index("--out") + 1] = str(out)
    assert main(words) == 0
    for name in (WEIGHTS_FILE, MANIFEST_FILE, "CARD.md"):
        assert (out / name).read_bytes() == (SHIPPED / name).read_bytes(), name


def test_a_pasted_title_and_description_prices_sensibly(shipped, test_250):
    rows = sorted(rows_of(test_250), key=lambda r: r["price"])
    pasted = ["\n".join(product_parts(r["text"])) for r in (rows[0], rows[-1])]
    cheap, pricey = shipped.predict(pasted)
    assert pricey.price > 3 * cheap.price
    assert pasted[1].startswith(rows[-1]["text"].split("\n")[2])  # the title, pasted as the first line


def test_a_run_that_fails_at_the_end_leaves_the_previous_model_whole_and_says_why(small_sources, tmp_path,
                                                                                   monkeypatch):
    """The three files are staged and moved in together: a full disk while writing the card (after
    the whole training) is one clear message, the model already there is untouched, and no
    partial file or work folder is left; the next run sweeps a killed run's leftovers."""
    from pricer.pricers.cpu import training

    out = tmp_path / "model"
    train(small_sources, validation=8, out=out, progress=False, spec=SMALL)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full_disk(model, folder):
        (folder / "CARD.md").write_text("half a ca")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(training, "write_card", full_disk)
    with pytest.raises(BadInput, match=r"could not be written to .*No space left on device.*model there is unchanged"):
        train(small_sources, validation=4, out=out, progress=False, spec=SMALL)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    monkeypatch.undo()
    killed = out / ".pricer-staging-999999-abc"  # a killed run's staging folder (no such process)
    (killed / "work").mkdir(parents=True)
    train(small_sources, validation=8, out=out, progress=False, spec=SMALL)
    assert sorted(p.name for p in out.iterdir()) == ["CARD.md", MANIFEST_FILE, WEIGHTS_FILE]
