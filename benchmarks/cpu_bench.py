"""How fast is the CPU pricer? Prediction time for 1 and 250 items with the shipped model, and
training time and peak memory on 400,000 synthetic items.

    python benchmarks/cpu_bench.py                # both
    python benchmarks/cpu_bench.py --predict-only
    python benchmarks/cpu_bench.py --items 50000  # a smaller training run

The synthetic items recombine the real ones of ../shared/data (a title of one item, the
description of another, the price of the first), written to a Parquet file in batches, then
trained on in a child process (its peak resident memory is the figure; the issue's budget is
15 minutes and 4 GB on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"


def real_rows() -> list[dict]:
    rows = []
    for name in ("train-550.jsonl", "train-community.jsonl", "test-250.jsonl"):
        path = DATA / name
        if path.exists():
            rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if not rows:
        sys.exit(f"The real data is not at {DATA}: clone with ../shared beside the repo.")
    return rows


def bench_predict() -> None:
    from pricer.pricers.cpu.model import load_model

    started = time.perf_counter()
    model = load_model()
    print(f"load the shipped model: {time.perf_counter() - started:.3f} s")
    rows = real_rows()
    test = [r for r in rows if r["text"].endswith("Price is $")][:250] or rows[:250]
    model.predict([test[0]["text"]])  # warm: numpy's first calls and the hashing
    for n in (1, 250):
        texts = [r["text"] for r in test[:n]]
        times = []
        for _ in range(5):
            started = time.perf_counter()
            model.predict(texts)
            times.append(time.perf_counter() - started)
        print(f"predict {n:>3} item{'s' if n > 1 else ' '}: best {min(times) * 1000:8.1f} ms, "
              f"median {sorted(times)[2] * 1000:8.1f} ms (5 runs)")


def synthetic(path: Path, n: int, seed: int = 42) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pricer.data.items import training_prompt
    from pricer.pricers.cpu.features import product_parts

    parts = [(product_parts(r["text"]), r["price"]) for r in real_rows()]
    rng = random.Random(seed)
    schema = pa.schema([("text", pa.string()), ("price", pa.float64())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, n, 10_000):
            texts, prices = [], []
            for _ in range(min(10_000, n - start)):
                (title, _), price = rng.choice(parts)
                (_, body), _ = rng.choice(parts)
                texts.append(training_prompt(f"{title}\n{body}", price))
                prices.append(price)
            writer.write_table(pa.table({"text": texts, "price": prices}, schema=schema))


def bench_train(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "synthetic.parquet"
        started = time.perf_counter()
        synthetic(data, n)
        print(f"wrote {n:,} synthetic items in {time.perf_counter() - started:.1f} s "
              f"({data.stat().st_size / 2 ** 20:.0f} MiB Parquet)")
        code = ("import sys; from pricer.pricers.cpu.training import train; "
                f"train([{str(data)!r}], validation=2000, out={str(Path(tmp) / 'model')!r}, progress=True)")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2 ** 20  # KiB -> GiB
        card = (Path(tmp) / "model" / "CARD.md").read_text(encoding="utf-8")
        size = (Path(tmp) / "model" / "model.safetensors").stat().st_size / 2 ** 20
        print(f"train on {n:,} items: {seconds:.1f} s ({seconds / 60:.1f} min), peak memory {peak:.2f} GiB, "
              f"model {size:.1f} MiB (budget: 15 min, 4 GB)")
        print(next(line for line in card.splitlines() if line.startswith("| validation")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=400_000, help="synthetic training items (default 400,000)")
    parser.add_argument("--predict-only", action="store_true")
    args = parser.parse_args()
    bench_predict()
    if not args.predict_only:
        bench_train(args.items)


if __name__ == "__main__":
    main()
