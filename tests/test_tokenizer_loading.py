"""Loading tokenizers: the offline copy is Llama 3.1, the default falls back to it with a note,
other names fail with a message that says what to do, and each tokenizer is loaded once."""

from __future__ import annotations

import pytest

from pricer.errors import HubUnavailable, PricerError
from pricer.tokenizer.loading import LLAMA_31, OFFLINE_LLAMA, load_tokenizer


def test_offline_copy_is_llama_31_not_32(llama):
    assert len(llama) == 128_256
    assert "<|image|>" not in llama.get_added_vocab()
    assert llama.convert_tokens_to_ids("<|begin_of_text|>") == 128000
    assert llama.eos_token == "<|end_of_text|>"
    assert llama.pad_token is None  # Llama 3.1 has none; the model layer sets pad = eos
    assert not llama.chat_template


def test_image_token_text_is_plain_text_in_llama_31(llama):
    ids = llama.encode("<|image|>", add_special_tokens=False)
    assert len(ids) > 1 and all(i < 128000 for i in ids)


def test_course_sentence_is_15_tokens(llama):
    text = "I am excited to show Tokenizers in action to my LLM engineers"
    assert len(text) == 61
    assert len(llama.encode(text)) == 15


def test_default_falls_back_to_offline_copy_and_says_why():
    loaded = load_tokenizer(LLAMA_31)
    assert loaded.source == "offline"
    assert "HF_HUB_OFFLINE" in loaded.note and "offline copy" in loaded.note
    assert len(loaded.tokenizer) == 128_256


def test_other_hub_ids_do_not_fall_back():
    with pytest.raises(HubUnavailable, match="Qwen/Qwen2-7B-Instruct"):
        load_tokenizer("Qwen/Qwen2-7B-Instruct")


def test_fallback_can_be_refused():
    with pytest.raises(HubUnavailable):
        load_tokenizer(LLAMA_31, fallback=False)


def test_local_path_loads_and_is_cached(llama, tmp_path):
    llama.save_pretrained(tmp_path)
    first = load_tokenizer(str(tmp_path))
    assert first.source == "local"
    assert first.tokenizer.encode("hello world") == llama.encode("hello world")
    assert load_tokenizer(str(tmp_path)).tokenizer is first.tokenizer


def test_folder_without_a_tokenizer_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a tokenizer")
    with pytest.raises(PricerError, match="holds no tokenizer"):
        load_tokenizer(str(tmp_path))


def test_offline_name_loads_without_any_hub_check():
    assert load_tokenizer(OFFLINE_LLAMA).source == "offline"


def test_words_in_the_vocabulary_are_used_whole_as_in_metas_tokenizer(llama):
    # tiktoken (Meta's reference) and Llama 3's tokenizer.json take a vocabulary word whole
    # ("ignore_merges"); plain BPE merges would split it into three pieces.
    assert llama.encode(" Việt", add_special_tokens=False) == [101798]


def test_a_corrupt_tokenizer_file_is_a_clear_error_not_a_traceback(llama, tmp_path):
    llama.save_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{ this is not json", encoding="utf-8")
    with pytest.raises(PricerError, match="holds no tokenizer that transformers can load"):
        load_tokenizer(str(tmp_path))


def test_a_cold_start_under_load_loads_a_tokenizer_once(monkeypatch):
    """Eight requests at once for a tokenizer not yet loaded: one load, the others wait for it
    (each loading its own copy had cost 1.2 GB and minutes of CPU on a cold start under load)."""
    import threading
    import time

    import transformers

    from pricer.tokenizer import loading as module

    calls = []

    def slow_load(name, **_):
        calls.append(name)
        time.sleep(0.2)
        return object()

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", slow_load)
    results, start = [], threading.Barrier(8)

    def load():
        start.wait()
        results.append(module._from_pretrained("cold/start-test"))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    module._loaded.pop("cold/start-test", None)
    assert calls == ["cold/start-test"] and len({id(r) for r in results}) == 1 and len(results) == 8
