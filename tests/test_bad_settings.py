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
    desk = tab.Desk()
    desk.claim("Garlic press\nStainless steel.", None)
    result, *_, status = list(tab.price_all(desk, progress=None))[-1]
    assert FIX in status and FIX in result  # the Llama is listed as unavailable, saying why
    assert 'data-pricer="cpu"' in result  # the CPU pricer answers all the same
    with pytest.raises(gr.Error, match=FIX):
        tab.predict_api("Garlic press\nStainless steel.", tab.BASE)


def test_evaluate_says_the_quantization_setting_is_wrong_and_how_to_fix_it(bad_quantization, tmp_path):
    from ui import evaluate_tab as tab

    outputs = list(tab.evaluate_ui(tab.Board(), "base", "greedy", 3, "", None, None, False,
                                   progress=lambda *a, **k: None))
    assert "Could not run" in outputs[-1][1] and FIX in outputs[-1][1]


def test_the_tokenizer_keeps_working_under_a_bad_quantization_setting(bad_quantization):
    from ui import tokenizer_tab as tab

    result = tab.inspect_text("the price", "")
    assert "error" not in result and result["count"] == 3


def test_the_cli_says_the_quantization_setting_is_wrong(bad_quantization, capsys):
    from pricer.cli import main

    assert main(["predict", "--pricer", "fine-tuned", "--text", "Garlic press\nStainless steel."]) == 2
    assert FIX in capsys.readouterr().err
    # without --pricer the default pricer answers: the CPU pricer, saying why the Llama does not
    assert main(["predict", "--text", "Garlic press\nStainless steel."]) == 0
    captured = capsys.readouterr()
    assert FIX in captured.err and " from cpu: " in captured.out


# --- an unwritable PRICER_CACHE: a clear message naming it, before the work that needs it ----------


@pytest.fixture
def unwritable_cache(tmp_path, monkeypatch):
    """PRICER_CACHE under a regular file: nothing can be created there (root included)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("PRICER_CACHE", str(blocker / "cache"))
    return blocker / "cache"


def test_the_offline_tokenizer_says_the_cache_setting_cannot_be_written(unwritable_cache):
    from pricer.errors import BadInput
    from pricer.tokenizer.loading import OFFLINE_LLAMA, load_tokenizer
    from ui import tokenizer_tab as tab

    with pytest.raises(BadInput, match="set PRICER_CACHE to a folder this user can write"):
        load_tokenizer(OFFLINE_LLAMA)
    assert "PRICER_CACHE" in tab.inspect_text("the price", "")["error"]  # the tab's default: its fallback


def test_curate_and_dataset_say_the_cache_setting_cannot_be_written(unwritable_cache, tmp_path, capsys):
    from pricer.cli import main

    raw = tmp_path / "raw.jsonl"
    raw.write_text('{"title": "Mug", "price": "9.99"}\n')
    assert main(["curate", "--source", str(raw), "--out", str(tmp_path / "items.jsonl")]) == 2
    assert "PRICER_CACHE" in capsys.readouterr().err
    items = tmp_path / "curated.jsonl"
    items.write_text("".join(f'{{"text": "How much?\\n\\nItem {i}\\n\\nPrice is ${i}.00", "price": {i}}}\n'
                             for i in range(1, 5)))
    assert main(["dataset", "--items", str(items), "--test-size", "1", "--out", str(tmp_path / "data")]) == 2
    assert "PRICER_CACHE" in capsys.readouterr().err


def test_chat_says_the_cache_setting_cannot_be_written_before_paying_for_an_answer(tmp_path, monkeypatch):
    from openai_stand_in import openai_online

    from pricer.errors import BadInput
    from pricer.pricers.chat import client

    (tmp_path / "a-file").write_text("")
    with openai_online(monkeypatch, tmp_path / "a-file" / "cache") as server:
        with pytest.raises(BadInput, match="PRICER_CACHE"):
            client.complete([[{"role": "user", "content": "Mug"}]], model="gpt-4o-mini", max_tokens=5)
        assert server.requests == []
        assert client.complete([[{"role": "user", "content": "Mug"}]], model="gpt-4o-mini", max_tokens=5,
                             use_cache=False)[0].reply  # without the cache it runs


def test_an_evaluation_runs_uncached_when_the_cache_cannot_be_written(unwritable_cache):
    from pricer import evaluation
    from pricer.data.datasets import TestItem

    items = [TestItem(0, "...Price is $", 100.0, "a"), TestItem(1, "...Price is $", 300.0, "b")]
    runs = list(evaluation.run(items, lambda prompts: [100.0] * len(prompts), cache_key="k"))
    assert runs[-1].done and not runs[-1].cached
    assert len(runs[-1].outcomes) == 2 and runs[-1].metrics.average_error == 100.0
