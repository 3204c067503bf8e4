"""scripts/dev's set-up: pip runs only when a requirement is missing or changed, so starting the
app or the tests does not wait 20-30 s for pip's index look-ups; a fresh machine still installs."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "scripts" / "requirements_met.py"


def met(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), str(path)], capture_output=True, text=True)


@pytest.mark.parametrize("lines, unmet", [
    ([f"pytest=={version('pytest')}", "pyyaml>=6", "# a comment", "", "torch  # unpinned"], None),
    (["pytest==1.0.0"], f"pytest==1.0.0 ({version('pytest')} installed)"),
    (["no-such-package-for-pricer==1.0"], "no-such-package-for-pricer==1.0 (not installed)"),
    (["no-such-package-for-pricer==1.0; python_version < '3'"], None),  # not for this Python
])
def test_a_requirement_is_met_only_at_an_allowed_installed_version(tmp_path, lines, unmet):
    path = tmp_path / "requirements.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = met(path)
    assert done.returncode == (1 if unmet else 0)
    assert done.stdout.strip() == (f"needs {unmet}" if unmet else "")


def test_included_files_count(tmp_path):
    (tmp_path / "base.txt").write_text("pytest==1.0.0\n", encoding="utf-8")
    (tmp_path / "dev.txt").write_text("-r base.txt\npyyaml>=6\n", encoding="utf-8")
    assert "pytest==1.0.0" in met(tmp_path / "dev.txt").stdout


@pytest.fixture
def dev_copy(tmp_path) -> tuple[Path, dict[str, str], Path]:
    """scripts/dev and the requirement files in a folder of their own, run by a python that
    logs its arguments and pretends every pip call worked (so nothing here is installed)."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in ("scripts/dev", "scripts/requirements_met.py", "scripts/hub_reachable.py", "requirements.txt",
                 "requirements-dev.txt"):
        shutil.copy2(ROOT / name, repo / name)
    log = tmp_path / "python-calls.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_python = bin_dir / "logged-python"
    fake_python.write_text(f'#!/usr/bin/env bash\necho "$*" >> {log}\n'
                           f'if [ "$1 $2" = "-m pip" ]; then exit 0; fi\nexec {sys.executable} "$@"\n')
    (bin_dir / "chromium").write_text("#!/bin/sh\n")  # present, so set-up never reaches apt-get
    for tool in (fake_python, bin_dir / "chromium"):
        tool.chmod(0o755)
    env = {**os.environ, "PYTHON": str(fake_python), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    return repo, env, log


def pip_calls(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("-m pip")]


def test_setup_skips_pip_when_nothing_changed(dev_copy):
    repo, env, log = dev_copy
    subprocess.run(["bash", str(repo / "scripts" / "dev"), "setup"], env=env, check=True, timeout=120)
    assert log.exists() and pip_calls(log) == []


def test_setup_runs_pip_when_a_requirement_changed(dev_copy):
    repo, env, log = dev_copy
    with (repo / "requirements.txt").open("a", encoding="utf-8") as f:
        f.write("no-such-package-for-pricer==1.0\n")
    done = subprocess.run(["bash", str(repo / "scripts" / "dev"), "setup"], env=env, check=True, timeout=120,
                          capture_output=True, text=True)
    assert pip_calls(log) == ["-m pip install -q -r requirements-dev.txt"]
    assert "no-such-package-for-pricer==1.0 (not installed)" in done.stderr


@pytest.mark.parametrize("shared, preset, expected", [
    (True, None, "{repo}/../shared/data/test-250.jsonl"),  # the course's items beside the repository
    (True, "ed-donner/pricer-data", "ed-donner/pricer-data"),  # a dataset named already wins
    (False, None, ""),  # nothing beside it: the app's own default (the hub dataset)
])
def test_demo_points_the_app_at_the_local_test_items_through_the_settings(dev_copy, shared, preset, expected):
    repo, env, log = dev_copy
    fake = Path(env["PYTHON"])
    # this python also stands in for `-m pricer tiny-model` and app.py: it logs what the app would read
    fake.write_text(fake.read_text().replace(
        "exec ", 'if [ "$1 $2" = "-m pricer" ]; then exit 0; fi\n'
                 'if [ "$1" = app.py ]; then echo "app PRICER_DATASET=${PRICER_DATASET:-} '
                 'PRICER_BASE_MODEL=$PRICER_BASE_MODEL HF_HUB_OFFLINE=$HF_HUB_OFFLINE" >> ' + str(log) + "; exit 0; fi\n"
                 "exec ", 1))
    if shared:
        (repo.parent / "shared" / "data").mkdir(parents=True)
        (repo.parent / "shared" / "data" / "test-250.jsonl").write_text('{"text": "x", "price": 1}\n')
    env = {k: v for k, v in env.items() if k != "PRICER_DATASET"}
    if preset:
        env["PRICER_DATASET"] = preset
    env["PRICER_DEMO_DIR"] = str(repo / "tiny")
    subprocess.run(["bash", str(repo / "scripts" / "dev"), "demo"], env=env, check=True, timeout=120)
    [app] = [line for line in log.read_text().splitlines() if line.startswith("app ")]
    assert app == (f"app PRICER_DATASET={expected.format(repo=repo)} PRICER_BASE_MODEL={repo / 'tiny'} "
                   "HF_HUB_OFFLINE=1")


def _logging_app(env: dict[str, str], log: Path) -> None:
    """The fake python also stands in for `-m pricer tiny-model` and app.py: it logs what the app would read."""
    fake = Path(env["PYTHON"])
    fake.write_text(fake.read_text().replace(
        "exec ", 'if [ "$1 $2" = "-m pricer" ]; then exit 0; fi\n'
                 'if [ "$1" = app.py ]; then echo "app PRICER_DATASET=${PRICER_DATASET:-} '
                 'HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-}" >> ' + str(log) + "; exit 0; fi\n"
                 "exec ", 1))


class _Hub(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802 (http.server's name)
        self.send_response(401)  # what the hub says to a request without a token: it is there
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("online", [False, True])
def test_app_runs_on_the_local_test_items_when_the_hub_cannot_be_reached(dev_copy, online):
    repo, env, log = dev_copy
    _logging_app(env, log)
    (repo.parent / "shared" / "data").mkdir(parents=True)
    (repo.parent / "shared" / "data" / "test-250.jsonl").write_text('{"text": "x", "price": 1}\n')
    env = {k: v for k, v in env.items() if k not in {"PRICER_DATASET", "HF_HUB_OFFLINE"}}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    if not online:
        server.shutdown()
        server.server_close()  # nothing listens there now: the connection is refused
    env["HF_ENDPOINT"] = f"http://127.0.0.1:{port}"
    try:
        done = subprocess.run(["bash", str(repo / "scripts" / "dev"), "app"], env=env, check=True, timeout=120,
                              capture_output=True, text=True)
    finally:
        if online:
            server.shutdown()
    [app] = [line for line in log.read_text().splitlines() if line.startswith("app ")]
    if online:  # the hub answers: the app's own default dataset, nothing changed
        assert app == "app PRICER_DATASET= HF_HUB_OFFLINE="
        assert "offline" not in done.stderr
    else:
        assert app == f"app PRICER_DATASET={repo}/../shared/data/test-250.jsonl HF_HUB_OFFLINE=1"
        assert "cannot be reached" in done.stderr
