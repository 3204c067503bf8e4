"""A training run's folder and its copy on the hub: which run a folder holds, where it resumes,
and pushing its checkpoints and adapter (or pulling the last pushed checkpoint back).

A run's folder holds `run.json` (its identity: base model, the data's sha256, the recipe),
`checkpoint-N` folders (the trainer's, every `save_steps`), then the adapter and its card. The
same run resumes from its newest complete checkpoint; another run is refused. On the hub, each
checkpoint is a commit of `last-checkpoint/` in the run's repo (a revision), and the adapter a
commit at its root; a rerun with an empty folder pulls `last-checkpoint` back. Every hub call is
huggingface_hub's, every failure one redacted message. It trains nothing (pricer.pricers.llama.training).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pricer import hub
from pricer.atomic import atomic_write
from pricer.errors import BadInput, PricerError

RUN_FILE = "run.json"
CARD_FILE = "README.md"  # the adapter's model card, on the hub too
FORMAT = "pricer-qlora/1"
HUB_CHECKPOINT = "last-checkpoint"
RUN_IN_CHECKPOINT = "pricer-run.json"  # the run's identity, inside each pushed checkpoint

Say = Callable[[str], Any]


def identity(base_model: str, data: Any, recipe: Any) -> dict[str, Any]:
    """What makes a run this run: resuming continues only the same one."""
    return {"format": FORMAT, "base_model": base_model, "data_sha256": data.digest(), "items": len(data.prompts),
            "recipe": recipe.to_json()}


def differing(held: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """The parts of a run's identity in which `held` is another run than `wanted`."""
    return [k for k in wanted if held.get(k) != wanted[k]]


def resume_point(out: Path, wanted: dict[str, Any]) -> tuple[Path | None, dict[str, Any]]:
    """(the newest checkpoint of the same run in `out`, or None; the run's record there, {} for a
    fresh run); a BadInput when `out` holds another run or files that are not a run's."""
    record = out / RUN_FILE
    if not record.exists():
        if any(out.iterdir()):
            raise BadInput(f"{out} is not empty and holds no training run ({RUN_FILE}): choose an empty or new --out.")
        return None, {}
    try:
        held = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"{record} is damaged ({exc}): choose another --out, or delete {out} to start afresh.") from None
    if differ := differing(held, wanted):
        raise BadInput(f"{out} holds another run (its {', '.join(differ)} differ): choose another --out to train "
                       "this one, or give the same base model, data and settings to resume that one.")
    checkpoints = sorted((p for p in out.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
                         key=lambda p: int(p.name.split("-")[-1]))
    complete = [p for p in checkpoints if (p / "trainer_state.json").exists()]
    return (complete[-1] if complete else None), held


def write_json(path: Path, data: dict[str, Any]) -> None:
    try:
        with atomic_write(path) as f:
            json.dump(data, f, indent=1)
    except OSError as exc:
        raise BadInput(f"Could not write {path}: {exc.strerror or exc}. Free some space or choose another --out.") from None


RESUMES = "The run's files stay in --out, and the same command resumes."


def _api() -> Any:
    from huggingface_hub import HfApi

    if not hub.token():
        raise BadInput("--push-to-hub needs HF_TOKEN with write access (https://huggingface.co/settings/tokens).")
    return HfApi(endpoint=hub.endpoint(), token=hub.token())


def pusher(repo: str, private: bool, say: Say, run: dict[str, Any]) -> Callable[[Path, int], None]:
    """push(checkpoint folder, step): one commit of `last-checkpoint/` in `repo`, the run's identity
    (RUN_IN_CHECKPOINT) beside it, so a rerun elsewhere resumes only the same run."""
    api = _api()
    try:
        api.create_repo(repo, private=private, exist_ok=True)
    except Exception as exc:  # noqa: BLE001
        raise hub.call_failed(f"creating {repo}", RESUMES)(exc) from None

    def push(checkpoint: Path, step: int) -> None:
        write_json(checkpoint / RUN_IN_CHECKPOINT, run)
        try:
            commit = api.upload_folder(repo_id=repo, folder_path=str(checkpoint), path_in_repo=HUB_CHECKPOINT,
                                       commit_message=f"checkpoint at step {step}")
        except Exception as exc:  # noqa: BLE001
            raise hub.call_failed(f"pushing the checkpoint of step {step} to {repo}", RESUMES)(exc) from None
        say(f"pushed the checkpoint of step {step:,} to {repo}@{commit.oid}")

    return push


def push_adapter(repo: str, folder: Path, private: bool) -> str:
    """Commit the adapter, its card and run.json to the repo's root; return the revision."""
    api = _api()
    try:
        api.create_repo(repo, private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo, folder_path=str(folder), commit_message="the trained adapter",
                                   allow_patterns=["adapter_config.json", "adapter_model.safetensors", CARD_FILE,
                                                   RUN_FILE])
    except Exception as exc:  # noqa: BLE001
        raise hub.call_failed(f"pushing the adapter to {repo}", RESUMES)(exc) from None
    return str(commit.oid)


def hub_user() -> str:
    """Whose HF_TOKEN this is: the namespace of a repo named for the run."""
    try:
        return str(_api().whoami()["name"])
    except PricerError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise hub.call_failed("asking whose token HF_TOKEN is", RESUMES)(exc) from None


def pushed_revision(repo: str) -> str:
    """The newest revision of `repo` (after a job pushed the adapter)."""
    try:
        return str(_api().model_info(repo).sha)
    except Exception as exc:  # noqa: BLE001
        raise hub.call_failed(f"asking for the newest revision of {repo}", RESUMES)(exc) from None


def pull_checkpoint(repo: str, folder: Path, wanted: dict[str, Any], say: Say) -> Path | None:
    """The run's last pushed checkpoint, downloaded into `folder` to resume from; None when the repo
    has none (or does not exist yet). A repo holding another run is refused."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    api = _api()
    try:
        files = api.list_repo_files(repo)
    except (RepositoryNotFoundError, RevisionNotFoundError):
        return None
    except Exception as exc:  # noqa: BLE001
        raise hub.call_failed(f"looking for a checkpoint in {repo}", RESUMES)(exc) from None
    if RUN_FILE in files:
        raise BadInput(f"{repo} already holds a trained adapter ({RUN_FILE} at its root): push this run to another "
                       "repo (the course names each run pricer-YYYY-MM-DD_HH.MM.SS).")
    if f"{HUB_CHECKPOINT}/{RUN_IN_CHECKPOINT}" not in files:
        return None  # nothing pushed yet
    try:
        snapshot_download(repo, allow_patterns=[f"{HUB_CHECKPOINT}/*"], local_dir=str(folder),
                          endpoint=hub.endpoint(), token=hub.token())
    except Exception as exc:  # noqa: BLE001
        raise hub.call_failed(f"downloading the checkpoint of {repo}", RESUMES)(exc) from None
    pulled = folder / HUB_CHECKPOINT
    try:
        held = json.loads((pulled / RUN_IN_CHECKPOINT).read_text(encoding="utf-8"))
        step = int(json.loads((pulled / "trainer_state.json").read_text(encoding="utf-8"))["global_step"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"The checkpoint on {repo} is damaged ({exc}): push to another repo, or delete its "
                       f"{HUB_CHECKPOINT} folder to start afresh.") from None
    if differ := differing(held, wanted):
        shutil.rmtree(pulled, ignore_errors=True)
        raise BadInput(f"{repo} holds the checkpoint of another run (its {', '.join(differ)} differ): push this "
                       "run to another repo, or give that run's base model, data and settings to resume it.")
    target = folder / f"checkpoint-{step}"
    pulled.rename(target)
    say(f"found the checkpoint of step {step:,} on {repo}")
    return target
