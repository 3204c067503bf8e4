"""The tiktoken form of Llama 3's BPE gives exactly the ids and text of the tokenizer it was built from."""

from __future__ import annotations

import json

import pytest

from pricer.tokenizer import llama_bpe

AWKWARD = [
    "", " ", "a", "hello world", "I'm here, aren't you? They'll've", "  \n\n\t x  ", "\r\n\r\n  trailing   ",
    "🔥👍 emoji", "高品质不锈钢材料，经久耐用。", "منتج عالي الجودة", "Việt Nam", "1234567 $374.41 1,299.00",
    "<|begin_of_text|>special<|eot_id|> text", "<|image|> is plain text in Llama 3.1", "x" * 5000,
]


@pytest.fixture(scope="module")
def fast(llama):
    enc = llama_bpe.encoder(llama)
    assert enc is not None, "the offline Llama 3.1 tokenizer should have a tiktoken form"
    return enc


@pytest.mark.parametrize("text", AWKWARD)
def test_same_ids_as_the_tokenizer(llama, fast, text):
    assert llama_bpe.encode_batch(fast, [text])[0] == llama.encode(text, add_special_tokens=False)


@pytest.mark.parametrize("text", AWKWARD)
def test_same_text_for_every_prefix_of_the_ids(llama, fast, text):
    # Cuts inside a multi-byte character decode to U+FFFD in both, as the 160-token cut can.
    ids = llama.encode(text, add_special_tokens=False)
    for cut in range(len(ids) + 1):
        assert llama_bpe.decode_batch(fast, [ids[:cut]])[0] == llama.decode(
            ids[:cut], clean_up_tokenization_spaces=False)


def test_same_ids_on_every_published_prompt(llama, fast, test_250, train_550):
    texts = [json.loads(line)["text"] for path in (test_250, train_550)
             for line in path.read_text(encoding="utf-8").splitlines()]
    assert llama_bpe.encode_batch(fast, texts) == llama(texts, add_special_tokens=False)["input_ids"]


def test_built_once_per_tokenizer(llama, fast):
    assert llama_bpe.encoder(llama) is fast


def test_other_schemes_get_no_fast_form(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    plain = Tokenizer(models.BPE(vocab={"a": 0, "b": 1, "ab": 2}, merges=[("a", "b")]))
    plain.pre_tokenizer = pre_tokenizers.Whitespace()
    assert llama_bpe.encoder(PreTrainedTokenizerFast(tokenizer_object=plain)) is None
    assert llama_bpe.encoder(object()) is None


def test_without_whole_word_ranks_there_is_no_fast_form(llama, tmp_path):
    from transformers import AutoTokenizer

    llama.save_pretrained(tmp_path)
    spec = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    spec["model"]["ignore_merges"] = False  # plain BPE merges: not what tiktoken does
    (tmp_path / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
    assert llama_bpe.encoder(AutoTokenizer.from_pretrained(tmp_path)) is None
