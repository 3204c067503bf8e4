"""Batched prediction against the course's one-at-a-time loop, on the tiny 4-bit model on CPU.

Prices the 250 test prompts of ../shared/data/test-250.jsonl twice with the same loaded model
(the tiny random-weight Llama in nf4 + its LoRA adapter): once with the course's loop (encode,
attention mask of ones, generate 4 tokens, decode, extract_price, one prompt at a time), once
with Pricer.predict (left-padded batches of similar lengths, which also yields the top-k and
median estimates). Prints both times, the ratio, and whether the prices are identical.

    python benchmarks/predict_bench.py [--batch-size 32] [--limit 250] [--threads 1] [--model DIR]

One torch thread by default: the tiny model's operations are so small that with more threads on
a shared machine the timing measures OpenMP waiting for busy cores, not the two methods.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "test-250.jsonl"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def course_loop(pricer, prompts: list[str]) -> list[float | None]:
    """The course's model_predict, one prompt at a time (week 7)."""
    import torch
    from transformers import set_seed

    from pricer.pricers.estimates import extract_price

    tokenizer, prices = pricer.tokenizer, []
    with pricer.active_model() as model, torch.inference_mode():
        for prompt in prompts:
            set_seed(42)
            inputs = tokenizer.encode(prompt, return_tensors="pt").to(model.device)
            attention_mask = torch.ones(inputs.shape, device=model.device)
            outputs = model.generate(inputs, attention_mask=attention_mask, max_new_tokens=4,
                                     num_return_sequences=1, do_sample=False,
                                     pad_token_id=tokenizer.eos_token_id)
            prices.append(extract_price(tokenizer.decode(outputs[0])))
    return prices


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--limit", type=int, default=250)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    ap.add_argument("--model", help="a tiny model folder (default: write one to a temporary folder)")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if not DATA.exists():
        print(f"the course's test data is not at {DATA}", file=sys.stderr)
        return 2

    from pricer.pricers.llama.model import ModelSpec, load_pricer
    from pricer.pricers.llama.tiny import write_tiny_model

    prompts = [json.loads(line)["text"] for line in DATA.read_text().splitlines()][: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.model) if args.model else write_tiny_model(Path(tmp) / "tiny")
        pricer = load_pricer(ModelSpec(str(folder), str(folder / "adapter")))
        print(pricer.status())
        course_loop(pricer, prompts[:2])  # warm-up: one-time kernel set-up is not what we measure
        pricer.predict(prompts[:2], batch_size=args.batch_size)

        started = time.perf_counter()
        one_by_one = course_loop(pricer, prompts)
        loop_s = time.perf_counter() - started

        started = time.perf_counter()
        batched = pricer.predict(prompts, batch_size=args.batch_size)
        batched_s = time.perf_counter() - started

    same = [p.greedy for p in batched] == one_by_one
    print(f"{len(prompts)} prompts, tiny 4-bit model + LoRA on {pricer.device}, "
          f"{torch.get_num_threads()} torch thread(s) of {os.cpu_count()} CPUs")
    print(f"course loop, one at a time : {loop_s:7.2f} s ({1000 * loop_s / len(prompts):6.1f} ms/prompt)")
    print(f"batched (batch {args.batch_size:3d})        : {batched_s:7.2f} s "
          f"({1000 * batched_s / len(prompts):6.1f} ms/prompt, with top-3 and median estimates)")
    print(f"speed-up                   : {loop_s / batched_s:7.1f}x (target 5x)")
    print(f"prices identical           : {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
