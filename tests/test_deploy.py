"""Deploy: a valid manifest becomes an upload list and a plan of huggingface_hub calls; the real
huggingface_hub makes those calls against a local stand-in for the Hub, and no token value ever
leaks. (The manifest itself is checked in test_manifest.)"""

from __future__ import annotations

import base64
import json
import logging
import re

import pytest
from space_project import OWNER_SPACE, ROOT, TOKEN, write_manifest
from stand_in import JsonHandler, hub_online, serving

from pricer import deploy, hub
from pricer.cli import main
from pricer.errors import AccessDenied, HubUnavailable
from pricer.manifest import ManifestInvalid, load_manifest, render_readme

# --- files and plan ---------------------------------------------------------------------------


def test_zero_gpu_is_requested_but_not_suggested_on_the_card(project, token_env):
    manifest = load_manifest(write_manifest(project, hardware="zero-a10g"), token_env)
    assert "suggested_hardware" not in manifest.front_matter
    assert deploy.plan(manifest)[-2] == deploy.Call("request_space_hardware",
                                                    {"repo_id": OWNER_SPACE, "hardware": "zero-a10g"})


def test_upload_is_the_app_code_only(project, token_env):
    manifest = load_manifest(project / "spaces.yaml", token_env)
    assert deploy.upload_files(manifest) == ["app.py", "pricer/__init__.py", "pricer/config.py",
                                             "requirements.txt", "ui/__init__.py", "ui/predict_tab.py"]


def test_a_large_file_or_a_token_in_the_code_stops_the_upload(project, token_env):
    (project / "pricer" / "weights.py").write_text("W = '" + "0" * (1 << 20) + "'\n")
    (project / "ui" / "keys.py").write_text(f"KEY = '{TOKEN}'\n")
    manifest = load_manifest(project / "spaces.yaml", token_env)
    with pytest.raises(ManifestInvalid) as err:
        deploy.plan(manifest)
    assert err.value.problems == [
        "pricer/weights.py: 1,048,583 bytes; only code is uploaded (add it to exclude:)",
        "ui/keys.py line 1: looks like a Hugging Face token; move it to the environment and name it under secrets:"]


# --- the repository's own upload --------------------------------------------------------------


def test_the_space_installs_the_model_stack_tested_here_and_its_own_cuda_torch():
    from importlib.metadata import version

    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    pins = dict(re.match(r"([A-Za-z0-9_.-]+)(.*)", line).groups() for line in lines if line)
    assert {name: pins[name] for name in ("transformers", "peft", "bitsandbytes", "accelerate")} == {
        name: f"=={version(name)}" for name in ("transformers", "peft", "bitsandbytes", "accelerate")}
    assert pins["torch"] == ""  # unpinned: the Space installs the CUDA build
    assert not [line for line in lines if "+cpu" in line or "whl/cpu" in line or "index-url" in line]


def test_the_repository_upload_has_the_app_and_nothing_else(token_env):
    manifest = load_manifest(ROOT / "spaces.yaml", token_env)
    files = deploy.upload_files(manifest)
    deploy.plan(manifest)  # every file small, no secret in the code
    assert {"app.py", "requirements.txt", "pricer/__init__.py", "pricer/deploy.py", "ui/__init__.py"} <= set(files)
    # the browser's tokenizer library and view, and the library's licence
    assert {"ui/static/tokenizer_view.js", "ui/static/tokenizers/tokenizers.min.mjs",
            "ui/static/tokenizers/LICENSE"} <= set(files)
    assert {f.split("/")[0] for f in files} == {"app.py", "requirements.txt", "pricer", "ui"}
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    # every module of every wing (pricer/data too, although a folder named data is never uploaded),
    # and the data folders that travel with their code
    code = {p.relative_to(ROOT).as_posix() for p in (ROOT / "pricer").rglob("*.py") if "__pycache__" not in p.parts}
    assert code <= set(files)
    assert {"pricer/tokenizer/llama-3.1-tokenizer/tokenizer.model.gz", "pricer/tokenizer/llama-3.1-tokenizer/LICENSE",
            "pricer/pricers/cpu/shipped/model.safetensors", "pricer/pricers/cpu/shipped/model.json",
            "pricer/pricers/cpu/shipped/CARD.md"} <= set(files)


# --- dry run ----------------------------------------------------------------------------------


def test_dry_run_prints_front_matter_files_and_every_call_but_no_secret(project, token_env, capsys):
    assert main(["deploy", "--config", str(project / "spaces.yaml"), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert TOKEN not in out + err
    assert "suggested_hardware: t4-small" in out and "  ui/predict_tab.py  (18 bytes)" in out
    calls = [line.split(". ", 1)[1].split("(")[0] for line in out.splitlines() if line.startswith("  ") and ". " in line]
    assert calls == ["create_repo", "update_repo_settings", "create_commit", "add_space_variable", "add_space_variable",
                     "add_space_variable", "add_space_secret", "request_space_hardware", "set_space_sleep_time"]
    assert "add_space_secret(repo_id='someone/price-is-right', key='HF_TOKEN', value=(set from environment))" in out
    assert "nothing was sent" in err and "note:" not in out


def test_dry_run_notes_the_example_owner_and_a_missing_token(project, capsys, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(project / "no-stored-token"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    path = write_manifest(project, space_id="your-username/pricer", secrets=None)
    assert main(["deploy", "--config", str(path), "--dry-run"]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert [n.split(":")[1].strip() for n in notes] == ["space_id 'your-username/pricer' still has the example owner",
                                                        "no Hugging Face token found"]


def test_dry_run_without_hf_token_prints_the_plan_and_notes_the_token_and_the_secret(project, capsys, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(project / "no-stored-token"))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "SPACE_HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    path = write_manifest(project, secrets={"HF_TOKEN": "SPACE_HF_TOKEN"})
    assert main(["deploy", "--config", str(path), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert "add_space_secret(repo_id='someone/price-is-right', key='HF_TOKEN', value=(set from environment))" in out
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert notes == ["note: no Hugging Face token found: export HF_TOKEN=... (write access) before the real deploy",
                     "note: SPACE_HF_TOKEN is not set in this environment: the real deploy copies a Space secret "
                     "from it, so export it first"]
    assert "(not set)" not in out and "nothing was sent" in err
    with pytest.raises(ManifestInvalid, match="SPACE_HF_TOKEN is named but not set"):  # the real deploy refuses
        load_manifest(path)
    assert main(["deploy", "--config", str(path)]) == 2
    assert "SPACE_HF_TOKEN is named but not set" in capsys.readouterr().err


# --- the real huggingface_hub calls, against a local stand-in for the Hub -----------------------


class FakeHub(JsonHandler):
    """Answers the Space API like the Hub does, and records every request it gets."""

    requests: list[dict] = []
    stages: list[dict] = []
    fail: dict[str, int] = {}

    def answer(self):
        body = self.body()
        FakeHub.requests.append({"method": self.command, "path": self.path, "body": body,
                                 "headers": {k.lower(): v for k, v in self.headers.items()}})
        path, base = self.path.split("?")[0], f"http://{self.headers['Host']}"
        status, reply = 200, {}
        if any(path.endswith(suffix) for suffix in FakeHub.fail):
            status = next(code for suffix, code in FakeHub.fail.items() if path.endswith(suffix))
            reply = {"error": f"refused {body.decode()}"}  # a careless server that echoes what it got
        elif path == "/api/repos/create":
            payload = json.loads(body)
            reply = {"url": f"{base}/spaces/{payload['organization']}/{payload['name']}"}
        elif path == "/api/validate-yaml":
            reply = {"errors": [], "warnings": []}
        elif "/preupload/" in path:
            files = json.loads(body)["files"]
            reply = {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                               for f in files]}
        elif "/commit/" in path:
            space = path.split("/api/spaces/")[1].split("/commit/")[0]
            reply = {"commitUrl": f"{base}/spaces/{space}/commit/{'a' * 40}", "commitOid": "a" * 40}
        elif path.endswith(("/hardware", "/sleeptime")):
            reply = {"stage": "BUILDING", "hardware": {"current": None, "requested": "t4-small"}}
        elif path.endswith("/runtime"):
            reply = FakeHub.stages.pop(0)
        elif not path.endswith(("/variables", "/secrets", "/settings")):
            status = 404
        self.send_json(status, reply)


@pytest.fixture
def fake_hub(monkeypatch, token_env):
    """The local Hub, reached through the real huggingface_hub for this test only."""
    FakeHub.requests, FakeHub.stages, FakeHub.fail = [], [], {}
    with serving(FakeHub) as url:
        hub_online(monkeypatch, url)
        yield FakeHub


def test_deploy_makes_the_real_calls_in_order_with_the_token_only_in_the_header(project, fake_hub, capsys):
    url = deploy.run(load_manifest(project / "spaces.yaml"), say=print)
    assert url == f"{hub.endpoint()}/spaces/{OWNER_SPACE}"
    space = f"/api/spaces/{OWNER_SPACE}"
    assert [(r["method"], r["path"]) for r in fake_hub.requests] == [
        ("POST", "/api/repos/create"),
        ("PUT", f"{space}/settings"),
        ("POST", "/api/validate-yaml"),
        ("POST", f"{space}/preupload/main"),
        ("POST", f"{space}/commit/main"),
        ("POST", f"{space}/variables"), ("POST", f"{space}/variables"), ("POST", f"{space}/variables"),
        ("POST", f"{space}/secrets"),
        ("POST", f"{space}/hardware"),
        ("POST", f"{space}/sleeptime"),
    ]
    bodies = [r["body"] for r in fake_hub.requests]
    assert json.loads(bodies[0]) == {"name": "price-is-right", "organization": "someone", "type": "space",
                                     "sdk": "gradio", "visibility": "private"}
    assert json.loads(bodies[1]) == {"visibility": "private"}
    assert [json.loads(b) for b in bodies[5:8]] == [
        {"key": "PRICER_BASE_MODEL", "value": "meta-llama/Meta-Llama-3.1-8B"},
        {"key": "PRICER_ADAPTER_REVISION", "value": "e8d637df551603dc86cd7a1598a8f44af4d7ae36"},
        {"key": "PRICER_PRELOAD", "value": "1"}]
    assert json.loads(bodies[8]) == {"key": "HF_TOKEN", "value": TOKEN}
    assert json.loads(bodies[9]) == {"flavor": "t4-small"} and json.loads(bodies[10]) == {"seconds": 3600}

    # the token: in every Authorization header, in the add-secret body (its purpose), nowhere else
    for r in fake_hub.requests:
        assert r["headers"]["authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in r["path"]
        assert not [k for k, v in r["headers"].items() if TOKEN in v and k != "authorization"]
    assert [n for n, b in enumerate(bodies) if TOKEN.encode() in b] == [8]
    out = capsys.readouterr().out
    assert TOKEN not in out and "[7/9] secret HF_TOKEN set from the environment" in out
    assert not [p for p in project.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]


def test_hf_debug_logs_every_request_but_never_the_secret_value(project, fake_hub, monkeypatch, caplog):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_DEBUG", True)  # huggingface_hub then logs each request as curl
    caplog.set_level(logging.DEBUG, logger="huggingface_hub")
    deploy.run(load_manifest(project / "spaces.yaml"), say=lambda line: None)
    sent = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Send: curl")]
    assert any("/variables" in m and "PRICER_PRELOAD" in m for m in sent)  # bodies are logged...
    assert any("/secrets" in m for m in caplog.messages)  # ...the secret call is made and seen...
    assert TOKEN not in caplog.text  # ...but never its value
    assert constants.HF_DEBUG is True


def test_the_commit_carries_the_rendered_readme_and_the_app_files_inline(project, fake_hub):
    manifest = load_manifest(project / "spaces.yaml")
    deploy.run(manifest, say=lambda line: None)
    commit = next(r for r in fake_hub.requests if "/commit/" in r["path"])
    assert commit["headers"]["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in commit["body"].splitlines()]
    assert lines[0] == {"key": "header", "value": {"summary": deploy.COMMIT_MESSAGE, "description": ""}}
    assert {line["key"] for line in lines[1:]} == {"file"}  # inline base64: no LFS or Xet upload
    files = {line["value"]["path"]: base64.b64decode(line["value"]["content"]) for line in lines[1:]}
    assert files.pop("README.md").decode() == render_readme(manifest)
    assert files == {name: (project / name).read_bytes() for name in deploy.upload_files(manifest)}


def test_a_refused_token_is_explained_without_showing_it(project, fake_hub):
    fake_hub.fail = {"/api/repos/create": 401}
    with pytest.raises(AccessDenied) as err:
        deploy.run(load_manifest(project / "spaces.yaml"), say=lambda line: None)
    assert "write access" in str(err.value) and TOKEN not in str(err.value)


@pytest.mark.parametrize("path, status, error, says", [
    ("/api/repos/create", 403, AccessDenied, "not allowed to change someone/price-is-right (403)"),
    ("/sleeptime", 400, deploy.BadInput, "set_space_sleep_time: the Hub refused it (400)"),
    ("/api/validate-yaml", 400, deploy.BadInput, "create_commit: Invalid metadata in README.md"),
    ("/hardware", 503, HubUnavailable, "request_space_hardware failed (503)"),
    ("/secrets", 400, deploy.BadInput, "add_space_secret: the Hub refused it (400)"),
    ("/secrets", 500, HubUnavailable, "add_space_secret failed (500)"),
])
def test_each_refusal_names_the_call_that_failed(project, fake_hub, path, status, error, says):
    fake_hub.fail = {path: status}
    with pytest.raises(error, match=re.escape(says)) as err:
        deploy.run(load_manifest(project / "spaces.yaml"), say=lambda line: None)
    assert TOKEN not in str(err.value)  # even when the Hub's message quotes the secret it was sent


def test_the_cli_deploys_waits_and_prints_the_url(project, fake_hub, capsys, monkeypatch):
    monkeypatch.setattr(deploy, "POLL_SECONDS", 0.01)
    fake_hub.stages = [{"stage": "BUILDING"}, {"stage": "RUNNING"}]
    assert main(["deploy", "--config", str(project / "spaces.yaml"), "--wait"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{hub.endpoint()}/spaces/{OWNER_SPACE}\n"
    assert "[9/9] sleep time 3600 s" in err and "stage RUNNING after" in err and TOKEN not in out + err


def test_the_cli_shows_the_runtime_error_in_one_message(project, fake_hub, capsys, monkeypatch):
    monkeypatch.setattr(deploy, "POLL_SECONDS", 0.01)
    fake_hub.stages = [{"stage": "APP_STARTING"},
                       {"stage": "RUNTIME_ERROR", "errorMessage": "Exit code: 1. Reason: CUDA out of memory"}]
    assert main(["deploy", "--config", str(project / "spaces.yaml"), "--wait"]) == 2
    out, err = capsys.readouterr()
    assert "error: The Space stopped at RUNTIME_ERROR: Exit code: 1. Reason: CUDA out of memory" in err
    assert out == f"{hub.endpoint()}/spaces/{OWNER_SPACE}\n"  # printed before the wait, so it is there to open


def test_wait_follows_the_build_until_running(project, fake_hub):
    fake_hub.stages = [{"stage": s} for s in ("RUNNING", "BUILDING", "APP_STARTING", "RUNNING")]
    seen = []
    assert deploy.wait_until_running(OWNER_SPACE, poll_every=0.01, settle=60, say=seen.append) == "RUNNING"
    assert [line.split(" after")[0] for line in seen] == [
        "stage RUNNING", "stage BUILDING", "stage APP_STARTING", "stage RUNNING"]


def test_wait_shows_the_build_error(project, fake_hub):
    fake_hub.stages = [{"stage": "BUILDING"},
                       {"stage": "BUILD_ERROR", "errorMessage": "ERROR: No matching distribution for peft==9.9"}]
    with pytest.raises(deploy.SpaceFailed) as err:
        deploy.wait_until_running(OWNER_SPACE, poll_every=0.01, say=lambda line: None)
    assert str(err.value).startswith("The Space stopped at BUILD_ERROR: ERROR: No matching distribution for peft==9.9")
    assert f"/spaces/{OWNER_SPACE}?logs=build" in str(err.value)


def test_a_connection_lost_while_waiting_is_one_message_with_the_url(project, token_env, monkeypatch):
    with serving(FakeHub) as url:
        pass  # the port is closed again: nothing answers there any more
    hub_online(monkeypatch, url)
    with pytest.raises(HubUnavailable, match=f"Lost the Hub .* follow it at {re.escape(url)}/spaces/{OWNER_SPACE}"):
        deploy.wait_until_running(OWNER_SPACE, poll_every=0, say=lambda line: None)


def test_offline_mode_stops_the_deploy_before_any_request(project, token_env):
    with pytest.raises(HubUnavailable, match="HF_HUB_OFFLINE is set.*--dry-run"):
        deploy.run(load_manifest(project / "spaces.yaml"), say=lambda line: None)


def test_the_example_owner_must_be_replaced_before_a_real_deploy(project, token_env):
    manifest = load_manifest(write_manifest(project, space_id="your-username/the-price-is-right"))
    with pytest.raises(deploy.BadInput, match="still has the example owner"):
        deploy.run(manifest, say=lambda line: None)
