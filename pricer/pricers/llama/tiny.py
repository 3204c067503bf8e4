"""A tiny random-weight Llama 3.1-architecture model for tests and the offline demo.

It has the real Llama 3.1 tokenizer (the offline copy) and the Llama architecture, but a hidden
size of 64 and 2 layers, so it loads through the real 4-bit (bitsandbytes nf4) path on a CPU in
about a second. Its prices are nonsense: it is labelled as a test model in its config.json
(`pricer_test_model: true`, which the loader reads to say so on the page), its model card and
by `TINY_MARK` in its name. A tiny random LoRA adapter (which does change the
outputs) is written beside it in `<out>/adapter`. Its number tokens are scaled up so
that it answers `Price is $` with numbers (nonsense ones). It does not download anything.

    python -m pricer tiny-model --out /tmp/tiny     # then PRICER_BASE_MODEL=/tmp/tiny ...
"""

from __future__ import annotations

import json
from pathlib import Path

from pricer.pricers.llama.backbone import TEST_MODEL_KEY

TINY_MARK = "pricer-tiny-test-model"
HIDDEN, LAYERS = 64, 2
SEED = 42
NUMBER_SCALE = 3.0
CARD = """---
tags: [test-model, pricer]
---
# {name}: a TEST model, not a pricer

Random weights, Llama 3.1 architecture (hidden size {hidden}, {layers} layers) and the real
Llama 3.1 tokenizer. Written by `python -m pricer tiny-model` so the tests and the offline demo
can run the whole 4-bit + LoRA path without a GPU or the Hugging Face Hub.
Its prices are meaningless.
"""


def is_tiny(path: str | Path) -> bool:
    """True for a folder written by write_tiny_model, or its adapter folder: the config.json
    beside it (or above it) carries the test-model mark."""
    path = Path(path)
    config = next((f / "config.json" for f in (path, path.parent) if (f / "config.json").is_file()), None)
    try:
        return config is not None and json.loads(config.read_text(encoding="utf-8")).get(TEST_MODEL_KEY) is True
    except (OSError, ValueError, AttributeError):  # unreadable, not JSON, not an object
        return False


def write_tiny_model(out: Path, seed: int = SEED) -> Path:
    """Write the tiny test model to `out` and its LoRA adapter to `out / "adapter"`; return `out`.

    Deterministic for a given seed. Skips the work when `out` already holds one.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from pricer.tokenizer.loading import offline_llama_path

    out = Path(out).expanduser()
    if is_tiny(out) and (out / "adapter" / "adapter_config.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(offline_llama_path()))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=2 * HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        # Tied embeddings halve the size: the 128,256-row table dominates a model this small.
        tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
        **{TEST_MODEL_KEY: True},  # saved in config.json: the loader reads it and labels the model
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    # Louder number tokens (tied, so in and out) make it answer with numbers like a pricer.
    numbers = [tokenizer.convert_tokens_to_ids(str(n)) for n in range(1, 1000)]
    with torch.no_grad():
        model.model.embed_tokens.weight[numbers] *= NUMBER_SCALE
    model.config.name_or_path = TINY_MARK
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(CARD.format(name=TINY_MARK, hidden=HIDDEN, layers=LAYERS))

    torch.manual_seed(seed + 1)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM",
                      init_lora_weights=False)  # random B as well as A, so the adapter matters
    peft_model = get_peft_model(model, lora)
    peft_model.save_pretrained(out / "adapter")
    (out / "adapter" / "README.md").write_text(f"# LoRA adapter of {TINY_MARK} (random, a TEST adapter)\n")
    return out
