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


# --- the known tokenizers: listed once, two of them shipped by installed packages ---------------

from pricer.tokenizer import loading  # noqa: E402

COURSE = "I am excited to show Tokenizers in action to my LLM engineers"
# ids computed once with the tokenizers library itself over each package's file
EXPECTED = {
    loading.MINILM: ("tokenizer.json", [101, 1045, 2572, 7568, 2000, 2265, 19204, 17629, 2015, 1999, 2895, 2000, 2026,
                                         2222, 2213, 6145, 102], [101, 3976, 2003, 1002, 4261, 2549, 1012, 4601, 102]),
    loading.CLAUDE_LEGACY: ("", [45, 1413, 18154, 317, 1493, 12971, 6163, 300, 1808, 317, 961, 493, 14099, 22348],
                            [10861, 365, 734, 44246, 18, 3385]),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_packaged_tokenizers_load_offline_with_their_real_ids(name, monkeypatch):
    from tokenizers import Tokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    inside, course, price = EXPECTED[name]
    known = loading.KNOWN_BY_NAME[name]
    assert loading.available(known) == ""
    loaded = load_tokenizer(name, web=True)
    assert (loaded.source, loaded.label, loaded.note) == ("package", known.label, "")
    assert loaded.tokenizer.encode(COURSE) == course
    assert loaded.tokenizer.encode("Price is $374.41") == price
    found = loading._packaged_file(known)
    reference = Tokenizer.from_file(str(found / inside if inside else found))  # the library, on the same file
    reference.no_padding()  # MiniLM's file pads to 128 for the embedding model
    assert reference.encode(COURSE).ids == course
    assert load_tokenizer(name).tokenizer is loaded.tokenizer  # loaded once


def test_the_packaged_tokenizers_are_what_their_labels_say():
    minilm = load_tokenizer(loading.MINILM).tokenizer
    claude = load_tokenizer(loading.CLAUDE_LEGACY).tokenizer
    assert len(minilm) == 30_522 and minilm.tokenize("Tokenizers") == ["token", "##izer", "##s"]  # WordPiece, uncased
    assert len(claude) == 65_000 and claude.decode(claude.encode("🦜 你好 é")) == "🦜 你好 é"  # byte-level: no unknowns
    assert claude.encode("🦜", add_special_tokens=False) == [6617, 104, 255]
    assert "BPE" in loading.KNOWN_BY_NAME[loading.CLAUDE_LEGACY].label
    assert "WordPiece" in loading.KNOWN_BY_NAME[loading.MINILM].label


def test_the_anthropic_sdk_is_never_imported():
    import subprocess
    import sys

    probe = ("import sys; from pricer.tokenizer.loading import load_tokenizer, CLAUDE_LEGACY; "
             "load_tokenizer(CLAUDE_LEGACY); print('anthropic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                         cwd=loading.Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "False", out.stderr


def test_a_package_that_is_not_installed_is_marked_and_says_how_to_install_it(monkeypatch):
    known = loading.KNOWN_BY_NAME[loading.CLAUDE_LEGACY]
    monkeypatch.setitem(loading.KNOWN_BY_NAME, loading.CLAUDE_LEGACY,
                        loading.KnownTokenizer(known.name, known.label, known.where, known.package,
                                               "no_such_module_here", known.file))
    missing = loading.KNOWN_BY_NAME[loading.CLAUDE_LEGACY]
    assert loading.available(missing) == "not installed here (pip install anthropic==0.38.0)"
    loading._loaded.clear()
    with pytest.raises(PricerError, match=r"Cannot load tokenizer offline/claude-legacy: anthropic is not installed"):
        load_tokenizer(loading.CLAUDE_LEGACY)


def test_hub_tokenizers_are_marked_as_needing_the_hub_offline_and_llama_never(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    marks = {k.name: loading.available(k) for k in loading.KNOWN_TOKENIZERS}
    assert marks[LLAMA_31] == marks[OFFLINE_LLAMA] == marks[loading.MINILM] == marks[loading.CLAUDE_LEGACY] == ""
    for name in ("microsoft/Phi-3-mini-4k-instruct", "Qwen/Qwen2-7B-Instruct", "bigcode/starcoder2-3b"):
        assert "needs the Hugging Face Hub" in marks[name]


def test_checking_which_load_loads_none_of_them():
    loading._loaded.clear()
    for known in loading.KNOWN_TOKENIZERS:
        loading.available(known)
    assert not loading._loaded


def test_an_unknown_hub_id_offline_says_tokenizer_not_model():
    with pytest.raises(HubUnavailable) as caught:
        load_tokenizer("someone/no-such-tokenizer")
    message = str(caught.value)
    assert message.startswith("Cannot load tokenizer someone/no-such-tokenizer:") and "model" not in message
