"""Evaluation speed: the full run over the 250 test items on the tiny 4-bit model, on this CPU.

    python benchmarks/evaluate_bench.py [--size 250] [--batch-size 16] [--threads 1] [--adapter/--no-adapter]

One torch thread by default, as in predict_bench.py: the tiny model's operations are so small
that a second thread on this shared 2-CPU machine mostly waits for the other engineers' work.

In one process, on the same model files (a tiny random-weight Llama 3.1-architecture model with a
LoRA adapter, written to a temporary folder, loaded in nf4 through bitsandbytes):

- course:  the course's Tester loop: for each item, its model_predict (set_seed(42), encode,
           attention mask of ones, generate 4 new tokens, decode, extract the price), one at a
           time, on a model loaded the course's way (BitsAndBytesConfig nf4 + PeftModel, with
           pricer's bfloat16 for the unquantized layers so the prices are comparable);
- pricer:  pricer.evaluation.evaluate (the Llama pricer): batched (left padding), streaming after each batch,
           also giving the top-k estimate; then the same run again, served from the run cache.

It prints seconds and items/s for each, the speed-up, and both metrics lines (the tiny model's
prices are nonsense, so only the timings and the agreement of the two lines mean anything).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
TEST_250 = ROOT.parent / "shared" / "data" / "test-250.jsonl"


def course_model(base: Path, adapter: Path | None):
    """The course's loading code (week 7), for local folders."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    quant_config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_use_double_quant=True,
                                      bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_quant_type="nf4")
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    # dtype: the course left the unquantized layers (embeddings, norms, lm_head) at float32;
    # pricer loads them in the compute dtype. On the tiny model's near-ties that alone flips
    # a few greedy prices, so both sides use bfloat16 here and the prices can be compared.
    model = AutoModelForCausalLM.from_pretrained(str(base), quantization_config=quant_config,
                                                 device_map="auto", dtype=torch.bfloat16)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    return model, tokenizer


def course_predictor(model, tokenizer):
    """The course's model_predict, one prompt at a time (no number -> None, scored as 0)."""
    import torch
    from transformers import set_seed

    from pricer.pricers.estimates import extract_price

    def model_predict(prompt: str) -> float | None:
        set_seed(42)
        inputs = tokenizer.encode(prompt, return_tensors="pt").to(model.device)
        attention_mask = torch.ones(inputs.shape, device=model.device)
        outputs = model.generate(inputs, attention_mask=attention_mask, max_new_tokens=4,
                                 num_return_sequences=1)
        response = tokenizer.decode(outputs[0][inputs.shape[1]:])
        return extract_price(response)

    return lambda prompts: [model_predict(p) for p in prompts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=250)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    parser.add_argument("--adapter", action=argparse.BooleanOptionalAction, default=True,
                        help="evaluate base + LoRA adapter (default) or the base alone")
    args = parser.parse_args()
    if not TEST_250.exists():
        sys.exit(f"the course's 250 test items are not at {TEST_250}")

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from pricer import evaluation
    from pricer.data.datasets import load_items
    from pricer.pricers.llama.model import ModelSpec
    from pricer.pricers.llama.pricer import LlamaPricer
    from pricer.pricers.llama.tiny import write_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PRICER_CACHE"] = str(Path(tmp) / "cache")
        base = write_tiny_model(Path(tmp) / "tiny")
        adapter = base / "adapter" if args.adapter else None
        items = load_items(TEST_250, args.size)
        print(f"{len(items)} test items, tiny 4-bit model{' + LoRA adapter' if adapter else ''}, "
              f"CPU, torch threads {torch.get_num_threads()}")

        model, tokenizer = course_model(base, adapter)
        course_predictor(model, tokenizer)([items[0].prompt])  # warm-up, as for pricer below
        start = time.perf_counter()
        *_, course = evaluation.run(items, course_predictor(model, tokenizer), label="course loop", batch_size=1)
        course_s = time.perf_counter() - start
        del model

        spec = ModelSpec(str(base), str(adapter) if adapter else None, None)
        pricer = LlamaPricer(bool(adapter), spec, args.batch_size)
        pricer.price([items[0].prompt])  # load + warm-up outside the timing
        start = time.perf_counter()
        stream = list(evaluation.evaluate(TEST_250, pricer, size=args.size, batch_size=args.batch_size))
        batched, snapshots = stream[-1], len(stream)
        batched_s = time.perf_counter() - start
        start = time.perf_counter()
        *_, repeat = evaluation.evaluate(TEST_250, pricer, size=args.size, batch_size=args.batch_size)
        repeat_s = time.perf_counter() - start

    n = len(items)
    print(f"course, one at a time : {course_s:7.2f} s  {n / course_s:7.1f} items/s")
    print(f"pricer, batches of {args.batch_size:<3}: {batched_s:7.2f} s  {n / batched_s:7.1f} items/s  "
          f"({snapshots} streamed updates)")
    print(f"speed-up              : {course_s / batched_s:7.1f}x")
    print(f"repeat from the cache : {repeat_s * 1000:7.1f} ms (cached: {repeat.cached})")
    print(f"course  {course.metrics.line()}")
    print(f"pricer  {batched.metrics.line()}")
    same = [o.guess for o in course.outcomes] == [o.guess for o in batched.outcomes]
    print(f"same greedy prices: {same}")


if __name__ == "__main__":
    main()
