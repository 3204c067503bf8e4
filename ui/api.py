"""API-only endpoints: a named gradio endpoint that no page event runs, answering structured data.

A tab's buttons render HTML for people; a program wants the data, under names it can read in
`Client.view_api()`, and a mistake as an error (gr.Error), never as a successful answer holding
{"error": ...}. `endpoint` wires a function to a hidden trigger with labelled outputs, so the
page's own events stay private and the API's shape does not follow the page's layout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr
import orjson

from pricer.errors import PricerError


class Data(gr.JSON):
    """A JSON output for large answers: the same JSON as gr.JSON sends, without gr.JSON's pydantic
    validation of every node (on a 10,000-character /tokenize answer, ~2,500 pieces, that took
    about 0.2 s of CPU per call, several times the tokenization itself)."""

    is_template = True  # the page draws it with its parent's frontend (else gradio looks for a custom one: 404)

    def postprocess(self, value: Any) -> Any:
        if isinstance(value, str):  # a JSON string, as gr.JSON takes it
            return orjson.loads(value)
        return None if value is None else orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))


class Text(gr.Textbox):
    """An API input that hands the function what the client sent. gr.Textbox makes str() of
    anything, so `12` or `{"a": 1}` would be priced as a product; the function's own check
    (which says what to send) must see them."""

    is_template = True  # the page draws it with its parent's frontend (else gradio looks for a custom one: 404)

    def preprocess(self, payload: Any) -> Any:
        return payload


class Number(gr.Number):
    """An API number input that hands the function what the client sent: gr.Number's own
    rounding turns NaN or 1e309 into a generic error and a traceback in the server's log."""

    is_template = True  # the page draws it with its parent's frontend (else gradio looks for a custom one: 404)

    def preprocess(self, payload: Any) -> Any:
        return payload


def endpoint(fn: Callable[..., Any], inputs: Sequence[Any], outputs: Sequence[str | Callable[[], Any]], name: str,
             **kw: Any) -> Any:
    """/`name`: `fn` over `inputs` (components; the client's parameters take fn's argument names),
    answering `outputs`: a label makes a JSON output of that name, a function makes the output
    component (e.g. `lambda: gr.File(label="csv")`), placed with the trigger where nobody sees it."""
    with gr.Column(visible=False):
        made = [Data(label=o) if isinstance(o, str) else o() for o in outputs]
        trigger = gr.Button(f"/{name}")
    return trigger.click(fn, list(inputs), made, api_name=name, show_progress="hidden", **kw)


def fail(exc: PricerError | str) -> gr.Error:
    """The gr.Error an API function raises for a mistake: the message as it is (a client reads
    text, no page renders it), no traceback in the server log."""
    return gr.Error(str(exc), print_exception=False)
