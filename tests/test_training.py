"""pricer.pricers.llama.training (with recipe and checkpoints): QLoRA training of the tiny test model
through the real path (bitsandbytes 4-bit on the CPU, peft, TRL's SFTTrainer), resumed, pushed to a
local stand-in for the Hub, and the adapter priced with by the project's own loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file
from stand_in import JsonHandler, hub_online, serving

from pricer.cli import main
from pricer.errors import BadInput, ModelUnavailable
from pricer.pricers.llama import recipe as recipes
from pricer.pricers.llama import training
from pricer.pricers.llama.checkpoints import RUN_FILE
from pricer.pricers.llama.model import ModelSpec
from pricer.pricers.llama.pricer import LlamaPricer

TOKEN = "hf_TrainingStandInToken0123456789abcd"
PASTED = "Stainless steel garlic press\nCrushes whole cloves with a long lever; dishwasher safe, 9 inches long."
FAST = recipes.Recipe(max_steps=4, save_steps=2, logging_steps=1, learning_rate=5e-3)  # big steps: a visible change


def items_file(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def train_file(train_550: Path, tmp_path_factory) -> Path:
    """The first 24 of the course's training items."""
    lines = train_550.read_text(encoding="utf-8").splitlines()[:24]
    return items_file(tmp_path_factory.mktemp("data") / "train.jsonl", [json.loads(line) for line in lines])


def train(data: Path, out: Path, base: Path, recipe: recipes.Recipe = FAST, **kwargs) -> training.Trained:
    return training.train(str(data), out, base_model=str(base), recipe=recipe, say=kwargs.pop("say", lambda _: None),
                          **kwargs)


@pytest.fixture(scope="module")
def trained(train_file, tiny_model, tmp_path_factory) -> training.Trained:
    """One uninterrupted run of 4 steps, checkpoints at 2 and 4."""
    return train(train_file, tmp_path_factory.mktemp("run") / "out", tiny_model)


# --- the items and the plan (no model) ----------------------------------------------------------


def test_items_split_at_the_prefix_and_a_test_prompt_takes_its_price_as_the_course_rounds_it():
    assert recipes.split_item("Q\n\nMug\n\nPrice is $12.00", 11.6) == ("Q\n\nMug\n\nPrice is $", "12.00")
    assert recipes.split_item("Q\n\nMug\n\nPrice is $", 11.6) == ("Q\n\nMug\n\nPrice is $", "12.00")
    assert recipes.split_item("Q\n\nMug, no prefix", 11.6) is None
    assert recipes.split_item("Q\n\nMug\n\nPrice is $ask me", 11.6) is None


def test_texts_without_the_prefix_are_refused_with_what_to_do(llama):
    with pytest.raises(BadInput, match=r"no item to train on: 2 texts hold no `Price is \$`"):
        recipes.examples([{"text": "a mug", "price": 3.0}, {"text": "a pan", "price": 9.0}], llama, 182, "x.jsonl")


def test_items_over_the_max_length_are_left_out_and_counted(llama):
    rows = [{"text": "Q\n\nMug\n\nPrice is $12.00", "price": 12.0},
            {"text": "Q\n\n" + "steel " * 80 + "\n\nPrice is $12.00", "price": 12.0}]
    found = recipes.examples(rows, llama, 40)
    assert found.prompts == ["Q\n\nMug\n\nPrice is $"] and found.too_long == 1 and found.longest > 80
    assert "1 item is longer than 40 tokens" in " ".join(found.notes(40))
    with pytest.raises(BadInput, match="longer than 10 tokens"):
        recipes.examples(rows, llama, 10)


def test_the_recipe_checks_each_setting_by_name():
    with pytest.raises(BadInput, match="lora_r must be a whole number"):
        recipes.recipe(lora_r=0)
    with pytest.raises(BadInput, match="preset must be one of course-2024, course-2025-full"):
        recipes.recipe("course-2023")
    assert recipes.recipe("course-2025-full").lora_r == 256 and recipes.recipe(max_steps=3).max_steps == 3


def test_the_plan_keeps_the_effective_batch_when_the_gpu_is_too_small():
    llama_8b = recipes.ModelShape(8_030_261_248, 4096, 32, 128256, 14336, 1024)
    full = recipes.recipe("course-2025-full")
    on_a10g = recipes.plan(full, llama_8b, recipes.BASE_MODEL, 1000, 170_000, recipes.GPUS["a10g"])
    assert on_a10g.micro_batch * on_a10g.accumulation == 256 and on_a10g.accumulation > 1
    assert on_a10g.memory_gb <= 24 and "does not fit NVIDIA A10G" in " ".join(on_a10g.notes)
    course = recipes.plan(recipes.Recipe(), llama_8b, recipes.BASE_MODEL, 1000, 170_000, recipes.GPUS["t4"])
    assert (course.micro_batch, course.accumulation, course.steps) == (4, 1, 250)
    assert "fp16" in course.lines()[0] and "an estimate" in course.lines()[1]


def test_a_jobs_flavor_is_planned_on_its_gpu_with_twice_the_estimate_as_its_timeout():
    assert recipes.hardware_of_flavor("a10g-large") == recipes.GPUS["a10g"]
    assert recipes.hardware_of_flavor("t4-small").dtype == "fp16"
    with pytest.raises(BadInput, match="'cpu-basic' is not a GPU flavor: use one of t4-small"):
        recipes.hardware_of_flavor("cpu-basic")
    llama_8b = recipes.ModelShape(8_030_261_248, 4096, 32, 128256, 14336, 1024)
    long = recipes.plan(recipes.Recipe(), llama_8b, recipes.BASE_MODEL, recipes.COURSE_ITEMS,
                        recipes.COURSE_ITEMS * recipes.TOKENS_PER_ITEM, recipes.GPUS["a10g"])
    assert long.job_timeout() == int(long.estimated_hours * 7200) and long.estimated_hours > 1
    short = recipes.plan(recipes.Recipe(), llama_8b, recipes.BASE_MODEL, 40, 6800, recipes.GPUS["a10g"])
    assert short.job_timeout() == 3600


def test_an_8b_without_cuda_is_refused_with_the_two_ways_forward():
    llama_8b = recipes.ModelShape(8_030_261_248, 4096, 32, 128256, 14336, 1024)
    with pytest.raises(ModelUnavailable, match="no CUDA GPU.*NVIDIA GPU.*--on hf-jobs"):
        training.check_runnable("meta-llama/Meta-Llama-3.1-8B", llama_8b, recipes.CPU)


def test_wandb_is_off_unless_its_key_is_set(monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert training.check_reporting("none") == []
    with pytest.raises(BadInput, match="needs WANDB_API_KEY"):
        training.check_reporting("wandb")


# --- a run of the tiny model --------------------------------------------------------------------


def test_the_labels_mask_every_prompt_token_and_keep_the_price(train_file, tiny_model, tmp_path, llama):
    from pricer.data.datasets import load_pricer_dataset

    rows = load_pricer_dataset(str(train_file), split="train")
    found = recipes.examples(rows, llama, FAST.max_length)
    the_plan = recipes.plan(FAST, training.model_shape(str(tiny_model)), "tiny", len(found.prompts), found.tokens,
                            recipes.CPU)
    trainer = training.build_trainer(found, tmp_path, str(tiny_model), training.tokenizer_for(str(tiny_model)), FAST,
                                     the_plan, [], "t", None, lambda _: None)
    assert trainer.args.report_to == []  # nothing is sent anywhere unless asked
    batch = next(iter(trainer.get_train_dataloader()))
    completions = dict(zip(found.prompts, found.completions, strict=True))
    for ids, labels in zip(batch["input_ids"].tolist(), batch["labels"].tolist(), strict=True):
        kept = [i for i, label in zip(ids, labels, strict=True) if label != -100]
        assert llama.decode(kept) in {f"{c}<|end_of_text|>" for c in completions.values()}
        first_kept = labels.index(kept[0])
        assert llama.decode(ids[:first_kept], skip_special_tokens=True).endswith("Price is $")


def test_a_run_writes_the_adapter_its_card_and_its_record(trained, train_file, tiny_model):
    folder = trained.folder
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md", RUN_FILE} <= {p.name for p in folder.iterdir()}
    assert trained.steps == 4 and trained.items == 24 and trained.loss is not None
    card = (folder / "README.md").read_text(encoding="utf-8")
    record = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    assert record["data_sha256"] in card and "| lora_r | 32 |" in card and "| learning_rate | 0.005 |" in card
    assert f"base_model: {tiny_model}" in card and "| items | 24 (" in card and "| steps | 4 (batch 4 x 1" in card
    assert record["recipe"] == FAST.to_json() and record["run_name"].startswith("pricer-20")


def test_the_adapter_prices_through_the_projects_own_loader(trained, tiny_model, capsys):
    tuned = LlamaPricer(True, ModelSpec(str(tiny_model), str(trained.folder))).price([PASTED], estimator="topk-numbers")
    base = LlamaPricer(False, ModelSpec(str(tiny_model))).price([PASTED], estimator="topk-numbers")
    assert tuned[0].details["top_tokens"] != base[0].details["top_tokens"]  # the adapter changes the model
    assert main(["predict", "--base-model", str(tiny_model), "--adapter", str(trained.folder), "--json",
                 "--text", PASTED]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["pricer"] == "fine-tuned" and str(trained.folder.name) in answer["label"]


def test_an_interrupted_run_resumes_to_the_same_adapter(trained, train_file, tiny_model, tmp_path):
    out = tmp_path / "out"

    def stop_at_step_three(line: str) -> None:
        if line.startswith("step 3/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(train_file, out, tiny_model, say=stop_at_step_three)
    assert (out / "checkpoint-2").is_dir() and not (out / "adapter_model.safetensors").exists()
    said: list[str] = []
    again = train(train_file, out, tiny_model, say=said.append)
    assert f"resuming from {out / 'checkpoint-2'}" in said and again.steps == 4
    one, resumed = (load_file(f / "adapter_model.safetensors") for f in (trained.folder, out))
    assert one.keys() == resumed.keys()
    assert max(float((one[k].float() - resumed[k].float()).abs().max()) for k in one) < 1e-6


def test_an_out_folder_of_another_run_or_of_other_files_is_refused_and_left_alone(trained, train_file, tiny_model,
                                                                                 tmp_path):
    before = sorted(p.name for p in trained.folder.iterdir())
    with pytest.raises(BadInput, match=r"holds another run \(its recipe differ"):
        train(train_file, trained.folder, tiny_model, recipe=recipes.Recipe(max_steps=5))
    assert sorted(p.name for p in trained.folder.iterdir()) == before
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(BadInput, match="not empty and holds no training run"):
        train(train_file, tmp_path / "busy", tiny_model)
    (tmp_path / "a-file").write_text("")
    assert main(["qlora", "--data", str(train_file), "--out", str(tmp_path / "a-file" / "out"), "--base-model",
                 str(tiny_model), "--max-steps", "1"]) == 2


def test_a_dataset_without_prices_says_so_and_writes_nothing(tmp_path, tiny_model, capsys):
    data = items_file(tmp_path / "x.jsonl", [{"text": "Q\n\nMug\n\nPrice is $", "price": None}])
    assert main(["qlora", "--data", str(data), "--out", str(tmp_path / "out"), "--base-model", str(tiny_model)]) == 2
    assert "price" in capsys.readouterr().err and not any((tmp_path / "out").glob("*"))


# --- the hub ------------------------------------------------------------------------------------


class TrainingHub(JsonHandler):
    """Answers repo creation and commits like the Hub, and records every request."""

    requests: list[dict] = []

    def answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?")[0]
        TrainingHub.requests.append({"method": self.command, "path": path, "body": body,
                                     "headers": {k.lower(): v for k, v in self.headers.items()}})
        base = f"http://{self.headers['Host']}"
        if path == "/api/repos/create":
            return self.send_json(200, {"url": f"{base}/me/pricer-run"})
        if path == "/api/validate-yaml":  # a README.md with front matter is checked first
            return self.send_json(200, {"errors": [], "warnings": []})
        if "/preupload/" in path:
            files = json.loads(body)["files"]
            return self.send_json(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                                                   "oid": None} for f in files]})
        if "/tree/" in path:  # a repo not created yet: nothing pushed to resume from
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("Content-Length", "2")
            self.end_headers()
            return self.wfile.write(b"{}")
        if "/commit/" in path:
            n = sum("/commit/" in r["path"] for r in TrainingHub.requests)
            return self.send_json(200, {"commitUrl": f"{base}/me/pricer-run/commit/{n:040d}", "commitOid": f"{n:040d}"})
        self.send_json(404, {"error": "not served by this stand-in"})


def test_push_to_hub_commits_each_checkpoint_then_the_adapter_with_the_token_only_in_the_header(
        train_file, tiny_model, tmp_path, monkeypatch):
    TrainingHub.requests = []
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with serving(TrainingHub) as url:
        hub_online(monkeypatch, url)
        done = train(train_file, tmp_path / "out", tiny_model, push_to="me/pricer-run")
    calls = [(r["method"], r["path"]) for r in TrainingHub.requests]
    commit = [("POST", "/api/validate-yaml"), ("POST", "/api/models/me/pricer-run/preupload/main"),
              ("POST", "/api/models/me/pricer-run/commit/main")]
    assert calls == [("GET", "/api/models/me/pricer-run/tree/main"),  # a checkpoint to resume from?
                     ("POST", "/api/repos/create"), *commit, *commit, ("POST", "/api/repos/create"), *commit]
    assert json.loads(TrainingHub.requests[1]["body"]) == {"name": "pricer-run", "organization": "me",
                                                           "visibility": "private"}
    commits = [r["body"].decode() for r in TrainingHub.requests if "/commit/" in r["path"]]
    assert all("last-checkpoint/adapter_model.safetensors" in c for c in commits[:2])
    assert "adapter_model.safetensors" in commits[2] and "last-checkpoint" not in commits[2]
    assert done.repo == "me/pricer-run" and done.revision == f"{3:040d}"
    for r in TrainingHub.requests:
        assert r["headers"].get("authorization") == f"Bearer {TOKEN}"
        assert TOKEN.encode() not in r["body"] and TOKEN not in r["path"]


# --- Hugging Face Jobs --------------------------------------------------------------------------


class JobsHub(TrainingHub):
    """The Hub's repo calls, plus whoami and the Jobs API (a job that ends in `stage`)."""

    stage = "COMPLETED"

    def answer(self):
        path = self.path.split("?")[0]
        if path == "/api/whoami-v2":
            TrainingHub.requests.append({"method": "GET", "path": path, "body": b"",
                                         "headers": {k.lower(): v for k, v in self.headers.items()}})
            return self.send_json(200, {"name": "me", "type": "user"})
        if path.startswith("/api/jobs/"):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            TrainingHub.requests.append({"method": self.command, "path": path, "body": body,
                                         "headers": {k.lower(): v for k, v in self.headers.items()}})
            job = {"id": "0123456789abcdef", "owner": {"id": "1", "name": "me", "type": "user"},
                   "status": {"stage": JobsHub.stage if self.command == "GET" else "SCHEDULING",
                              "message": f"CUDA out of memory (token {TOKEN})" if JobsHub.stage == "ERROR" else None}}
            if path.endswith("/logs"):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for line in ("plan: 24 items", f"pushed with {TOKEN}", "done"):
                    event = {"data": line, "timestamp": "2026-01-01T00:00:00.000Z"}
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.close_connection = True
                return None
            return self.send_json(200, job)
        return super().answer()


def test_a_job_gets_the_code_and_the_token_as_a_secret_and_its_log_comes_back_redacted(tmp_path, monkeypatch):
    from pricer import jobs

    TrainingHub.requests = []
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    root = Path(__file__).resolve().parent.parent
    arguments = training.remote_arguments("me/pricer-data", recipes.BASE_MODEL, "course-2024", {"max_steps": 10},
                                          "me/pricer-run")
    lines: list[str] = []
    with serving(JobsHub) as url:
        hub_online(monkeypatch, url)
        launched = jobs.launch(arguments, "me/pricer-run", root=root, flavor="a10g-large", timeout_seconds=7200)
        jobs.follow(launched, lines.append)
    calls = [(r["method"], r["path"]) for r in TrainingHub.requests]
    assert calls[:5] == [("GET", "/api/whoami-v2"), ("POST", "/api/repos/create"),
                         ("POST", "/api/models/me/pricer-run/preupload/main"),
                         ("POST", "/api/models/me/pricer-run/commit/main"), ("POST", "/api/jobs/me")]
    assert ("GET", "/api/jobs/me/0123456789abcdef/logs") in calls and calls[-1] == ("GET", "/api/jobs/me/0123456789abcdef")
    committed = TrainingHub.requests[3]["body"].decode()
    assert "job/pricer/pricers/llama/training.py" in committed and "job/requirements.txt" in committed
    assert "job/pricer/pricers/cpu/shipped/model.safetensors" not in committed and "job/ui/" not in committed
    spec = json.loads(TrainingHub.requests[4]["body"])
    assert spec["secrets"] == {"HF_TOKEN": TOKEN} and spec["flavor"] == "a10g-large" and spec["timeoutSeconds"] == 7200
    script = spec["command"][-1]
    assert TOKEN not in json.dumps({k: v for k, v in spec.items() if k != "secrets"})
    assert f"--revision {1:040d}" in script and "pip install -q -r requirements.txt" in script
    assert script.endswith("python -m pricer " + " ".join(arguments))
    assert lines == ["plan: 24 items", "pushed with <hidden>", "done"]  # the token never reaches the terminal
    for r in TrainingHub.requests:
        assert r["headers"].get("authorization") == f"Bearer {TOKEN}"
    assert [n for n, r in enumerate(TrainingHub.requests) if TOKEN.encode() in r["body"]] == [4]  # the secret only


def test_the_jobs_command_run_here_trains_the_tiny_model(train_file, tiny_model, tmp_path, capsys):
    arguments = training.remote_arguments(str(train_file), str(tiny_model), "course-2024",
                                          {"max_steps": 2, "save_steps": 2}, "me/pricer-run")
    assert arguments[arguments.index("--push-to-hub") + 1] == "me/pricer-run"
    local = list(arguments)
    at = local.index("--push-to-hub")
    del local[at:at + 2]  # here, nothing is pushed
    local[local.index("--out") + 1] = str(tmp_path / "out")
    assert main(local) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out")
    assert (tmp_path / "out" / "adapter_model.safetensors").exists()


def test_a_job_refuses_local_paths_and_a_missing_repo(train_file, tiny_model, capsys):
    assert main(["qlora", "--data", str(train_file), "--on", "hf-jobs", "--push-to-hub", "me/run"]) == 2
    assert "is a local path, which a job on Hugging Face cannot read" in capsys.readouterr().err
    assert main(["qlora", "--data", "me/pricer-data", "--on", "hf-jobs"]) == 2
    assert "--on hf-jobs needs --push-to-hub [REPO]" in capsys.readouterr().err
    assert main(["qlora", "--data", str(train_file), "--out", "x", "--detach"]) == 2
    assert "--detach is for --on hf-jobs" in capsys.readouterr().err


def test_evaluate_puts_the_adapters_figures_on_its_card_and_the_leaderboard(train_file, tiny_model, test_250,
                                                                             tmp_path, monkeypatch, capsys):
    from pricer.evaluation import leaderboard

    monkeypatch.setenv("PRICER_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert main(["qlora", "--data", str(train_file), "--out", str(out), "--base-model", str(tiny_model),
                 "--max-steps", "1", "--evaluate", "--eval-data", str(test_250), "--eval-size", "3"]) == 0
    said = capsys.readouterr().err
    card = (out / "README.md").read_text(encoding="utf-8")
    [row] = leaderboard.runs()
    assert row.pricer == "fine-tuned" and row.size == 3 and out.name in row.label
    assert "## Evaluation" in card and f"leaderboard run {row.id}" in card and "Error=$" in card
    assert "evaluated: Error=$" in said and f"PRICER_ADAPTER={out}" in said


class CheckpointHub(TrainingHub):
    """A repo holding a pushed `last-checkpoint/` (files served from `files`), taking new commits."""

    files: dict[str, bytes] = {}
    SHA = "c" * 40

    def answer(self):
        path = self.path.split("?")[0]
        repo = "/api/models/me/pricer-run"
        trees = (f"{repo}/tree/main", f"{repo}/tree/{CheckpointHub.SHA}")
        if self.command in ("GET", "HEAD") and path in (*trees, f"{repo}/revision/main"):
            TrainingHub.requests.append({"method": self.command, "path": path, "body": b"",
                                         "headers": {k.lower(): v for k, v in self.headers.items()}})
            if path in trees:
                return self.send_json(200, [{"type": "file", "path": name, "size": len(data), "oid": "0" * 40}
                                            for name, data in CheckpointHub.files.items()])
            return self.send_json(200, {"id": "me/pricer-run", "sha": CheckpointHub.SHA,
                                        "siblings": [{"rfilename": name} for name in CheckpointHub.files]})
        prefix = f"/me/pricer-run/resolve/{CheckpointHub.SHA}/"
        if path.startswith(prefix) and path[len(prefix):] in CheckpointHub.files:
            data = CheckpointHub.files[path[len(prefix):]]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", f'"{len(data):040d}"')
            self.send_header("X-Repo-Commit", CheckpointHub.SHA)
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(data)
            return None
        return super().answer()


def test_a_rerun_with_an_empty_out_resumes_from_the_checkpoint_on_the_hub(trained, train_file, tiny_model, tmp_path,
                                                                          monkeypatch):
    record = json.loads((trained.folder / RUN_FILE).read_text(encoding="utf-8"))
    identity = {k: record[k] for k in ("format", "base_model", "data_sha256", "items", "recipe")}  # what is pushed
    pushed = trained.folder / "checkpoint-2"
    CheckpointHub.files = {f"last-checkpoint/{p.name}": p.read_bytes() for p in pushed.iterdir() if p.is_file()}
    CheckpointHub.files["last-checkpoint/pricer-run.json"] = json.dumps(identity).encode()
    TrainingHub.requests = []
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    said: list[str] = []
    with serving(CheckpointHub) as url:
        hub_online(monkeypatch, url)
        done = train(train_file, tmp_path / "elsewhere", tiny_model, push_to="me/pricer-run", say=said.append)
        assert "found the checkpoint of step 2 on me/pricer-run" in said and done.steps == 4
        one, resumed = (load_file(f / "adapter_model.safetensors") for f in (trained.folder, done.folder))
        assert max(float((one[k].float() - resumed[k].float()).abs().max()) for k in one) < 1e-6
        CheckpointHub.files["last-checkpoint/pricer-run.json"] = json.dumps({**identity, "items": 7}).encode()
        with pytest.raises(BadInput, match=r"holds the checkpoint of another run \(its items differ"):
            train(train_file, tmp_path / "third", tiny_model, push_to="me/pricer-run")


def test_the_command_refuses_an_8b_here_before_writing_anything(train_file, tmp_path, capsys):
    from transformers import LlamaConfig

    folder = tmp_path / "llama-8b-config-only"
    LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                num_key_value_heads=8, vocab_size=128256).save_pretrained(folder)
    assert main(["qlora", "--data", str(train_file), "--out", str(tmp_path / "out"), "--base-model", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "8.0 B parameters and this machine has no CUDA GPU" in err and "--on hf-jobs" in err
    assert not (tmp_path / "out").exists()


def test_a_failed_job_ends_in_one_line_and_its_status_is_followed_by_id(tmp_path, monkeypatch, capsys):
    from pricer import jobs
    from pricer.errors import PricerError

    TrainingHub.requests, JobsHub.stage = [], "ERROR"
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    try:
        with serving(JobsHub) as url:
            hub_online(monkeypatch, url)
            launched = jobs.Launched("0123456789abcdef", "me", f"{url}/jobs/me/0123456789abcdef", "r")
            with pytest.raises(PricerError, match=r"The job 0123456789abcdef ended ERROR: CUDA out of memory \(token <hidden>\)"):
                jobs.follow(launched, lambda _: None)
            assert main(["qlora-job", "status", "0123456789abcdef"]) == 2
            assert capsys.readouterr().out.strip() == "0123456789abcdef: ERROR - CUDA out of memory (token <hidden>)"
            JobsHub.stage = "COMPLETED"
            assert main(["qlora-job", "status", "0123456789abcdef", "--follow"]) == 0
            captured = capsys.readouterr()
            assert captured.out.strip() == "0123456789abcdef: COMPLETED" and "pushed with <hidden>" in captured.err
    finally:
        JobsHub.stage = "COMPLETED"


def test_push_to_hub_without_a_repo_names_it_for_the_run_and_a_resume_keeps_it(train_file, tiny_model, tmp_path,
                                                                               monkeypatch):
    TrainingHub.requests = []
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    said: list[str] = []
    with serving(JobsHub) as url:
        hub_online(monkeypatch, url)
        done = train(train_file, tmp_path / "out", tiny_model, recipe=recipes.Recipe(max_steps=1, save_steps=5),
                     push_to="", say=said.append)
    record = json.loads((tmp_path / "out" / RUN_FILE).read_text(encoding="utf-8"))
    assert done.repo == f"me/{record['run_name']}" == record["push_to"] and f"pushing to {done.repo}" in said
    assert ("GET", "/api/whoami-v2") == (TrainingHub.requests[0]["method"], TrainingHub.requests[0]["path"])
