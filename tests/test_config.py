"""Settings come from PRICER_* variables when asked for, with the course's defaults; config is
the only module that reads them."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from pricer.config import (
    ADAPTER,
    ADAPTER_REVISION,
    BASE_MODEL,
    ENV,
    Settings,
    cache_dir,
    check_model,
    pinned_revision,
    settings,
)
from pricer.errors import BadInput

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV.values():
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_course_models_and_pinned_adapter_revision():
    s = settings()
    assert (s.base_model, s.adapter, s.adapter_revision) == (BASE_MODEL, ADAPTER, ADAPTER_REVISION)
    assert s.dataset == "ed-donner/pricer-data" and s.quantization == "4bit" and not s.preload
    assert s.tokenizer == BASE_MODEL and not s.allow_cpu
    assert s.cache_dir == Path.home() / ".cache" / "pricer"


@pytest.mark.parametrize("word", ["none", "None", "off", ""])
def test_adapter_none_means_base_only(monkeypatch, word):
    monkeypatch.setenv("PRICER_ADAPTER", word)
    assert settings().adapter is None
    assert settings().adapter_revision is None


def test_another_adapter_does_not_inherit_the_course_revision(monkeypatch):
    monkeypatch.setenv("PRICER_ADAPTER", "me/my-pricer")
    assert settings().adapter == "me/my-pricer"
    assert settings().adapter_revision is None


def test_only_the_course_adapter_is_pinned():
    assert pinned_revision(ADAPTER) == ADAPTER_REVISION
    assert pinned_revision("me/my-pricer") is None and pinned_revision(None) is None


def test_an_explicit_revision_wins_and_none_means_latest(monkeypatch):
    monkeypatch.setenv("PRICER_ADAPTER_REVISION", "v2")
    assert settings().adapter_revision == "v2"
    monkeypatch.setenv("PRICER_ADAPTER_REVISION", "none")
    assert settings().adapter == ADAPTER and settings().adapter_revision is None


def test_environment_is_read_when_called_not_at_import(monkeypatch):
    monkeypatch.setenv("PRICER_BASE_MODEL", "/models/tiny")
    monkeypatch.setenv("PRICER_PRELOAD", "1")
    assert settings().base_model == "/models/tiny" and settings().preload


def test_tokenizer_cache_and_cpu_settings_come_from_their_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("PRICER_TOKENIZER", " gpt2 ")
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PRICER_ALLOW_CPU", "yes")
    s = settings()
    assert (s.tokenizer, s.cache_dir, s.allow_cpu) == ("gpt2", tmp_path / "cache", True)
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.setenv("PRICER_ALLOW_CPU", "0")
    assert not settings().allow_cpu


def test_the_cache_folder_does_not_depend_on_the_model_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("PRICER_CACHE", "~/pricer-cache")
    monkeypatch.setenv("PRICER_QUANTIZATION", "3bit")  # a bad model setting stops only the model
    assert cache_dir() == Path.home() / "pricer-cache"


def test_bad_quantization_names_the_field_and_its_variable_where_a_model_would_run(monkeypatch):
    from pricer.pricers.llama.model import ModelSpec

    monkeypatch.setenv("PRICER_QUANTIZATION", "3bit")
    s = settings()  # reading the settings never fails: the tokenizer, data and cache work on
    assert s.quantization == "3bit"
    with pytest.raises(BadInput, match="quantization must be '4bit' or '8bit', not '3bit': set PRICER_QUANTIZATION"):
        ModelSpec.from_settings(s).check()
    with pytest.raises(BadInput, match="base_model .* PRICER_BASE_MODEL"):
        ModelSpec("").check()


def test_settings_and_model_spec_share_one_validation():
    from pricer.pricers.llama.model import ModelSpec

    for make in (lambda q: ModelSpec.from_settings(Settings(quantization=q)).check(),
                 lambda q: ModelSpec(BASE_MODEL, quantization=q).check(), lambda q: check_model(BASE_MODEL, q)):
        with pytest.raises(BadInput, match="quantization must be '4bit' or '8bit', not '3bit'"):
            make("3bit")
    with pytest.raises(BadInput, match="base_model"):
        ModelSpec("").check()
    ModelSpec(BASE_MODEL, quantization="8bit").check()


def test_web_paths_are_a_list_of_folders(monkeypatch, tmp_path):
    import os

    monkeypatch.setenv("PRICER_WEB_PATHS", f"{tmp_path / 'a'}{os.pathsep} {os.pathsep}~/b")
    assert settings().web_paths == (tmp_path / "a", Path.home() / "b")


def test_every_setting_has_one_variable_and_every_variable_one_setting():
    assert set(ENV) == {f.name for f in fields(Settings)}
    assert len(set(ENV.values())) == len(ENV)
    assert all(re.fullmatch(r"PRICER_[A-Z_]+", name) for name in ENV.values())


def test_no_module_but_config_reads_a_pricer_variable():
    reads = re.compile(r"""(environ(\.get)?\s*[\[(]|getenv\()\s*["']PRICER_""")
    offenders = [str(p.relative_to(ROOT)) for folder in ("pricer", "ui") for p in (ROOT / folder).rglob("*.py")
                 if p.name != "config.py" and reads.search(p.read_text(encoding="utf-8"))]
    offenders += ["app.py"] if reads.search((ROOT / "app.py").read_text(encoding="utf-8")) else []
    assert offenders == []
