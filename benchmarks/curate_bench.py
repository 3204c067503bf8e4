"""Curation speed: the course's per-record loop against pricer's batched datasets pipeline.

    python benchmarks/curate_bench.py [--records 6000] [--workers 2]

Both curate the same raw records, generated from the course's real items in ../shared/data
(titles, descriptions, features and details recombined and varied, with missing and bad prices,
short texts, emoji/CJK/RTL). Timed:

- course:  its ItemLoader over a hub-form Dataset: a ProcessPoolExecutor over chunks of 1,000,
           each record encoded, cut, decoded and encoded again (token_count), one at a time;
- pricer:  pricer.curate on the same Dataset (datasets.map, batches of 1,000, same workers),
           and end to end from the raw JSONL file (reading and malformed-line handling included).

It prints items/s for each and the ratio, and fails unless both keep the same items with the same
prompts, byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

EXTRAS = ("🔥 Best seller 👍", "高品质不锈钢材料，经久耐用。", "منتج عالي الجودة", "Ünïcödé — “quoted” ½ inch²")
BAD_PRICES = (None, "None", "", "$12.99", "from 5.00", "—", "nan", "-5", "1200.00", "0")


def course_items(shared: Path = SHARED) -> list[tuple[str, str, float]]:
    """(title, body, price) of the course's real items: test, train and extra files."""
    out = []
    for name in ("test-250.jsonl", "train-550.jsonl", "extra-ed-week8wip-rag-context.jsonl"):
        for line in (shared / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            body = row["text"].split("\n\n", 1)[1].rsplit("\n\nPrice is $", 1)[0]
            title, _, rest = body.partition("\n")
            out.append((title, rest, float(row["price"])))
    return out


def realistic_records(n: int, seed: int = 0, shared: Path = SHARED) -> list[dict]:
    """`n` raw records in the McAuley JSONL form (details a dict, price a number or null)."""
    rng = random.Random(seed)
    items = course_items(shared)
    records = []
    for i in range(n):
        title, body, price = items[i % len(items)]
        _, other, _ = items[rng.randrange(len(items))]
        sentences = [s for s in (body + ". " + other).split(". ") if s]
        if i % len(items) and rng.random() < 0.5:
            rng.shuffle(sentences)
        if rng.random() < 0.04:
            sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(EXTRAS))
        if rng.random() < 0.08:  # too short, or too few tokens
            sentences = sentences[: rng.choice((1, 3))]
        cut = rng.randint(1, min(3, len(sentences)))
        description = [". ".join(sentences[:cut])]
        rest = sentences[cut:]
        step = max(1, len(rest) // rng.randint(1, 8))
        features = [". ".join(rest[k: k + step]) for k in range(0, len(rest), step)] if rng.random() < 0.9 else []
        details: dict | None = {
            "Brand": title.split(" ")[0],
            "Item Weight": f"{rng.randint(1, 90) / 10} Pounds",
            "Manufacturer": title.split(" ")[0].upper(),
            "Item model number": f"{rng.choice('ABCX')}{rng.randint(10000, 999999)}",
            "Date First Available": f"March {rng.randint(1, 28)}, 20{rng.randint(10, 23)}",
            "Batteries Required?": rng.choice(("No", "Yes")),
            "Best Sellers Rank": {"Automotive": rng.randint(1, 90000), "Replacement Parts": rng.randint(1, 9000)},
            "Product Dimensions": f"{rng.randint(1, 40)} x {rng.randint(1, 40)} x {rng.randint(1, 9)} inches",
            "Is Discontinued By Manufacturer": "No",
            "Manufacturer Part Number": f"{rng.randint(100, 999)}-{rng.randint(1000, 99999)}",
            "Color": rng.choice(("Black", "Silver", "Red", "Chrome", "Multi")),
        }
        if rng.random() < 0.3:
            details = dict(rng.sample(sorted(details.items()), rng.randint(0, 4)))
        if rng.random() < 0.03:
            details = None
        roll = rng.random()
        value: object = price
        if roll < 0.10:
            value = None
        elif roll < 0.13:
            value = rng.choice(BAD_PRICES)
        elif roll < 0.20:
            value = str(price)
        varied = title if rng.random() < 0.8 else f"【NEW】  {title} , {rng.choice(EXTRAS)}"
        records.append({"main_category": "Automotive", "title": varied, "features": features,
                        "description": description, "price": value, "details": details,
                        "parent_asin": f"B0{i:08d}"})
    return records


def best_of(rounds: int, run) -> tuple[list[str], float]:
    """The result and the best wall time of `rounds` runs (the machine may be shared)."""
    results = [run() for _ in range(rounds)]
    return results[0][0], min(seconds for _, seconds in results)


def _course(dataset, workers: int) -> tuple[list[str], float]:
    from benchmarks.course_loader import ItemLoader, _load_tokenizer

    _load_tokenizer()  # the course loaded it at import, before the pool
    start = time.perf_counter()
    items = ItemLoader("Automotive", dataset).load_in_parallel(workers)
    return [item.prompt for item in items], time.perf_counter() - start


def _pricer(dataset, workers: int) -> tuple[list[str], float]:
    from pricer.curate import curate_raw

    start = time.perf_counter()
    curated = curate_raw(dataset, category="Automotive", workers=workers)
    prompts = [t for t, r in zip(curated["text"], curated["reason"], strict=True) if r is None]
    return prompts, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--records", type=int, default=6000)
    args.add_argument("--workers", type=int, default=2)
    args.add_argument("--rounds", type=int, default=3, help="runs of each; the best time counts")
    opts = args.parse_args(argv)
    if not (SHARED / "test-250.jsonl").exists():
        print(f"needs the course's data at {SHARED}", file=sys.stderr)
        return 2
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar

    from pricer.curate import curate_to_jsonl
    from pricer.items import hub_record

    disable_progress_bar()
    records = realistic_records(opts.records)
    with tempfile.TemporaryDirectory() as tmp:
        raw_file = Path(tmp) / "meta_Automotive.jsonl"
        raw_file.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        # What the course got from load_dataset(..., "raw_meta_Automotive"): the hub's form.
        dataset = Dataset.from_list([hub_record(r) for r in records])
        dataset.save_to_disk(Path(tmp) / "ds")  # memory-mapped, as load_dataset's is
        from datasets import load_from_disk

        dataset = load_from_disk(str(Path(tmp) / "ds"))

        course, t_course = best_of(opts.rounds, lambda: _course(dataset, opts.workers))
        ours, t_ours = best_of(opts.rounds, lambda: _pricer(dataset, opts.workers))
        out = Path(tmp) / "items.jsonl"
        summaries = [curate_to_jsonl(raw_file, out, workers=opts.workers) for _ in range(opts.rounds)]
        summary = min(summaries, key=lambda s: s.seconds)
        t_file = summary.seconds
        from_file = [json.loads(line)["text"] for line in (Path(tmp) / "items.jsonl").open(encoding="utf-8")]

    n = len(records)
    print(f"{n:,} raw records, {len(course):,} kept, {opts.workers} workers each, best of {opts.rounds} runs")
    print(f"course  (process pool, per-record encode/decode): {n / t_course:8.0f} records/s  {t_course:6.2f} s")
    print(f"pricer  (datasets.map, batched):                  {n / t_ours:8.0f} records/s  {t_ours:6.2f} s"
          f"  x{t_course / t_ours:.2f}")
    print(f"pricer  end to end from the raw JSONL file:       {n / t_file:8.0f} records/s  {t_file:6.2f} s"
          f"  x{t_course / t_file:.2f}")
    print(summary.line())
    if course != ours or course != from_file:
        bad = next((i for i, (a, b) in enumerate(zip(course, ours, strict=False)) if a != b), None)
        print(f"MISMATCH: course kept {len(course)}, pricer {len(ours)} / {len(from_file)}; first differing "
              f"item {bad}", file=sys.stderr)
        return 1
    print("identical prompts: yes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
