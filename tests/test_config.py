"""Settings come from PRICER_* variables when asked for, with the course's defaults."""

from __future__ import annotations

import pytest

from pricer.config import ADAPTER, ADAPTER_REVISION, BASE_MODEL, Settings, settings

VARS = ("PRICER_BASE_MODEL", "PRICER_ADAPTER", "PRICER_ADAPTER_REVISION", "PRICER_DATASET",
        "PRICER_QUANTIZATION", "PRICER_PRELOAD", "PRICER_TOKENIZER")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in VARS:
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_course_models_and_pinned_adapter_revision():
    s = settings()
    assert (s.base_model, s.adapter, s.adapter_revision) == (BASE_MODEL, ADAPTER, ADAPTER_REVISION)
    assert s.dataset == "ed-donner/pricer-data" and s.quantization == "4bit" and not s.preload


@pytest.mark.parametrize("word", ["none", "None", "off", ""])
def test_adapter_none_means_base_only(monkeypatch, word):
    monkeypatch.setenv("PRICER_ADAPTER", word)
    assert settings().adapter is None
    assert settings().adapter_revision is None


def test_another_adapter_does_not_inherit_the_course_revision(monkeypatch):
    monkeypatch.setenv("PRICER_ADAPTER", "me/my-pricer")
    assert settings().adapter == "me/my-pricer"
    assert settings().adapter_revision is None


def test_environment_is_read_when_called_not_at_import(monkeypatch):
    monkeypatch.setenv("PRICER_BASE_MODEL", "/models/tiny")
    monkeypatch.setenv("PRICER_PRELOAD", "1")
    assert settings().base_model == "/models/tiny" and settings().preload


def test_bad_quantization_names_the_field(monkeypatch):
    monkeypatch.setenv("PRICER_QUANTIZATION", "3bit")
    with pytest.raises(ValueError, match="quantization"):
        settings()
    with pytest.raises(ValueError, match="base_model"):
        Settings(base_model="")
