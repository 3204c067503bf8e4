"""The default tokenizer in the visitor's browser: typing in the Tokenizer tab costs the server nothing.

Every keystroke used to be a server call, and gradio alone costs ~13 ms of the server's one busy
core per call: 20 people typing at once waited 0.6-1 s a keystroke, more beside an evaluation
(benchmarks/load_bench.py). So the tab tokenizes in the browser with tokenizers.js
(@huggingface/tokenizers, the tokenizer half of transformers.js, vendored in
ui/static/tokenizers/) over the very tokenizer.json the server loaded, and renders there
(ui/static/tokenizer_view.js, which mirrors the tab's Python views).

Only for tokenizers of Llama 3's scheme (byte-level BPE over whole-word ranks, the scheme
pricer.tokenizer.llama_bpe recognises), whose ids, decodings and views tests prove identical in the browser
and in Python. Another tokenizer, a browser that cannot load this one, and every API client are
answered by the server as before.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from pricer.atomic import atomic_write
from pricer.config import cache_folder, settings
from pricer.errors import PricerError
from pricer.tokenizer import llama_bpe, tokens
from pricer.tokenizer.loading import load_tokenizer
from ui.tokenizer_views import GLYPHS, MAX_CHIPS

STATIC = Path(__file__).parent / "static"
LIBRARY = STATIC / "tokenizers" / "tokenizers.min.mjs"  # @huggingface/tokenizers 0.2.0, Apache-2.0
VIEW = STATIC / "tokenizer_view.js"
EXPORTS = "browser-tokenizers"  # under the cache: one folder per tokenizer.json's content

_lock = threading.Lock()


def _export(tokenizer: Any) -> Path:
    """The tokenizer's tokenizer.json (gzip: ~2.3 MB instead of 7 MB) and the one config value
    tokenizers.js reads, in a folder named by their content; written once (atomically, a second
    caller waits and finds them) and served as static files from then on."""
    import gradio as gr

    data = tokenizer.backend_tokenizer.to_str().encode()
    config = json.dumps({"clean_up_tokenization_spaces": bool(getattr(tokenizer, "clean_up_tokenization_spaces", False))})
    digest = hashlib.sha256(data + config.encode()).hexdigest()[:16]
    with _lock:
        folder = cache_folder(f"{EXPORTS}/{digest}")
        if not (folder / "tokenizer_config.json").exists():  # written last: its presence means done
            with atomic_write(folder / "tokenizer.json.gz", "wb") as f:
                f.write(gzip.compress(data, compresslevel=6, mtime=0))
            with atomic_write(folder / "tokenizer_config.json") as f:
                f.write(config)
        gr.set_static_paths([folder])  # this folder only: nothing else of the cache is served
    return folder


def _exported(tokenizer: Any) -> Path:
    """`_export`, once per tokenizer while its files stay (every page load asks; serialising
    7 MB each time cost the server CPU and memory)."""
    folder = tokens.per_tokenizer(tokenizer, "browser export", _export)
    if not (folder / "tokenizer_config.json").exists():  # the cache was cleared meanwhile
        folder = _export(tokenizer)
    return folder


def setup(default: str) -> dict[str, Any]:
    """What the browser needs to tokenize like the server: file paths to fetch (served by
    gradio's /file= route), the loaded tokenizer's label and note, its special ids and the tab's
    limits. {"browser": False, "view": ..., "reason": ...} when the default tokenizer must stay on
    the server (the view script still links chips and ids, copies, and keeps the address)."""
    try:
        loaded = load_tokenizer(default, web=True)
        backend = getattr(loaded.tokenizer, "backend_tokenizer", None)
        if backend is None or not llama_bpe.is_llama3_scheme(backend):
            return {"browser": False, "view": str(VIEW),
                    "reason": f"{loaded.label} is not of Llama 3's scheme: tokenized on the server."}
        folder = _exported(loaded.tokenizer)
        first = tokens.first_multi_token_integer(loaded.tokenizer)
    except (PricerError, OSError) as exc:  # the server still tokenizes; it says why there
        return {"browser": False, "view": str(VIEW), "reason": f"Tokenized on the server: {exc}"}
    return {
        "browser": True, "reason": "", "name": default, "label": loaded.label, "note": loaded.note,
        "library": str(LIBRARY), "view": str(VIEW),
        "tokenizer": str(folder / "tokenizer.json.gz"), "config": str(folder / "tokenizer_config.json"),
        "special_ids": sorted(tokens.special_ids(loaded.tokenizer)),
        "first_multi_token_integer": first,
        "max_chars": tokens.MAX_CHARS, "max_group": tokens.MAX_GROUP, "max_chips": MAX_CHIPS, "glyphs": GLYPHS,
    }


def serve_static() -> None:
    """Let gradio serve the vendored library and the view script (static, never copied)."""
    import gradio as gr

    gr.set_static_paths([STATIC])


# --- the page's events (gradio `js`): typing answered here where it can be ---------------------

# A browser that has the tokenizer answers a keystroke itself: it paints the live views straight
# into the page (tokenizer_view.js) and leaves the event's outputs, `job` and `result` (the JSON fold,
# given only while open), as they are; otherwise `job` is bumped, and its change asks the server,
# whose answer fills the views through gradio.
_FILE_URL = ("(path) => `${(window.gradio_config?.root ?? '').replace(/\\/$/, '')}/gradio_api/file=`"
             " + path.split('/').map(encodeURIComponent).join('/')")
_BUMP = "(Number(job) || 0) + 1"
# outputs [text, tokenizer, job]: an address with ?text=&tokenizer= fills both (a shared example)
START_JS = f"""async (setup, text, name, add, skip, job) => {{
  const url = {_FILE_URL};
  let view = null;
  try {{
    if (setup?.view) {{ view = await import(url(setup.view)); view.interact(); }}
    if (view && setup.browser && typeof DecompressionStream === "function") await view.start(setup, url);
    else if (setup?.reason) console.info("pricer:", setup.reason);
  }} catch (error) {{
    console.warn("pricer: the Tokenizer tab tokenizes on the server:", error);
  }}
  if (view) window.pricerTokenizerView = view;
  const asked = view?.shared() ?? {{}};
  const answered = view?.live(asked.text ?? text, asked.tokenizer ?? name, add, skip);
  return [asked.text, asked.tokenizer, answered ? job : {_BUMP}];
}}"""
LIVE_JS = f"""(text, name, add, skip, job) => {{
  const view = window.pricerTokenizerView;
  view?.share(text, name);
  return view?.live(text, name, add, skip) ? [job, view.json(text, name, add, skip)] : [{_BUMP}, undefined];
}}"""
# after a server answer: the text may have changed meanwhile; the browser redraws it if it can
REDRAW_JS = """(text, name, add, skip, job) => {
  window.pricerTokenizerView?.forget();
  window.pricerTokenizerView?.live(text, name, add, skip);
  return job;
}"""
GLYPHS_JS = "(on) => { window.pricerTokenizerView?.glyphs(on); }"


def open_js(view: str, opened: bool) -> str:
    """A fold opened or closed: the browser draws `view` from then on (the JSON: its value now)."""
    return f"() => window.pricerTokenizerView?.opening({json.dumps(view)}, {str(opened).lower()})"


def default_setup() -> dict:
    """The page-load event: what the page needs to tokenize the default tokenizer in the browser
    (or why it cannot)."""
    return setup(settings().tokenizer)
