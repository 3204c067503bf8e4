"""One raw Amazon product record -> one curated Item with the course's prompts.

This reproduces the course's `Item` class (week 6) byte for byte, including what its 2024
tokenizer did on decode. It does not read files or hubs (see pricer.curate) and does not
decide train/test splits (see pricer.data).

    >>> scrub('Widget  "Pro" [2024] , part ABC12345,, ok')
    'Widget Pro 2024, part ok'
    >>> parse_price("12.99"), parse_price("None"), parse_price("$12.99")
    ((12.99, None), (None, 'missing price'), (None, 'bad price'))
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

QUESTION = "How much does this cost to the nearest dollar?"
PREFIX = "Price is $"
MIN_PRICE, MAX_PRICE = 0.5, 999.49  # the course's ItemLoader bounds, inclusive
MIN_TOKENS = 150  # fewer tokens than this and there is not enough useful content
MAX_TOKENS = 160  # leaves room for the question and answer within ~180 tokens
MIN_CHARS = 300
CEILING_CHARS = MAX_TOKENS * 7
# Boilerplate cut from the details text, in this order (the course's Item.REMOVALS).
REMOVALS = (
    '"Batteries Included?": "No"',
    '"Batteries Included?": "Yes"',
    '"Batteries Required?": "No"',
    '"Batteries Required?": "Yes"',
    "By Manufacturer",
    "Item",
    "Date First",
    "Package",
    ":",
    "Number of",
    "Best Sellers",
    "Number",
    "Product ",
)
# What transformers' clean_up_tokenization did on decode in 2024 (in this order).
CLEAN_UPS = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)
REJECTIONS = (
    "missing price",
    "bad price",
    "price out of range",
    "missing title",
    "too short",
    "too few tokens",
)

_JUNK = re.compile(r'[:\[\]"{}【】\s]+')


@dataclass(frozen=True)
class Item:
    """A curated product: its title, true price, category and the 160-token text."""

    title: str
    price: float
    text: str
    """Scrubbed title and contents, cut to MAX_TOKENS tokens and decoded."""
    category: str = ""

    @property
    def prompt(self) -> str:
        """The training prompt, ending in the rounded price: `Price is $375.00`."""
        return training_prompt(self.text, self.price)

    @property
    def test_prompt(self) -> str:
        """The prompt without the answer, ending in `Price is $`."""
        return test_prompt(self.text)

    def to_record(self) -> dict[str, Any]:
        return {"text": self.prompt, "price": self.price, "category": self.category, "title": self.title}


def training_prompt(text: str, price: float) -> str:
    # round() is Python's banker's rounding, as in the course: 2.5 -> 2, 3.5 -> 4.
    return f"{QUESTION}\n\n{text}\n\n{PREFIX}{round(price)}.00"


def test_prompt(text: str) -> str:
    return f"{QUESTION}\n\n{text}\n\n{PREFIX}"


def parse_price(value: Any) -> tuple[float | None, str | None]:
    """(price, None) for a usable price, else (None, reason). Mirrors the course's loader:
    `float(value)` when truthy, kept if within [MIN_PRICE, MAX_PRICE]."""
    if value is None or value == "" or value == 0 or (isinstance(value, str) and value.strip() == "None"):
        return None, "missing price"
    if isinstance(value, bool):
        return None, "bad price"
    try:
        price = float(value)
    except (TypeError, ValueError):
        return None, "bad price"
    if math.isnan(price) or not MIN_PRICE <= price <= MAX_PRICE:
        return None, "price out of range"
    return price, None


def scrub(stuff: str) -> str:
    """Collapse punctuation runs and whitespace, tidy commas, drop part numbers
    (words of 7+ characters that contain a digit)."""
    stuff = _JUNK.sub(" ", stuff).strip()
    stuff = stuff.replace(" ,", ",").replace(",,,", ",").replace(",,", ",")
    words = stuff.split(" ")
    return " ".join(w for w in words if len(w) < 7 or not any(c.isdigit() for c in w))


def details_text(details: Any) -> str:
    """The details as the hub dataset stores them (a JSON string), boilerplate removed."""
    if details is None or details == "":
        return ""
    if not isinstance(details, str):
        details = json.dumps(details)  # the hub loader's json.dumps, default separators and ASCII
    for remove in REMOVALS:
        details = details.replace(remove, "")
    return details


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # a bare string is one line, not a list of characters
        return [value]
    return [str(v) for v in value if v is not None]


def contents(record: dict[str, Any]) -> str:
    """Description lines, then features, then scrubbed details, each block newline-terminated."""
    text = "\n".join(_lines(record.get("description")))
    if text:
        text += "\n"
    features = "\n".join(_lines(record.get("features")))
    if features:
        text += features + "\n"
    details = record.get("details")
    if details:
        text += details_text(details) + "\n"
    return text


def clean_up_spaces(text: str) -> str:
    """Apply the 2024 decode clean-up: `word .` -> `word.`, ` n't` -> `n't`, ..."""
    for old, new in CLEAN_UPS:
        text = text.replace(old, new)
    return text


def prepare(record: dict[str, Any]) -> tuple[float, str, str] | str:
    """First, token-free stage: (price, title, text to tokenize) or a rejection reason."""
    price, reason = parse_price(record.get("price"))
    if reason:
        return reason
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        return "missing title"
    body = contents(record)
    if len(body) <= MIN_CHARS:
        return "too short"
    return price, title, f"{scrub(title)}\n{scrub(body[:CEILING_CHARS])}"


def finish(tokenizer: Any, batch_ids: Sequence[Sequence[int]]) -> list[str | None]:
    """Second stage, batched: token ids -> the 160-token text, or None when too few tokens."""
    keep = [i for i, ids in enumerate(batch_ids) if len(ids) > MIN_TOKENS]
    decoded = tokenizer.batch_decode(
        [list(batch_ids[i][:MAX_TOKENS]) for i in keep], clean_up_tokenization_spaces=False
    ) if keep else []
    out: list[str | None] = [None] * len(batch_ids)
    for i, text in zip(keep, decoded):
        out[i] = clean_up_spaces(text)
    return out


def curate_records(
    records: Iterable[dict[str, Any]], tokenizer: Any, category: str = ""
) -> tuple[list[Item], list[str]]:
    """Curate many records with one batched encode and decode.

    Returns the kept Items (in input order) and one rejection reason per rejected record.
    """
    prepared, reasons = [], []
    for record in records:
        result = prepare(record)
        (reasons if isinstance(result, str) else prepared).append(result)
    if not prepared:
        return [], reasons
    encoded = tokenizer([p[2] for p in prepared], add_special_tokens=False)["input_ids"]
    items = []
    for (price, title, _), text in zip(prepared, finish(tokenizer, encoded)):
        if text is None:
            reasons.append("too few tokens")
        else:
            items.append(Item(title=title, price=price, text=text, category=category))
    return items, reasons


def curate_record(record: dict[str, Any], tokenizer: Any, category: str = "") -> Item | str:
    """One record -> an Item, or the reason it was rejected."""
    items, reasons = curate_records([record], tokenizer, category)
    return items[0] if items else reasons[0]
