"""Server-side time to inspect a 10,000-character text with the Llama 3.1 tokenizer (target < 50 ms).

Times what the Tokenizer tab's `/tokenize` handler does (encode, per-token pieces, decode,
numbers) and the HTML it renders, after a warm-up, on the offline Llama 3.1 copy:

    python benchmarks/tokens_bench.py [--repeat 20]

The text is real product prompts from ../shared/data when present, else a repeated sentence.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHARS = 10_000


def sample_text() -> tuple[str, str]:
    from pricer.data.datasets import load_pricer_dataset

    data = ROOT.parent / "shared" / "data" / "test-250.jsonl"
    if data.exists():
        text = "\n".join(row["text"] for row in load_pricer_dataset(data))
        return text[:CHARS], "product prompts from test-250.jsonl"
    sentence = "I am excited to show Tokenizers in action to my LLM engineers. 🦜 $374.41\n"
    return (sentence * (CHARS // len(sentence) + 1))[:CHARS], "a repeated sentence"


def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    from pricer.tokenizer import tokens, vocab
    from pricer.tokenizer.loading import OFFLINE_LLAMA, load_tokenizer
    from ui import tokenizer_tab, tokenizer_views

    tok = load_tokenizer(OFFLINE_LLAMA).tokenizer
    text, source = sample_text()
    result = tokens.inspect(tok, text)  # warm-up
    tokenizer_views.render(tokenizer_tab.tokenize(text, OFFLINE_LLAMA))
    vocab.search_vocab(tok, "price")
    print(f"{len(text):,} characters ({source}) -> {result.count:,} tokens, {len(result.pieces):,} pieces")
    med, worst = timed(lambda: tokens.inspect(tok, text), args.repeat)
    print(f"pricer.tokenizer.tokens.inspect:          median {med:6.1f} ms, max {worst:6.1f} ms")
    med, worst = timed(lambda: tokenizer_tab.tokenize(text, OFFLINE_LLAMA), args.repeat)
    print(f"/tokenize handler (+ numbers):  median {med:6.1f} ms, max {worst:6.1f} ms  (target < 50 ms)")
    med, worst = timed(lambda: tokenizer_views.render(tokenizer_tab.tokenize(text, OFFLINE_LLAMA)), args.repeat)
    print(f"/tokenize + HTML views:         median {med:6.1f} ms, max {worst:6.1f} ms")
    med, worst = timed(lambda: vocab.search_vocab(tok, "price", page=2), args.repeat)
    print(f"vocabulary search (128k):       median {med:6.1f} ms, max {worst:6.1f} ms")


if __name__ == "__main__":
    main()
