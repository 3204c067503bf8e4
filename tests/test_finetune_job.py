"""pricer.pricers.chat.finetune_job: the course's fine-tuning job (create, status, events, the fine-tuned model
id) against a local stand-in for the OpenAI API that records each request."""

from __future__ import annotations

import pytest
from openai_stand_in import KEY, error_reply, job, openai_online

from pricer.errors import AccessDenied, BadInput, NotFound, PricerError
from pricer.pricers.chat.finetune import export_fine_tuning
from pricer.pricers.chat.finetune_job import job_status, start_job

COURSE_JOB = {"model": "gpt-4o-mini-2024-07-18", "seed": 42, "hyperparameters": {"n_epochs": 1}, "suffix": "pricer"}
WANDB_KEY = "wandb-secret-0123456789abcdef0123456789abcdef"


@pytest.fixture
def server(monkeypatch, tmp_path):
    with openai_online(monkeypatch, tmp_path / "cache") as handler:
        yield handler


def test_start_creates_the_course_job_from_given_files(server):
    started = start_job("file-abc", "file-def")
    (create,) = server.requests
    assert (create.method, create.path) == ("POST", "/v1/fine_tuning/jobs")
    assert create.body == {**COURSE_JOB, "training_file": "file-abc", "validation_file": "file-def"}
    assert create.headers["authorization"] == f"Bearer {KEY}"
    assert started.lines() == [
        "job ftjob-1: validating_files (gpt-4o-mini-2024-07-18, files file-abc + file-def)",
        "check again with: python -m pricer finetune status ftjob-1",
    ]


def test_weights_and_biases_only_when_its_key_is_set_and_the_key_is_never_sent(server, monkeypatch):
    start_job("file-a")
    monkeypatch.setenv("WANDB_API_KEY", WANDB_KEY)
    started = start_job("file-a")
    without, with_wandb = (r.body for r in server.requests)
    assert "integrations" not in without and "validation_file" not in without
    assert with_wandb["integrations"] == [{"type": "wandb", "wandb": {"project": "gpt-pricer"}}]
    assert started.wandb_project == "gpt-pricer" and "W&B project gpt-pricer" in started.lines()[0]
    assert all(WANDB_KEY not in str(r.body) + str(r.headers) for r in server.requests)


def test_start_without_ids_uses_the_newest_uploads_of_the_exported_files(server, tmp_path, train_550):
    export_fine_tuning(train_550, tmp_path / "old", train=3, validation=1, upload=True)  # file-1, file-2
    export_fine_tuning(train_550, tmp_path / "new", train=4, validation=2, upload=True)  # file-3, file-4
    server.files.append({**server.files[0], "id": "file-9", "filename": "notes.jsonl", "created_at": 1726209999})
    started = start_job()
    listing, create = server.requests[-2:]
    assert (listing.method, listing.path, listing.query["purpose"]) == ("GET", "/v1/files", "fine-tune")
    assert create.body == {**COURSE_JOB, "training_file": "file-3", "validation_file": "file-4"}
    assert (started.training_file, started.validation_file) == ("file-3", "file-4")


def test_start_without_uploads_says_how_to_make_them(server):
    with pytest.raises(BadInput, match="No uploaded fine_tune_train.jsonl .* export-jsonl .* --upload"):
        start_job()
    assert [r.path for r in server.requests] == ["/v1/files"]


def test_status_shows_the_latest_events_oldest_first_then_the_model_id(server):
    server.jobs["ftjob-7"] = job("ftjob-7", "running")
    server.events["ftjob-7"] = [  # OpenAI lists the newest first
        {"object": "fine_tuning.job.event", "id": f"ev-{i}", "created_at": 1726200000 + 60 * i, "level": "info",
         "message": f"Step {i}/500: training loss={3 - i / 10:.2f}", "type": "metrics"} for i in range(12, 0, -1)]
    running = job_status("ftjob-7")
    assert running.lines()[0] == "job ftjob-7: running (gpt-4o-mini-2024-07-18, files file-1 + file-2)"
    assert running.lines()[1] == "  2024-09-13 04:03 UTC  Step 3/500: training loss=2.70"
    assert running.lines()[10] == "  2024-09-13 04:12 UTC  Step 12/500: training loss=1.80"
    assert running.lines()[11] == "check again with: python -m pricer finetune status ftjob-7"
    events = server.requests[-1]
    assert (events.path, events.query) == ("/v1/fine_tuning/jobs/ftjob-7/events", {"limit": "10"})

    model = "ft:gpt-4o-mini-2024-07-18:personal:pricer:A1b2C3d4"
    server.jobs["ftjob-7"] = job("ftjob-7", "succeeded", fine_tuned_model=model)
    done = job_status("ftjob-7", events=0)
    assert done.fine_tuned_model == model
    assert done.lines()[-2:] == [f"fine-tuned model: {model}", f"price with it: PRICER_FRONTIER_MODEL={model} (or --model)"]


def test_status_without_a_job_id_reads_the_newest_job(server):
    with pytest.raises(BadInput, match="No fine-tuning jobs .* finetune start"):
        job_status()
    start_job("file-a")
    start_job("file-b")
    assert job_status().training_file == "file-b"
    assert server.requests[-2].query == {"limit": "1"}


def test_a_failed_job_shows_its_error_without_the_key(server):
    server.jobs["ftjob-2"] = job("ftjob-2", "failed", error={
        "code": "invalid_training_file", "param": "training_file", "message": f"File is invalid (key {KEY})"})
    lines = job_status("ftjob-2").lines()
    assert lines[-1] == "error: File is invalid (key ***)" and not any(KEY in line for line in lines)


@pytest.mark.parametrize("odd", [{"status": 7}, {"id": ["ftjob-3"]}, {"integrations": "wandb"},
                                 {"fine_tuned_model": {"id": "ft:x"}}, {"model": 4.0}])
def test_a_job_answer_with_fields_of_odd_types_is_one_clear_error(server, odd):
    server.jobs["ftjob-3"] = {**job("ftjob-3", "running"), **odd}
    with pytest.raises(PricerError, match="answered with something that is not a fine-tuning job"):
        job_status("ftjob-3").lines()


def test_unknown_and_malformed_job_ids(server):
    with pytest.raises(NotFound, match=r"found nothing for reading fine-tuning job ftjob-nope \(404\): check the job id"):
        job_status("ftjob-nope")
    for bad in ("../files", "", "ftjob 1", "x" * 200):
        with pytest.raises(BadInput, match="is not an OpenAI job id"):
            job_status(bad)
    with pytest.raises(BadInput, match="is not an OpenAI file id"):
        start_job("file-1/../../x")
    assert len(server.requests) == 1


def test_a_refused_key_is_one_clear_error_without_the_key(server):
    server.script = lambda r: error_reply(401, f"Incorrect API key provided: {KEY}", "invalid_api_key")
    with pytest.raises(AccessDenied, match="check OPENAI_API_KEY") as caught:
        start_job("file-a")
    assert KEY not in str(caught.value) and len(server.requests) == 1


def test_without_a_key_nothing_is_sent(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(PricerError, match="OPENAI_API_KEY is not set"):
        job_status("ftjob-1")
    assert server.requests == []
