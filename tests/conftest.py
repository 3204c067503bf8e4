"""Shared fixtures: the real offline Llama 3.1 tokenizer, the course's data, a tiny 4-bit-loadable
Llama, the running app, a real Chromium page, and a small Space project with its spaces.yaml.

No test touches the network: HF_HUB_OFFLINE is set before anything imports huggingface_hub,
and the tests' PRICER_CACHE is a folder of this run, never the user's ~/.cache/pricer (a test
that needs a fresh one sets its own: clean_settings, tiny_settings).
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["PRICER_CACHE"] = tempfile.mkdtemp(prefix="pricer-tests-cache-")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data with the course's 250 test and 550 train items (skips when absent)."""
    if not (SHARED_DATA / "test-250.jsonl").exists():
        pytest.skip(f"the course's data is not at {SHARED_DATA} (clone with ../shared beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_250(shared_data: Path) -> Path:
    return shared_data / "test-250.jsonl"


@pytest.fixture(scope="session")
def train_550(shared_data: Path) -> Path:
    return shared_data / "train-550.jsonl"


@pytest.fixture(scope="session")
def llama():
    """The real Llama 3.1 tokenizer (offline copy)."""
    from pricer.tokenizer.loading import OFFLINE_LLAMA, load_tokenizer

    return load_tokenizer(OFFLINE_LLAMA).tokenizer


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny random-weight Llama-architecture model with the real tokenizer, saved to disk,
    with a tiny random LoRA adapter in `<dir>/adapter`."""
    from pricer.pricers.llama.tiny import write_tiny_model

    out = tmp_path_factory.mktemp("tiny-model")
    write_tiny_model(out)
    return out


@pytest.fixture(scope="session")
def tiny_bpe(tmp_path_factory):
    """A second, real, very different tokenizer on disk: a tiny byte-level BPE trained here."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["the price is right", "prices of products", "hello world"] * 50, trainer)
    out = tmp_path_factory.mktemp("tiny-bpe")
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>").save_pretrained(out)
    return out



@pytest.fixture(scope="session")
def built(shared_data, tmp_path_factory):
    """The small real RAG index of the RAG tests (tests/rag_data.py: course items, and disguised
    training copies of test items), built once: {"folder", "rows", ...}."""
    from rag_data import course_index

    return course_index(shared_data, tmp_path_factory)


@pytest.fixture(scope="session")
def index(built):
    """That index, loaded (pricer.pricers.chat.rag_index.RagIndex)."""
    from pricer.pricers.chat.rag_index import RagIndex

    return RagIndex.load(built["folder"])

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(tiny_model: Path, tmp_path_factory) -> str:
    """The whole app, running in this process on the tiny model (base + adapter), offline."""
    env = {
        "PRICER_BASE_MODEL": str(tiny_model),
        "PRICER_ADAPTER": str(tiny_model / "adapter"),
        "PRICER_ADAPTER_REVISION": "none",
        "PRICER_CACHE": str(tmp_path_factory.mktemp("pricer-cache")),
    }
    if (SHARED_DATA / "test-250.jsonl").exists():
        env["PRICER_DATASET"] = str(SHARED_DATA / "test-250.jsonl")
    os.environ.update(env)
    import app

    demo = app.build_app()
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (skips when chromium is not installed)."""
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (scripts/dev setup installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    """A fresh page on the running app; fails the test if a JS dialog (alert) ever opens."""
    context = browser.new_context()
    pg = context.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.goto(app_url)
    pg.dialogs = dialogs
    yield pg
    context.close()
    assert not dialogs, f"a JavaScript dialog opened: {dialogs}"


def type_text(page, text: str) -> None:
    """Type `text` into the Tokenizer tab's text box, key by key, as a person does."""
    box = page.locator("#tok-text textarea")
    box.fill("")
    box.press_sequentially(text, delay=5)


def fill_opened(field, text: str) -> None:
    """Fill a box in a panel just opened, and commit it (Tab). Gradio mounts a fold's boxes on
    opening and then sets their value, which can land over a fill made in the same moment (a
    person's first key comes later): the fill is checked after a settle and made again."""
    from playwright.sync_api import expect

    field.wait_for(state="visible")
    for attempt in range(3):
        field.fill(text)
        field.press("Tab")  # committed before a button is pressed
        field.page.wait_for_timeout(300)
        try:
            expect(field).to_have_value(text, timeout=2_000)
            return
        except AssertionError:
            if attempt == 2:
                raise


@pytest.fixture
def clean_settings(monkeypatch, tmp_path):
    """No PRICER_* setting from the machine, no OpenAI key, no HF token; a fresh cache folder."""
    from pricer.config import ENV

    for variable in (*ENV.values(), "OPENAI_API_KEY", "OPENAI_BASE_URL", "HF_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PRICER_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def no_network(monkeypatch):
    """Fails the test if anything tries to open a network connection (proves a fast refusal)."""
    import socket

    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"a network connection was attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield attempts
    assert not attempts


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small app folder shaped like the repository, with a valid spaces.yaml (see space_project)."""
    from space_project import make_project

    return make_project(tmp_path)


@pytest.fixture
def token_env(monkeypatch) -> dict[str, str]:
    """HF_TOKEN set to a real-looking token that is not one."""
    from space_project import TOKEN

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    return {"HF_TOKEN": TOKEN}


def predict_answered(page, timeout: int = 120_000) -> str:
    """Wait until the Predict tab's table has every pricer's answer; its text."""
    page.locator("#predict-result table.answers").wait_for(timeout=timeout)
    page.wait_for_function("!document.querySelector('#predict-result').innerText.includes('pricing…')",
                           timeout=timeout)
    return page.locator("#predict-result").inner_text()
