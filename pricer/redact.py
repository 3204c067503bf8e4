"""Secrets out of any text pricer shows, logs or writes: the one place that hides them.

A remote service may quote back what it was sent (a refused request, a key in an error message),
and a person may paste a token into a file. `redact` hides the values of the secrets pricer
reads (HF_TOKEN, OPENAI_API_KEY, WANDB_API_KEY, and any value it is given) and anything that looks
like one; `secrets_in_text` finds secret-looking text without repeating it. This module never
reads a secret for any other purpose, and makes no calls.

    >>> hide_secrets("unknown hardware 'hf_" + "a1B2" * 9 + "'")
    "unknown hardware '<hidden>'"
    >>> key = "sk-proj-" + "VerySecretKey0123456789abcdef"
    >>> redact(f"Incorrect API key provided: {key}, that is sk-pro***cdef", key)
    'Incorrect API key provided: <hidden>, that is <hidden>'
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter

HIDDEN = "<hidden>"
SECRET_ENV = ("HF_TOKEN", "OPENAI_API_KEY", "WANDB_API_KEY")  # the secrets pricer reads
MIN_SECRET = 8  # shorter values are not searched for: nothing real is that short, and hiding "1" garbles
# (what it is, pattern): searched in the raw text of spaces.yaml (comments too) and in uploaded code.
SECRET_PATTERNS = (
    ("a Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    ("an OpenAI-style API key", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("an AWS access key id", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
    ("a Slack token", re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
)
# A key that a service shortened when quoting it (OpenAI writes 'sk-pro***cdef'): still too much.
_SHORTENED_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]*\*+[A-Za-z0-9_-]*")
_LONG_WORD = re.compile(r"[A-Za-z0-9+/=_]{20,}")
# A URL's userinfo (https://user:key@host/...): a key put into OPENAI_BASE_URL or HF_ENDPOINT.
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")
QUOTE_LIMIT = 200  # characters of a remote text (a model's reply, a server's answer) a message quotes


def looks_random(value: str) -> bool:
    """A long unbroken run of mixed-case letters and digits, as API keys are (commit SHAs,
    being lowercase hex, and hub ids, having '/' and '-', are not).

    >>> looks_random("e8d637df551603dc86cd7a1598a8f44af4d7ae36"), looks_random("Qm9vTk2xR7pLwZ4cY8vB1nHs")
    (False, True)
    """
    if len(value) < 20 or not re.fullmatch(r"[A-Za-z0-9+/=_]+", value):
        return False
    if not (re.search(r"[a-z]", value) and re.search(r"[A-Z]", value) and re.search(r"\d", value)):
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= 3.5


def secrets_in_text(text: str) -> list[tuple[int, str]]:
    """(line number, what it looks like) for each secret-looking value in `text`; never the value."""
    return [(n, what) for n, line in enumerate(text.splitlines(), 1)
            for what, pattern in SECRET_PATTERNS if pattern.search(line)]


def hide_secrets(text: str) -> str:
    """`text` with anything that looks like a secret replaced, so a message can quote a file or a
    server's answer."""
    for _, pattern in SECRET_PATTERNS:
        text = pattern.sub(HIDDEN, text)
    text = _USERINFO.sub(rf"\1{HIDDEN}@", text)
    text = _SHORTENED_KEY.sub(HIDDEN, text)
    return _LONG_WORD.sub(lambda m: HIDDEN if looks_random(m[0]) else m[0], text)


def redact(text: str, *values: str | None) -> str:
    """`text` without the value of any secret in SECRET_ENV, any of `values` (other secrets the
    caller holds, e.g. a token read from a file), or anything that looks like a secret."""
    known = [os.environ.get(name) for name in SECRET_ENV] + list(values)
    for value in sorted({v.strip() for v in known if v and len(v.strip()) >= MIN_SECRET}, key=len, reverse=True):
        text = text.replace(value, HIDDEN)
    return hide_secrets(text)


def quoted(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A remote text as a message or a log may quote it: secrets hidden, and cut to `limit`
    characters with how long it was, so a 50 MB reply is never echoed whole.

    >>> quoted("9" * 500, 10)
    '9999999999… (500 characters)'
    >>> quoted("https://me:sk-" + "x" * 30 + "@api.example.com/v1")
    'https://<hidden>@api.example.com/v1'
    """
    text = str(text)
    cut = hide_secrets(text[:limit + 400])[:limit]  # a secret across the cut is found whole, then cut
    return cut if len(text) <= limit else f"{cut}… ({len(text):,} characters)"
