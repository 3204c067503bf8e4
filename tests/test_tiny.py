"""The tiny test model: a Llama 3.1-architecture model with the real tokenizer, labelled as a test
model, that loads through the real 4-bit path and carries a LoRA adapter that matters."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pricer.cli import main
from pricer.pricers.llama.tiny import TINY_MARK, is_tiny, write_tiny_model


def test_tiny_model_is_a_small_llama_with_the_real_llama_31_tokenizer(tiny_model: Path, llama):
    config = json.loads((tiny_model / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert (config["hidden_size"], config["num_hidden_layers"]) == (64, 2)
    assert config["vocab_size"] == len(llama) == 128256
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    text = "How much does this cost to the nearest dollar?\n\nPrice is $374"
    assert tok.encode(text) == llama.encode(text)


def test_tiny_model_is_labelled_as_a_test_model(tiny_model: Path, tmp_path: Path):
    assert is_tiny(tiny_model) and is_tiny(tiny_model / "adapter")
    assert json.loads((tiny_model / "config.json").read_text())["pricer_test_model"] is True  # what the loader reads
    assert not is_tiny(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    assert not is_tiny(tmp_path)
    card = (tiny_model / "README.md").read_text()
    assert TINY_MARK in card and "TEST model" in card and "meaningless" in card


def test_tiny_model_loads_through_the_real_4bit_path(tiny_model: Path):
    import bitsandbytes as bnb
    import torch
    from transformers import AutoModelForCausalLM

    from pricer.pricers.llama.backbone import quantization_config

    model = AutoModelForCausalLM.from_pretrained(
        tiny_model, quantization_config=quantization_config("4bit", torch.bfloat16), device_map="auto")
    q_proj = model.model.layers[0].self_attn.q_proj
    assert isinstance(q_proj, bnb.nn.Linear4bit)
    assert q_proj.weight.quant_state.quant_type == "nf4"
    assert model.config.quantization_config.bnb_4bit_use_double_quant


def test_tiny_adapter_is_lora_and_changes_the_next_token_distribution(tiny_model: Path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    ids = torch.tensor([[128000, 7117, 374, 400]])  # <|begin_of_text|>Price is $
    base = model(ids).logits[0, -1]
    tuned = PeftModel.from_pretrained(model, tiny_model / "adapter")
    assert tuned.peft_config["default"].peft_type.value == "LORA"
    assert not torch.allclose(base, tuned(ids).logits[0, -1])


def test_tiny_model_answers_price_prompts_with_numbers(tiny_model: Path):
    from pricer.pricers.estimates import extract_price
    from pricer.pricers.llama.model import ModelSpec, load_pricer

    pricer = load_pricer(ModelSpec(str(tiny_model)))
    (pred,) = pricer.predict(["How much does this cost to the nearest dollar?\n\nA lamp\n\nPrice is $"])
    assert extract_price(pred.completion) is not None


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*.safetensors")):
        h.update(f.read_bytes())
    return h.hexdigest()


def test_tiny_model_is_the_same_every_time_it_is_written(tiny_model: Path, tmp_path: Path):
    again = write_tiny_model(tmp_path / "again")
    assert _digest(again) == _digest(tiny_model)


def test_tiny_model_cli_writes_the_model_and_its_adapter(tmp_path: Path, capsys: pytest.CaptureFixture):
    # scripts/dev demo runs this verb and points PRICER_ADAPTER at OUT/adapter
    assert main(["tiny-model", "--out", str(tmp_path / "demo")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "demo")
    assert (tmp_path / "demo" / "config.json").exists()
    assert (tmp_path / "demo" / "adapter" / "adapter_config.json").exists()
