"""What a tokenizer does to a text, against the real offline Llama 3.1 tokenizer: counts, ids,
decode, per-token pieces (split characters grouped), specials, vocabulary lookup, typed ids,
chat template, numbers, other tokenizers side by side, and the `tokenize` CLI verb."""

from __future__ import annotations

import json

import pytest

from pricer.cli import main
from pricer.data.items import SYSTEM_PROMPT
from pricer.errors import BadInput, PricerError
from pricer.tokenizer import comparison, tokens, vocab

AWKWARD = [
    "",
    " ",
    "   \n\n\t  ",
    "a",
    "Hi 👋 🦜 👨‍👩‍👧",
    "你好，世界。龘",
    "שלום עולם مرحبا بالعالم",
    "x 🦜 𝄞 龘 é",
    "\ufffd is a real replacement character",
    "Price is $374.41 (was 1,299.99)",
    "<img src=x onerror=alert(1)> <script>",
]


@pytest.fixture(scope="module")
def llama_with_template(llama, tmp_path_factory):
    """The Llama 3.1 tokenizer with the Instruct model's chat template (simplified, no tools)."""
    out = tmp_path_factory.mktemp("llama-instruct")
    llama.save_pretrained(out)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out)
    tok.chat_template = (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
        "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
    return tok


def test_course_sentence_is_61_characters_in_15_tokens(llama):
    result = tokens.inspect(llama, tokens.COURSE_EXAMPLE)
    assert (result.chars, result.count) == (61, 15)
    assert result.chars_per_token == pytest.approx(61 / 15)
    assert result.ids[:3] == [128000, 40, 1097]


def test_add_special_puts_begin_of_text_first_and_decode_shows_it(llama):
    with_bos = tokens.inspect(llama, "I am")
    without = tokens.inspect(llama, "I am", add_special=False)
    assert with_bos.ids == [128000, *without.ids]
    assert with_bos.decoded == "<|begin_of_text|>I am"
    assert tokens.inspect(llama, "I am", skip_special=True).decoded == "I am"


def test_tokens_are_one_string_per_id_as_the_course_shows_them(llama):
    result = tokens.inspect(llama, tokens.COURSE_EXAMPLE)
    assert len(result.tokens) == result.count
    assert result.tokens[:4] == ["<|begin_of_text|>", "I", " am", " excited"]


def test_the_json_answer_is_flat_lists_with_split_characters_and_specials_listed(llama):
    out = tokens.inspect(llama, "hi 🦜 there").to_dict()
    assert out["ids"] == [128000, 6151, 11410, 99, 250, 1070]
    assert out["pieces"] == ["<|begin_of_text|>", "hi", " 🦜", " there"]
    assert out["split_pieces"] == [[2, 3]] and out["special_pieces"] == [0]
    assert (out["count"], out["chars"]) == (6, 10)


def test_pieces_read_the_same_one_by_one_or_by_index(llama):
    split = tokens.inspect(llama, "a 🦜 b").pieces
    assert list(split) == [split[n] for n in range(len(split))]
    assert split[-1] == split[len(split) - 1] and split[2].ids == (11410, 99, 250)
    with pytest.raises(IndexError):
        split[len(split)]


def test_a_tokenizer_that_drops_a_leading_space_alone_is_read_in_context(llama):
    class LikeSentencePiece:  # decodes ' am' alone as 'am', as SentencePiece does at a start
        def __init__(self, tok):
            self.tok, self.all_special_ids, self.added_tokens_decoder = tok, [128000], {}

        def __len__(self):
            return len(self.tok)

        def encode(self, text, add_special_tokens=True):
            return self.tok.encode(text, add_special_tokens=add_special_tokens)

        def decode(self, ids, skip_special_tokens=False):
            return self.tok.decode(ids, skip_special_tokens=skip_special_tokens).removeprefix(" ")

    sp = LikeSentencePiece(llama)
    assert tokens._needs_context(sp) and not tokens._needs_context(llama)
    assert list(tokens.pieces(sp, llama.encode("I am here", add_special_tokens=False)).texts) == ["I", " am", " here"]


@pytest.mark.parametrize("text", AWKWARD)
def test_decode_round_trips_and_pieces_concatenate_back_to_the_input(llama, text):
    result = tokens.inspect(llama, text, add_special=False)
    assert result.decoded == text
    assert "".join(p.text for p in result.pieces) == text
    assert [i for p in result.pieces for i in p.ids] == result.ids


def test_a_whole_product_prompt_round_trips(llama, test_250):
    from pricer.data.datasets import load_pricer_dataset

    prompt = load_pricer_dataset(test_250, size=1)[0]["text"]
    result = tokens.inspect(llama, prompt)
    assert result.decoded == "<|begin_of_text|>" + prompt
    assert "".join(p.text for p in result.pieces) == result.decoded
    assert result.count > 150


def test_a_character_split_over_byte_tokens_is_one_piece_listing_all_ids(llama):
    result = tokens.inspect(llama, " 🦜", add_special=False)
    assert len(result.ids) == 3
    assert tokens.REPLACEMENT in "".join(result.tokens)  # why grouping is needed
    assert [(p.text, p.ids) for p in result.pieces] == [(" 🦜", tuple(result.ids))]


def test_no_piece_shows_a_replacement_character_that_was_not_typed(llama):
    for text in AWKWARD[:-3]:
        assert all(tokens.REPLACEMENT not in p.text for p in tokens.inspect(llama, text).pieces)


def test_a_typed_replacement_character_stays_its_own_piece(llama):
    pieces = tokens.inspect(llama, "\ufffd ok", add_special=False).pieces
    assert pieces[0].text == "\ufffd" and len(pieces[0].ids) == 1


def test_special_tokens_are_marked(llama):
    pieces = tokens.inspect(llama, "hi").pieces
    assert pieces[0].special and not pieces[1].special


def test_input_over_the_limit_is_cut_and_says_how_much(llama):
    result = tokens.inspect(llama, "ab " * 40_000)
    assert result.chars == tokens.MAX_CHARS
    assert result.cut_chars == 120_000 - tokens.MAX_CHARS
    assert result.to_dict()["cut_chars"] == result.cut_chars


def test_specials_list_llama_31s_roles_added_vocabulary_and_size(llama):
    sp = vocab.specials(llama)
    assert (sp.named["bos"].token, sp.named["bos"].id) == ("<|begin_of_text|>", 128000)
    assert (sp.named["eos"].token, sp.named["eos"].id) == ("<|end_of_text|>", 128001)
    assert sp.named["pad"] is None
    assert (sp.size, sp.base_size, len(sp.added)) == (128_256, 128_000, 256)
    added = {e.token: e.id for e in sp.added}
    assert added["<|eot_id|>"] == 128009
    assert added["<|start_header_id|>"] == 128006 and added["<|python_tag|>"] == 128010
    assert "<|image|>" not in added


def test_vocab_lookup_by_id(llama):
    entry = vocab.search_vocab(llama, "3430").entries[0]  # a whole number is looked up as an id first
    assert (entry.id, entry.token, entry.text, entry.special) == (3430, "Ġprice", " price", False)
    assert vocab.search_vocab(llama, "128009").entries[0].special
    assert 128256 not in [e.id for e in vocab.search_vocab(llama, "128256").entries]  # beyond the vocabulary
    with pytest.raises(BadInput, match="128256"):
        vocab.decode_ids(llama, [128256])


def test_vocab_search_puts_exact_matches_first_and_pages(llama):
    found = vocab.search_vocab(llama, " price")
    assert found.entries[0].id == 3430
    assert all(" price" in e.text.lower() for e in found.entries)
    many = vocab.search_vocab(llama, "ing", page=1, page_size=20)
    second = vocab.search_vocab(llama, "ing", page=2, page_size=20)
    assert many.total > 1000 and many.pages == -(-many.total // 20)
    assert len(many.entries) == 20 and {e.id for e in many.entries}.isdisjoint(e.id for e in second.entries)
    assert vocab.search_vocab(llama, "ing", page=10_000, page_size=20).page == many.pages


def test_vocab_search_by_number_finds_that_id_first(llama):
    assert vocab.search_vocab(llama, "128000").entries[0].token == "<|begin_of_text|>"


def test_vocab_search_needs_a_query(llama):
    with pytest.raises(BadInput, match="look up"):
        vocab.search_vocab(llama, "")


def test_typed_ids_decode(llama):
    result = vocab.decode_ids(llama, "128000, 40, 1097")
    assert result.ids == [128000, 40, 1097]
    assert result.decoded == "<|begin_of_text|>I am"
    assert vocab.decode_ids(llama, "[128000 40 1097]", skip_special=True).decoded == "I am"


@pytest.mark.parametrize("typed, message", [
    ("40, x, 1097", "Not a token id: 'x'"),
    ("40, 1.5", "Not a token id: '1.5'"),
    ("128256, -1, 40", "Not in the vocabulary: 128256, -1. Token ids of this tokenizer run from 0 to 128,255"),
    ("  ", "Type some token ids"),
])
def test_invalid_typed_ids_are_answered_clearly(llama, typed, message):
    with pytest.raises(BadInput) as err:
        vocab.decode_ids(llama, typed)
    assert message in str(err.value)


# --- input a tokenizer cannot take: one clear message each, never a traceback --------------------


LONE = "a price \ud800 tag"  # JSON can carry a lone surrogate; no tokenizer can encode it


@pytest.mark.parametrize("call, what", [
    (lambda tok: tokens.inspect(tok, LONE), "in the text"),
    (lambda tok: vocab.search_vocab(tok, LONE), "in the query"),
    (lambda tok: vocab.decode_ids(tok, "40 \udcff"), "in the token ids"),
    (lambda tok: tokens.chat_template(tok, LONE, "How much?"), "in the system message"),
    (lambda tok: tokens.chat_template(tok, "Be brief", LONE), "in the user message"),
    (lambda tok: comparison.compare(LONE, []), "in the text"),
    (lambda tok: comparison.compare("ok", ["x\ud800/y"]), "in the tokenizer name"),
])
def test_a_lone_surrogate_is_named_clearly(llama, call, what):
    with pytest.raises(BadInput, match=f"A lone surrogate .U\\+D[89ABCDEF][0-9A-F]{{2}} at character \\d+. {what} "
                                       "is not valid Unicode"):
        call(llama)


@pytest.mark.parametrize("call, message", [
    (lambda tok: tokens.inspect(tok, None), "No text was sent: send a string"),
    (lambda tok: tokens.inspect(tok, 42), "The text must be text .a string., not int"),
    (lambda tok: tokens.chat_template(tok, "Be brief", None), "No user message was sent"),
    (lambda tok: tokens.chat_template(tok, 3.5, "How much?"), "system message must be text .a string., not float"),
    (lambda tok: vocab.search_vocab(tok, None), "Type a token"),
    (lambda tok: vocab.search_vocab(tok, 3430), "query must be text .a string., not int"),
    (lambda tok: vocab.decode_ids(tok, None), "Type some token ids"),
    (lambda tok: vocab.decode_ids(tok, [40, 1.5]), "Token ids are whole numbers"),
    (lambda tok: comparison.compare(None, []), "No text was sent"),
])
def test_none_and_numbers_in_place_of_text_are_named_clearly(llama, call, message):
    with pytest.raises(BadInput, match=message):
        call(llama)


def test_only_ascii_digits_are_ids(llama):
    with pytest.raises(BadInput, match="Not a token id: '٣٤'.*ASCII digits"):
        vocab.decode_ids(llama, "٣٤")  # Arabic-Indic 34: not silently id 34
    with pytest.raises(BadInput, match="Not a token id: '²'"):
        vocab.decode_ids(llama, "40 ²")
    superscript = vocab.search_vocab(llama, "²")  # a text search, not an id (int('²') fails)
    assert superscript.total > 0 and all("²" in e.text or "²" in e.token for e in superscript.entries)
    arabic = vocab.search_vocab(llama, "٣٤")
    assert 34 not in [e.id for e in arabic.entries]


def test_a_huge_typed_id_is_named_not_converted(llama):
    with pytest.raises(BadInput, match="Not in the vocabulary: '1111111111.*…', a 5,000-digit number. Token ids have at "
                                       "most 9 digits"):
        vocab.decode_ids(llama, "40 " + "1" * 5000)
    assert vocab.search_vocab(llama, "9" * 5000).total == 0


def test_too_many_typed_ids_at_once_are_refused(llama):
    with pytest.raises(BadInput, match="100,001 ids are more than the 100,000 decoded at once"):
        vocab.decode_ids(llama, "40 " * 100_001)


def test_base_llama_has_no_chat_template_and_says_so(llama):
    chat = tokens.chat_template(llama, SYSTEM_PROMPT)
    assert chat.rendered is None
    assert "no chat template" in chat.note and "base model" in chat.note


def test_chat_template_renders_and_counts_the_tokens_it_adds(llama_with_template):
    chat = tokens.chat_template(llama_with_template, "Be brief", "How much?")
    assert chat.rendered.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief<|eot_id|>")
    assert chat.rendered.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    own = len(llama_with_template.encode("Be brief", add_special_tokens=False)) + len(
        llama_with_template.encode("How much?", add_special_tokens=False))
    assert chat.template_tokens == len(chat.ids) - own > 0
    assert f"adds {chat.template_tokens} tokens" in chat.note


def test_a_chat_template_that_fails_says_what_to_do(tiny_bpe):
    tok = _with_template(tiny_bpe, "{{ raise_exception('no system role') }}")
    with pytest.raises(PricerError, match="no system role.*Fix the template"):
        tokens.chat_template(tok, SYSTEM_PROMPT)


def _with_template(tiny_bpe, template):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_bpe)
    tok.chat_template = template
    return tok


# A template written to exercise what hub templates use: namespace, loop controls, tojson, dict,
# the generation block, trim_blocks/lstrip_blocks, special tokens as variables.
RICH_TEMPLATE = """{{ bos_token }}
{% set ns = namespace(system='', n=0) %}
{% for m in messages %}
    {% if m['role'] == 'system' %}{% set ns.system = m['content'] %}{% continue %}{% endif %}
    {% set ns.n = ns.n + 1 %}
<|{{ m['role'] }}|> {{ m['content'] | trim }} {{ dict(n=ns.n) | tojson }}
{% generation %}[{{ loop.index }}/{{ loop.length }}]{% endgeneration %}
{% endfor %}
system={{ ns.system | tojson }}{{ eos_token }}{% if add_generation_prompt %}<|assistant|>{% endif %}"""


def test_templates_render_exactly_as_transformers_renders_them(tiny_bpe):
    tok = _with_template(tiny_bpe, RICH_TEMPLATE)
    messages = [{"role": "system", "content": "Be \"brief\" 😀"}, {"role": "user", "content": "  How much? \n"}]
    expected = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    chat = tokens.chat_template(tok, messages[0]["content"], messages[1]["content"])
    assert chat.rendered == expected and "<s>" in expected and '{"n": 1}' in expected


NESTED = ("{% for i in range(100000) %}{% for j in range(100000) %}{{ messages[0]['content'] }}"
          "{% endfor %}{% endfor %}")


def test_a_template_that_repeats_without_end_is_stopped_at_the_output_bound(tiny_bpe):
    with pytest.raises(PricerError, match="renders more than 300,000 characters.*stopped"):
        tokens.chat_template(_with_template(tiny_bpe, NESTED), SYSTEM_PROMPT)


def test_a_template_that_loops_without_output_is_stopped_at_the_time_bound(tiny_bpe):
    silent = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    with pytest.raises(PricerError, match="did not finish rendering within 2 s, so it was stopped"):
        tokens.chat_template(_with_template(tiny_bpe, silent), SYSTEM_PROMPT, timeout=2)


def test_a_template_that_asks_for_gigabytes_is_stopped_at_the_memory_bound(tiny_bpe):
    with pytest.raises(PricerError, match="needed more than 512 MB of memory"):
        tokens.chat_template(_with_template(tiny_bpe, "{{ 'x' * 4000000000 }}"), SYSTEM_PROMPT)
    # text gathered in a {% set %} block never reaches the output bound: memory or time stop it
    buffered = "{% set s %}" + NESTED + "{% endset %}{{ s }}"
    with pytest.raises(PricerError, match="stopped"):
        tokens.chat_template(_with_template(tiny_bpe, buffered), SYSTEM_PROMPT, timeout=3)


def test_the_rendering_process_sees_no_secret(monkeypatch):
    from pricer.tokenizer import chat_template

    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 34)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-" + "y" * 40)
    assert {"HF_TOKEN", "OPENAI_API_KEY"}.isdisjoint(chat_template.child_env()) and "PATH" in chat_template.child_env()


def test_vocab_search_sees_tokens_added_after_a_first_search(tiny_bpe):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_bpe)  # its own copy: the loaded one stays as it was
    assert vocab.search_vocab(tok, "zebra").total == 0
    tok.add_tokens(["zebra"])
    found = vocab.search_vocab(tok, "zebra")
    assert [e.text for e in found.entries] == ["zebra"] and found.entries[0].id == len(tok) - 1


def test_numbers_in_the_text_and_their_tokens(llama):
    found = {n.number: n.pieces for n in tokens.numbers(llama, "Price is $374.41, was 1,299 or 12345; 374 again")}
    assert found == {"374.41": ["374", ".", "41"], "1,299": ["1", ",", "299"], "12345": ["123", "45"],
                     "374": ["374"]}


def test_every_integer_up_to_999_is_one_llama_token(llama):
    assert tokens.first_multi_token_integer(llama) is None


def test_a_small_vocabulary_splits_integers(tiny_bpe):
    from pricer.tokenizer.loading import load_tokenizer

    assert tokens.first_multi_token_integer(load_tokenizer(str(tiny_bpe)).tokenizer) == 10


def test_cli_tokenize_prints_one_json_object(capsys):
    assert main(["tokenize", "--text", tokens.COURSE_EXAMPLE, "--tokenizer", "offline/llama-3.1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["chars"], out["count"]) == (61, 15)
    assert len(out["pieces"]) == len(out["ids"]) == 15
    assert out["decoded"] == "<|begin_of_text|>" + tokens.COURSE_EXAMPLE


def test_cli_tokenize_without_specials_and_with_the_default_fallback(capsys):
    assert main(["tokenize", "--text", "I am", "--no-special", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["ids"] == [40, 1097] and out["decoded"] == "I am"
    assert "offline copy" in out["note"] and "offline copy" in captured.err


def test_cli_tokenize_with_an_unloadable_tokenizer_exits_2_with_one_line(capsys):
    assert main(["tokenize", "--text", "x", "--tokenizer", "Qwen/Qwen2-7B-Instruct"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Qwen/Qwen2-7B-Instruct" in err and "Traceback" not in err


def test_cli_vocab_finds_a_token_by_text_and_by_id(capsys):
    assert main(["vocab", " price", "--tokenizer", "offline/llama-3.1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["entries"][0] == {"id": 3430, "token": "Ġprice", "text": " price", "special": False}
    assert main(["vocab", "128009", "--tokenizer", "offline/llama-3.1"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["128009", "'<|eot_id|>'", "(<|eot_id|>)"]


def test_cli_decode_rejects_ids_outside_the_vocabulary(capsys):
    assert main(["decode", "128000", "999999"]) == 2
    assert "999999" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["tokenize", "--text", "price \udcff tag"], "lone surrogate (U+DCFF at character 7) in the text"),
    (["vocab", "\udcff"], "lone surrogate (U+DCFF at character 1) in the query"),
    (["decode", "40", "\udcff"], "lone surrogate"),
    (["decode", "٣٤"], "Not a token id: '٣٤'"),
    (["decode", "1" * 5000], "a 5,000-digit number"),
])
def test_cli_bad_text_and_ids_exit_2_with_one_line(capsys, argv, message):
    # a command line turns bytes that are not UTF-8 into lone surrogates (surrogateescape)
    assert main([*argv, "--tokenizer", "offline/llama-3.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_cli_vocab_of_a_superscript_searches_text(capsys):
    assert main(["vocab", "²", "--tokenizer", "offline/llama-3.1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] > 0 and all("²" in e["text"] or "²" in e["token"] for e in out["entries"])


# --- batch_decode in the live view (issue #20: one string per token, as the course shows them) ---

BATCH_AWKWARD = AWKWARD + [
    "<|begin_of_text|>hello<|eot_id|><|reserved_special_token_5|>",
    "don't . , I'M  \r\n\r\n  \t x",
    "\x00 \x1b[31m \u200b \ufeff",
]


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("text", BATCH_AWKWARD)
def test_batch_decode_is_transformers_batch_decode_of_each_id_alone(llama, text, skip):
    got = tokens.inspect(llama, text, skip_special=skip)
    assert got.batch_decode == llama.batch_decode([[i] for i in got.ids], skip_special_tokens=skip)
    assert got.to_dict()["batch_decode"] == got.batch_decode and len(got.batch_decode) == got.count


def test_batch_decode_shows_a_split_character_as_replacement_characters(llama):
    got = tokens.inspect(llama, "🦜", add_special=False)
    assert len(got.ids) > 1 and all(t.count(tokens.REPLACEMENT) >= 1 for t in got.batch_decode)
    assert got.pieces.texts == ["🦜"]  # the chips keep the character whole


def test_a_tokenizer_that_cleans_up_is_asked_for_its_own_batch_decode(tiny_bpe):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_bpe)
    tok.clean_up_tokenization_spaces = True
    got = tokens.inspect(tok, "the price , is right .")
    assert got.batch_decode == tok.batch_decode([[i] for i in got.ids])
