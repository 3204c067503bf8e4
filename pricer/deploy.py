"""A validated spaces.yaml (pricer.manifest) -> a running Hugging Face Space: list the files to
upload, plan the huggingface_hub calls, then make them (or print them), and follow the build.

The manifest is the one source of truth: the Space's README front matter is rendered from it,
and `python -m pricer deploy --dry-run` prints exactly the calls a real run makes. Secrets are
named in the manifest and read from the environment only when the add-secret call is made; no
token value is ever printed, logged or written. This module does not build the app itself (that
is app.py, ui/ and the rest of pricer), nor ZeroGPU's decorator (pricer.gpu).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

from pricer import hub
from pricer.errors import AccessDenied, BadInput, HubUnavailable, PricerError
from pricer.manifest import (
    Manifest,
    ManifestInvalid,
    load_manifest,
    parse_duration,
    render_front_matter,
    render_readme,
)
from pricer.redact import redact, secrets_in_text

UPLOAD_ROOTS = ("pricer", "ui", "requirements.txt")  # plus app_file and the rendered README.md
# Never uploaded, wherever they sit (hidden files and folders are skipped too, e.g. .git, .env).
ALWAYS_EXCLUDED = ("tests", "benchmarks", "scripts", "data", "out", "results", "build", "flagged",
                   "__pycache__", "venv", "node_modules", "*.pyc", "*.pyo", "*.safetensors", "*.bin",
                   "*.parquet", "*.arrow", "*.jsonl", "*.egg-info")
# The CPU pricer's own trained model ships with the code (safetensors, sha256-checked at load):
# uploaded although *.safetensors is excluded everywhere else.
SHIPPED_MODELS = "pricer/pricers/cpu/shipped/"
# The package's own folders whose names are on the list above (pricer/data is code, not a dataset).
CODE_FOLDERS = ("pricer/data",)
MAX_FILE_BYTES = 1 << 20  # code only: small text files go inline in the commit, never via LFS/Xet
COMMIT_MESSAGE = "Deploy pricer from spaces.yaml"
POLL_SECONDS = 10  # how often --wait asks for the Space's stage
FAILED_STAGES = {"BUILD_ERROR", "RUNTIME_ERROR", "CONFIG_ERROR", "NO_APP_FILE", "STOPPED", "PAUSED",
                 "DELETING"}


class SpaceFailed(PricerError):
    """The Space was deployed but did not come up (build error, runtime error, timeout)."""


# --- files ------------------------------------------------------------------------------------


def excluded(relative: PurePosixPath, patterns: tuple[str, ...]) -> bool:
    """Is this path (relative to the app folder) left out of the upload?

    >>> excluded(PurePosixPath("pricer/__pycache__/hub.cpython-311.pyc"), ())
    True
    >>> excluded(PurePosixPath("pricer/hub.py"), ("pricer/h*.py",))
    True
    >>> excluded(PurePosixPath("pricer/pricers/cpu/shipped/model.safetensors"), ())
    False
    >>> excluded(PurePosixPath("pricer/pricers/cpu/shipped/__pycache__/x.cpython-311.pyc"), ())
    True
    >>> excluded(PurePosixPath("pricer/data/items.py"), ()), excluded(PurePosixPath("ui/data/x.py"), ())
    (False, True)
    """
    # the shipped model's weights are the one exception, and only its *.safetensors
    never = [p for p in ALWAYS_EXCLUDED if not (p == "*.safetensors" and relative.as_posix().startswith(SHIPPED_MODELS))]
    for depth, part in enumerate(relative.parts, 1):
        if PurePosixPath(*relative.parts[:depth]).as_posix() in CODE_FOLDERS:
            continue
        if part.startswith(".") or any(fnmatch(part, p) for p in never):
            return True
    text = relative.as_posix()
    return any(fnmatch(text, p) or fnmatch(relative.name, p) or text.startswith(p.rstrip("/") + "/")
               for p in patterns)


def upload_files(manifest: Manifest) -> list[str]:
    """The files uploaded besides the rendered README, relative to the app folder, sorted."""
    root, files = manifest.root, set()
    for name in (manifest.front_matter["app_file"], *UPLOAD_ROOTS):
        path = root / name
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path] if path.is_file() else []
        for file in candidates:
            relative = PurePosixPath(file.relative_to(root).as_posix())
            if file.is_file() and not excluded(relative, manifest.exclude):
                files.add(relative.as_posix())
    return sorted(files)


def _check_files(manifest: Manifest, files: list[str]) -> None:
    problems = []
    for name in files:
        data = (manifest.root / name).read_bytes()
        if len(data) > MAX_FILE_BYTES:
            problems.append(f"{name}: {len(data):,} bytes; only code is uploaded (add it to exclude:)")
        problems += [f"{name} line {n}: looks like {what}; move it to the environment and name it under "
                     "secrets:" for n, what in secrets_in_text(data.decode("utf-8", errors="replace"))]
    if problems:
        raise ManifestInvalid(manifest.root / "spaces.yaml", problems)


# --- the plan: every huggingface_hub call, in order ---------------------------------------------


@dataclass(frozen=True)
class FromEnvironment:
    """A secret's value, read from the environment only when the call is made."""

    name: str

    def __repr__(self) -> str:
        return "(set from environment)"


@dataclass(frozen=True)
class Upload:
    """The commit's files, read only when the call is made."""

    root: Path
    files: tuple[str, ...]
    readme: str

    def __repr__(self) -> str:
        return f"[README.md + {len(self.files)} files]"

    def operations(self) -> list:
        from huggingface_hub import CommitOperationAdd

        return [CommitOperationAdd("README.md", self.readme.encode("utf-8"))] + [
            CommitOperationAdd(name, (self.root / name).read_bytes()) for name in self.files]


@dataclass(frozen=True)
class Call:
    """One HfApi method call."""

    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.method}({', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())})"

    def resolved(self, environ: dict[str, str]) -> dict[str, Any]:
        def value(v: Any) -> Any:
            if isinstance(v, FromEnvironment):
                return environ[v.name]
            return v.operations() if isinstance(v, Upload) else v

        return {k: value(v) for k, v in self.kwargs.items()}


def plan(manifest: Manifest) -> list[Call]:
    """The calls a deploy makes, in order: create (and set visibility), upload, variables, secrets,
    hardware, sleep time."""
    files = upload_files(manifest)
    _check_files(manifest, files)
    space = {"repo_id": manifest.space_id}
    calls = [Call("create_repo", {**space, "repo_type": "space", "space_sdk": "gradio",
                                  "private": manifest.private, "exist_ok": True}),
             # create_repo leaves an existing Space as it was: the manifest's visibility wins
             Call("update_repo_settings", {**space, "repo_type": "space", "private": manifest.private}),
             Call("create_commit", {**space, "repo_type": "space",
                                    "operations": Upload(manifest.root, tuple(files), render_readme(manifest)),
                                    "commit_message": COMMIT_MESSAGE})]
    calls += [Call("add_space_variable", {**space, "key": k, "value": v}) for k, v in manifest.variables.items()]
    calls += [Call("add_space_secret", {**space, "key": k, "value": FromEnvironment(source)})
              for k, source in manifest.secrets.items()]
    calls.append(Call("request_space_hardware", {**space, "hardware": manifest.hardware}))
    if manifest.sleep_time is not None:
        calls.append(Call("set_space_sleep_time", {**space, "sleep_time": manifest.sleep_time}))
    return calls


def space_url(space_id: str) -> str:
    return f"{hub.endpoint()}/spaces/{space_id}"


class _UnsetSecretsNoted(dict):
    """The environment as a dry run reads it: a secret's source that is not set counts as set (the
    manifest is otherwise checked as for a real deploy) and is noted in `unset`; no value is shown."""

    def __init__(self, environ: dict[str, str]) -> None:
        super().__init__(environ)
        self.unset: list[str] = []

    def get(self, name: str, default: Any = None) -> Any:
        if super().get(name):
            return super().get(name)
        self.unset.append(name)
        return "(not set)"


def load_for_dry_run(config: str | os.PathLike) -> tuple[Manifest, list[str]]:
    """The manifest checked as `load_manifest` does, except that a secret not exported yet is
    returned in the list (the dry run notes it) instead of refused: a dry run sends nothing."""
    environ = _UnsetSecretsNoted(dict(os.environ))
    manifest = load_manifest(config, environ)
    return manifest, environ.unset


def describe_plan(manifest: Manifest, calls: list[Call], unset: list[str] | tuple[str, ...] = ()) -> str:
    """What --dry-run prints: front matter, files, calls. Secrets appear as (set from environment);
    `unset` names the secrets' environment variables not set here (noted, never a value)."""
    upload = next(c.kwargs["operations"] for c in calls if c.method == "create_commit")
    sizes = {name: (manifest.root / name).stat().st_size for name in upload.files}
    lines = [f"Space {manifest.space_id} -> {space_url(manifest.space_id)}", "",
             "README.md front matter (from spaces.yaml):", render_front_matter(manifest).rstrip(), "",
             f"Files to upload ({len(sizes) + 1}, {(sum(sizes.values()) + len(upload.readme)) / 1024:.1f} kB):",
             f"  README.md  ({len(upload.readme):,} bytes, front matter above + the repo's README body)"]
    lines += [f"  {name}  ({size:,} bytes)" for name, size in sizes.items()]
    lines += ["", f"Calls to huggingface_hub.HfApi (endpoint {hub.endpoint()}):"]
    lines += [f"  {n}. {call.describe()}" for n, call in enumerate(calls, 1)]
    notes = [example_owner(manifest),
             None if hub.token() else "no Hugging Face token found: export HF_TOKEN=... (write access) before "
                                      "the real deploy"]
    notes += [f"{name} is not set in this environment: the real deploy copies a Space secret from it, so export "
              f"it first" for name in dict.fromkeys(unset)]
    lines += [""] + [f"note: {note}" for note in notes if note] if any(notes) else []
    return "\n".join(lines)


# --- run ----------------------------------------------------------------------------------------


def hub_api():
    """An HfApi on HF_ENDPOINT (default huggingface.co) with the token from the environment."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint(), token=hub.token())


def _hub_error(call: Call, exc: Exception, manifest: Manifest | None = None, space_id: str = "") -> PricerError:
    """A one-line message for a failed call (pricer.hub.hub_error), with every secret the deploy
    sends hidden: a server may quote back the request it refused."""
    m, space_id = call.method, manifest.space_id if manifest else space_id
    secrets = _secret_values(manifest) if manifest else []
    return hub.hub_error(exc, {
        401: f"{m}: the Hub did not accept the token (401). Export HF_TOKEN with a token that has write "
             "access (https://huggingface.co/settings/tokens).",
        403: f"{m}: not allowed to change {space_id} (403): check that the owner in space_id is you or an "
             "organisation you can write to. {server}",
        402: f"{m}: the Hub asks for payment (402): paid hardware needs a billing method on your account "
             "(or pick zero-a10g with PRO). {server}",
        "refused": f"{m}: the Hub refused it ({{status}}): {{server}}",
        "failed": f"{m} failed ({{status}}): {{server}}",
    }, *secrets)


def example_owner(manifest: Manifest) -> str | None:
    """What to do when space_id still has the example's owner (None when it does not)."""
    if manifest.space_id.split("/")[0].lower() not in {"your-username", "your-name", "owner", "username"}:
        return None
    return (f"space_id {manifest.space_id!r} still has the example owner: put your Hugging Face username "
            "(or organisation) before the '/' in spaces.yaml")


def run(manifest: Manifest, say: Callable[[str], None] = print) -> str:
    """Make every call of the plan; return the Space URL."""
    if problem := example_owner(manifest):
        raise BadInput(problem)
    calls = plan(manifest)
    if hub.offline_mode():
        raise HubUnavailable("Cannot deploy: HF_HUB_OFFLINE is set. Unset it on a machine that can reach "
                             "the Hub, or use --dry-run to see what would be sent.")
    if not hub.hub_reachable():
        raise HubUnavailable(f"Cannot deploy: the Hub ({hub.endpoint()}) cannot be reached from this machine. "
                             "Check the network, or use --dry-run to see what would be sent.")
    if hub.token() is None:
        raise AccessDenied("Deploying needs a Hugging Face token with write access: create one at "
                           "https://huggingface.co/settings/tokens and export HF_TOKEN=... (never put it in "
                           "spaces.yaml).")
    from httpx2 import TransportError  # huggingface_hub's HTTP client
    from huggingface_hub.errors import HfHubHTTPError

    api = hub_api()
    for n, call in enumerate(calls, 1):
        try:
            with _bodies_unlogged(call.method == "add_space_secret"):
                result = getattr(api, call.method)(**call.resolved(os.environ))
        except HfHubHTTPError as exc:
            raise _hub_error(call, exc, manifest) from None
        except TransportError as exc:  # connection refused or dropped, DNS, timeout
            raise HubUnavailable(f"{call.method}: {type(exc).__name__} talking to {hub.endpoint()}. Check the "
                                  "network and run the deploy again (every step is safe to repeat).") from None
        except ValueError as exc:  # the Hub's README check (validate-yaml) found bad front matter
            message = f"{call.method}: {' '.join(str(exc).split())}"
            raise BadInput(redact(message, hub.token(), *_secret_values(manifest))) from None
        say(f"[{n}/{len(calls)}] {_done(call, result)}")
    return space_url(manifest.space_id)


def _secret_values(manifest: Manifest) -> list[str | None]:
    """The values of the secrets this deploy sends, to hide from any message."""
    return [os.environ.get(source) for source in manifest.secrets.values()]


@contextmanager
def _bodies_unlogged(secret: bool) -> Iterator[None]:
    """With HF_DEBUG set, huggingface_hub logs each request as a curl command, body included: the
    body of add_space_secret is the secret's value, so that one call is made with HF_DEBUG off."""
    from huggingface_hub import constants

    debug = constants.HF_DEBUG
    constants.HF_DEBUG = debug and not secret
    try:
        yield
    finally:
        constants.HF_DEBUG = debug


def _done(call: Call, result: Any) -> str:
    k = call.kwargs
    if call.method == "create_repo":
        return f"Space {k['repo_id']} exists"
    if call.method == "update_repo_settings":
        return f"visibility {'private' if k['private'] else 'public'}"
    if call.method == "create_commit":
        return f"uploaded README.md + {len(k['operations'].files)} files (commit {str(result.oid)[:7]})"
    if call.method == "add_space_variable":
        return f"variable {k['key']} = {k['value']}"
    if call.method == "add_space_secret":
        return f"secret {k['key']} set from the environment"
    if call.method == "request_space_hardware":
        return f"hardware {k['hardware']} requested"
    return "sleep time " + ("never" if k["sleep_time"] == -1 else f"{k['sleep_time']} s")


def wait_until_running(space_id: str, *, timeout: float = 3600, poll_every: float | None = None,
                       settle: float = 60, say: Callable[[str], None] = print) -> str:
    """Follow the Space's runtime stage until RUNNING; raise SpaceFailed with the Hub's error message
    on a build or runtime error. A RUNNING seen before any other stage counts only after `settle`
    seconds, since the previous version keeps running until the new build starts."""
    from httpx2 import TransportError
    from huggingface_hub.errors import HfHubHTTPError

    api, start, last, moved = hub_api(), time.monotonic(), None, False
    while True:
        try:
            runtime = api.get_space_runtime(space_id)
        except HfHubHTTPError as exc:
            raise _hub_error(Call("get_space_runtime"), exc, space_id=space_id) from None
        except TransportError as exc:  # the connection dropped while following the build
            raise HubUnavailable(f"Lost the Hub ({type(exc).__name__}) while following the build; the deploy "
                                 f"itself is done: follow it at {space_url(space_id)}") from None
        stage, elapsed = str(runtime.stage), time.monotonic() - start
        if stage != last:
            say(f"stage {stage} after {elapsed:.0f} s")
            last = stage
        if stage in FAILED_STAGES:
            message = redact((runtime.raw.get("errorMessage") or "no message from the Hub").strip(), hub.token())
            raise SpaceFailed(f"The Space stopped at {stage}: {message}\nLogs: {space_url(space_id)}?logs=build")
        if stage == "RUNNING" and (moved or elapsed >= settle):
            return stage
        moved = moved or stage != "RUNNING"
        if elapsed > timeout:
            raise SpaceFailed(f"The Space is still {stage} after {timeout / 60:.0f} minutes; follow it at "
                              f"{space_url(space_id)}")
        time.sleep(POLL_SECONDS if poll_every is None else poll_every)


def wait_timeout(manifest: Manifest) -> int:
    """How long --wait follows the Space: its startup timeout plus half an hour to build."""
    return parse_duration(manifest.front_matter.get("startup_duration_timeout", "30m")) + 1800
