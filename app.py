"""The Price is Right: the Space entry. Builds the gradio Blocks, wires the tabs, launches.

Each tab is built by a small module in ui/ over the pricer core; this file is layout only.
"""

from __future__ import annotations

import gc
import os

import gradio as gr

from pricer.config import settings
from pricer.hub import missing_token_notice
from ui import esc, evaluate_tab, predict_tab, tokenizer_tab

TITLE = "The Price is Right"
# Visitors whose page state the server keeps (the least recently active go first). Gradio builds a
# session's state from every block's config (~200 here) on its first call, and again after it was
# dropped: with more visitors at once than this, every call rebuilds one (300 visitors over 200:
# 12-15 calls/s instead of 22, benchmarks/load_bench.py --price). A session holds at most ~0.7 MB
# (a 10,000-character tokenization), so 500 cost at most ~360 MB.
SESSIONS = 500
INTRO = (
    "Price a product from its description with every pricer that can run here, see how the Llama 3.1 "
    "tokenizer reads text, and evaluate pricers on the course's 250 test items."
)
# The whole page's CSS (a <style> in the page's head): the charts (transparent, see
# pricer.evaluation.chart.PAGE_LAYOUT) take dark mode's text and grid colours, as the page does.
PAGE_CSS = """<style>
.dark .js-plotly-plot .main-svg text { fill: var(--body-text-color) !important; }
.dark .js-plotly-plot .gridlayer path, .dark .js-plotly-plot .zerolinelayer path {
  stroke: rgba(255, 255, 255, 0.14) !important; }
#token-notice summary { cursor: pointer; }
</style>"""


def build_app() -> gr.Blocks:
    # delete_cache: gradio's copies of served files (result CSVs, uploads) older than a day go,
    # checked hourly, so a long-running Space does not fill its disk
    with gr.Blocks(title=TITLE, delete_cache=(3600, 86400)) as demo:
        gr.HTML(f"<h1>{TITLE}</h1><p>{INTRO}</p>", head=PAGE_CSS, elem_id="intro")
        notice = missing_token_notice(settings().base_model)
        if notice:  # one line folded: on a phone the tabs stay on the first screen
            gr.HTML(f"<details><summary><b>Note:</b> no HF_TOKEN, so the Llama cannot load from the Hub "
                    f"(how to fix)</summary><p>{esc(notice)}</p></details>", elem_id="token-notice")
        with gr.Tab("Tokenizer", id="tokenizer"):
            tokenizer_tab.build()
        with gr.Tab("Predict", id="predict"):
            predict_tab.build()
        with gr.Tab("Evaluate", id="evaluate"):
            evaluate_tab.build()
    return demo


demo = build_app()

if __name__ == "__main__":
    # Everything built so far lives as long as the process: frozen out of the garbage collector's
    # sight, a collection (set off by every large answer's allocations) walks only new objects.
    # Under load this halved the CPU of a 10,000-character /tokenize (benchmarks/load_bench.py).
    gc.freeze()
    # gradio rebuilds a pandas summary of its last 10,000 events after every event (its monitoring
    # figures): under 20 typists that was most of a tiny call's server time. Every 500 events is
    # plenty for a summary; an operator's own setting wins.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "500")
    demo.queue(default_concurrency_limit=4).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        server_port=int(os.environ.get("PORT", os.environ.get("GRADIO_SERVER_PORT", "7860"))),
        # gradio keeps every session's last outputs (a 10,000-character tokenization: ~0.7 MB)
        # until this many sessions exist, oldest dropped first; its default of 10,000 lets memory
        # grow with every visitor and API client for hours (benchmarks/load_bench.py --minutes)
        state_session_capacity=SESSIONS,
    )
