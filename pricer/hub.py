"""The Hugging Face Hub boundary: hub id or local path, is it reachable, may we read this repo,
and what went wrong.

Every hub access in pricer asks here first, so an offline machine or a gated model gives one
clear message at once instead of a minute of retries inside transformers. `resolve` is the one
place that decides whether a name is a local path or a hub id; `hub_error` is the one place that
turns a failed hub call's HTTP status into a PricerError, with every secret taken out of what
the server said (pricer.redact). This module loads nothing itself.

HF_TOKEN is read from the environment by huggingface_hub itself; we never call `login()`,
because that writes the token to a file, and we never print or log it.
"""

from __future__ import annotations

import functools
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from pricer.errors import AccessDenied, BadInput, HubUnavailable, NotFound, PricerError
from pricer.redact import redact

GATED_HELP = (
    "{repo} is gated: open https://huggingface.co/{repo}, accept the licence with your account, "
    "create a read token at https://huggingface.co/settings/tokens and set it as HF_TOKEN "
    "(a Space secret on Hugging Face, an environment variable locally)."
)

NO_SUCH_PATH = "No such file or folder: {name}. Check the path, or give {hub_name}."


def is_local(name_or_path: str | os.PathLike) -> bool:
    """True when the argument names an existing local file or folder rather than a hub id."""
    return os.path.exists(Path(name_or_path).expanduser())


def looks_like_path(name: str) -> bool:
    """A name that can only be a path (./x, /x, ~/x, C:\\x, x/y/z): never tried on the hub."""
    return name.startswith((".", "/", "~", "\\")) or name.count("/") > 1 or ":" in name


def resolve(name: str | os.PathLike, repo_type: str | None = "model", *,
            suffixes: tuple[str, ...] = (), hub_name: str = "a hub id (owner/name)",
            web: bool = False) -> Path | str:
    """A local file or folder (its Path) or a hub id (the name): decided here for every loader.

    An existing path is local. A name that can only be a path (./x, /x, ~/x, a/b/c, or ending in
    one of `suffixes`) but does not exist is NotFound. Anything else is a hub id, whose access is
    checked (check_access) unless `repo_type` is None (a name that is not a repo, such as a
    category of the raw Amazon data). `hub_name` says what else the name could have been.

    A name sent from the web app (`web`) is local only inside the folders pricer.web_paths
    allows; outside them a name that can only be a path is a BadInput that does not say whether
    it exists, and any other name is a hub id, never looked for on the disk.

    >>> resolve("."), resolve("owner/name", None)
    (PosixPath('.'), 'owner/name')
    """
    text = str(name).strip()
    path_shaped = looks_like_path(text) or text.lower().endswith(suffixes)
    if web:
        from pricer.web_paths import INSTEAD, web_path

        found = web_path(text, path_shaped, INSTEAD.format(hub_name=hub_name))
        path = found if found is not None and os.path.exists(found) else None
    else:
        path = Path(text).expanduser()
        path = path if os.path.exists(path) else None  # never raises (a NUL, a name too long)
    if path is not None:
        return path
    if path_shaped:
        raise NotFound(NO_SUCH_PATH.format(name=text, hub_name=hub_name))
    if repo_type is not None:
        check_access(text, repo_type)
    return text


def status_of(exc: BaseException) -> int | None:
    """The HTTP status a failed hub call got back, or None when no answer came."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def hub_error(exc: BaseException, messages: dict[int | str, str], *secrets: str | None) -> PricerError:
    """A failed hub call -> the PricerError to raise, in the caller's words.

    The status decides the kind: 401, 402 and 403 are AccessDenied, any other 4xx BadInput, a 5xx
    or no answer at all HubUnavailable. `messages` words it: a template for a status (401, 403,
    ...), else "refused" (a 4xx) or "failed" (the rest). In a template, {status} is the status
    (the exception's type when no answer came), {answer} "answered 503" or "could not be reached
    (ConnectError)", and {server} the server's own message. The whole message is redacted: a
    server may quote back the request it refused, token and all; `secrets` are hidden too.
    """
    status = status_of(exc)
    server = getattr(exc, "server_message", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if status in (401, 402, 403):
        kind: type[PricerError] = AccessDenied
    elif status is not None and 400 <= status < 500:
        kind = BadInput
    else:
        kind = HubUnavailable
    template = messages.get(status) if status is not None else None  # type: ignore[arg-type]
    template = template or messages["refused" if kind is not HubUnavailable else "failed"]
    answer = f"answered {status}" if status else f"could not be reached ({type(exc).__name__})"
    fields = {"{status}": str(status or type(exc).__name__), "{answer}": answer, "{server}": server.strip()}
    message = template
    for field, value in fields.items():  # not str.format: a template holds user text (a revision, a path)
        message = message.replace(field, value)
    return kind(redact(message, token(), *secrets))


def call_failed(what: str, then: str = "Try again in a minute.") -> Callable[[BaseException], PricerError]:
    """exc -> the PricerError of a hub call made with HF_TOKEN while `what` (e.g. "pushing the
    adapter to me/run"), redacted: an invalid or read-only token, payment, any other refusal, no answer."""
    def convert(exc: BaseException) -> PricerError:
        return hub_error(exc, {
            401: f"The Hugging Face Hub refused HF_TOKEN when {what}: check that it is valid and has write access "
                 "(https://huggingface.co/settings/tokens).",
            402: f"The Hugging Face Hub asks for payment when {what} (Jobs need a payment method or credits): {{server}}",
            "refused": f"The Hugging Face Hub refused ({{status}}) when {what}: {{server}}",
            "failed": f"The Hugging Face Hub ({endpoint()}) {{answer}} when {what}. {then}",
        })
    return convert


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def offline_mode() -> bool:
    """HF_HUB_OFFLINE as set now, or as huggingface_hub read it when first imported: it keeps that
    value (constants.HF_HUB_OFFLINE) and refuses every request while it is true."""
    from huggingface_hub import constants

    return constants.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


_reach_cache: dict[str, tuple[float, bool]] = {}


def hub_reachable(timeout: float = 3.0, ttl: float = 60.0) -> bool:
    """Can we open a TCP connection to the hub endpoint? Cached for `ttl` seconds."""
    if offline_mode():
        return False
    url = urlparse(endpoint())
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    key = f"{host}:{port}"
    now = time.monotonic()
    if key in _reach_cache and now - _reach_cache[key][0] < ttl:
        return _reach_cache[key][1]
    try:
        with socket.create_connection((host, port), timeout=timeout):
            ok = True
    except OSError:
        ok = False
    _reach_cache[key] = (now, ok)
    return ok


def token() -> str | None:
    """The token huggingface_hub would use (HF_TOKEN first). Never print it."""
    from huggingface_hub import get_token

    return get_token()


def require_hub(what: str) -> None:
    """Raise HubUnavailable with a useful message when the hub cannot be reached."""
    if offline_mode():
        raise HubUnavailable(
            f"Cannot load {what}: HF_HUB_OFFLINE is set. Unset it, or give a local path instead."
        )
    if not hub_reachable():
        raise HubUnavailable(
            f"Cannot load {what}: the Hugging Face Hub ({endpoint()}) cannot be reached from this "
            "machine. Check the network, or give a local path instead."
        )


@functools.lru_cache(maxsize=64)
def _checked(repo_id: str, repo_type: str, has_token: bool, at: str) -> None:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

    try:
        HfApi(endpoint=endpoint()).auth_check(repo_id, repo_type=repo_type, token=token())
    except GatedRepoError as exc:
        hint = "" if has_token else " No HF_TOKEN is set."
        raise AccessDenied(GATED_HELP.format(repo=repo_id) + hint) from exc
    except RepositoryNotFoundError as exc:
        hint = "" if has_token else " If it is private, set HF_TOKEN to a token that can read it."
        raise NotFound(
            f"No {repo_type} called {repo_id!r} on the Hugging Face Hub, and no such local path. "
            f"Check the spelling.{hint}"
        ) from exc
    except HFValidationError as exc:
        raise NotFound(
            f"{repo_id!r} is neither a local path nor a valid hub id (owner/name)."
        ) from exc
    except Exception as exc:  # the hub answered oddly or the connection dropped: say so, don't crash
        raise HubUnavailable(
            f"Could not check access to {repo_id} on {endpoint()}: {type(exc).__name__}. "
            "Try again in a minute, or give a local path instead."
        ) from exc


REFUSAL_TTL = 60.0  # seconds a definite "no" (gated, not found) is remembered
_refusals: dict[tuple[str, str, bool, str], tuple[float, type[PricerError], str]] = {}


def check_access(repo_id: str, repo_type: str = "model") -> None:
    """Raise a user-facing error unless the hub is reachable and `repo_id` is readable.

    A readable repo is remembered for the process and a refusal for REFUSAL_TTL seconds, so a
    live view (the Tokenizer tab re-checks on every keystroke) asks the Hub once, not each time.
    """
    if looks_like_path(repo_id):
        raise NotFound(NO_SUCH_PATH.format(name=repo_id, hub_name="a hub id (owner/name)"))
    require_hub(f"{repo_type} {repo_id}")
    key = (repo_id, repo_type, token() is not None, endpoint())
    if (hit := _refusals.get(key)) and time.monotonic() - hit[0] < REFUSAL_TTL:
        raise hit[1](hit[2])
    try:
        _checked(*key)
    except (AccessDenied, NotFound) as exc:  # definite answers; an outage is asked again next time
        _refusals[key] = (time.monotonic(), type(exc), str(exc))
        raise


def missing_token_notice(repo_id: str) -> str:
    """A sentence for the page when a hub model will be needed and no HF_TOKEN is set, else ''."""
    if is_local(repo_id) or token():
        return ""
    return (
        f"HF_TOKEN is not set, so {repo_id} (gated) cannot be loaded from the Hub: accept its "
        f"licence at https://huggingface.co/{repo_id}, then add a read token as the HF_TOKEN secret "
        "of this Space (Settings > Variables and secrets) or export it locally. The Tokenizer tab "
        "works meanwhile with the offline copy of the Llama 3.1 tokenizer."
    )


def source_key(source: str | Path | None) -> str:
    """A name for a data file, model folder or hub id that changes when a local copy changes,
    so a retrained adapter saved over the old one is not served from the cache."""
    if source is None:
        return "none"
    path = Path(str(source)).expanduser()
    if not path.exists():
        return str(source)
    files = [p for p in path.iterdir() if p.is_file()] if path.is_dir() else [path]
    stats = [p.stat() for p in files]
    newest = max((st.st_mtime_ns for st in stats), default=0)
    return f"{path.resolve()}@{sum(st.st_size for st in stats)}:{newest}"
