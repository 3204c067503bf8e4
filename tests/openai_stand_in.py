"""A local stand-in for the OpenAI API (and OpenAI-compatible servers) that records every request.

`openai_online(monkeypatch, cache)` serves an `OpenAIStandIn` on a free local port (one for the
test process) and points OPENAI_BASE_URL at it. By default it answers like OpenAI: chat completions with
`replies[user message]` (else "45"), file uploads, file lists, and fine-tuning jobs with their
events. A test scripts anything else by setting `script`: a function of the recorded request
that returns a `Reply` (or None for the default answer).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from stand_in import JsonHandler


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    """Parsed JSON, or the raw bytes when the body is not JSON (multipart uploads)."""
    at: float
    """time.monotonic() when it arrived."""

    @property
    def user(self) -> str:
        """The user message of a chat request."""
        return next(m["content"] for m in self.body["messages"] if m["role"] == "user")


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    """A JSON-able object, or bytes sent as they are."""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (a slow server)."""
    content_type: str = "application/json"


def chat_reply(content: str | None, model: str = "gpt-4o-mini-2024-07-18") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "length",
                         "message": {"role": "assistant", "content": content, "refusal": None}}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 2, "total_tokens": 122}}


def error_reply(status: int, message: str, code: str | None = None, **headers: str) -> Reply:
    return Reply(status, {"error": {"message": message, "type": "invalid_request_error", "param": None,
                                    "code": code}}, {k.replace("_", "-"): v for k, v in headers.items()})


def job(job_id: str = "ftjob-1", status: str = "validating_files", **fields: Any) -> dict[str, Any]:
    return {"id": job_id, "object": "fine_tuning.job", "created_at": 1726200000, "status": status,
            "model": "gpt-4o-mini-2024-07-18", "fine_tuned_model": None, "training_file": "file-1",
            "validation_file": "file-2", "hyperparameters": {"n_epochs": 1}, "seed": 42, "error": None,
            "integrations": [], "organization_id": "org-1", "result_files": [], "trained_tokens": None,
            "finished_at": None, **fields}


class OpenAIStandIn(JsonHandler):
    """The handler; its state lives on the class and `reset` clears it between tests."""

    requests: list[Request]
    replies: dict[str, str | None]
    files: list[dict[str, Any]]
    jobs: dict[str, dict[str, Any]]
    events: dict[str, list[dict[str, Any]]]
    script: Callable[[Request], Reply | None] | None
    in_flight = 0
    most_in_flight = 0
    generation = 0
    lock = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        """Forget everything, including requests of the last test still running (a slow reply)."""
        with cls.lock:
            cls.requests, cls.replies, cls.files, cls.jobs, cls.events = [], {}, [], {}, {}
            cls.script, cls.in_flight, cls.most_in_flight = None, 0, 0
            cls.generation += 1

    def answer(self) -> None:
        cls = type(self)
        with cls.lock:
            generation = cls.generation
            cls.in_flight += 1
            cls.most_in_flight = max(cls.most_in_flight, cls.in_flight)
        try:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw
            url = urlsplit(self.path)
            request = Request(self.command, url.path, dict(parse_qsl(url.query)),
                              {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
            with cls.lock:
                cls.requests.append(request)
            reply = (cls.script(request) if cls.script else None) or self.default(request)
            time.sleep(reply.delay)
            self.send(reply)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass
        finally:
            with cls.lock:
                if generation == cls.generation:  # a request of an earlier test ends uncounted
                    cls.in_flight -= 1

    def send(self, reply: Reply) -> None:
        data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def default(self, r: Request) -> Reply:
        cls = type(self)
        if (r.method, r.path) == ("POST", "/v1/chat/completions"):
            return Reply(body=chat_reply(cls.replies.get(r.user, "45")))
        if (r.method, r.path) == ("POST", "/v1/files"):
            name = re.search(rb'filename="([^"]+)"', r.body).group(1).decode()
            with cls.lock:
                created = {"id": f"file-{len(cls.files) + 1}", "object": "file", "bytes": len(r.body),
                           "created_at": 1726200000 + len(cls.files), "filename": name, "purpose": "fine-tune",
                           "status": "processed"}
                cls.files.append(created)
            return Reply(body=created)
        if (r.method, r.path) == ("GET", "/v1/files"):
            return Reply(body={"object": "list", "data": cls.files[::-1], "has_more": False})
        if (r.method, r.path) == ("POST", "/v1/fine_tuning/jobs"):
            created = job(f"ftjob-{len(cls.jobs) + 1}", training_file=r.body["training_file"],
                          validation_file=r.body.get("validation_file"), integrations=r.body.get("integrations", []))
            cls.jobs[created["id"]] = created
            return Reply(body=created)
        if (r.method, r.path) == ("GET", "/v1/fine_tuning/jobs"):
            return Reply(body={"object": "list", "data": list(cls.jobs.values())[::-1][:int(r.query.get("limit", 20))],
                               "has_more": False})
        if r.method == "GET" and (m := re.fullmatch(r"/v1/fine_tuning/jobs/([^/]+)(/events)?", r.path)):
            if m.group(1) not in cls.jobs:
                return error_reply(404, f"Could not find fine-tune: {m.group(1)}")
            if m.group(2):
                events = cls.events.get(m.group(1), [])[:int(r.query.get("limit", 20))]
                return Reply(body={"object": "list", "data": events, "has_more": False})
            return Reply(body=cls.jobs[m.group(1)])
        return error_reply(404, f"no route {r.method} {r.path}")

    @classmethod
    def chats(cls) -> list[Request]:
        return [r for r in cls.requests if r.path == "/v1/chat/completions"]


KEY = "sk-proj-StandInSecretKey0123456789abcdefXYZ"  # what the tests look for in every output


_server: list[str] = []  # the base URL of the one stand-in of this test process


def _url() -> str:
    """One stand-in for the whole test process: starting and stopping one per test costs 0.5 s each."""
    if not _server:
        server = ThreadingHTTPServer(("127.0.0.1", 0), OpenAIStandIn)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _server.append(f"http://127.0.0.1:{server.server_port}")
    return _server[0]


@contextmanager
def openai_online(monkeypatch: Any, cache: Path) -> Iterator[type[OpenAIStandIn]]:
    """The stand-in, reset, with OPENAI_BASE_URL, OPENAI_API_KEY (KEY) and PRICER_CACHE pointing at
    it and at `cache`; PRICER_FRONTIER_MODEL and WANDB_API_KEY unset."""
    OpenAIStandIn.reset()
    monkeypatch.setenv("OPENAI_BASE_URL", f"{_url()}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("PRICER_CACHE", str(cache))
    for name in ("PRICER_FRONTIER_MODEL", "WANDB_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    yield OpenAIStandIn
    OpenAIStandIn.script = None
