"""The hub boundary: offline machines and gated repos fail fast, with a message that says what to do."""

from __future__ import annotations

import http.server
import threading

import pytest

from pricer import hub
from pricer.errors import AccessDenied, HubUnavailable, NotFound


class FakeHub(http.server.BaseHTTPRequestHandler):
    """Answers auth-check like the Hugging Face Hub: gated, missing or readable, by repo name."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self):  # noqa: N802
        FakeHub.seen.append((self.path, self.headers.get("authorization")))
        if "/gated-model/" in self.path:
            self.send_response(403)
            self.send_header("X-Error-Code", "GatedRepo")
            self.send_header("X-Error-Message", "Access to model is restricted.")
        elif "/missing-model/" in self.path:
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
        else:
            self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_hub(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    hub._reach_cache.clear()
    FakeHub.seen.clear()
    yield FakeHub.seen
    server.shutdown()
    hub._reach_cache.clear()


def test_gated_model_without_access_explains_how_to_get_it(fake_hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(AccessDenied) as err:
        hub.check_access("meta-llama/gated-model")
    message = str(err.value)
    assert "accept the licence" in message and "HF_TOKEN" in message
    assert "huggingface.co/meta-llama/gated-model" in message


def test_unknown_repo_is_reported_as_not_found(fake_hub):
    with pytest.raises(NotFound, match="No model called 'someone/missing-model'"):
        hub.check_access("someone/missing-model")


def test_readable_repo_passes_and_token_goes_only_in_the_header(fake_hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 34)
    hub.check_access("someone/open-model")
    path, auth = fake_hub[-1]
    assert path == "/api/models/someone/open-model/auth-check"
    assert auth == "Bearer hf_" + "x" * 34
    assert "hf_" not in path


def test_offline_mode_fails_at_once_with_a_way_out(monkeypatch, no_network):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubUnavailable, match="HF_HUB_OFFLINE is set.*local path"):
        hub.check_access("someone/model")


def test_unreachable_endpoint_is_reported_not_retried(monkeypatch):
    with __import__("socket").socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    hub._reach_cache.clear()
    with pytest.raises(HubUnavailable, match="cannot be reached"):
        hub.check_access("someone/model")
    hub._reach_cache.clear()


@pytest.mark.parametrize("name", ["./model", "/no/such/dir", "~/models/x", "a/b/c"])
def test_names_that_can_only_be_paths_are_never_sent_to_the_hub(name):
    with pytest.raises(NotFound, match="No such local path"):
        hub.check_access(name)


def test_page_notice_when_a_gated_model_needs_a_missing_token(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hub, "token", lambda: None)
    notice = hub.missing_token_notice("meta-llama/Meta-Llama-3.1-8B")
    assert "HF_TOKEN is not set" in notice and "accept its licence" in notice
    assert hub.missing_token_notice(str(tmp_path)) == ""  # a local model needs no token


def test_no_notice_when_a_token_is_set(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_" + "y" * 34)
    assert hub.missing_token_notice("meta-llama/Meta-Llama-3.1-8B") == ""


def test_a_refusal_is_remembered_so_a_live_view_asks_the_hub_once(fake_hub, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    for _ in range(3):
        with pytest.raises(AccessDenied, match="accept the licence"):
            hub.check_access("meta-llama/gated-model")
    assert len([p for p, _ in fake_hub if "gated-model" in p]) == 1
    monkeypatch.setattr(hub, "REFUSAL_TTL", 0.0)  # once it has expired, the hub is asked again
    with pytest.raises(AccessDenied):
        hub.check_access("meta-llama/gated-model")
    assert len([p for p, _ in fake_hub if "gated-model" in p]) == 2
