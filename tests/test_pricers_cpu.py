"""The CPU pricer behind the pricer interface and the `train` verb: a model trained here is found
through --cpu-model and PRICER_CPU_MODEL, its estimates carry an interval around the price, a
missing model is a reason, not a crash. (The model itself is tested in pricer.pricers.cpu's own tests.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pricer import evaluation, pricers
from pricer.cli import main
from pricer.pricers import PricerOptions
from pricer.pricers.cpu.pricer import CpuPricer

PASTED = ("Stainless steel garlic press\nCrushes whole cloves with a long lever and a removable basket; "
          "dishwasher safe, 9 inches long, with a cleaning brush.")


pytestmark = pytest.mark.usefixtures("clean_settings")  # tests/conftest.py


@pytest.fixture(scope="module")
def trained(train_550, tmp_path_factory) -> Path:
    """A CPU model trained here by the `train` verb on the course's 550 training items."""
    out = tmp_path_factory.mktemp("cpu-model")
    assert main(["train", "--data", str(train_550), "--validation", "50", "--out", str(out)]) == 0
    return out


def test_train_writes_a_model_and_says_how_to_use_it(trained, train_550, tmp_path, capsys):
    assert {"model.safetensors", "model.json", "CARD.md"} <= {p.name for p in trained.iterdir()}
    out = tmp_path / "again"
    assert main(["train", "--data", str(train_550), "--validation", "50", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    assert "validation: Error=$" in captured.err and "coverage=" in captured.err
    assert f"PRICER_CPU_MODEL={out}" in captured.err and "peak memory" in captured.err
    assert (out / "model.safetensors").read_bytes() == (trained / "model.safetensors").read_bytes()  # deterministic


def test_train_refuses_bad_input_in_one_line(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.startswith("error: No such file or folder")


def test_the_option_and_the_setting_point_at_a_retrained_model(trained, monkeypatch, capsys):
    assert pricers.get("cpu", PricerOptions(cpu_model=str(trained))).available() is None
    assert main(["predict", "--pricer", "cpu", "--cpu-model", str(trained), "--json", "--text", PASTED]) == 0
    by_option = json.loads(capsys.readouterr().out)
    monkeypatch.setenv("PRICER_CPU_MODEL", str(trained))
    assert main(["predict", "--pricer", "cpu", "--json", "--text", PASTED]) == 0
    by_setting = json.loads(capsys.readouterr().out)
    assert by_option["pricer"] == by_setting["pricer"] == "cpu" and str(trained) in by_setting["label"]
    assert by_option["price"] == by_setting["price"] and by_option["low"] <= by_option["price"] <= by_option["high"]


def test_every_estimate_has_an_interval_around_its_price(trained, test_250):
    prompts = [json.loads(line)["text"] for line in test_250.read_text().splitlines()[:20]]
    heard = []
    estimates = CpuPricer(trained).price(prompts + [PASTED], progress=lambda done, total: heard.append((done, total)))
    assert len(estimates) == 21 and heard[-1] == (21, 21)
    assert all(e.low <= e.price <= e.high and e.price > 0 for e in estimates)


def test_a_missing_model_is_a_reason_and_the_default_stays_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("PRICER_CPU_MODEL", str(tmp_path / "nothing"))
    reason = pricers.get("cpu").available()
    assert reason.startswith(f"no CPU pricer model in {tmp_path / 'nothing'}") and "python -m pricer train" in reason
    assert pricers.default_name() == "cpu"  # the 8B cannot load here, and nothing else is the fallback


def test_a_retrained_model_is_another_run(trained, train_550, test_250, tmp_path):
    runs = list(evaluation.evaluate(test_250, CpuPricer(trained), size=10))
    assert runs[-1].metrics.coverage is not None
    other = tmp_path / "other"
    assert main(["train", "--data", str(train_550), "--validation", "100", "--out", str(other)]) == 0
    assert CpuPricer(other).cache_key(None) != CpuPricer(trained).cache_key(None)
    assert not list(evaluation.evaluate(test_250, CpuPricer(other), size=10))[-1].cached


def test_the_ensembles_cpu_member_is_the_model_the_command_names(trained, train_550, tmp_path, monkeypatch, capsys):
    """`predict --pricer ensemble --cpu-model X` prices the ensemble's CPU member with X (the
    registry hands the ensemble its members with the command's options), not the shipped model."""
    from pricer.pricers.ensemble import fit_members

    monkeypatch.setenv("PRICER_CACHE", str(tmp_path))
    fit_members(["cpu"], str(train_550), start=0, size=30,
                lookup=pricers.member_lookup(PricerOptions(cpu_model=str(trained))))
    [retrained], [shipped] = CpuPricer(trained).price([PASTED]), CpuPricer().price([PASTED])
    assert retrained.price != shipped.price  # so the answer tells which model priced it
    assert main(["predict", "--pricer", "ensemble", "--cpu-model", str(trained), "--json", "--text", PASTED]) == 0
    assert json.loads(capsys.readouterr().out)["details"]["members"] == {"cpu": retrained.price}
    assert main(["predict", "--pricer", "ensemble", "--json", "--text", PASTED]) == 0
    assert json.loads(capsys.readouterr().out)["details"]["members"] == {"cpu": shipped.price}


def test_a_one_line_product_of_megabytes_is_read_only_as_far_as_its_bounded_title():
    """A 5 MB title (the description was cut, the title never was) prices as its first characters do."""
    from pricer.pricers.cpu.features import PART_CHARS, product_parts

    words = "Stainless steel garlic press with a long lever, 9 inches "
    huge = words * (5_000_000 // len(words))
    title, description = product_parts(huge)
    assert len(title) <= PART_CHARS and description == ""
    bounded = huge[:PART_CHARS].rsplit(" ", 1)[0]
    pricer = CpuPricer()
    (big,), (small,) = pricer.price([huge]), pricer.price([bounded])
    assert big.price == small.price and (big.low, big.high) == (small.low, small.high)


def test_a_prompt_with_a_description_of_megabytes_is_bounded_too():
    from pricer.data.items import PREFIX, QUESTION
    from pricer.pricers.cpu.features import PART_CHARS, product_parts

    title, description = product_parts(f"{QUESTION}\n\nGarlic press\n{'dishwasher safe ' * 300_000}\n\n{PREFIX}")
    assert title == "Garlic press" and len(description) <= PART_CHARS


def test_every_pricer_reads_a_text_only_to_the_project_wide_bound():
    from pricer.pricers.base import MAX_TEXT_CHARS, check_texts

    paste = "Garlic press\n" + "x" * 27_400  # a long real paste is whole
    assert check_texts([paste]) == [paste]
    assert [len(t) for t in check_texts(["y" * 5_000_000])] == [MAX_TEXT_CHARS]
