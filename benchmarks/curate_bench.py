"""Curation speed: the course's per-record loop against pricer's batched datasets pipeline.

    python benchmarks/curate_bench.py [--records 10000] [--workers 2] [--rounds 3]

Both curate the same raw records, generated from the course's real items in ../shared/data
(titles, descriptions, features and details recombined and varied, with missing and bad prices,
short texts, emoji/CJK/RTL). Timed:

- course:  its ItemLoader over a hub-form Dataset: a ProcessPoolExecutor over chunks of 1,000,
           each record encoded, cut, decoded and encoded again (token_count), one at a time;
- pricer:  pricer.data.curate on the same Dataset (datasets.map, batches of 1,000, same workers),
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


def realistic_records(n: int, seed: int = 0, shared: Path = SHARED, missing_price: float = 0.10) -> list[dict]:
    """`n` raw records in the McAuley JSONL form (details a dict, price a number or null), a
    `missing_price` share of them without a price."""
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
        if roll < missing_price:
            value = None
        elif roll < missing_price + 0.03:
            value = rng.choice(BAD_PRICES)
        elif roll < missing_price + 0.10:
            value = str(price)
        varied = title if rng.random() < 0.8 else f"【NEW】  {title} , {rng.choice(EXTRAS)}"
        images = [{"thumb": f"https://m.media-amazon.com/images/I/{rng.getrandbits(40):x}._SS40_.jpg",
                   "large": f"https://m.media-amazon.com/images/I/{rng.getrandbits(40):x}.jpg",
                   "variant": "MAIN" if k == 0 else f"PT0{k}",
                   "hi_res": f"https://m.media-amazon.com/images/I/{rng.getrandbits(40):x}._SL1500_.jpg"}
                  for k in range(rng.randint(1, 8))]
        videos = [{"title": f"Video {k}", "url": f"https://www.amazon.com/vdp/{rng.getrandbits(48):x}",
                   "user_id": f"A{rng.getrandbits(40):X}"} for k in range(rng.choice((0, 0, 1, 2)))]
        records.append({"main_category": "Automotive", "title": varied, "average_rating": rng.randint(10, 50) / 10,
                        "rating_number": rng.randint(0, 5000), "features": features, "description": description,
                        "price": value, "images": images, "videos": videos, "store": title.split(" ")[0],
                        "categories": ["Automotive", "Replacement Parts"][: rng.randint(0, 2)], "details": details,
                        "parent_asin": f"B0{i:08d}", "bought_together": None})
    return records


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker pools)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def best_of(rounds: int, run) -> tuple[list[str], float, float]:
    """The result, the best wall time and the best CPU time of `rounds` runs. The machine may be
    shared: wall time shows what a user waits, CPU time is steadier under load."""
    results, walls, cpus = None, [], []
    for _ in range(rounds):
        cpu, wall = cpu_seconds(), time.perf_counter()
        results = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(cpu_seconds() - cpu)
    return results, min(walls), min(cpus)


def hub_row(record: dict) -> dict:
    """A raw record as the hub's raw_meta_<Category> loader gave it to the course: every column,
    details and (non-str) optional fields through json.dumps, price through str()."""
    row = dict(record)
    row["details"] = json.dumps(row["details"])
    row["price"] = str(row["price"])
    for key in ("subtitle", "author"):
        row.setdefault(key, None)
    return row


def _course(dataset, workers: int) -> list[str]:
    from benchmarks.course_loader import ItemLoader

    return [item.prompt for item in ItemLoader("Automotive", dataset).load_in_parallel(workers)]


def _hub_script_rows(path: str):
    """What the hub's loading script did for raw_meta_<Category>, line by line (single process)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                yield hub_row(json.loads(line))
            except Exception:  # the script skipped bad lines silently
                continue


def _course_file(raw_file: Path, workers: int) -> list[str]:
    from datasets import Dataset

    dataset = Dataset.from_generator(_hub_script_rows, gen_kwargs={"path": str(raw_file)},
                                     cache_dir=str(raw_file.parent / f"course-{time.monotonic_ns()}"))
    return _course(dataset, workers)


def _pricer(dataset, workers: int) -> list[str]:
    from pricer.data.curate import curate_raw

    curated = curate_raw(dataset, category="Automotive", workers=workers)
    return [t for t, r in zip(curated["text"], curated["reason"], strict=True) if r is None]


def _pricer_file(raw_file: Path, out: Path, workers: int) -> list[str]:
    from pricer.data.curate import curate_to_jsonl

    curate_to_jsonl(raw_file, out, workers=workers)
    return [json.loads(line)["text"] for line in out.open(encoding="utf-8")]


def main(argv: list[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--records", type=int, default=10000)
    args.add_argument("--workers", type=int, default=2)
    args.add_argument("--rounds", type=int, default=3, help="runs of each; the best time counts")
    args.add_argument("--missing-price", type=float, default=0.10,
                      help="share of records without a price (0.10; the real categories have more: the course "
                           "kept 28,625 of 94,327 Appliances records)")
    opts = args.parse_args(argv)
    if not (SHARED / "test-250.jsonl").exists():
        print(f"needs the course's data at {SHARED}", file=sys.stderr)
        return 2
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    records = realistic_records(opts.records, missing_price=opts.missing_price)
    with tempfile.TemporaryDirectory() as tmp:
        raw_file = Path(tmp) / "meta_Automotive.jsonl"
        raw_file.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        # What the course got from load_dataset(..., "raw_meta_Automotive"): the hub's form, all columns.
        dataset = Dataset.from_list([hub_row(r) for r in records])
        dataset.save_to_disk(Path(tmp) / "ds")  # memory-mapped, as load_dataset's is
        from datasets import load_from_disk

        dataset = load_from_disk(str(Path(tmp) / "ds"))

        from benchmarks.course_loader import _load_tokenizer

        _load_tokenizer()  # loaded before the pools, as the course's class attribute was at import
        course, t_course, c_course = best_of(opts.rounds, lambda: _course(dataset, opts.workers))
        ours, t_ours, c_ours = best_of(opts.rounds, lambda: _pricer(dataset, opts.workers))
        course_file, t_cfile, c_cfile = best_of(opts.rounds, lambda: _course_file(raw_file, opts.workers))
        from_file, t_file, c_file = best_of(
            opts.rounds, lambda: _pricer_file(raw_file, Path(tmp) / "items.jsonl", opts.workers))

    n = len(records)
    print(f"{n:,} raw records, {len(course):,} kept, {opts.workers} workers each, best of {opts.rounds} runs")
    print(f"{'':52s} {'records/s':>9s} {'wall':>7s} {'CPU':>7s}")
    rows = (
        ("course  (process pool, record by record)", t_course, c_course, t_course, c_course),
        ("pricer  (datasets.map over the same Dataset)", t_ours, c_ours, t_course, c_course),
        ("course  end to end: hub script's load + its loop", t_cfile, c_cfile, None, None),
        ("pricer  end to end from the raw JSONL file", t_file, c_file, t_cfile, c_cfile),
    )
    for label, wall, cpu, base_wall, base_cpu in rows:
        ratio = "" if base_wall in (None, wall) else f"  x{base_wall / wall:.2f} wall, x{base_cpu / cpu:.2f} CPU"
        print(f"{label:52s} {n / wall:9.0f} {wall:6.2f}s {cpu:6.2f}s{ratio}")
    if not course == ours == from_file == course_file:
        bad = next((i for i, (a, b) in enumerate(zip(course, ours, strict=False)) if a != b), None)
        print(f"MISMATCH: course kept {len(course)}, pricer {len(ours)} / {len(from_file)}; first differing "
              f"item {bad}", file=sys.stderr)
        return 1
    print("identical prompts: yes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
