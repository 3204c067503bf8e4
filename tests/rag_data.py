"""A small real RAG index, built once per test process from ../shared/data, for the RAG tests.

Its items, in order: the first 45 training items of the course's dataset (train-550.jsonl), the 5
items the course's own RAG retrieved for test item 1 (extra-ed-week8wip-rag-context.jsonl, from
its Chroma store of 400,000 items), a training copy of each of the 250 test items (the leak the
index must never serve), and one more copy of test item 0 in other case, spacing and
punctuation. 301 items: about 20 s of embedding on 2 CPU cores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TRAIN_ROWS = 45
_built: dict[str, Any] = {}


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def training_copy(test_prompt: str, price: float) -> str:
    """A test item as a training item: its product text in the training prompt, with its price."""
    from pricer.data.items import training_prompt
    from pricer.pricers.chat.rag_index import description

    return training_prompt(description(test_prompt), price)


def disguised(test_prompt: str) -> str:
    """The same product text in upper case, with doubled spaces and other punctuation."""
    from pricer.data.items import test_prompt as prompt_of
    from pricer.pricers.chat.rag_index import description

    return prompt_of(description(test_prompt).upper().replace(" ", "  ").replace(",", " ;"))


def course_index(shared_data: Path, tmp_path_factory: Any) -> dict[str, Any]:
    """{"folder", "built", "train", "extras", "tests", "copies_at", "disguised_at"}; built once."""
    if not _built:
        from pricer.pricers.chat import rag_index

        train = rows(shared_data / "train-550.jsonl")[:TRAIN_ROWS]
        extras = rows(shared_data / "extra-ed-week8wip-rag-context.jsonl")
        tests = rows(shared_data / "test-250.jsonl")
        items = [{"text": r["text"], "price": r["price"]} for r in train + extras]
        items += [{"text": training_copy(t["text"], t["price"]), "price": t["price"]} for t in tests]
        items.append({"text": training_copy(disguised(tests[0]["text"]), tests[0]["price"]), "price": tests[0]["price"]})
        source = tmp_path_factory.mktemp("rag-source") / "items.jsonl"
        source.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
        folder = tmp_path_factory.mktemp("rag-index") / "index"
        built = rag_index.build([str(source)], folder, progress=lambda done, total: None)
        _built.update(folder=folder, built=built, train=train, extras=extras, tests=tests,
                      copies_at=len(train) + len(extras), disguised_at=len(items) - 1, source=source)
    return _built
