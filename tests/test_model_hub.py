"""load_pricer against a local stand-in for the Hugging Face Hub: a gated base model without a
token, an unknown hub id and an adapter revision that does not exist each end in one message
saying what to do, and the token only ever travels in the Authorization header.

The stand-in answers the way huggingface.co does (status codes and X-Error-Code headers that
huggingface_hub turns into GatedRepoError, RepositoryNotFoundError and RevisionNotFoundError);
the calls are the real ones pricer.pricers.llama.model makes through huggingface_hub.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from stand_in import JsonHandler, hub_online, serving

from pricer import hub
from pricer.errors import AccessDenied, HubUnavailable, NotFound
from pricer.pricers.llama.model import ModelSpec, load_pricer, model_status

GATED = "meta-llama/Meta-Llama-3.1-8B"
ADAPTER = "ed-donner/pricer-2024-09-13_13.04.39"
REVISION = "e8d637df551603dc86cd7a1598a8f44af4d7ae36"
TOKEN = "hf_" + "s3cr3t" * 6


class StandInHub(JsonHandler):
    """The Hub's model API for three repos: GATED (licence not accepted), ADAPTER (public, one
    known commit) and nothing else (unknown). Records every request it gets."""

    requests: list[dict] = []
    outage = False
    """When true, every revision lookup answers 503, as the Hub does in an outage."""

    def do_GET(self):  # noqa: N802
        StandInHub.requests.append({"path": self.path,
                                    "headers": {k.lower(): v for k, v in self.headers.items()}})
        path = self.path.split("?")[0]
        authorized = "authorization" in {k.lower() for k in self.headers}
        if path == f"/api/models/{GATED}/auth-check":
            if authorized:  # signed in, licence not accepted
                self.refuse(403, "GatedRepo", f"Access to model {GATED} is restricted and you are not in "
                            "the authorized list.")
            else:
                self.refuse(401, "GatedRepo", f"Access to model {GATED} is restricted. You must have access "
                            "to it and be authenticated to access it. Please log in.")
        elif path == f"/api/models/{ADAPTER}/auth-check":
            self.send_json(200, {})
        elif path.startswith(f"/api/models/{ADAPTER}/revision/"):
            revision = path.rsplit("/", 1)[1]
            if StandInHub.outage:
                self.refuse(503, "", "Service Unavailable")
            elif revision in {REVISION, "main"}:
                self.send_json(200, {"id": ADAPTER, "modelId": ADAPTER, "sha": REVISION, "private": False})
            else:
                self.refuse(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        else:  # the Hub says 401 to anonymous callers and 404 to signed-in ones
            self.refuse(404 if authorized else 401, "RepoNotFound", "Repository not found")

    def refuse(self, status: int, code: str, message: str) -> None:
        data = b'{"error": "' + message.encode() + b'"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def stand_in_hub(monkeypatch, tmp_path):
    """The stand-in Hub, reached through the real huggingface_hub; no token anywhere to start with."""
    from huggingface_hub import constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token-file"))
    StandInHub.requests, StandInHub.outage = [], False
    with serving(StandInHub) as url:
        hub_online(monkeypatch, url)
        yield StandInHub.requests


def assert_token_only_in_the_authorization_header(requests: list[dict], *shown: str) -> None:
    assert requests
    for request in requests:
        assert TOKEN not in request["path"]
        assert request["headers"].get("authorization") == f"Bearer {TOKEN}"
        assert not [k for k, v in request["headers"].items() if TOKEN in v and k != "authorization"]
    for text in shown:
        assert TOKEN not in text


def test_gated_base_model_without_a_token_says_accept_the_licence_and_set_hf_token(stand_in_hub):
    spec = ModelSpec(GATED)
    with pytest.raises(AccessDenied) as err:
        load_pricer(spec)
    message = str(err.value)
    assert "accept the licence" in message and f"https://huggingface.co/{GATED}" in message
    assert "set it as HF_TOKEN" in message and "No HF_TOKEN is set." in message
    assert "\n" not in message
    assert [r["path"] for r in stand_in_hub] == [f"/api/models/{GATED}/auth-check"]
    assert "authorization" not in stand_in_hub[0]["headers"]
    assert "failed" in model_status(spec) and "accept the licence" in model_status(spec)


def test_gated_base_model_with_a_token_that_lacks_access_sends_it_only_in_the_header(stand_in_hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    spec = ModelSpec(GATED)
    with pytest.raises(AccessDenied) as err:
        load_pricer(spec)
    assert "accept the licence" in str(err.value) and "No HF_TOKEN is set." not in str(err.value)
    assert_token_only_in_the_authorization_header(stand_in_hub, str(err.value), model_status(spec))


def test_unknown_base_model_id_is_not_found_with_a_hint_to_check_the_spelling(stand_in_hub):
    with pytest.raises(NotFound) as err:
        load_pricer(ModelSpec("meta-llama/Meta-Llama-3.1-8X"))
    message = str(err.value)
    assert "No model called 'meta-llama/Meta-Llama-3.1-8X' on the Hugging Face Hub" in message
    assert "Check the spelling" in message and "set HF_TOKEN" in message  # it may be private
    assert [r["path"] for r in stand_in_hub] == ["/api/models/meta-llama/Meta-Llama-3.1-8X/auth-check"]


def test_unknown_adapter_id_is_not_found_after_the_local_base_loads(stand_in_hub, tiny_model: Path):
    with pytest.raises(NotFound, match="No model called 'someone/no-such-adapter'.*Check the spelling"):
        load_pricer(ModelSpec(str(tiny_model), "someone/no-such-adapter"))
    # the local base never went to the hub: only the adapter was asked about
    assert [r["path"] for r in stand_in_hub] == ["/api/models/someone/no-such-adapter/auth-check"]


def test_adapter_revision_that_does_not_exist_says_which_and_what_to_give(stand_in_hub, tiny_model: Path,
                                                                         monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    spec = ModelSpec(str(tiny_model), ADAPTER, "0123456789abcdef0123456789abcdef01234567")
    with pytest.raises(NotFound) as err:
        load_pricer(spec)
    message = str(err.value)
    assert message == (
        f"The adapter {ADAPTER} has no revision '0123456789abcdef0123456789abcdef01234567'. Give a commit "
        "hash, branch or tag that exists (PRICER_ADAPTER_REVISION or --revision), or 'none' for the latest."
    )
    assert [r["path"] for r in stand_in_hub] == [
        f"/api/models/{ADAPTER}/auth-check",
        f"/api/models/{ADAPTER}/revision/0123456789abcdef0123456789abcdef01234567",
    ]
    assert "failed" in model_status(spec) and "has no revision" in model_status(spec)
    assert_token_only_in_the_authorization_header(stand_in_hub, message, model_status(spec))
    # the local base is unharmed: it still loads and prices on its own
    from pricer.data.items import PREFIX, QUESTION

    assert load_pricer(ModelSpec(str(tiny_model))).predict([f"{QUESTION}\n\nA lamp\n\n{PREFIX}"])


def test_a_revision_name_is_sent_quoted_in_the_path_never_as_a_query(stand_in_hub, tiny_model: Path):
    with pytest.raises(NotFound, match="has no revision 'release/v2'"):
        load_pricer(ModelSpec(str(tiny_model), ADAPTER, "release/v2"))
    assert stand_in_hub[-1]["path"] == f"/api/models/{ADAPTER}/revision/release%2Fv2"


def test_a_hub_outage_on_the_revision_lookup_says_try_again_at_once(stand_in_hub, tiny_model: Path):
    StandInHub.outage = True
    with pytest.raises(HubUnavailable) as err:
        load_pricer(ModelSpec(str(tiny_model), ADAPTER, REVISION))
    assert str(err.value) == (
        f"The Hugging Face Hub ({hub.endpoint()}) answered 503 when asked for the adapter {ADAPTER} at "
        f"revision {REVISION!r}. Try again in a minute, or give the adapter's local folder."
    )
    # nothing more was asked: no download retries ending in a wrong "cannot be applied" message
    assert [r["path"].split("?")[0] for r in stand_in_hub] == [
        f"/api/models/{ADAPTER}/auth-check", f"/api/models/{ADAPTER}/revision/{REVISION}"]
