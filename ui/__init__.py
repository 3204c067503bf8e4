"""The app's edge: one small gradio builder per tab, over the pricer core (which never imports gradio)."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

GPU_QUEUE = "gpu"  # the gradio concurrency_id of the events that are model work only (/predict): one at a time
# Predict's button and /price: any pricers, side by side. Only the Llama's model work inside waits for the
# GPU (pricer.gpu's lock), so a CPU or chat price never queues behind it; the limit bounds the threads in
# flight: a CPU price takes ~0.04 s, and visitors' chat requests hold at most chat client.WEB_CALLS of
# them (each within its deadline; one more is refused as busy), so a hanging chat server leaves the rest.
PRICE_QUEUE, PRICE_CONCURRENCY = "price", 8


def esc(value: Any) -> str:
    """`value` as text safe inside HTML (and inside an attribute's quotes)."""
    return html.escape(str(value), quote=True)


def warn(message: Any) -> None:
    """A pop-up: gradio renders its text as HTML, so it is escaped (it may quote a path or file name)."""
    import gradio as gr

    gr.Warning(esc(message))


CODE = re.compile(r"`([^`]+)`")  # a `command` inside a message


def with_code(message: str) -> str:
    """`message` escaped, each `command` in it shown as code."""
    return CODE.sub(r"<code>\1</code>", esc(message))


def unavailable_list(unavailable: Sequence[tuple[Any, str]], *, opened: bool) -> str:
    """The pricers that cannot run here, each with every reason (a `command` in a reason shown as
    code), folded under a line naming them: Predict's and Evaluate's, the same."""
    if not unavailable:
        return ""
    items = "".join(f"<li><b>{esc(p.label)}</b> ({esc(p.name)}): {with_code(why)}</li>" for p, why in unavailable)
    names = ", ".join(esc(p.name) for p, _ in unavailable)
    return (f'<details class="unavailable"{" open" if opened else ""}><summary>Not available here '
            f"({len(unavailable)}): {names}</summary><ul>{items}</ul></details>")
