"""pricer.pricers: one interface, the registry's names and availability reasons (decided without
loading a model or touching the network), the default pricer with and without CUDA, and every
pricer through the same evaluation loop (the tiny 4-bit Llama, the CPU pricer, the frontier pricer
against the local OpenAI stand-in)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openai_stand_in import openai_online

from pricer import evaluation, pricers
from pricer.data.items import PREFIX, QUESTION
from pricer.errors import BadInput
from pricer.evaluation import leaderboard
from pricer.pricers import Estimate, PricerOptions
from pricer.pricers.estimates import ESTIMATORS
from pricer.pricers.llama.pricer import LlamaPricer

PASTED = ("Stainless steel garlic press\nCrushes whole cloves with a long lever and a removable basket; "
          "dishwasher safe, 9 inches long, with a cleaning brush.")


pytestmark = pytest.mark.usefixtures("clean_settings")  # tests/conftest.py


@pytest.fixture
def tiny_env(monkeypatch, tiny_model):
    monkeypatch.setenv("PRICER_BASE_MODEL", str(tiny_model))
    monkeypatch.setenv("PRICER_ADAPTER", str(tiny_model / "adapter"))
    monkeypatch.setenv("PRICER_ADAPTER_REVISION", "none")
    return tiny_model


@pytest.fixture(scope="module")
def eight_b(tmp_path_factory) -> Path:
    """A local folder holding the config of an 8B Llama (no weights: its size is read, not loaded)."""
    from transformers import LlamaConfig

    folder = tmp_path_factory.mktemp("llama-8b")
    LlamaConfig(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                num_attention_heads=32, num_key_value_heads=8).save_pretrained(folder)
    return folder


def cuda(monkeypatch, present: bool) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: present)


# --- the registry ------------------------------------------------------------------------------


def test_the_registry_names_the_pricers_in_display_order_and_refuses_others():
    assert pricers.names() == ["fine-tuned", "base", "cpu", "frontier", "rag", "ensemble"]
    assert [p.name for p, _ in pricers.availability()] == pricers.names()
    with pytest.raises(BadInput, match="pricer must be one of fine-tuned, base, cpu, frontier"):
        pricers.get("gpt-5")
    assert pricers.get(" CPU ").name == "cpu"


def test_every_pricer_has_the_interface():
    for name in pricers.names():
        pricer = pricers.get(name)
        assert isinstance(pricer, pricers.Pricer) and pricer.name == name and pricer.label
    assert pricers.get("fine-tuned").estimators == tuple(e.name for e in ESTIMATORS)
    assert all(pricers.get(n).estimators == () for n in ("cpu", "frontier", "rag", "ensemble"))


def test_the_gated_base_model_without_a_token_says_so_without_the_network(no_network):
    reasons = {p.name: reason for p, reason in pricers.availability()}
    # every reason at once, the token's first: fixing one alone would not be enough
    token = "HF_TOKEN missing for a gated model (meta-llama/Meta-Llama-3.1-8B)"
    gpu = "; and no CUDA GPU (meta-llama/Meta-Llama-3.1-8B needs one in 4 bits"
    assert reasons["base"].startswith(token + gpu)
    assert reasons["fine-tuned"].startswith(token + "; and HF_HUB_OFFLINE is set and the adapter ") and gpu in reasons[
        "fine-tuned"]
    assert reasons["frontier"] == "OPENAI_API_KEY is not set"
    assert pricers.default_name() == "cpu"


def test_the_lineup_puts_the_default_first_and_a_refusal_names_the_pricers_that_can_run(no_network):
    ready, unavailable = pricers.lineup()
    assert [p.name for p in ready] == ["cpu"]  # no token, no key, no index: the CPU pricer alone
    assert [p.name for p, _ in unavailable] == ["fine-tuned", "base", "frontier", "rag", "ensemble"]
    assert pricers.runnable("cpu") is pricers.get("cpu")
    with pytest.raises(BadInput, match=r"^The frontier pricer cannot run here: OPENAI_API_KEY is not set\. "
                                       r"Pricers that can: cpu\.$"):
        pricers.runnable("frontier")
    with pytest.raises(BadInput, match="pricer must be one of"):
        pricers.runnable("gpt-5")


def test_with_a_token_but_offline_the_uncached_hub_model_is_named(token_env, no_network):
    reason = pricers.get("fine-tuned").available()
    assert reason.startswith("HF_HUB_OFFLINE is set and the base model meta-llama/Meta-Llama-3.1-8B is not in the "
                             "local Hugging Face cache; and ")
    assert token_env["HF_TOKEN"] not in reason


def test_no_adapter_configured_stops_only_the_fine_tuned_pricer(tiny_env, monkeypatch):
    monkeypatch.setenv("PRICER_ADAPTER", "none")
    assert pricers.get("fine-tuned").available() == "no adapter configured (PRICER_ADAPTER=none)"
    assert pricers.get("base").available() is None
    with pytest.raises(BadInput, match="No adapter is configured"):
        pricers.get("fine-tuned").price([PASTED])


def test_a_missing_local_model_or_adapter_folder_is_named(tmp_path, tiny_model):
    from pricer.pricers.llama.model import ModelSpec

    assert LlamaPricer(False, ModelSpec(str(tmp_path / "gone"))).available() == f"no such base model folder: {tmp_path / 'gone'}"
    not_adapter = tmp_path / "not-adapter"
    not_adapter.mkdir()
    spec = ModelSpec(str(tiny_model), str(not_adapter))
    assert LlamaPricer(True, spec).available() == f"the adapter folder {not_adapter} has no adapter_config.json"


def test_an_8b_model_needs_cuda_and_the_default_follows(eight_b, tiny_model, monkeypatch):
    from pricer.pricers.llama.model import ModelSpec

    options = PricerOptions(ModelSpec(str(eight_b), str(tiny_model / "adapter")))
    cuda(monkeypatch, False)
    reason = pricers.get("fine-tuned", options).available()
    assert reason.startswith(f"no CUDA GPU ({eight_b} has 8.0 B parameters and needs one in 4 bits")
    assert "bash scripts/dev demo" in reason and "PRICER_ALLOW_CPU=1" in reason
    assert pricers.default_name(options) == "cpu"
    cuda(monkeypatch, True)
    assert pricers.get("fine-tuned", options).available() is None
    assert pricers.default_name(options) == "fine-tuned"
    cuda(monkeypatch, False)
    monkeypatch.setenv("PRICER_ALLOW_CPU", "1")
    assert pricers.default_name(options) == "fine-tuned"


def test_a_model_size_is_read_without_loading_its_weights(tiny_model, eight_b):
    from transformers import AutoModelForCausalLM

    from pricer.pricers.llama.preflight import parameter_count

    loaded = AutoModelForCausalLM.from_pretrained(tiny_model)  # what the headers must agree with
    assert parameter_count(str(tiny_model)) == sum(p.numel() for p in loaded.parameters())
    assert parameter_count(str(eight_b)) == pytest.approx(8.03e9, rel=0.01)  # config only: the meta device
    assert parameter_count("someone/not-cached-anywhere") is None


def test_the_8b_from_the_settings_without_cuda_defaults_to_cpu(eight_b, tiny_model, monkeypatch):
    monkeypatch.setenv("PRICER_BASE_MODEL", str(eight_b))
    monkeypatch.setenv("PRICER_ADAPTER", str(tiny_model / "adapter"))
    cuda(monkeypatch, False)
    assert pricers.default_name() == "cpu"
    cuda(monkeypatch, True)
    assert pricers.default_name() == "fine-tuned"


def test_the_tiny_model_runs_anywhere_and_is_the_default(tiny_env, monkeypatch):
    cuda(monkeypatch, False)
    assert pricers.default_name() == "fine-tuned"
    assert "TEST MODEL" in pricers.get("fine-tuned").label and "TEST MODEL" in pricers.get("base").label


def test_unusable_llama_settings_are_a_reason_not_a_crash(monkeypatch, test_250):
    monkeypatch.setenv("PRICER_QUANTIZATION", "16bit")
    reasons = {p.name: reason for p, reason in pricers.availability()}
    assert reasons["fine-tuned"].startswith("quantization must be '4bit' or '8bit', not '16bit': set "
                                            "PRICER_QUANTIZATION to 4bit or 8bit")
    assert reasons["frontier"] == "OPENAI_API_KEY is not set"  # the other pricers do not read those settings
    assert pricers.default_name() == "cpu"
    with pytest.raises(BadInput, match="set PRICER_QUANTIZATION to 4bit or 8bit"):
        list(evaluation.evaluate(test_250, "fine-tuned", size=2))


def test_estimators_are_the_llamas_and_checked():
    llama, cpu = pricers.get("base"), pricers.get("cpu")
    assert pricers.check_estimator(llama, None) == "greedy" and pricers.check_estimator(llama, "topk") == "topk"
    assert pricers.check_estimator(cpu, None) is None and pricers.check_estimator(cpu, " ") is None
    with pytest.raises(BadInput, match="must be one of greedy, topk, topk-numbers for the base pricer, not 'mean'"):
        pricers.check_estimator(llama, "mean")
    with pytest.raises(BadInput, match="The cpu pricer has no estimators"):
        pricers.check_estimator(cpu, "topk")


def test_options_override_the_settings_and_the_same_pricer_is_reused(tiny_model, tmp_path, monkeypatch):
    from pricer.pricers.llama.model import ModelSpec

    assert pricers.get("cpu", PricerOptions(cpu_model=str(tmp_path))).folder == tmp_path
    monkeypatch.setenv("PRICER_CPU_MODEL", str(tmp_path / "env"))
    assert pricers.get("cpu").folder == tmp_path / "env"
    assert pricers.get("frontier", PricerOptions(frontier_model="gpt-4o")).label.startswith("gpt-4o (frontier")
    spec = ModelSpec(str(tiny_model), str(tiny_model / "adapter"))
    base = pricers.get("base", PricerOptions(spec))
    assert base.spec().adapter is None and base.spec().base_model == str(tiny_model)
    assert pricers.get("base", PricerOptions(spec)) is base


@pytest.mark.parametrize("texts", ["one text", None, [None], ["ok", 12]])
def test_anything_but_a_list_of_texts_is_refused_by_every_pricer(texts, tiny_env, frontier_server):
    for name in pricers.names():
        with pytest.raises(BadInput, match="Give a list of texts|not text"):
            pricers.get(name).price(texts)
    assert frontier_server.requests == []


def test_a_pricer_without_estimators_refuses_one_before_any_work():
    for name in ("cpu", "ensemble"):
        with pytest.raises(BadInput, match="has no estimators"):
            pricers.get(name).price(["Stainless steel garlic press"], estimator="topk")


def test_an_estimate_is_json():
    estimate = Estimate(12.5, 8.0, 20.0, {"note": "n"})
    assert json.loads(json.dumps(estimate.to_json())) == {"price": 12.5, "low": 8.0, "high": 20.0, "details": {"note": "n"}}


# --- the Llama pricers -----------------------------------------------------------------------


def test_a_llama_estimate_carries_the_estimator_the_interval_and_the_prediction(tiny_env, test_250):
    prompt = json.loads(test_250.read_text().splitlines()[0])["text"]
    (greedy,) = pricers.get("fine-tuned").price([prompt])
    (topk,) = pricers.get("fine-tuned").price([prompt], estimator="topk")
    d = greedy.details
    assert greedy.price == d["greedy"] and d["estimator"] == "greedy"
    assert topk.price == (d["topk"] or None) and topk.details["estimator"] == "topk"
    assert 1 <= greedy.low <= greedy.high <= 999 and (greedy.low, greedy.high) == (d["low"], d["high"])
    assert d["prompt"] == prompt and "used as is" in d["note"] and "TEST MODEL" in d["model"]
    assert json.loads(json.dumps(d)) == d  # JSON as it is


def test_pasted_text_is_curated_and_progress_counts_the_texts(tiny_env):
    heard = []
    estimates = pricers.get("base").price([PASTED] * 3, progress=lambda done, total: heard.append((done, total)))
    assert len(estimates) == 3 and heard[-1] == (3, 3)
    assert estimates[0].details["prompt"].startswith(QUESTION) and estimates[0].details["prompt"].endswith(PREFIX)


# --- every pricer through the same loop ----------------------------------------------------------


@pytest.fixture
def frontier_server(monkeypatch, tmp_path):
    with openai_online(monkeypatch, tmp_path / "cache") as handler:
        yield handler


def fit_ensemble(train_550: Path) -> None:
    """Weights for the ensemble of the frontier pricer (the stand-in) and the tiny base Llama,
    fitted through the registry on 20 training items, where the ensemble pricer reads them."""
    from pricer.pricers.ensemble import fit_members

    fit_members(["frontier", "base"], str(train_550), start=0, size=20, lookup=pricers.member_lookup())


@pytest.mark.parametrize("name", ["fine-tuned", "base", "frontier", "cpu", "rag", "ensemble"])
def test_every_pricer_runs_through_the_same_evaluation_loop(name, request, test_250, monkeypatch, tiny_model):
    monkeypatch.setenv("PRICER_BASE_MODEL", str(tiny_model))
    monkeypatch.setenv("PRICER_ADAPTER", str(tiny_model / "adapter"))
    if name in ("frontier", "rag", "ensemble"):
        request.getfixturevalue("frontier_server")
    if name == "rag":
        from rag_data import course_index

        built = course_index(request.getfixturevalue("shared_data"), request.getfixturevalue("tmp_path_factory"))
        monkeypatch.setenv("PRICER_RAG_DATA", str(built["folder"]))
    if name == "ensemble":
        fit_ensemble(request.getfixturevalue("train_550"))
    pricer = pricers.get(name)
    assert pricer.available() is None
    heard = []
    snapshots = list(evaluation.evaluate(test_250, name, size=5, batch_size=2,
                                         progress=lambda done, total: heard.append((done, total))))
    assert [len(s.outcomes) for s in snapshots] == [2, 4, 5] and snapshots[-1].done
    done = snapshots[-1]
    assert done.pricer == name and done.label.startswith(pricer.label) and heard[-1] == (5, 5)
    assert (done.metrics.coverage is None) == (name in ("frontier", "rag", "ensemble"))  # no interval from these
    if name in ("frontier", "rag"):
        assert [o.guess for o in done.outcomes] == [45.0] * 5
    row = next(r for r in leaderboard.runs() if r.id == done.id)
    assert (row.pricer, row.size, row.partial, row.error) == (name, 5, False, pytest.approx(done.metrics.average_error))
    again = list(evaluation.evaluate(test_250, name, size=5, batch_size=2))
    assert len(again) == 1 and again[0].cached and again[0].metrics == done.metrics
    assert len([r for r in leaderboard.runs() if r.pricer == name]) == 1  # a replay is not a new run


def test_the_frontier_run_says_its_cost_first_and_a_replay_costs_nothing(frontier_server, test_250):
    line = evaluation.cost_line(test_250, "frontier", size=3)
    assert line.startswith("3 requests to gpt-4o-mini: ~") and "$" in line
    list(evaluation.evaluate(test_250, "frontier", size=3))
    assert len(frontier_server.chats()) == 3
    assert evaluation.cost_line(test_250, "frontier", size=3).startswith("0 requests to gpt-4o-mini (3 cached)")
    assert evaluation.cost_line(test_250, "cpu", size=3) is None


def test_an_unavailable_pricer_fails_with_its_reason(test_250):
    from pricer.errors import PricerError

    with pytest.raises(PricerError, match="OPENAI_API_KEY is not set"):
        list(evaluation.evaluate(test_250, "frontier", size=2))
    assert leaderboard.runs() == []  # nothing was priced: nothing to record
