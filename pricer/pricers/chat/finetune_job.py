"""The OpenAI fine-tuning job, as the course ran it: start it from the uploaded files, follow it.

pricer.pricers.chat.finetune writes and uploads `fine_tune_train.jsonl` and `fine_tune_validation.jsonl`;
`start_job` creates the job from them (the newest uploads of those names, or file ids given) with
the course's settings: base gpt-4o-mini-2024-07-18, seed 42, 1 epoch, suffix "pricer", and the
Weights & Biases integration (project "gpt-pricer") when WANDB_API_KEY is set. OpenAI logs to W&B
with the key stored in the organisation's settings, so the key itself is never sent from here.
`job_status` reports a job's state and latest events, and the fine-tuned model id once it has
succeeded: give that id to the frontier pricer (PRICER_FRONTIER_MODEL or --model).

Requests go through pricer.pricers.chat.client's client (OPENAI_BASE_URL, OPENAI_API_KEY, errors redacted).
It does not write or upload the files, nor price anything.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pricer.errors import BadInput, PricerError
from pricer.pricers.chat import client
from pricer.pricers.chat.finetune import TRAIN_FILE, VALIDATION_FILE

BASE_MODEL = "gpt-4o-mini-2024-07-18"  # the course's base for its fine-tuned GPT ($91.45 on the 250 test items)
SEED, EPOCHS, SUFFIX = 42, 1, "pricer"
WANDB_PROJECT = "gpt-pricer"
EVENTS = 10  # latest events shown by job_status, as the course listed them
TIMEOUT = 60.0
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}")
_RUNNING = {"validating_files", "queued", "running"}


@dataclass(frozen=True)
class Job:
    """A fine-tuning job as OpenAI reports it."""

    id: str
    status: str
    """validating_files, queued, running, succeeded, failed or cancelled."""
    model: str
    fine_tuned_model: str | None
    """The model id to price with, once the job has succeeded."""
    training_file: str
    validation_file: str | None
    wandb_project: str | None
    error: str = ""
    events: tuple[str, ...] = ()
    """The latest events, oldest first: `2024-09-13 10:02 UTC  Step 100/500: training loss=1.02`."""

    def lines(self) -> list[str]:
        """What `finetune start` and `finetune status` print."""
        files = self.training_file + (f" + {self.validation_file}" if self.validation_file else "")
        wandb = f", W&B project {self.wandb_project}" if self.wandb_project else ""
        out = [f"job {self.id}: {self.status} ({self.model}, files {files}{wandb})"]
        out += [f"  {event}" for event in self.events]
        if self.error:
            out.append(f"error: {self.error}")
        if self.fine_tuned_model:
            out += [f"fine-tuned model: {self.fine_tuned_model}",
                    f"price with it: PRICER_FRONTIER_MODEL={self.fine_tuned_model} (or --model)"]
        elif self.status in _RUNNING:
            out.append(f"check again with: python -m pricer finetune status {self.id}")
        return out


def wandb_integrations() -> list[dict[str, Any]] | None:
    """The course's W&B integration when WANDB_API_KEY is set, else None (no integration)."""
    if not os.environ.get("WANDB_API_KEY", "").strip():
        return None
    return [{"type": "wandb", "wandb": {"project": WANDB_PROJECT}}]


def _check_id(value: str, what: str) -> str:
    value = (value or "").strip()
    if not _ID.fullmatch(value):
        raise BadInput(f"{value[:60]!r} is not an OpenAI {what} id (like {'ftjob-abc123' if what == 'job' else 'file-abc123'}).")
    return value


def latest_uploads(api: Any) -> tuple[str | None, str | None]:
    """Ids of the newest uploaded fine_tune_train.jsonl and fine_tune_validation.jsonl (None if none)."""
    try:
        files = list(api.files.list(purpose="fine-tune", limit=100, order="desc").data or [])
    except _failures() as exc:
        raise client.api_error(exc, "listing the uploaded files") from None
    newest: dict[str, tuple[int, str]] = {}
    for f in files:
        name, created = getattr(f, "filename", None), int(getattr(f, "created_at", 0) or 0)
        if name in (TRAIN_FILE, VALIDATION_FILE) and (name not in newest or created > newest[name][0]):
            newest[name] = (created, f.id)
    return (newest[TRAIN_FILE][1] if TRAIN_FILE in newest else None,
            newest[VALIDATION_FILE][1] if VALIDATION_FILE in newest else None)


def start_job(training_file: str | None = None, validation_file: str | None = None, *, model: str = BASE_MODEL,
              seed: int = SEED, epochs: int = EPOCHS, suffix: str = SUFFIX) -> Job:
    """`finetune start [--train-file ID] [--validation-file ID]`: create the job and print its
    first status line (id, state, base model, files, W&B project) and how to follow it.

    Without ids, the newest uploads named fine_tune_train.jsonl / fine_tune_validation.jsonl are
    used (run `export-jsonl --upload` first).
    """
    if epochs < 1:
        raise BadInput(f"epochs must be at least 1, not {epochs}.")
    api = client.openai_client(TIMEOUT)
    if training_file is None:
        training_file, found_validation = latest_uploads(api)
        if training_file is None:
            raise BadInput(f"No uploaded {TRAIN_FILE} found at {client.shown_url()}: run `python -m pricer "
                           "export-jsonl --data SOURCE --out DIR --upload` first, or give the file id.")
        validation_file = validation_file or found_validation
    training_file = _check_id(training_file, "file")
    validation_file = _check_id(validation_file, "file") if validation_file else None
    request: dict[str, Any] = {"model": model, "training_file": training_file, "seed": seed,
                               "hyperparameters": {"n_epochs": epochs}, "suffix": suffix}
    if validation_file:
        request["validation_file"] = validation_file
    if integrations := wandb_integrations():
        request["integrations"] = integrations
    try:
        job = api.fine_tuning.jobs.create(**request)
    except _failures() as exc:
        raise client.api_error(exc, "creating the fine-tuning job") from None
    return _job(job)


def job_status(job_id: str | None = None, *, events: int = EVENTS) -> Job:
    """`finetune status [JOB]`: print the job's state, its latest events (oldest first), any
    error, and the fine-tuned model id once it has succeeded. Without JOB, the newest job."""
    api = client.openai_client(TIMEOUT)
    try:
        if job_id is None:
            jobs = list(api.fine_tuning.jobs.list(limit=1).data or [])
            if not jobs:
                raise BadInput(f"No fine-tuning jobs at {client.shown_url()} yet: start one with "
                               "`python -m pricer finetune start`.")
            job = jobs[0]
        else:
            job = api.fine_tuning.jobs.retrieve(_check_id(job_id, "job"))
        checked = _job(job)  # a job's fields, checked before its id goes into another request
        found = list(api.fine_tuning.jobs.list_events(checked.id, limit=events).data or []) if events > 0 else []
    except _failures() as exc:
        raise client.api_error(exc, f"reading fine-tuning job {job_id or '(newest)'}",
                             "check the job id (`finetune status` alone shows the newest job)") from None
    lines = [f"{_when(getattr(e, 'created_at', None))}  {client.redact(str(getattr(e, 'message', '')))}"
             for e in reversed(found)]
    return _job(job, tuple(lines))


def _job(job: Any, events: tuple[str, ...] = ()) -> Job:
    """The Job of the server's answer; a PricerError when it is not a fine-tuning job (a field
    missing, or of another type: a status that is a number, integrations that are a string...)."""
    def text(name: str, required: bool = False) -> str | None:
        value = getattr(job, name, None)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise TypeError(f"{name} is {type(value).__name__}")
        return value

    try:
        integrations = job.integrations or []
        if not isinstance(integrations, list):
            raise TypeError("integrations is not a list")
        wandb = next((getattr(getattr(i, "wandb", None), "project", None) for i in integrations
                      if getattr(i, "type", None) == "wandb"), None)
        error = getattr(job.error, "message", None) if job.error is not None else None
        return Job(text("id", True), text("status", True), text("model"), text("fine_tuned_model"),
                   text("training_file"), text("validation_file"), wandb if isinstance(wandb, str) else None,
                   client.redact(error if isinstance(error, str) else ""), events)
    except (AttributeError, TypeError):
        raise PricerError(f"{client.shown_url()} answered with something that is not a fine-tuning job: is "
                          "OPENAI_BASE_URL OpenAI's API?") from None


def _when(timestamp: Any) -> str:
    try:
        return datetime.fromtimestamp(int(timestamp), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return "(no time)"


def _failures() -> tuple[type[Exception], ...]:
    """What a call to the server can raise that is not a bug here: the client's errors, a body
    that is not JSON, or JSON that is not what was asked for (an object without the fields)."""
    import openai

    return (openai.OpenAIError, ValueError, AttributeError)
