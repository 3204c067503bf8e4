"""How fast does QLoRA training run, and what would a real run take? Steps/s and tokens/s of the tiny
test model trained on the CPU through the real path (bitsandbytes 4-bit, peft, TRL), and the plan
`python -m pricer qlora` would print for Llama 3.1 8B on a T4, an A10G and an A100 (memory and
time: estimates from the model's size, labelled so).

    python benchmarks/qlora_bench.py              # both
    python benchmarks/qlora_bench.py --steps 8    # a longer CPU run
    python benchmarks/qlora_bench.py --plan-only

The CPU run uses the course's first training items from ../shared/data (train-550.jsonl).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "train-550.jsonl"
# Meta-Llama-3.1-8B's config.json: parameters, hidden size, layers, vocabulary, MLP size, key/value width
LLAMA_31_8B = (8_030_261_248, 4096, 32, 128_256, 14_336, 1024)


def cpu_run(steps: int, size: int) -> None:
    from pricer.pricers.llama import recipe as recipes
    from pricer.pricers.llama import training
    from pricer.pricers.llama.tiny import write_tiny_model

    if not DATA.exists():
        sys.exit(f"The real data is not at {DATA}: clone with ../shared beside the repo.")
    with tempfile.TemporaryDirectory() as tmp:
        base = write_tiny_model(Path(tmp) / "tiny")
        said: list[tuple[float, str]] = []
        started = time.perf_counter()
        done = training.train(str(DATA), Path(tmp) / "run", base_model=str(base), size=size,
                              recipe=recipes.Recipe(max_steps=steps, logging_steps=1, save_steps=steps),
                              say=lambda line: said.append((time.perf_counter(), line)))
        total = time.perf_counter() - started
    tokens = next(int(line.split(" tokens")[0].split(", ")[-1].replace(",", "")) for _, line in said
                  if line.startswith("plan: ") and " tokens" in line)
    per_step_tokens = tokens / max(1, min(size, steps * 4)) * 4  # batch 4
    print(f"CPU, tiny model (hidden 64, 2 layers, real Llama 3.1 vocabulary), {steps} steps of batch 4:")
    print(f"  training loop  : {done.seconds:6.1f} s  {steps / done.seconds:5.2f} steps/s  "
          f"{steps * per_step_tokens / done.seconds:7.0f} tokens/s")
    print(f"  whole command  : {total:6.1f} s (loading the model and tokenizing included)")


def plans() -> None:
    from pricer.pricers.llama import recipe as recipes

    shape = recipes.ModelShape(*LLAMA_31_8B)
    for preset in recipes.PRESETS:
        chosen = recipes.recipe(preset)
        print(f"\n{preset} on Llama 3.1 8B, {recipes.COURSE_ITEMS:,} items (estimates from the model's size):")
        for gpu in ("t4", "a10g", "a100"):
            planned = recipes.plan(chosen, shape, recipes.BASE_MODEL, recipes.COURSE_ITEMS,
                                   recipes.COURSE_ITEMS * recipes.TOKENS_PER_ITEM, recipes.GPUS[gpu])
            print(f"  {planned.hardware.name:12}: batch {planned.micro_batch:>3} x {planned.accumulation:<3} "
                  f"{planned.steps:>7,} steps  {planned.memory_gb:5.1f} of {planned.hardware.memory_gb:3.0f} GB  "
                  f"about {planned.estimated_hours:6.1f} h")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--size", type=int, default=64, help="training items for the CPU run")
    parser.add_argument("--plan-only", action="store_true")
    args = parser.parse_args()
    if not args.plan_only:
        cpu_run(args.steps, args.size)
    plans()


if __name__ == "__main__":
    main()
