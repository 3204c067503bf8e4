"""The app as a Space installs and runs it, not as the development environment does.

A clean virtualenv gets exactly what a Space installs: CPU torch 2.13.0 (standing in for the
Space's CUDA build), then requirements.txt and gradio at the front matter's sdk_version. The
files deploy uploads (and the rendered README) go to a fresh folder, and app.py starts there with
the Space's variables from spaces.yaml, no HF_TOKEN and the hub unreachable: its endpoint is a
closed local port, and in a second run HF_HUB_OFFLINE is set too. Through the API, as any caller
would, each tab's no-GPU path must work or say what it cannot do: the Tokenizer tab tokenizes with
the offline copy, Predict and Evaluate explain why the model cannot run, and Evaluate still scores
a guesses file; the CPU pricer, which ships with the app, prices and evaluates.

It builds a virtualenv (about 3 minutes; pip's cache makes later builds faster) and needs PyPI,
so it runs only when asked: PRICER_SPACE_INSTALL=1 (.ci/run sets it), e.g.
    PRICER_SPACE_INSTALL=1 python -m pytest -q tests/test_space_install.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port

from pricer import deploy
from pricer.manifest import load_manifest, render_readme

ROOT = Path(__file__).resolve().parent.parent
CPU_TORCH = "torch==2.13.0"
LLAMA = "meta-llama/Meta-Llama-3.1-8B"
# Words one of which a "cannot run here" message must use to say why.
REASONS = ("cannot be reached", "HF_HUB_OFFLINE", "HF_TOKEN", "GPU")
START_SECONDS = 300

pytestmark = [
    pytest.mark.space_install,
    pytest.mark.skipif(os.environ.get("PRICER_SPACE_INSTALL") != "1",
                       reason="builds a virtualenv as a Space does (minutes, needs PyPI): "
                              "set PRICER_SPACE_INSTALL=1 to run it (.ci/run does)"),
]


def run(command: list[str], **kwargs) -> str:
    """Run a command; on failure, fail the test with the end of its output."""
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        output = "\n".join(line for line in (done.stdout + done.stderr).splitlines()
                           if "is ignored: it is neither a file nor a directory" not in line)
        pytest.fail(f"{' '.join(command)} failed ({done.returncode}):\n{output[-4000:]}")
    return done.stdout


@pytest.fixture(scope="module")
def manifest(token_env_module):
    return load_manifest(ROOT / "spaces.yaml", token_env_module)


@pytest.fixture(scope="module")
def token_env_module():
    """spaces.yaml names secrets that must be set to load it; their values are never used here."""
    return {"HF_TOKEN": "not-a-real-token"}


@pytest.fixture(scope="module")
def space_folder(manifest, tmp_path_factory) -> Path:
    """The files deploy uploads, and the README the Space gets, in a folder of their own."""
    folder = tmp_path_factory.mktemp("space")
    for name in deploy.upload_files(manifest):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, folder / name)
    (folder / "README.md").write_text(render_readme(manifest), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def space_python(manifest, space_folder, tmp_path_factory) -> Iterator[Path]:
    """A clean virtualenv with what the Space installs; its python."""
    wanted = str(manifest.front_matter.get("python_version", ""))
    if wanted and f"{sys.version_info.major}.{sys.version_info.minor}" != wanted:
        pytest.skip(f"the Space runs Python {wanted}; this is {sys.version.split()[0]}")
    gradio = manifest.front_matter["sdk_version"]
    venv = tmp_path_factory.mktemp("space-venv")
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, CPU_TORCH], timeout=1800)
    run([*pip, "-r", str(space_folder / "requirements.txt"), f"gradio=={gradio}"], timeout=1800)
    run([str(python), "-m", "pip", "check"])
    installed = run([str(python), "-c", "import gradio, torch; print(gradio.__version__, torch.__version__)"])
    assert installed.split()[0] == gradio and installed.split()[1].startswith("2.13.0")
    yield python
    shutil.rmtree(venv, ignore_errors=True)  # about 2 GB


@pytest.fixture(scope="module")
def closed_port():
    """A local port bound but not listening: every connection to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture(scope="module", params=["hub unreachable", "HF_HUB_OFFLINE=1"])
def space(request, manifest, space_folder, space_python, closed_port, tmp_path_factory):
    """app.py running in the Space's virtualenv without a token or hub: (url, case)."""
    home = tmp_path_factory.mktemp("home")  # no token file, no cache from this machine
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
           **manifest.variables, "PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_ENDPOINT": f"http://127.0.0.1:{closed_port}"}
    if request.param == "HF_HUB_OFFLINE=1":
        env["HF_HUB_OFFLINE"] = "1"
    log = home / "app.log"
    with log.open("w") as out:
        server = subprocess.Popen([str(space_python), "app.py"], cwd=space_folder, env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(f"app.py exited with {server.returncode}:\n{log.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not answer within {START_SECONDS} s:\n{log.read_text()[-4000:]}")
            time.sleep(1)
        yield url, request.param
        # Every call above was answered and none took the server down.
        assert server.poll() is None, f"app.py died:\n{log.read_text()[-4000:]}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def client(space):
    from gradio_client import Client

    return Client(space[0], verbose=False)


# Each tab's no-GPU path, one check each, through its endpoints.


def explains(message: str, *, names: str) -> None:
    """A message a user can act on: it names what failed and says why."""
    assert names in message and any(reason in message for reason in REASONS), message


def test_the_page_promises_the_offline_tokenizer(space):
    with urllib.request.urlopen(space[0] + "config", timeout=30) as answer:
        config = json.dumps(json.load(answer))
    assert "HF_TOKEN is not set" in config and "offline copy" in config


def tokenize(client, text: str) -> dict:
    """The /tokenize endpoint: the tokenization of `text` by Llama 3.1, as a dict."""
    return client.predict(text, LLAMA, True, False, api_name="/tokenize")


def test_the_tokenizer_tab_works_with_the_offline_copy(client):
    result = tokenize(client, "hello world")
    assert not result.get("error"), result
    assert result["ids"] == [128000, 15339, 1917] and result["pieces"] == ["<|begin_of_text|>", "hello", " world"]
    assert "offline copy" in result["tokenizer"] and "offline copy" in result["note"]
    assert tokenize(client, "I am excited to show Tokenizers in action to my LLM engineers")["count"] == 15


def test_the_tokenizer_tab_tokenizes_in_the_visitors_browser(space, browser):
    """The vendored tokenizers.js and the exported tokenizer.json reach a real browser from the
    Space's own install: typing sends the server nothing."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(space[0])
        page.locator("#tok-status", has_text="Tokenized in your browser").wait_for(timeout=120_000)
        sent: list[str] = []
        page.on("request", lambda r: "/queue/join" in r.url and sent.append(r.url))
        page.locator("#tok-text textarea").fill("hello world")
        page.locator("#tok-stats .count", has_text=re.compile("^3$")).wait_for(timeout=30_000)
        assert page.locator("#tok-chips .chip").all_inner_texts() == ["<|begin_of_text|>", "hello", "␣world"]
        assert sent == []
    finally:
        context.close()


def test_predict_says_why_the_model_cannot_run(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict("Stainless Steel Garlic Press\nCrushes garlic cloves, dishwasher safe", "fine-tuned",
                       api_name="/predict")
    explains(str(err.value), names=LLAMA)


def test_the_cpu_pricer_prices_without_a_gpu_or_the_hub(client):
    out = client.predict("Stainless Steel Garlic Press\nCrushes garlic cloves, dishwasher safe", "cpu",
                         api_name="/price")
    (cpu,) = out["prices"]
    assert cpu["pricer"] == "cpu" and cpu["low"] <= cpu["price"] <= cpu["high"]


def evaluate(client, pricer: str, size: int, data: str = "", items: Path | None = None,
             guesses: Path | None = None) -> tuple[dict, str]:
    """The /evaluate endpoint: (the metrics as numbers, the CSV the client downloaded)."""
    from gradio_client import handle_file

    files = [handle_file(str(f)) if f else None for f in (items, guesses)]
    return client.predict(pricer, data, *files, size, None, api_name="/evaluate")


def refusal(client, *args, **kwargs) -> str:
    """The message of the error /evaluate answers with."""
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        evaluate(client, *args, **kwargs)
    return str(err.value)


def test_evaluate_says_why_the_hub_dataset_cannot_load(client, manifest):
    dataset = manifest.variables["PRICER_DATASET"]
    explains(refusal(client, "cpu", 5, data=dataset), names=dataset)


def test_evaluate_says_why_the_model_cannot_run_on_uploaded_items(client, tmp_path):
    explains(refusal(client, "fine-tuned", 3, items=write_items(tmp_path)), names=LLAMA)


def test_evaluate_runs_the_cpu_pricer_on_uploaded_items(client, tmp_path):
    metrics, csv_file = evaluate(client, "cpu", 3, items=write_items(tmp_path))
    assert metrics["done"] and metrics["items"] == 3 and metrics["error"] >= 0 and Path(csv_file).is_file()


def test_evaluate_scores_a_guesses_file_without_a_model(client, tmp_path):
    guesses = tmp_path / "guesses.csv"
    guesses.write_text("index,guess\n0,300\n1,20\n2,50\n", encoding="utf-8")
    metrics, csv_file = evaluate(client, "guesses", 3, items=write_items(tmp_path), guesses=guesses)
    assert metrics["items"] == 3 and round(metrics["error"], 2) == 18.33 and round(metrics["hits"], 3) == 0.667
    import csv

    with open(csv_file, encoding="utf-8") as f:
        assert sorted(float(row["guess"]) for row in csv.DictReader(f)) == [20.0, 50.0, 300.0]


def write_items(folder: Path) -> Path:
    """Three test items whose true prices are 300, 25 and 100."""
    path = folder / "items.jsonl"
    rows = [("A stainless steel garlic press", 300.0), ("A box of pencils", 25.0), ("A desk lamp", 100.0)]
    path.write_text("".join(json.dumps({"text": f"How much does this cost to the nearest dollar?\n\n{title}"
                                                f"\n\nPrice is $", "price": price}) + "\n"
                            for title, price in rows), encoding="utf-8")
    return path
