"""pricer.redact: the one place secrets are taken out of what pricer shows. Each secret pricer
reads, any value the caller holds, and anything token-like are hidden; nothing else changes."""

from __future__ import annotations

import pytest

from pricer.redact import HIDDEN, redact, secrets_in_text

HF = "hf_" + "Zq7RtY2uVw9XkLm4NpB6cD8eF1gH3jK5s"
OPENAI = "sk-proj-VerySecretKey0123456789abcdef"


@pytest.mark.parametrize("name", ["HF_TOKEN", "OPENAI_API_KEY", "WANDB_API_KEY"])
def test_the_value_of_each_secret_pricer_reads_is_hidden(monkeypatch, name):
    value = "plainlowercasevalue42"  # nothing token-like about it: only its name makes it secret
    monkeypatch.setenv(name, f" {value}\n")
    assert redact(f"the server said: {value}!") == f"the server said: {HIDDEN}!"


def test_values_the_caller_holds_are_hidden_too():
    assert redact("token from a file: abcdefgh12", "abcdefgh12") == f"token from a file: {HIDDEN}"


def test_token_like_text_is_hidden_even_when_no_value_is_known(monkeypatch):
    for name in ("HF_TOKEN", "OPENAI_API_KEY", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    text = f"got {HF} and {OPENAI}; OpenAI shortened it to {OPENAI[:6]}***{OPENAI[-4:]} and Qm9vTk2xR7pLwZ4cY8vB1nHs"
    shown = redact(text)
    assert shown == f"got {HIDDEN} and {HIDDEN}; OpenAI shortened it to {HIDDEN} and {HIDDEN}"


def test_ordinary_text_is_left_alone(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "1")  # too short to be a real secret: hiding "1" would garble the text
    text = ("Pushing to me/pricer-data failed (503): Service Unavailable at revision "
            "e8d637df551603dc86cd7a1598a8f44af4d7ae36, task-force, scikit-learn, $1,299.00")
    assert redact(text) == text


def test_secrets_in_text_says_where_and_what_never_the_value():
    found = secrets_in_text(f"ok\nkey: {HF}\nalso {OPENAI}")
    assert found == [(2, "a Hugging Face token"), (3, "an OpenAI-style API key")]
    assert HF not in repr(found)
