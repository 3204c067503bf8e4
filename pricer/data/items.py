"""One raw Amazon product record -> one curated Item with the course's prompts.

This reproduces the course's `Item` class (week 6) byte for byte, including what its 2024
tokenizer did on decode. A record may come in the raw JSONL form (details a dict, price a number
or null) or in the hub's form (details a JSON string, price a string, "None" when missing):
`hub_record` turns the first into the second exactly as the hub's loader did. It does not read
files or hubs (see pricer.data.curate) and does not decide train/test splits (see pricer.data.datasets).

Text pasted into the app goes through the same steps (`curate_text`), so the model sees a pasted
product exactly as it saw the training items; `as_test_prompt` is the one place a prompt is cut
after `Price is $`.

    >>> scrub('Widget  "Pro" [2024] , part ABC12345,, ok')
    'Widget Pro 2024, part ok'
    >>> parse_price("12.99"), parse_price("None"), parse_price("$12.99")
    ((12.99, None), (None, 'missing price'), (None, 'bad price'))
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pricer.errors import BadInput
from pricer.tokenizer import llama_bpe

QUESTION = "How much does this cost to the nearest dollar?"
PREFIX = "Price is $"
# The course's system message for chat models (its OpenAI fine-tuning files, the chat template demo).
SYSTEM_PROMPT = "You estimate prices of items. Reply only with the price, no explanation"
MIN_PRICE, MAX_PRICE = 0.5, 999.49  # the course's ItemLoader bounds, inclusive
MIN_TOKENS = 150  # fewer tokens than this and there is not enough useful content
MAX_TOKENS = 160  # leaves room for the question and answer within ~180 tokens
MIN_CHARS = 300
CEILING_CHARS = MAX_TOKENS * 7
# Characters encoded first: 161 Llama tokens of product text take ~700 (see first_tokens).
PREFIX_CHARS = 600
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
_JUNK = re.compile(r'[:\[\]"{}【】\s]+')
_ASCII_DIGIT = re.compile(r"[0-9]")
_ANSWER = re.compile(r"[\d,]*(?:\.\d*)?\s*")  # what may follow `Price is $` in a dataset prompt


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
    return as_test_prompt(f"{QUESTION}\n\n{text}\n\n{PREFIX}")


def as_test_prompt(prompt: str) -> str:
    """A prompt cut after its first `Price is $`, as the course cut its test prompts (even at one
    inside the product text).

    >>> as_test_prompt("How much does this cost to the nearest dollar?\\n\\nA mug\\n\\nPrice is $12.00")
    'How much does this cost to the nearest dollar?\\n\\nA mug\\n\\nPrice is $'
    """
    return prompt.split(PREFIX)[0] + PREFIX


def parse_price(value: Any) -> tuple[float | None, str | None]:
    """(price, None) for a usable price, else (None, reason).

    Mirrors the hub loader and the course's ItemLoader: the loader stored `str(price)` ("None"
    when missing), the course kept `float(text)` when the text was non-empty and the float lay
    within [MIN_PRICE, MAX_PRICE]. So `12.99`, `"12.99"` and `" 12.99 "` give 12.99; `0` is out of
    range; `"$12.99"`, `"from 5.00"` and `True` are bad prices; `"nan"` and `"-5"` are out of range.
    """
    text = value if isinstance(value, str) else str(value)
    if not text.strip() or text.strip() == "None":
        return None, "missing price"
    try:
        price = float(text)
    except ValueError:
        return None, "bad price"
    if not MIN_PRICE <= price <= MAX_PRICE:  # also rejects nan
        return None, "price out of range"
    return price, None


def scrub(stuff: str) -> str:
    """Collapse punctuation runs and whitespace, tidy commas, drop part numbers
    (words of 7+ characters that contain a digit)."""
    stuff = _JUNK.sub(" ", stuff).strip()
    stuff = stuff.replace(" ,", ",").replace(",,,", ",").replace(",,", ",")
    words = stuff.split(" ")
    if stuff.isascii():  # the same test, faster: in ASCII, isdigit() is [0-9]
        return " ".join([w for w in words if len(w) < 7 or w.isalpha() or not _ASCII_DIGIT.search(w)])
    # str.isdigit() also counts digits such as ² and ①, as the course's test did
    return " ".join([w for w in words if len(w) < 7 or w.isalpha() or not any(c.isdigit() for c in w)])


def hub_details(details: Any) -> str | None:
    """The details as the hub's loader stored them: `json.dumps(details)` (default separators,
    ASCII escapes), a string as it is, None when absent. `{}` becomes "{}", as on the hub."""
    if details is None or isinstance(details, str):
        return details
    return json.dumps(details)


def details_text(details: Any) -> str:
    """The details as the hub dataset stores them (a JSON string), boilerplate removed."""
    details = hub_details(details) or ""
    for remove in REMOVALS:
        details = details.replace(remove, "")
    return details


def lines(value: Any) -> list[str]:
    """A description or features field as a list of lines. A bare string is one line (the
    course's join would have split it into characters); None entries are dropped."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v if isinstance(v, str) else str(v) for v in value if v is not None]
    return [str(value)]


def valid_unicode(value: Any) -> bool:
    """False when a string in `value` holds a lone surrogate: JSON may escape one (`"\\ud800"`),
    but no UTF-8 file or Arrow column can hold it.

    >>> valid_unicode({"title": "Mug"}), valid_unicode(json.loads('["ok", "\\\\ud800"]'))
    (True, False)
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(valid_unicode(k) and valid_unicode(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(valid_unicode(v) for v in value)
    return True


def hub_record(record: dict[str, Any]) -> dict[str, Any]:
    """A raw JSONL record as the hub's loader stored it, for the fields curation reads.

    Like the loader, a `details` or `price` key that is present goes through `json.dumps` or
    `str()` even when null (giving "null" details text and a "None" price); an absent key is None.
    Details that are already a string (a record in the hub's form) are kept as they are.
    """
    title = record.get("title")
    details = record["details"] if "details" in record else None
    price = str(record["price"]) if "price" in record else None
    return {
        "title": title if isinstance(title, str) or title is None else str(title),
        "description": lines(record.get("description")),
        "features": lines(record.get("features")),
        "details": details if isinstance(details, str) or "details" not in record else json.dumps(details),
        "price": price,
    }


def contents(record: dict[str, Any]) -> str:
    """Description lines, then features, then scrubbed details, each block newline-terminated."""
    text = "\n".join(lines(record.get("description")))
    if text:
        text += "\n"
    features = "\n".join(lines(record.get("features")))
    if features:
        text += features + "\n"
    if hub_details(record.get("details")):
        text += details_text(record.get("details")) + "\n"
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
    if not isinstance(title, str):  # the course crashed here; an empty title it kept, so do we
        return "missing title"
    body = contents(record)
    if len(body) <= MIN_CHARS:
        return "too short"
    return price, title, item_text(title, body)


def item_text(title: str, body: str) -> str:
    """The text that is tokenized and cut: the scrubbed title, then the scrubbed body (its first
    CEILING_CHARS characters); the title alone when there is no body.

    >>> item_text('Mug "XL"', "Holds 12 oz, part ABC12345"), item_text("Mug", "")
    ('Mug XL\\nHolds 12 oz, part', 'Mug')
    """
    return f"{scrub(title)}\n{scrub(body[:CEILING_CHARS])}" if body else scrub(title)


def next_cut(text: str, start: int) -> int:
    """The first position >= start where Llama 3's pre-tokenizer surely starts a new piece (a
    space after a non-space), or len(text).

    No piece runs across such a space and no piece before it looks past it, so
    `tokens(text) == tokens(text[:cut]) + tokens(text[cut:])`: a text can be encoded a slice at
    a time, and only as far as the first MAX_TOKENS + 1 tokens need.

        >>> next_cut("Size 8  x 10", 4), next_cut("Size 8  x 10", 7), next_cut("ab", 0)
        (4, 9, 2)
    """
    cut = text.find(" ", start)
    while cut > 0 and text[cut - 1].isspace():
        cut = text.find(" ", cut + 1)
    return len(text) if cut < 0 else cut


def _encode(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    fast = llama_bpe.encoder(tokenizer)  # Llama 3's BPE through tiktoken: ~3x faster, same ids
    if fast is not None:
        return llama_bpe.encode_batch(fast, texts)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:  # a slow (Python) tokenizer
        return tokenizer(texts, add_special_tokens=False)["input_ids"]
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)  # fast: no offsets
    return [e.ids for e in encode(texts, add_special_tokens=False)]


def _decode(tokenizer: Any, batch_ids: list[list[int]]) -> list[str]:
    fast = llama_bpe.encoder(tokenizer)
    if fast is not None:
        return llama_bpe.decode_batch(fast, batch_ids)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return [tokenizer.decode(ids, clean_up_tokenization_spaces=False) for ids in batch_ids]
    return backend.decode_batch(batch_ids, skip_special_tokens=False)


def first_tokens(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """The first tokens of each text: more than MAX_TOKENS of them, or all when it has fewer.

    Encodes slices cut by `next_cut`, in one batched Rust call per round: PREFIX_CHARS first,
    then about as many characters as the missing tokens need at the rate seen so far. A
    1,200-character product text costs ~730 characters of encoding instead of 1,200.
    """
    ids: list[list[int]] = [[] for _ in texts]
    pos = [0] * len(texts)
    todo = list(range(len(texts)))
    sizes = [PREFIX_CHARS] * len(texts)
    while todo:
        slices = []
        for i in todo:
            end = next_cut(texts[i], pos[i] + sizes[i])
            slices.append(texts[i][pos[i]:end])
            pos[i] = end
        for i, new in zip(todo, _encode(tokenizer, slices), strict=True):
            ids[i].extend(new)
            missing = MAX_TOKENS + 1 - len(ids[i])
            sizes[i] = 16 + missing * pos[i] // max(len(ids[i]), 1) * 9 // 8
        todo = [i for i in todo if len(ids[i]) <= MAX_TOKENS and pos[i] < len(texts[i])]
    return ids


def cut_tokens(tokenizer: Any, texts: Sequence[str]) -> list[str | None]:
    """Batched second stage: each text -> its first MAX_TOKENS tokens decoded with the 2024
    clean-up, or None when it has no more than MIN_TOKENS tokens.

    Same result as the course's `decode(encode(text)[:160])` per text (the tests and
    benchmarks/curate_bench.py check it), with one Rust encode and decode call per batch.
    """
    batch_ids = first_tokens(tokenizer, texts)
    keep = [i for i, ids in enumerate(batch_ids) if len(ids) > MIN_TOKENS]
    decoded = _decode(tokenizer, [batch_ids[i][:MAX_TOKENS] for i in keep]) if keep else []
    out: list[str | None] = [None] * len(texts)
    for i, text in zip(keep, decoded, strict=True):
        out[i] = clean_up_spaces(text)
    return out


def curate_batch(records: Iterable[dict[str, Any]], tokenizer: Any, category: str = "") -> list[Item | str]:
    """Many records -> for each, in order, its Item or the reason it was rejected, with one
    batched encode and decode for the lot."""
    prepared = [prepare(r) for r in records]
    todo = [i for i, r in enumerate(prepared) if not isinstance(r, str)]
    texts = cut_tokens(tokenizer, [prepared[i][2] for i in todo]) if todo else []  # type: ignore[index]
    results: list[Item | str] = list(prepared)  # type: ignore[arg-type]
    for i, text in zip(todo, texts, strict=True):
        price, title, _ = prepared[i]  # type: ignore[misc]
        results[i] = Item(title=title, price=price, text=text, category=category) if text is not None else "too few tokens"
    return results


PROMPT_CHARS = 4_000
"""The longest text taken as a dataset prompt, as is: curated prompts (the question, at most
MAX_TOKENS tokens of product text, the answer) run to about 1,100 characters. A longer text in the
same form is curated like pasted text, so no pricer is sent 100,000 characters dressed as a prompt."""


def dataset_prompt(text: str) -> tuple[str, str] | None:
    """(the test prompt, a note) when `text` is a prompt in the dataset's format: the question
    first, `Price is $` last, perhaps followed by its answer (removed), no longer than
    PROMPT_CHARS. None for anything else.

    >>> dataset_prompt(f"{QUESTION}\\n\\nA mug\\n\\n{PREFIX}12.00")
    ('How much does this cost to the nearest dollar?\\n\\nA mug\\n\\nPrice is $', "A prompt in the dataset's format: used as is (its answer $12.00 removed).")
    """
    text = text.strip()
    if len(text) > PROMPT_CHARS:  # longer than curation can make one: pasted text, curated and cut
        return None
    _, found, answer = text.rpartition(PREFIX)
    if not text.startswith(QUESTION) or not found or not _ANSWER.fullmatch(answer):
        return None
    removed = f" (its answer ${answer.strip()} removed)." if answer.strip() else "."
    return as_test_prompt(text), "A prompt in the dataset's format: used as is" + removed


def curate_text(text: str, tokenizer: Any) -> tuple[str, str]:
    """Pasted product text -> (its test prompt, a note), curated like the training items.

    The first line is the title and the rest the description: `item_text` of the two, cut to
    MAX_TOKENS tokens and decoded with the 2024 clean-up, as `prepare` and `cut_tokens` do for a
    record. A text too short for the training filter is still curated, and the note says so.
    """
    title, _, body = text.strip().partition("\n")
    body = body.strip()
    raw = item_text(title, body)
    (ids,) = first_tokens(tokenizer, [raw])
    (cut,) = _decode(tokenizer, [ids[:MAX_TOKENS]])
    notes = ["Curated like the training data: the first line as the title, scrubbed"]
    if len(ids) > MAX_TOKENS:  # first_tokens stopped early: count them all for the note
        notes.append(f"cut from {len(_encode(tokenizer, [raw])[0])} to the first {MAX_TOKENS} tokens")
    note = ", ".join(notes) + "."
    if len(contents({"description": body})) <= MIN_CHARS or len(ids) <= MIN_TOKENS:
        note += (f" This text is short ({len(ids)} token{'s' * (len(ids) != 1)}): training kept only items over "
                 f"{MIN_TOKENS} tokens with more than {MIN_CHARS} characters of description, so trust the price less.")
    return test_prompt(clean_up_spaces(cut)), note


def build_prompt(text: str, tokenizer: Any = None) -> tuple[str, str]:
    """Pasted product text, or a dataset prompt -> (the prompt the model sees, a note).

    A dataset prompt is used as is, its answer removed (dataset_prompt); anything else is
    curated like the training data (curate_text, with the Llama 3.1 tokenizer by default).
    """
    text = (text or "").strip()
    if not text:
        raise BadInput("Paste a product's title and description first (the first line is the title).")
    if found := dataset_prompt(text):
        return found
    if tokenizer is None:
        from pricer.tokenizer.loading import llama_tokenizer

        tokenizer = llama_tokenizer()
    return curate_text(text, tokenizer)
