"""Local HTTP stand-ins for the remote services tests must not reach (the Hub, OpenAI).

A stand-in is a `JsonHandler` subclass that records what it gets and answers like the service;
`serving(handler)` runs it on a free local port for one test, and `hub_online(monkeypatch, url)`
points huggingface_hub (and pricer.hub) at it, lifting conftest's offline mode for that test only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that answers JSON and keeps the test output quiet."""

    def send_json(self, status: int, reply: object) -> None:
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> bytes:
        """The request's body, sent whole (Content-Length) or in chunks (as huggingface_hub uploads)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while size := int(self.rfile.readline().strip(), 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return data
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self) -> None:
        """Every method lands here unless a subclass handles it itself: override to answer."""
        self.send_json(404, {"error": "not served by this stand-in"})

    def do_GET(self) -> None:  # noqa: N802
        self.answer()

    def do_POST(self) -> None:  # noqa: N802
        self.answer()

    def do_PUT(self) -> None:  # noqa: N802
        self.answer()

    def do_HEAD(self) -> None:  # noqa: N802
        self.answer()

    def log_message(self, *args) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 (a free port) while the block runs; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def hub_online(monkeypatch, url: str) -> None:
    """pricer talks to `url` instead of the Hub for this test. huggingface_hub read HF_HUB_OFFLINE
    once, at import, into its constants: it is lifted there too. Its ENDPOINT constant is left as
    it was: hf_hub_url swaps the endpoint given by pricer.hub.endpoint() in for that constant."""
    from huggingface_hub import constants
    from huggingface_hub.utils import _detect_agent

    from pricer import hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", url)  # pricer.hub.endpoint() reads it and passes it explicitly
    # huggingface_hub fetches an "agent harness" list for its user agent once a day: not from here
    monkeypatch.setattr(_detect_agent, "_registry", _detect_agent._EMPTY_REGISTRY)
    monkeypatch.setattr(hub, "_reach_cache", {})  # reachability of this URL only, forgotten after the test
