"""Rendering a tokenizer's chat template within bounds: the template is Jinja from whichever hub
repo a visitor names, so it renders in a separate process with capped memory, CPU time and
output, and is killed when it runs too long. Two nested loops cannot grow the server.

The child renders as transformers' `apply_chat_template` does (jinja2's immutable sandbox,
`trim_blocks`, `lstrip_blocks`, loop controls, the `generation` block, and its `tojson`,
`raise_exception`, `strftime_now`, `dict` and `namespace`), but imports only jinja2, so it starts
in a fraction of a second. `python -m pricer.tokenizer.chat_template` is that child: one JSON request on
stdin, one JSON answer on stdout.

It does not pick the template or count tokens (pricer.tokenizer.tokens does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from pricer.errors import PricerError

TIMEOUT = 10.0  # seconds of wall time for one rendering, process start included (~0.2 s)
MAX_RENDERED = 300_000  # characters: two messages cut at 100,000 each, and the template's own text
MEMORY_MB = 512  # address space of the child; python + jinja2 need about 30 MB
ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the pricer package
# What the child may see of the environment: enough to start Python, no secrets (HF_TOKEN, ...).
CHILD_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")
_slots = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))  # renderings at once


def render(template: str, messages: list[dict[str, str]], variables: dict[str, Any] | None = None, *,
           add_generation_prompt: bool = True, timeout: float = TIMEOUT, max_chars: int = MAX_RENDERED,
           memory_mb: int = MEMORY_MB) -> str:
    """`template` rendered for `messages` (plus `variables` such as bos_token), or a PricerError
    saying which bound it broke or how the template failed."""
    request = json.dumps({"template": template, "messages": messages, "variables": variables or {},
                          "add_generation_prompt": add_generation_prompt, "max_chars": max_chars,
                          "memory_mb": memory_mb, "cpu_seconds": max(1, int(timeout) + 1)})
    if not _slots.acquire(timeout=timeout):
        raise PricerError("Too many chat templates are rendering right now: try again in a moment.")
    try:
        done = subprocess.run(
            [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                                   "from pricer.tokenizer.chat_template import main; main()"],
            input=request, capture_output=True, text=True, encoding="utf-8", timeout=timeout, env=child_env())
    except subprocess.TimeoutExpired:
        raise PricerError(f"This tokenizer's chat template did not finish rendering within {timeout:g} s, so it "
                          "was stopped (a template that loops too long). Pick a tokenizer whose template "
                          "renders, e.g. an Instruct model's.") from None
    finally:
        _slots.release()
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        answer = {"kind": "killed"}
    kind = answer.get("kind")
    if kind == "rendered":
        return answer["text"]
    if kind == "too long":
        raise PricerError(f"This tokenizer's chat template renders more than {max_chars:,} characters for these "
                          "messages, so it was stopped (a template that repeats without end). Pick a tokenizer "
                          "whose template renders, e.g. an Instruct model's.")
    if kind == "template":
        raise PricerError(f"This tokenizer's chat template failed to render: {answer['message']}. Fix the "
                          "template, or pick a tokenizer whose template renders (e.g. an Instruct model's).")
    raise PricerError(f"This tokenizer's chat template needed more than {memory_mb:,} MB of memory or "
                      f"{timeout:g} s of CPU time, so it was stopped. Pick a tokenizer whose template renders, "
                      "e.g. an Instruct model's.")


def child_env() -> dict[str, str]:
    """The environment the rendering process gets: CHILD_ENV's variables, when set."""
    return {name: os.environ[name] for name in CHILD_ENV if name in os.environ}


# --- the child ----------------------------------------------------------------------------------


class _TooLong(Exception):
    pass


def _environment() -> Any:
    """A jinja2 sandbox set up as transformers sets up the one apply_chat_template renders in."""
    from datetime import datetime

    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generation(jinja2.ext.Extension):
        """`{% generation %}...{% endgeneration %}` marks assistant text; rendering keeps the body."""

        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller: Any) -> str:
            return caller()

    class TemplateDict:
        def __call__(self, *args: Any, **kwargs: Any) -> dict:
            return dict(*args, **kwargs)

        def fromkeys(self, *args: Any, **kwargs: Any) -> dict:
            return dict.fromkeys(*args, **kwargs)

    class Namespace(jinja2.utils.Namespace):
        def __init__(*args: Any, **kwargs: Any) -> None:
            self, attrs = args[0], dict(*args[1:], **kwargs)
            for name in attrs:
                Namespace.check(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name: str, value: Any) -> None:
            Namespace.check(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def check(name: Any) -> None:
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(f"a namespace cannot hold {name!r}")

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals.update(raise_exception=raise_exception, strftime_now=lambda f: datetime.now().strftime(f),
                       dict=TemplateDict(), namespace=Namespace)
    return env


def _render(request: dict[str, Any]) -> str:
    template = _environment().from_string(request["template"])
    out, size = [], 0
    for chunk in template.generate(messages=request["messages"], tools=None, documents=None,
                                   add_generation_prompt=request["add_generation_prompt"],
                                   **request["variables"]):
        size += len(chunk)
        if size > request["max_chars"]:
            raise _TooLong
        out.append(chunk)
    return "".join(out)


def _limit(request: dict[str, Any]) -> None:
    try:
        import resource
    except ImportError:  # not a Unix: the parent's timeout still holds
        return
    memory = request["memory_mb"] << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (request["cpu_seconds"], request["cpu_seconds"]))


def main() -> None:
    """The child: one request on stdin, one answer on stdout."""
    request = json.loads(sys.stdin.read())
    _limit(request)
    try:
        answer = {"kind": "rendered", "text": _render(request)}
    except _TooLong:
        answer = {"kind": "too long"}
    except MemoryError:
        answer = {"kind": "memory"}
    except RecursionError:
        answer = {"kind": "template", "message": "it nests or recurses too deeply"}
    except Exception as exc:  # a syntax error, raise_exception(...), a sandbox refusal: all the template's
        text = str(exc).strip()
        answer = {"kind": "template", "message": text.splitlines()[0] if text else type(exc).__name__}
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
