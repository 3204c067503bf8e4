"""Every `python -m pricer ...` line in a fenced block of the README runs as written, in order,
from a fresh working folder laid out as the README's root (pricer run in place, `../shared/data`
beside it), so the README stays true: a new line that cannot run here fails this test.

Nothing leaves the machine. The Hub is a local stand-in (HubStandIn, below) that serves what the
lines name: the course's base model and adapter (as the tiny random-weight test model and its
adapter, PRICER_ALLOW_CPU=1 letting it load on this CPU as the 8B would on a GPU), the course's
dataset (its test split: the 250 test items and the next 1,000 of ../shared/data; its train
split: 8 items, so one epoch of `qlora` is 2 steps), two categories of the raw Amazon data (made
from the course's items), and the repo, Space and Job calls of qlora and deploy. OpenAI is
tests/openai_stand_in.py. The folder holds what a user brings to the lines: their raw file,
tokenizer, model and adapter, guesses, training files, and spaces.yaml with their own Space id
(step 2 of "Deploy your own Space"). HF_TOKEN is a stand-in token that no output may show.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from stand_in import JsonHandler, serving

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TOKEN = "hf_ReadmeStandInToken0123456789abcdef"

# Lines that are not run, each with the reason (empty: every line runs).
NOT_RUN: dict[str, str] = {}

# What each line must print (a regex over its stderr, then its stdout), by a fragment of the command that
# picks out one line: a line without one fails, so every new line says what it proves.
EXPECT: dict[str, str] = {
    "curate --source Appliances Automotive": r"Appliances: kept [\d,]+ of 1,400[\s\S]*Automotive: kept [\d,]+ of 1,400",
    "curate --source ./raw/meta_Toys_and_Games.jsonl": r"Toys_and_Games: kept \d of 5",
    "--seed 42 --out data/": r"2,000 test",
    "--push-to-hub you/pricer-data --dry-run": r"dry run: would push train and test to you/pricer-data",
    "--validation 50 --out ft/": r"fine_tune_train\.jsonl",
    "--out ft/ --upload": r"file-\d",
    "tokenize --text \"I am excited": r'"count": 15',
    "tokenize --text 'Price is $374.41'": r"\d+ tokens",
    "decode 128000 40 1097": r"<\|begin_of_text\|>I am",
    "decode --batch": r'(?m)^"<\|begin_of_text\|>I am"\n" price is \$"$',
    "vocab \" price\"": r"3430  ' price'",
    "predict --text $'Stainless Steel Garlic Press": r'"pricer": "fine-tuned"',
    "--adapter none": r"from base, greedy",
    "--base-model ./my-llama --adapter ./my-adapter": r"from fine-tuned, greedy",
    "evaluate --data ../shared/data/test-250.jsonl": r"Error=\$[\d,.]+ RMSLE=[\d.]+ Hits=[\d.]+%\s*$",
    "score --data ed-donner/pricer-data": r"wrote chart\.html[\s\S]*Error=\$[\d,.]+ RMSLE",
    "pricer pricers": r"\* fine-tuned +ready",
    "predict --pricer cpu": r"from cpu: ",
    "evaluate --pricer frontier": r"cost estimate: 250 requests to gpt-4o[\s\S]*250/250 items done[\s\S]*Error=\$",
    "pricer leaderboard": r"published",
    "pricer train --data course.jsonl others.jsonl": r"cross-validation: Error=\$",
    "finetune start": r"job ftjob-1: validating_files",
    "finetune status": r"job ftjob-1",
    "rag-index --data train.jsonl": r"indexed 40 items",
    "ensemble fit --members fine-tuned rag cpu": r"ensemble of fine-tuned \+ rag \+ cpu",
    "qlora --data ed-donner/pricer-data --out runs/pricer-1": r"runs/pricer-1\s*$",
    "--on hf-jobs": r"job 0123456789abcdef started on a10g-large[\s\S]*someone/pricer-[\d_.-]+@\d{40}\s*$",
    "deploy --dry-run": r"create_commit\(repo_id='someone/the-price-is-right'",
    "deploy --wait": r"stage RUNNING",
}


def readme_commands(text: str) -> list[str]:
    """The commands of the README's fenced shell blocks that run pricer, continuation lines joined,
    comments kept (the shell drops them)."""
    commands, fenced, pending = [], False, ""
    for line in text.splitlines():
        if line.startswith("```"):
            fenced, pending = not fenced and line.strip() in ("```bash", "```sh", "```shell", "```console"), ""
            continue
        if not fenced:
            continue
        line = pending + line.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if re.search(r"-m pricer\b", line):
            commands.append(line)
    return commands


def command_of(line: str) -> str:
    """The command without its trailing comment."""
    return " ".join(shlex.split(line, comments=True))


def expectation(line: str) -> str:
    found = [pattern for fragment, pattern in EXPECT.items() if fragment in line]
    assert len(found) == 1, f"give this README line one expectation in EXPECT ({len(found)} match): {line}"
    return found[0]


# --- the lines are whole commands (no data needed) ------------------------------------------------


def test_every_readme_line_is_a_whole_command_pricer_parses():
    from pricer.cli import parser

    lines = readme_commands(README.read_text(encoding="utf-8"))
    assert len(lines) >= 24
    for line in lines:
        if line in NOT_RUN:
            continue
        assert line.startswith("python -m pricer "), f"not a `python -m pricer` command: {line}"
        argv = shlex.split(line, comments=True)
        assert "..." not in line.split("#")[0] and not any(a.startswith("[") for a in argv), line
        assert not re.search(r"\b(YOUR_NAME|JOB_ID|ID)\b", line.split("#")[0]), f"a placeholder: {line}"
        parser().parse_args(argv[3:])  # exits (status 2) on an unknown option
        expectation(line)


def test_every_expectation_and_reason_belongs_to_a_line():
    lines = readme_commands(README.read_text(encoding="utf-8"))
    assert [f for f in EXPECT if not any(f in line for line in lines)] == []
    assert [line for line in NOT_RUN if line not in lines] == []


# --- the working folder -------------------------------------------------------------------------


def raw_records(items: list[dict], category: str) -> bytes:
    """Raw Amazon records in the hub's JSONL form, one per course item (its title, its description
    followed by the next item's, so each has enough tokens)."""
    rows = []
    for i, item in enumerate(items):
        body = item["text"].split("\n\n", 1)[1].rsplit("\n\nPrice is $", 1)[0]
        title, _, description = body.partition("\n")
        other = items[(i + 1) % len(items)]["text"].split("\n\n", 1)[1].rsplit("\n\nPrice is $", 1)[0]
        rows.append({"main_category": category, "title": title, "description": [description, other],
                     "features": [], "details": {"Brand": title.split(" ")[0]}, "price": item["price"],
                     "parent_asin": f"B{i:09d}"})
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def jsonl_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def workspace(shared_data: Path, tiny_model: Path, tmp_path: Path) -> Path:
    """The README's root: the app's files (linked), ../shared/data beside it, and what a user brings."""
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(shared_data)
    for name in ("app.py", "pricer", "ui", "requirements.txt", "README.md"):
        (root / name).symlink_to(ROOT / name)
    manifest = (ROOT / "spaces.yaml").read_text(encoding="utf-8")
    (root / "spaces.yaml").write_text(manifest.replace("your-username/", f"{USER}/"), encoding="utf-8")
    (root / "raw").mkdir()
    shutil.copy(shared_data / "raw-meta-sample.jsonl", root / "raw" / "meta_Toys_and_Games.jsonl")
    shutil.copytree(tiny_model, root / "my-llama", ignore=shutil.ignore_patterns("adapter"))
    shutil.copytree(tiny_model / "adapter", root / "my-adapter")
    (root / "my-tokenizer").mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_model / name, root / "my-tokenizer" / name)
    with (root / "guesses.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("index", "guess"), *((i, 100 + i) for i in range(250))])
    shutil.copy(shared_data / "train-550.jsonl", root / "course.jsonl")
    community = (shared_data / "train-community.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (root / "others.jsonl").write_text("".join(community[:1000]), encoding="utf-8")
    train = (shared_data / "train-550.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (root / "train.jsonl").write_text("".join(train[:40]), encoding="utf-8")
    return root


def serve_the_course(shared_data: Path, tiny_model: Path) -> None:
    """The repos the README's lines name, as HubStandIn serves them."""
    from pricer.config import ADAPTER, BASE_MODEL, DATASET

    HubStandIn.reset()
    HubStandIn.repos[("model", BASE_MODEL)] = {p.name: p.read_bytes() for p in tiny_model.iterdir() if p.is_file()}
    HubStandIn.repos[("model", ADAPTER)] = {p.name: p.read_bytes() for p in (tiny_model / "adapter").iterdir()}
    test = (shared_data / "test-250.jsonl").read_bytes() + (shared_data / "test-split-extra-1000.jsonl").read_bytes()
    train = b"".join((shared_data / "train-550.jsonl").read_bytes().splitlines(keepends=True)[:8])
    HubStandIn.repos[("dataset", DATASET)] = {"data/test.jsonl": test, "data/train.jsonl": train}
    items = jsonl_rows(shared_data / "test-250.jsonl") + jsonl_rows(shared_data / "train-550.jsonl") + \
        jsonl_rows(shared_data / "test-split-extra-1000.jsonl")
    HubStandIn.repos[("dataset", "McAuley-Lab/Amazon-Reviews-2023")] = {
        "raw/meta_categories/meta_Appliances.jsonl": raw_records(items[:1400], "Appliances"),
        "raw/meta_categories/meta_Automotive.jsonl": raw_records(items[400:1800], "Automotive")}


# --- every line, run ------------------------------------------------------------------------------


def test_every_readme_command_runs_as_written(workspace, shared_data, tiny_model, tmp_path):
    import openai_stand_in

    lines = [line for line in readme_commands(README.read_text(encoding="utf-8")) if line not in NOT_RUN]
    serve_the_course(shared_data, tiny_model)
    openai_stand_in.OpenAIStandIn.reset()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PRICER_", "HF_", "HUGGING_FACE_", "OPENAI_", "WANDB_")) and k != "PYTHONPATH"}
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_TOKEN=TOKEN, HF_HUB_DISABLE_TELEMETRY="1",
               PRICER_CACHE=str(tmp_path / "cache"), PRICER_ALLOW_CPU="1", PRICER_RAG_DATA="train.jsonl",
               OPENAI_BASE_URL=f"{openai_stand_in._url()}/v1", OPENAI_API_KEY=openai_stand_in.KEY,
               TOKENIZERS_PARALLELISM="false")
    failures, times = [], []
    with serving(HubStandIn) as url:
        env["HF_ENDPOINT"] = url
        for line in lines:
            started = time.monotonic()
            done = subprocess.run(["bash", "-c", line], cwd=workspace, env=env, capture_output=True, text=True,
                                  timeout=300)
            times.append((round(time.monotonic() - started, 1), line))
            said = done.stderr + done.stdout  # the summary on stderr, then the answer (the last line)
            why = (f"exit status {done.returncode}" if done.returncode else
                   None if re.search(expectation(line), said) else f"no match for {expectation(line)!r}")
            if TOKEN in said or openai_stand_in.KEY in said:
                why = "a token in the output"
            if why:
                failures.append(f"{line}\n  {why}\n  " + "\n  ".join(said.strip().splitlines()[-12:]))
    print("\n".join(f"{s:6.1f} s  {line}" for s, line in times))
    assert failures == [], "\n\n".join(failures)
    assert (workspace / "runs" / "pricer-1" / "adapter_model.safetensors").is_file()
    assert ("POST", "/api/jobs/someone") in HubStandIn.requests


# --- a local Hub that serves whole repos ---------------------------------------------------------


USER = "someone"
SHA = "a" * 40
PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


class HubStandIn(JsonHandler):
    """A Hub that serves whole repos from memory (enough of the read API for huggingface_hub,
    transformers and datasets to download them) and answers the write calls the README's verbs
    make; a repo created or committed to is kept, so a later command finds it. The Hub for one test: `repos` holds the files, `requests` every (method, path) asked."""

    repos: ClassVar[dict[tuple[str, str], dict[str, bytes]]] = {}
    requests: ClassVar[list[tuple[str, str]]] = []
    revisions: ClassVar[dict[tuple[str, str], int]] = {}
    runtime_asked: ClassVar[int] = 0

    @classmethod
    def reset(cls) -> None:
        cls.repos, cls.requests, cls.revisions, cls.runtime_asked = {}, [], {}, 0

    # --- plumbing -------------------------------------------------------------------------------

    def missing(self, code: str = "RepoNotFound") -> None:
        data = json.dumps({"error": code}).encode()
        self.send_response(404)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def sha(self, key: tuple[str, str]) -> str:
        return f"{self.revisions.get(key, 0):040d}" if key in self.revisions else SHA

    # --- routes ---------------------------------------------------------------------------------

    def answer(self) -> None:
        url = urlsplit(self.path)
        path, query = unquote(url.path), parse_qs(url.query)
        body = self.body()
        HubStandIn.requests.append((self.command, path))
        if path == "/api/whoami-v2":
            return self.send_json(200, {"name": USER, "type": "user", "orgs": [], "auth": {}})
        if path == "/api/validate-yaml":
            return self.send_json(200, {"errors": [], "warnings": []})
        if path == "/api/repos/create":
            created = json.loads(body)
            kind = created.get("type", "model")
            repo = f"{created.get('organization') or USER}/{created['name']}"
            HubStandIn.repos.setdefault((kind, repo), {})
            return self.send_json(200, {"url": f"http://{self.headers['Host']}/{PREFIX[kind]}{repo}"})
        if path == "/api/agent-harnesses":  # huggingface_hub's daily user-agent list
            return self.send_json(200, {"standardEnvVars": [], "harnesses": {}})
        if path.startswith("/api/jobs/"):
            return self.job(path)
        if path.startswith("/api/"):
            return self.api(path, query, body)
        return self.resolve(path)

    def api(self, path: str, query: dict, body: bytes) -> None:
        kind_plural, owner, name, *rest = path[len("/api/"):].split("/") + [""]
        kind = kind_plural.rstrip("s")
        key = (kind, f"{owner}/{name}")
        rest = [r for r in rest if r]
        if kind not in PREFIX:
            return self.missing()
        action = rest[0] if rest else ""
        if action in ("preupload",):
            files = json.loads(body)["files"]
            return self.send_json(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                                                   "oid": None} for f in files]})
        if action == "commit":
            self.commit(key, body)
            return self.send_json(200, {"commitUrl": f"http://{self.headers['Host']}/{key[1]}/commit/{self.sha(key)}",
                                        "commitOid": self.sha(key)})
        if action in ("settings", "variables", "secrets"):
            return self.send_json(200, {})
        if action in ("hardware", "sleeptime"):
            return self.send_json(200, {"stage": "BUILDING", "hardware": {"current": None, "requested": "t4-small"}})
        if action == "runtime":
            HubStandIn.runtime_asked += 1
            stage = "BUILDING" if HubStandIn.runtime_asked == 1 else "RUNNING"
            return self.send_json(200, {"stage": stage, "hardware": {"current": "t4-small", "requested": "t4-small"}})
        files = self.repos.get(key)
        if files is None:
            return self.missing()
        if action == "auth-check":
            return self.send_json(200, {})
        if action == "tree":
            prefix = "/".join(rest[2:])
            return self.send_json(200, self.tree(files, prefix, query.get("recursive", [""])[0].lower() == "true"))
        if action == "paths-info":
            asked = parse_qs(body.decode()).get("paths", []) if body and not body.startswith(b"{") else \
                json.loads(body or b"{}").get("paths", [])
            return self.send_json(200, [self.entry(p, files[p]) for p in asked if p in files])
        if action in ("", "revision"):
            return self.send_json(200, {"id": key[1], "sha": self.sha(key), "private": False, "disabled": False,
                                        "gated": False, "downloads": 0, "likes": 0, "tags": [], "cardData": {},
                                        "lastModified": "2024-09-13T00:00:00.000Z",
                                        "siblings": [{"rfilename": p, "size": len(d)} for p, d in sorted(files.items())]})
        return self.missing()

    @staticmethod
    def entry(path: str, data: bytes) -> dict:
        return {"type": "file", "path": path, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}

    def tree(self, files: dict[str, bytes], prefix: str, recursive: bool) -> list[dict]:
        under = {p: d for p, d in sorted(files.items()) if not prefix or p.startswith(prefix.rstrip("/") + "/")}
        if recursive:
            return [self.entry(p, d) for p, d in under.items()]
        depth = len(prefix.strip("/").split("/")) if prefix else 0
        out, folders = [], set()
        for p, d in under.items():
            parts = p.split("/")
            if len(parts) == depth + 1:
                out.append(self.entry(p, d))
            elif (folder := "/".join(parts[:depth + 1])) not in folders:
                folders.add(folder)
                out.append({"type": "directory", "path": folder, "oid": "0" * 40, "size": 0})
        return out

    def commit(self, key: tuple[str, str], body: bytes) -> None:
        files = HubStandIn.repos.setdefault(key, {})
        for line in body.splitlines():
            op = json.loads(line)
            if op.get("key") == "file":
                files[op["value"]["path"]] = base64.b64decode(op["value"]["content"])
        HubStandIn.revisions[key] = HubStandIn.revisions.get(key, 0) + 1

    def resolve(self, path: str) -> None:
        """/{prefix}owner/name/resolve/{revision}/{file}: HEAD for metadata, GET for the bytes."""
        kind = next((k for k, p in PREFIX.items() if p and path.startswith("/" + p)), "model")
        repo_and_rest = path[len("/" + PREFIX[kind]):]
        if "/resolve/" not in repo_and_rest:
            return self.missing("EntryNotFound")
        repo, rest = repo_and_rest.split("/resolve/", 1)
        name = rest.split("/", 1)[1] if "/" in rest else ""
        files = self.repos.get((kind, repo))
        if files is None:
            return self.missing()
        data = files.get(name)
        if data is None:
            return self.missing("EntryNotFound")
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
        self.send_header("X-Repo-Commit", self.sha((kind, repo)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)

    def job(self, path: str) -> None:
        job = {"id": "0123456789abcdef", "owner": {"id": "1", "name": USER, "type": "user"},
               "status": {"stage": "COMPLETED" if self.command == "GET" else "SCHEDULING", "message": None}}
        if path.endswith("/logs"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for line in ("plan: the job's own plan", "trained; pushed the adapter"):
                event = {"data": line, "timestamp": "2026-01-01T00:00:00.000Z"}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.close_connection = True
            return None
        return self.send_json(200, job)
