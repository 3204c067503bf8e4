"""The app and the CLI under a bad setting: the app still starts, the parts that need the
setting say what is wrong and how to fix it, and the rest works on."""

from __future__ import annotations

import warnings

import gradio as gr
import pytest

FIX = "set PRICER_QUANTIZATION to 4bit or 8bit"


@pytest.fixture
def bad_quantization(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("PRICER_QUANTIZATION", "16bit")
    monkeypatch.setenv("PRICER_BASE_MODEL", str(tiny_model))
    monkeypatch.setenv("PRICER_ADAPTER", str(tiny_model / "adapter"))
    monkeypatch.setenv("PRICER_ADAPTER_REVISION", "none")
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PRICER_PRELOAD", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gr.Warning outside an event is a UserWarning
        yield


def test_a_bad_quantization_setting_does_not_stop_the_app_from_starting(bad_quantization):
    import app

    assert isinstance(app.build_app(), gr.Blocks)


def test_predict_says_the_quantization_setting_is_wrong_and_how_to_fix_it(bad_quantization):
    from ui import predict_tab as tab

    assert FIX in tab.show_status(tab.FINE_TUNED)  # on the page from the start
    status = tab.predict_ui("Garlic press\nStainless steel.", tab.FINE_TUNED, progress=lambda *a, **k: None)[3]
    assert FIX in status
    with pytest.raises(gr.Error, match=FIX):
        tab.predict_api("Garlic press\nStainless steel.", tab.BASE)


def test_evaluate_says_the_quantization_setting_is_wrong_and_how_to_fix_it(bad_quantization, tmp_path):
    from ui import evaluate_tab as tab

    outputs = list(tab.evaluate(tab.BASE, "greedy", 3, "", None, None, False, None, progress=lambda *a, **k: None))
    assert "Could not run" in outputs[-1][1] and FIX in outputs[-1][1]


def test_the_tokenizer_keeps_working_under_a_bad_quantization_setting(bad_quantization):
    from ui import tokenizer_tab as tab

    result = tab.inspect_text("the price", "")
    assert "error" not in result and result["count"] == 3


def test_the_cli_says_the_quantization_setting_is_wrong(bad_quantization, capsys):
    from pricer.cli import main

    assert main(["predict", "--text", "Garlic press\nStainless steel."]) == 2
    assert FIX in capsys.readouterr().err
