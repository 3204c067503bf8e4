"""Hugging Face Jobs: run one of this project's commands on the hub's GPUs, and follow it.

The job runs this project itself, at the revision that launched it: its code (pricer/ and the
pinned requirements.txt, what deploy uploads less the app's UI and shipped models) is committed
to the run's own model repo under `job/`, and the job, on a CUDA image with pip, downloads exactly
that commit, installs its requirements and runs `python -m pricer ARGS`. HF_TOKEN goes as a job
secret: never in the command, the environment, a log line or an error (each is redacted).
huggingface_hub's Jobs API makes every call (`run_job`, `inspect_job`, `fetch_job_logs`): no
hand-written HTTP. `wait_for_job` and a followed log do not raise when a job fails, so the stage
is checked and a failure ends in one PricerError.

It knows nothing of training: pricer.cli builds the arguments (pricer.pricers.llama.training's
`remote_arguments`), this module carries them to the hub and back.

    >>> job_script("me/pricer-run", "abc123", ["qlora", "--data", "me/data; rm -rf /"]).split(" && ")[-1]
    "python -m pricer qlora --data 'me/data; rm -rf /'"
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pricer import hub
from pricer.deploy import SHIPPED_MODELS, excluded
from pricer.errors import BadInput, PricerError
from pricer.redact import redact

IMAGE = "pytorch/pytorch:2.6.0-cuda12.4-cudnn9-runtime"  # CUDA torch and pip; the rest comes from requirements.txt
DEFAULT_FLAVOR = "a10g-large"
CODE_ROOTS = ("pricer", "requirements.txt")  # what the job needs to run `python -m pricer`
CODE_FOLDER = "job"  # where the code goes in the run's repo
WORKDIR = "/tmp/pricer"
HUB_CLIENT = "huggingface_hub==2.4.0"  # to fetch the code inside the image (the same as requirements.txt)
DONE = "COMPLETED"
ENDED = ("COMPLETED", "CANCELED", "ERROR", "DELETED")

Say = Callable[[str], Any]


@dataclass(frozen=True)
class Launched:
    """A job started on the hub."""

    id: str
    namespace: str
    url: str
    revision: str
    """The commit of the run's repo that holds the code the job runs."""


def code_files(root: Path) -> list[str]:
    """The project's files a job needs (pricer/ and requirements.txt), relative to `root`, sorted:
    what deploy would upload of them, without the shipped CPU model."""
    files = []
    for name in CODE_ROOTS:
        path = root / name
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            relative = PurePosixPath(file.relative_to(root).as_posix())
            if file.is_file() and not excluded(relative, ()) and not relative.as_posix().startswith(SHIPPED_MODELS):
                files.append(relative.as_posix())
    return files


def job_script(repo: str, revision: str, arguments: list[str]) -> str:
    """The shell line the job runs: fetch the code at `revision` of `repo`, install its pinned
    requirements, run `python -m pricer ARGUMENTS` (every argument quoted)."""
    steps = [
        f"pip install -q {HUB_CLIENT}",
        f"hf download {shlex.quote(repo)} --revision {shlex.quote(revision)} --include '{CODE_FOLDER}/*' "
        f"--local-dir {WORKDIR}",
        f"cd {WORKDIR}/{CODE_FOLDER}",
        "pip install -q -r requirements.txt",
        "python -m pricer " + " ".join(shlex.quote(a) for a in arguments),
    ]
    return " && ".join(steps)


def _api(token: str) -> Any:
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint(), token=token)


def _token() -> str:
    token = hub.token()
    if not token:
        raise BadInput("Hugging Face Jobs need HF_TOKEN: create a token with write access at "
                       "https://huggingface.co/settings/tokens and set it as HF_TOKEN.")
    return token


def upload_code(repo: str, root: Path, token: str, private: bool = True) -> str:
    """Commit the project's code to `repo` under job/ (creating the repo, private by default);
    return the commit's revision."""
    from huggingface_hub import CommitOperationAdd

    api = _api(token)
    try:
        api.create_repo(repo, private=private, exist_ok=True)
        operations = [CommitOperationAdd(f"{CODE_FOLDER}/{name}", str(root / name)) for name in code_files(root)]
        commit = api.create_commit(repo, operations, commit_message="pricer: the code of a training job")
    except Exception as exc:  # noqa: BLE001 - every failure of the hub call is said in one line
        raise hub.call_failed(f"uploading the job's code to {repo}")(exc) from None
    return commit.oid


def launch(arguments: list[str], repo: str, *, root: Path, flavor: str = DEFAULT_FLAVOR,
           timeout_seconds: int | None = None, private: bool = True) -> Launched:
    """Start `python -m pricer ARGUMENTS` as a job on `flavor` hardware, with the code of `root`
    committed to `repo` first; HF_TOKEN is the job's one secret."""
    token = _token()
    api = _api(token)
    try:
        namespace = api.whoami()["name"]
    except Exception as exc:  # noqa: BLE001
        raise hub.call_failed("asking whose token HF_TOKEN is")(exc) from None
    revision = upload_code(repo, root, token, private)
    try:
        job = api.run_job(image=IMAGE, command=["bash", "-c", job_script(repo, revision, arguments)],
                          secrets={"HF_TOKEN": token}, flavor=flavor, timeout=timeout_seconds,
                          labels={"pricer": arguments[0] if arguments else "job"}, namespace=namespace)
    except Exception as exc:  # noqa: BLE001
        raise hub.call_failed(f"starting a {flavor} job")(exc) from None
    return Launched(job.id, namespace, str(getattr(job, "url", "") or ""), revision)


def status(job_id: str, namespace: str | None = None) -> tuple[str, str]:
    """(stage, message) of a job: SCHEDULING, RUNNING, COMPLETED, ERROR, CANCELED or DELETED."""
    token = _token()
    api = _api(token)
    try:
        info = api.inspect_job(job_id=job_id, namespace=namespace or api.whoami()["name"])
    except Exception as exc:  # noqa: BLE001
        raise hub.call_failed(f"asking for job {job_id}")(exc) from None
    stage = str(getattr(info.status.stage, "value", info.status.stage))
    return stage, redact(str(info.status.message or ""), token)


def logs(job_id: str, namespace: str | None = None, *, follow: bool = False, tail: int | None = None) -> Iterable[str]:
    """The job's log lines (redacted), as they come when `follow`."""
    token = _token()
    api = _api(token)
    try:
        for line in api.fetch_job_logs(job_id=job_id, namespace=namespace or api.whoami()["name"],
                                       follow=follow, tail=tail):
            yield redact(line, token)
    except Exception as exc:  # noqa: BLE001
        raise hub.call_failed(f"reading the logs of job {job_id}")(exc) from None


def follow(launched: Launched, say: Say) -> None:
    """Stream the job's logs to `say` until it ends; a PricerError unless it COMPLETED."""
    for line in logs(launched.id, launched.namespace, follow=True):
        say(line)
    stage, message = status(launched.id, launched.namespace)
    if stage != DONE:
        raise PricerError(f"The job {launched.id} ended {stage}{': ' + message if message else ''} "
                          f"({launched.url or 'see https://huggingface.co/settings/jobs'}).")
