"""The app's edge: one small gradio builder per tab, over the pricer core (which never imports gradio)."""

from __future__ import annotations

import html
from typing import Any

GPU_QUEUE = "gpu"  # the gradio concurrency_id shared by every event that runs the model (one at a time)


def esc(value: Any) -> str:
    """`value` as text safe inside HTML (and inside an attribute's quotes)."""
    return html.escape(str(value), quote=True)


def warn(message: Any) -> None:
    """A pop-up: gradio renders its text as HTML, so it is escaped (it may quote a path or file name)."""
    import gradio as gr

    gr.Warning(esc(message))
