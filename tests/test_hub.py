"""The hub boundary: offline machines and gated repos fail fast, with a message that says what to do."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
from stand_in import JsonHandler, hub_online, serving

from pricer import hub
from pricer.errors import AccessDenied, BadInput, HubUnavailable, NotFound


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
    with pytest.raises(NotFound, match="No such file or folder"):
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


# --- one resolver: hub id or local path ------------------------------------------------------


def test_an_existing_path_is_local_and_never_asked_about(tmp_path, no_network):
    (tmp_path / "test.jsonl").write_text("{}\n")
    assert hub.resolve(str(tmp_path)) == tmp_path
    assert hub.resolve(f" {tmp_path / 'test.jsonl'} ", "dataset") == tmp_path / "test.jsonl"


@pytest.mark.parametrize("name, suffixes", [("./nope", ()), ("/no/such/dir", ()), ("a/b/c", ()),
                                            ("nope.jsonl", (".jsonl",)), ("NOPE.PARQUET", (".parquet",))])
def test_a_name_that_can_only_be_a_path_is_not_found_without_asking_the_hub(name, suffixes, no_network):
    with pytest.raises(NotFound) as err:
        hub.resolve(name, "dataset", suffixes=suffixes, hub_name="a hub category name")
    assert str(err.value) == f"No such file or folder: {name}. Check the path, or give a hub category name."


def test_a_hub_id_is_checked_for_its_repo_type_or_passed_through(fake_hub):
    assert hub.resolve("someone/open-model") == "someone/open-model"
    assert fake_hub[-1][0] == "/api/models/someone/open-model/auth-check"
    assert hub.resolve("Automotive", None) == "Automotive"  # not a repo (a raw data category): not asked
    assert len(fake_hub) == 1
    with pytest.raises(NotFound, match="No model called 'someone/missing-model'"):
        hub.resolve("someone/missing-model")


# --- one translator: HTTP status -> PricerError, secrets hidden ------------------------------

TOKEN = "hf_" + "Echo8Me7If6You5Dare4Echo3Me2Too1Xy"
OTHER = "Sp4ceSecretValue_9f8e7d6c5b4a"  # a secret with another name that the caller hands in


class EchoHub(JsonHandler):
    """A careless Hub: it refuses every request with `status` and quotes back the Authorization
    header it got (the token), as a server error page might."""

    status = 400
    paths: list[str] = []

    def answer(self):
        EchoHub.paths.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        said = f"refused {self.headers.get('authorization')} and {OTHER}"
        data = json.dumps({"error": said}).encode()
        self.send_response(EchoHub.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Error-Message", said)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def echo_hub(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token-file"))
    EchoHub.status, EchoHub.paths = 400, []
    with serving(EchoHub) as url:
        hub_online(monkeypatch, url)
        yield EchoHub


def http_error(status: int | None, said: str = "") -> Exception:
    """A real huggingface_hub error for a response with `status` (None: no answer came)."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    if status is None:
        return httpx2.ConnectError("connection refused")
    response = httpx2.Response(status, headers={"X-Error-Message": said},
                               request=httpx2.Request("GET", "https://hub.test/api/x"))
    return HfHubHTTPError(f"{status} error: {said}", response=response, server_message=said)


@pytest.mark.parametrize("status, kind", [(401, AccessDenied), (402, AccessDenied), (403, AccessDenied),
                                          (400, BadInput), (404, BadInput), (409, BadInput),
                                          (500, HubUnavailable), (503, HubUnavailable), (None, HubUnavailable)])
def test_the_status_decides_the_kind_of_error(status, kind):
    error = hub.hub_error(http_error(status, "no"), {"refused": "refused {status}", "failed": "failed {status}"})
    assert type(error) is kind
    assert str(error) == ("refused" if kind is not HubUnavailable else "failed") + f" {status or 'ConnectError'}"


def test_a_template_per_status_and_the_servers_words():
    messages = {403: "not yours ({status}): {server}", "refused": "no: {server}", "failed": "{answer}, try again"}
    assert str(hub.hub_error(http_error(403, "Owner mismatch"), messages)) == "not yours (403): Owner mismatch"
    assert str(hub.hub_error(http_error(400, "Bad flavor"), messages)) == "no: Bad flavor"
    assert str(hub.hub_error(http_error(503), messages)) == "answered 503, try again"
    assert str(hub.hub_error(http_error(None), messages)) == "could not be reached (ConnectError), try again"
    # a template holds user text: braces in it are not format fields
    assert str(hub.hub_error(http_error(400, "x"), {"refused": "revision '{0}{' {server}"})) == "revision '{0}{' x"


def test_every_secret_is_hidden_from_the_message(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-Op3nAiKeyValue0123456789abc")
    monkeypatch.setenv("WANDB_API_KEY", "0123456789abcdef0123456789abcdef01234567")
    said = f"got {TOKEN}, sk-proj-Op3nAiKeyValue0123456789abc, 0123456789abcdef0123456789abcdef01234567, {OTHER}"
    message = str(hub.hub_error(http_error(400, said), {"refused": "{server}"}, OTHER))
    assert message == "got <hidden>, <hidden>, <hidden>, <hidden>"


def test_the_adapter_revision_check_does_not_leak_an_echoed_token(echo_hub, tiny_model):
    from pricer.pricers.llama.model import ModelSpec, load_pricer, model_status

    spec = ModelSpec(str(tiny_model), "someone/adapter", "v1")
    with pytest.raises(HubUnavailable, match="Could not check access to someone/adapter") as err:
        load_pricer(spec)  # the resolver's access check, refused: the server's words are not quoted
    assert TOKEN not in str(err.value) + model_status(spec)
    assert echo_hub.paths == ["/api/models/someone/adapter/auth-check"]
    from pricer.pricers.llama import backbone

    with pytest.raises(BadInput) as err:  # the revision lookup itself, refused with the token quoted
        backbone.check_revision("someone/adapter", "v1")
    assert "when asked for the adapter someone/adapter at revision 'v1'" in str(err.value)
    assert "<hidden>" in str(err.value) and TOKEN not in str(err.value) and OTHER not in str(err.value)


def test_a_refused_push_does_not_leak_an_echoed_token(echo_hub, monkeypatch):
    import datasets

    from pricer.data.datasets import push

    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", hub.endpoint())  # datasets read HF_ENDPOINT at import
    data = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a"], "price": [1.0]})})
    with pytest.raises(BadInput, match="The Hub refused to push to me/pricer-data .400.: refused") as err:
        push(data, "me/pricer-data")
    assert echo_hub.paths and TOKEN not in str(err.value) and OTHER not in str(err.value)
    echo_hub.status = 500
    with pytest.raises(HubUnavailable, match=r"Pushing to me/pricer-data failed \(500\): refused") as err:
        push(data, "me/pricer-data")
    assert TOKEN not in str(err.value)


def test_following_a_deploy_does_not_leak_an_echoed_token(echo_hub):
    from pricer import deploy

    with pytest.raises(BadInput, match=r"get_space_runtime: the Hub refused it \(400\): refused") as err:
        deploy.wait_until_running("someone/space", poll_every=0, settle=0, say=lambda line: None)
    assert echo_hub.paths == ["/api/spaces/someone/space/runtime"]
    assert TOKEN not in str(err.value)


def test_reading_a_hub_dataset_does_not_leak_an_echoed_token(echo_hub, monkeypatch):
    import datasets

    from pricer.data.datasets import load_pricer_dataset

    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", hub.endpoint())
    with pytest.raises(HubUnavailable) as err:  # the resolver's access check, refused
        load_pricer_dataset("someone/pricer-data")
    assert echo_hub.paths == ["/api/datasets/someone/pricer-data/auth-check"]
    assert TOKEN not in str(err.value)
