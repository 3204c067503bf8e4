"""The course's week-6 Item and ItemLoader (2024), kept as the reference pricer is measured against.

The code follows the course line by line; only what cannot run here changed: the tokenizer is
passed in (the course loaded meta-llama's at import), its 2024 decode clean-up is applied
explicitly with transformers' own `clean_up_tokenization` (transformers 5 no longer calls it for BPE
tokenizers; pricer re-implements it, so the reference must not borrow pricer's), and the loader takes a
datasets.Dataset instead of calling load_dataset. Used by benchmarks/curate_bench.py and by the
tests that check pricer's batched pipeline gives the very same prompts.
"""

from __future__ import annotations

import re
from concurrent.futures import ProcessPoolExecutor
from typing import Any

MIN_TOKENS = 150
MAX_TOKENS = 160
MIN_CHARS = 300
CEILING_CHARS = MAX_TOKENS * 7
CHUNK_SIZE = 1000
MIN_PRICE = 0.5
MAX_PRICE = 999.49

_tokenizer: Any = None


def _load_tokenizer() -> Any:
    global _tokenizer
    if _tokenizer is None:  # once per process, as the course's class attribute was
        from pricer.tokenizer.loading import OFFLINE_LLAMA, load_tokenizer

        _tokenizer = load_tokenizer(OFFLINE_LLAMA).tokenizer
    return _tokenizer


class Item:
    PREFIX = "Price is $"
    QUESTION = "How much does this cost to the nearest dollar?"
    REMOVALS = ['"Batteries Included?": "No"', '"Batteries Included?": "Yes"', '"Batteries Required?": "No"',
                '"Batteries Required?": "Yes"', "By Manufacturer", "Item", "Date First", "Package", ":",
                "Number of", "Best Sellers", "Number", "Product "]

    def __init__(self, data: dict, price: float) -> None:
        self.tokenizer = _load_tokenizer()
        self.title = data["title"]
        self.price = price
        self.category = ""
        self.include = False
        self.prompt: str | None = None
        self.token_count = 0
        self.parse(data)

    def scrub_details(self) -> str:
        details = self.details
        for remove in self.REMOVALS:
            details = details.replace(remove, "")
        return details

    def scrub(self, stuff: str) -> str:
        stuff = re.sub(r'[:\[\]"{}【】\s]+', " ", stuff).strip()
        stuff = stuff.replace(" ,", ",").replace(",,,", ",").replace(",,", ",")
        words = stuff.split(" ")
        select = [word for word in words if len(word) < 7 or not any(char.isdigit() for char in word)]
        return " ".join(select)

    def parse(self, data: dict) -> None:
        contents = "\n".join(data["description"])
        if contents:
            contents += "\n"
        features = "\n".join(data["features"])
        if features:
            contents += features + "\n"
        self.details = data["details"]
        if self.details:
            contents += self.scrub_details() + "\n"
        if len(contents) > MIN_CHARS:
            contents = contents[:CEILING_CHARS]
            text = f"{self.scrub(self.title)}\n{self.scrub(contents)}"
            tokens = self.tokenizer.encode(text, add_special_tokens=False)
            if len(tokens) > MIN_TOKENS:
                tokens = tokens[:MAX_TOKENS]
                # what decode did in 2024: transformers' own clean-up, which v5 no longer calls for BPE
                text = self.tokenizer.clean_up_tokenization(self.tokenizer.decode(tokens))
                self.make_prompt(text)
                self.include = True

    def make_prompt(self, text: str) -> None:
        self.prompt = f"{self.QUESTION}\n\n{text}\n\n"
        self.prompt += f"{self.PREFIX}{str(round(self.price))}.00"
        self.token_count = len(self.tokenizer.encode(self.prompt, add_special_tokens=False))

    def test_prompt(self) -> str:
        return self.prompt.split(self.PREFIX)[0] + self.PREFIX

    def __getstate__(self) -> dict:  # the course's tokenizer was a class attribute, never pickled
        return {k: v for k, v in self.__dict__.items() if k != "tokenizer"}


class ItemLoader:
    def __init__(self, name: str, dataset: Any) -> None:
        self.name = name
        self.dataset = dataset

    def from_datapoint(self, datapoint: dict) -> Item | None:
        try:
            price_str = datapoint["price"]
            if price_str:
                price = float(price_str)
                if MIN_PRICE <= price <= MAX_PRICE:
                    item = Item(datapoint, price)
                    return item if item.include else None
        except ValueError:
            return None
        return None

    def from_chunk(self, chunk: Any) -> list[Item]:
        batch = []
        for datapoint in chunk:
            result = self.from_datapoint(datapoint)
            if result:
                batch.append(result)
        return batch

    def chunk_generator(self):
        size = len(self.dataset)
        for i in range(0, size, CHUNK_SIZE):
            yield self.dataset.select(range(i, min(i + CHUNK_SIZE, size)))

    def load_in_parallel(self, workers: int) -> list[Item]:
        results = []
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for batch in pool.map(self.from_chunk, self.chunk_generator()):
                results.extend(batch)
        for result in results:
            result.category = self.name
        return results
