"""The app as a whole: three tabs, their named endpoints, and a core that never imports gradio."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pricer

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(m.name for m in pkgutil.walk_packages(pricer.__path__, "pricer.") if not m.name.endswith(".__main__"))


def test_every_core_module_imports_without_gradio():
    code = (f"import sys; import {', '.join(MODULES)}; "
            "bad = [m for m in ('gradio', 'ui', 'app') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module", MODULES)
def test_no_core_module_mentions_gradio_or_the_ui(module):
    path = ROOT / module.replace(".", "/")
    source = (path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).read_text(encoding="utf-8")
    for line in source.splitlines():
        stripped = line.strip()
        assert not stripped.startswith(("import gradio", "from gradio", "from ui", "import ui", "import app")), line


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_the_app_has_its_three_tabs_in_order(page):
    page.get_by_role("tab", name="Evaluate").wait_for(timeout=60_000)
    tabs = page.get_by_role("tab").all_inner_texts()
    assert [t.strip() for t in tabs][:3] == ["Tokenizer", "Predict", "Evaluate"]


def test_named_endpoints_for_each_tab(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert names == {"/tokenize", "/vocab", "/decode", "/batch_decode", "/chat_template", "/compare", "/price",
                     "/predict", "/evaluate"}  # the page's own events are private: no generated names


def test_tokenizer_endpoints_never_wait_behind_the_model():
    """CPU-light tokenizer calls run in their own pool, never in the GPU queue the Llama's events share."""
    import app
    from ui import GPU_QUEUE, PRICE_QUEUE

    pools = {f.api_name: f.concurrency_id for f in app.demo.fns.values()
             if f.api_name and f.api_visibility == "public"}
    assert {pools[n] for n in ("tokenize", "vocab", "decode", "batch_decode", "chat_template", "compare")} == {
        "tokenizer"}
    assert pools["predict"] == GPU_QUEUE and pools["price"] == PRICE_QUEUE  # /price: only its Llama waits for the GPU


def test_300_visitors_at_once_keep_their_sessions_so_none_is_rebuilt_on_each_call(monkeypatch):
    """Gradio builds a visitor's session from every block's config on their first call, and again
    whenever it was dropped as least recently used: with more visitors at once than the server
    keeps, every call paid that again (benchmarks/load_bench.py --price --sessions 300). The
    app launches with state_session_capacity=SESSIONS; gradio's own session store is used here."""
    from gradio.state_holder import StateHolder

    import app

    monkeypatch.setattr(app.demo, "state_session_capacity", app.SESSIONS)  # what app.py's launch passes
    holder = StateHolder()
    holder.set_blocks(app.demo)
    first = holder["visitor-0"]
    for n in range(1, 300):
        holder[f"visitor-{n}"]
    assert holder["visitor-0"] is first  # still kept: not rebuilt


def test_the_readme_shows_a_call_for_every_named_endpoint():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The API", 1)[1].split("\n## ", 1)[0]
    shown = set(re.findall(r'api_name="(/\w+)"', section))
    assert shown == {"/tokenize", "/vocab", "/decode", "/batch_decode", "/chat_template", "/compare", "/price",
                     "/predict", "/evaluate"}
