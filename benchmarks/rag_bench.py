"""RAG index speed: building (embedding real items) and searching, numpy against FAISS.

    python benchmarks/rag_bench.py [--build 256] [--sizes 12687 400000] [--threads 1] [--repeat 5]

- build:  pricer.pricers.chat.rag_index.build over the first N real items of ../shared/data/train-community.jsonl
          (all-MiniLM-L6-v2 on the CPU, chunks written and joined as for a real index): items/s,
          CPU ms per item, and what that means for 400,000 items on this machine;
- search: one query and a batch of 250 queries against n unit vectors of 384 float32 numbers
          (the search does not depend on what the vectors mean, so they are random): pricer's numpy
          search (RagIndex.nearest, with its leak guard) against FAISS's exact IndexFlatIP and its
          float16 IndexScalarQuantizer, when faiss-cpu is installed; the top 5 are checked equal;
- load:   the float16 file read into the float32 matrix the search uses, at each size;
- query:  embedding one product text with MiniLM (what every search costs first).

12,687 is the size of the index of ../shared/data (train-550 + train-community + 5); 400,000 the
course's train split. BLAS, OpenMP and torch threads: --threads (1 by default: the machine is shared).
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
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
COMMUNITY = ROOT.parent / "shared" / "data" / "train-community.jsonl"


def best(fn, repeat: int) -> float:
    """Best wall time of `repeat` runs, in ms."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def bench_build(n: int, threads: int) -> None:
    import torch

    from pricer.pricers.chat import embeddings, rag_index

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "items.jsonl"
        with COMMUNITY.open(encoding="utf-8") as f:
            source.write_text("".join(line for _, line in zip(range(n), f, strict=False)), encoding="utf-8")
        embeddings.encoder()  # the model's load is not part of the build's speed
        cpu, start = time.process_time(), time.perf_counter()
        built = rag_index.build(str(source), Path(tmp) / "index", progress=lambda done, total: None)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    rate = built.count / wall
    print(f"build: {built.count} real items in {wall:.1f} s = {rate:.1f} items/s wall, {cpu / built.count * 1000:.0f} ms "
          f"CPU per item ({threads} torch thread{'s' if threads > 1 else ''})")
    print(f"       400,000 items at this rate: {400_000 / rate / 3600:.1f} h wall on this machine "
          f"({400_000 * cpu / built.count / 3600:.1f} CPU-hours); resumable chunk by chunk")


def bench_query_embedding(repeat: int) -> None:
    from pricer.pricers.chat import embeddings

    text = json.loads(COMMUNITY.open(encoding="utf-8").readline())["text"]
    embeddings.embed([text])
    print(f"embed one product text (MiniLM): {best(lambda: embeddings.embed([text]), repeat):.1f} ms")


def bench_search(n: int, repeat: int) -> None:
    import numpy as np

    from pricer.pricers.chat.rag_index import RagIndex

    rng = np.random.default_rng(42)
    vectors = rng.standard_normal((n, 384), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    stored = vectors.astype(np.float16)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "e.npy", stored, allow_pickle=False)
        del stored

        def load():
            on_disk = np.load(Path(tmp) / "e.npy", mmap_mode="r", allow_pickle=False)
            out = np.empty(on_disk.shape, dtype=np.float32)
            for at in range(0, len(out), 65_536):
                out[at:at + 65_536] = on_disk[at:at + 65_536]
            return out

        load_ms = best(load, 1)
    keys = rng.integers(1, 2**63, size=(n, 2), dtype=np.uint64)
    index = RagIndex(Path("."), {}, vectors, np.zeros(n), keys, np.zeros(n + 1, dtype=np.int64))
    one, batch = vectors[:1] + 0.01, vectors[:250] + 0.01
    none = [(0, 0)] * 250
    rows = {"numpy (pricer)": (best(lambda: index.nearest(one, none[:1], 5), repeat),
                               best(lambda: index.nearest(batch, none, 5), max(1, repeat // 2)))}
    ours = [[r for r, _ in hits] for hits in index.nearest(batch, none, 5)]
    try:
        import faiss
    except ImportError:
        faiss = None
    if faiss is not None:
        flat = faiss.IndexFlatIP(384)
        start = time.perf_counter()
        flat.add(vectors)
        add_flat = time.perf_counter() - start
        rows[f"FAISS IndexFlatIP (add {add_flat:.2f} s)"] = (
            best(lambda: flat.search(one, 5), repeat), best(lambda: flat.search(batch, 5), max(1, repeat // 2)))
        theirs = flat.search(batch, 5)[1].tolist()
        agree = sum(a == b for a, b in zip(ours, theirs, strict=True))
        fp16 = faiss.IndexScalarQuantizer(384, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        start = time.perf_counter()
        fp16.train(vectors[:1000])
        fp16.add(vectors)
        add_fp16 = time.perf_counter() - start
        rows[f"FAISS float16 SQ (add {add_fp16:.2f} s)"] = (
            best(lambda: fp16.search(one, 5), repeat), best(lambda: fp16.search(batch, 5), max(1, repeat // 2)))
    print(f"search {n:,} items ({vectors.nbytes / 2**20:,.0f} MiB float32; float16 file read into it in {load_ms:.0f} ms):")
    for name, (single, many) in rows.items():
        print(f"  {name:34} 1 query {single:8.2f} ms   250 queries {many:9.1f} ms ({many / 250:.2f} ms each)")
    if faiss is not None:
        print(f"  top 5 equal for {agree}/250 queries (numpy vs FAISS flat)")
    else:
        print("  (faiss-cpu not installed: pip install faiss-cpu to compare)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=int, default=256, help="real items to embed (0: skip)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[12_687, 400_000])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # read when numpy loads BLAS
        os.environ[name] = str(args.threads)
    try:
        import faiss

        faiss.omp_set_num_threads(args.threads)
    except ImportError:
        pass
    if args.build:
        if not COMMUNITY.exists():
            print(f"build: skipped, no real items at {COMMUNITY}")
        else:
            bench_build(args.build, args.threads)
            bench_query_embedding(args.repeat)
    for n in args.sizes:
        bench_search(n, args.repeat)


if __name__ == "__main__":
    main()
