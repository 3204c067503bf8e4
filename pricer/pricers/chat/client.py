"""Chat completions from OpenAI or any OpenAI-compatible server, for pricers that ask one.

`complete(messages_list, model=..., max_tokens=...)` sends each conversation once through the
official `openai` client and returns the replies in order: a few at a time (threads), each call
with a timeout, retried with exponential backoff on 429 and 5xx (a server's Retry-After is
honoured, and pauses every thread) within a deadline over all of a conversation's tries and
waits (DEADLINE; the web app's `for_a_visitor()` gives what a person would wait, and bounds
all visitors' calls in flight together), and every
answer written to a disk cache as it arrives, keyed
by sha256 of (base URL, model, exact messages, parameters). A re-run, or a run resumed after an
interruption, sends nothing for what it already has. The frontier and RAG pricers differ only in
the messages they pass.

Where and who: the base URL from OPENAI_BASE_URL (the client's own variable; OpenAI when unset),
the key from OPENAI_API_KEY. The key is never printed, logged or cached, and it is removed from
any server message quoted in an error. Errors are PricerErrors that say what to do. It does not
build prompts, parse prices or count cost (pricer.pricers.chat.frontier, pricer.pricers.chat.cost).

Longer than 450 lines: every rule one request to the server follows (tries, pauses, the
deadline, visitors' shared places, the cache it is answered from) is here, read in one place.
"""

from __future__ import annotations

import dataclasses
import email.utils
import hashlib
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as Late
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pricer.errors import AccessDenied, BadInput, NotFound, PricerError

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
CONCURRENCY = 4  # requests in flight; OpenAI's lowest tier allows 500 a minute for gpt-4o-mini
TOKEN_CHARS = 32  # no token of any chat model is longer: a reply is kept only as far as max_tokens can reach
TIMEOUT = 30.0  # seconds for one call
RETRIES = 4  # after the first try, on 429, 5xx, timeouts and dropped connections
BACKOFF = 1.0  # seconds before the first retry when the server gives no Retry-After; doubles each time
MAX_WAIT = 120.0  # a server asking for a longer pause gets an error instead of a silent wait
DEADLINE = 600.0  # seconds one conversation may take, all tries and waits together (the CLI, an evaluation)
WEB_DEADLINE = 45.0  # the same for a visitor of the web app: about what a person waits, then one message
WEB_CALLS = 4  # calls to the server in flight for all web visitors together (for_a_visitor)
WEB_WAIT = 2.0  # seconds a visitor's call waits for one of them before it is refused as busy
GRACE = 2.0  # seconds past the deadline before the caller stops waiting for a request still reading
Messages = list[dict[str, str]]
ProgressFn = Callable[[int, int], Any]  # progress(done, total)


@dataclass(frozen=True)
class Completion:
    """One conversation's answer."""

    reply: str
    """The assistant's text ('' when it sent none, e.g. a refusal)."""
    cached: bool = False
    """True when it came from the disk cache (no request was made)."""
    prompt_tokens: int = 0
    """Tokens the server billed for the messages (0 when it did not say)."""
    completion_tokens: int = 0
    """Tokens the server billed for the reply (0 when it did not say)."""


def base_url() -> str:
    """The server the client talks to: OPENAI_BASE_URL, else OpenAI's API (no trailing slash)."""
    return (os.environ.get("OPENAI_BASE_URL", "").strip() or OPENAI_URL).rstrip("/")


def shown_url() -> str:
    """base_url() as messages, logs and stored keys name it: a key in its userinfo hidden."""
    from pricer.redact import hide_secrets

    return hide_secrets(base_url())


def host_note() -> str:
    """", at <host>" when the chat server is not OpenAI's (for a pricer's label), else ""."""
    from urllib.parse import urlparse

    url = base_url()
    if url == OPENAI_URL:
        return ""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    return f", at {host}{f':{parsed.port}' if parsed.port else ''}" if host else f", at {shown_url()}"


def unavailable() -> str | None:
    """None when requests can be made here, else why not (for the pricers' `available()`)."""
    try:
        import openai  # noqa: F401
    except ImportError:
        return "the openai package is not installed (pip install openai)"
    if not os.environ.get("OPENAI_API_KEY", "").strip():
        return "OPENAI_API_KEY is not set"
    return None


def openai_client(timeout: float = TIMEOUT) -> Any:
    """An `openai.OpenAI` client for base_url() with the key from the environment and no retries
    of its own (the callers here decide what to retry)."""
    reason = unavailable()
    if reason:
        raise PricerError(f"Cannot ask {shown_url()}: {reason}.")
    import openai

    return openai.OpenAI(api_key=os.environ["OPENAI_API_KEY"].strip(), base_url=base_url(), max_retries=0,
                         timeout=timeout)


def redact(text: str, key: str | None = None) -> str:
    """`text` without the API key, whole or in part (OpenAI quotes keys as 'sk-ab***yz').

    >>> redact("Incorrect API key provided: sk-proj-abc123XYZ. Also sk-pr***XYZ.", "sk-proj-abc123XYZ")
    'Incorrect API key provided: ***. Also sk-***.'
    """
    key = os.environ.get("OPENAI_API_KEY", "").strip() if key is None else key
    if key:
        text = text.replace(key, "***")
    return re.sub(r"sk-[A-Za-z0-9_\-*]{4,}", "sk-***", text)


CHECK_MODEL = "check the model name (PRICER_FRONTIER_MODEL or --model) and OPENAI_BASE_URL"


def api_error(exc: Exception, what: str, not_found: str = CHECK_MODEL) -> PricerError:
    """An openai exception as a PricerError saying what to do; `what` names the call, `not_found`
    what to check after a 404."""
    import openai

    where = shown_url()
    body = getattr(exc, "body", None)
    said = body.get("message") if isinstance(body, dict) and isinstance(body.get("message"), str) else None
    said = redact(said or getattr(exc, "message", None) or str(exc))[:300]
    if isinstance(exc, openai.AuthenticationError):
        return AccessDenied(f"{where} refused the API key (401) for {what}: check OPENAI_API_KEY. ({said})")
    if isinstance(exc, openai.PermissionDeniedError):
        return AccessDenied(f"{where} does not allow {what} with this key (403): {said}")
    if isinstance(exc, openai.NotFoundError):
        return NotFound(f"{where} found nothing for {what} (404): {not_found}. ({said})")
    if isinstance(exc, openai.RateLimitError) and getattr(exc, "code", None) == "insufficient_quota":
        return PricerError(f"{where} says the account has no credit left (429 insufficient_quota): add credit "
                           "or use another key.")
    if isinstance(exc, openai.APIStatusError):
        return PricerError(f"{where} answered {exc.status_code} to {what}: {said}")
    if isinstance(exc, openai.APITimeoutError):
        return PricerError(f"{where} did not answer {what} in time: try again later, or allow a longer timeout.")
    if isinstance(exc, openai.APIConnectionError):
        return PricerError(f"Cannot reach {where} for {what}: check OPENAI_BASE_URL and the network.")
    if isinstance(exc, (openai.APIResponseValidationError, ValueError, AttributeError, TypeError)):
        return PricerError(f"{where} answered {what} with something that is not the expected JSON: is "
                           "OPENAI_BASE_URL an OpenAI-compatible API (ending in /v1)?")
    return PricerError(f"{what} failed at {where}: {said}")


# --- the cache ----------------------------------------------------------------------------------


def cache_key(url: str, model: str, messages: Messages, params: dict[str, Any]) -> str:
    """sha256 of everything that decides the answer (never the key)."""
    blob = json.dumps({"base_url": url, "model": model, "messages": messages, "params": params},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _folder(writable: bool = False) -> Path:
    """Where answers are kept; `writable`: created and checked (a BadInput naming PRICER_CACHE)."""
    from pricer.config import cache_dir, cache_folder

    return cache_folder("chat") if writable else cache_dir() / "chat"


def _path(key: str) -> Path:
    return _folder() / key[:2] / f"{key}.json"


def cached(key: str) -> Completion | None:
    """The stored answer for `key`, or None (a missing or unreadable file is no answer)."""
    try:
        data = json.loads(_path(key).read_text(encoding="utf-8"))
        return Completion(str(data["reply"]), True, int(data.get("prompt_tokens", 0)),
                          int(data.get("completion_tokens", 0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(key: str, answer: Completion) -> None:
    """Write one answer atomically, so a killed run leaves no half file."""
    from pricer.atomic import atomic_write
    from pricer.config import CACHE_FIX

    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            f.write(json.dumps({"reply": answer.reply, "prompt_tokens": answer.prompt_tokens,
                                "completion_tokens": answer.completion_tokens}))
    except OSError as exc:  # the disk filled up or went read-only during the run
        raise BadInput(f"Cannot keep an answer in {path.parent}: {exc.strerror or exc}. {CACHE_FIX}") from None


# --- requests -----------------------------------------------------------------------------------


_deadline: ContextVar[float | None] = ContextVar("chat_deadline", default=None)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """complete() called inside (in this thread or context) gives each conversation at most
    `seconds`, all tries together, instead of DEADLINE: the web app's bound, `within(WEB_DEADLINE)`."""
    token = _deadline.set(seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


_visitor: ContextVar[bool] = ContextVar("chat_visitor", default=False)
_web_calls = threading.BoundedSemaphore(WEB_CALLS)


@contextmanager
def for_a_visitor() -> Iterator[None]:
    """complete() called inside is a web visitor's: each conversation within WEB_DEADLINE, and
    the call takes one of WEB_CALLS places shared by every visitor while it asks the server (an
    answer from the cache needs none). A call that finds none free within WEB_WAIT is refused
    as busy, so visitors' chat requests to a server that hangs hold at most WEB_CALLS of the
    app's threads, and every other price (the CPU pricer's) still finds one."""
    token = _visitor.set(True)
    try:
        with within(WEB_DEADLINE):
            yield
    finally:
        _visitor.reset(token)


@contextmanager
def _visitors_place() -> Iterator[None]:
    if not _visitor.get():
        yield
        return
    if not _web_calls.acquire(timeout=WEB_WAIT):
        raise PricerError(f"The chat model is busy: {WEB_CALLS} requests of this app's visitors are waiting for "
                          f"{shown_url()}. Try again in a minute; the CPU pricer answers meanwhile.")
    try:
        yield
    finally:
        _web_calls.release()


def _late(deadline: float, tries: int | None = None) -> PricerError:
    count = "" if tries is None else f" ({tries} {'try' if tries == 1 else 'tries'})"
    return PricerError(f"{shown_url()} did not answer within {deadline:g} s{count}, the most a chat price "
                       "waits here: try again later.")


def retry_after(headers: Any) -> float | None:
    """Seconds a server asks us to wait: `retry-after-ms`, or `retry-after` as seconds or a date.

    >>> retry_after({"retry-after": "2"}), retry_after({"retry-after-ms": "1500"}), retry_after({})
    (2.0, 1.5, None)
    """
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            pass
        if name == "retry-after":
            try:
                return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                continue
    return None


class _Pause:
    """A pause every thread of a run honours (a 429 slows the whole run, not one thread)."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def extend(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self, end: float) -> bool:
        """Wait out the pause; False (at once) when it lasts past `end` (time.monotonic())."""
        while (left := self._until - time.monotonic()) > 0:
            if self._until >= end:
                return False
            time.sleep(left)
        return True


def _ask(api: Any, model: str, messages: Messages, params: dict[str, Any], *, timeout: float, retries: int,
         backoff: float, pause: _Pause, deadline: float = DEADLINE) -> Completion:
    """One conversation, retried on 429, 5xx, timeouts and dropped connections, all of it within
    `deadline` seconds: each try's timeout is cut to what is left, and no wait runs past it."""
    import openai

    end = time.monotonic() + deadline

    def sleep(seconds: float, tries: int) -> None:
        if time.monotonic() + seconds >= end:
            raise _late(deadline, tries)
        time.sleep(seconds)

    for attempt in range(retries + 1):
        if not pause.wait(end) or (left := end - time.monotonic()) <= 0:
            raise _late(deadline, attempt)
        try:
            response = api.chat.completions.create(model=model, messages=messages, timeout=min(timeout, left),
                                                   **params)
            return _read(response)
        except openai.APIStatusError as exc:
            transient = exc.status_code in (408, 409, 429) or exc.status_code >= 500
            if not transient or attempt == retries or getattr(exc, "code", None) == "insufficient_quota":
                raise api_error(exc, f"a chat completion with {model}") from None
            asked = retry_after(exc.response.headers)
            if asked is not None and asked > MAX_WAIT:
                raise PricerError(f"{shown_url()} asks to wait {asked:.0f} s before the next request "
                                  f"({exc.status_code}): try again later.") from None
            delay = asked if asked is not None else backoff * 2 ** attempt * (1 + random.random() / 4)
            if exc.status_code == 429:
                pause.extend(delay)
            else:
                sleep(delay, attempt + 1)
            log.info("%s answered %s; retry %d of %d in %.1f s", shown_url(), exc.status_code, attempt + 1,
                     retries, delay)
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            if isinstance(exc, openai.APITimeoutError) and time.monotonic() >= end - 0.05:
                raise _late(deadline, attempt + 1) from None
            if attempt == retries:
                if isinstance(exc, openai.APITimeoutError):
                    raise PricerError(f"{shown_url()} did not answer within {timeout:g} s ({retries + 1} tries): "
                                      "try again later, or allow a longer timeout.") from None
                raise api_error(exc, f"a chat completion with {model}") from None
            sleep(backoff * 2 ** attempt, attempt + 1)
            log.info("%s: %s; retry %d of %d", shown_url(), type(exc).__name__, attempt + 1, retries)
        except (openai.APIResponseValidationError, json.JSONDecodeError) as exc:  # a body that is not JSON
            raise api_error(exc, f"a chat completion with {model}") from None
    raise AssertionError("unreachable")


def _read(response: Any) -> Completion:
    """The reply and billed tokens of a chat completion; a clear error when it is not one."""
    try:
        message = response.choices[0].message
        reply = message.content or ""
    except (AttributeError, IndexError, TypeError, KeyError):
        raise PricerError(f"{shown_url()} answered with something that is not a chat completion: is "
                          "OPENAI_BASE_URL an OpenAI-compatible API (ending in /v1)?") from None
    usage = getattr(response, "usage", None)
    return Completion(str(reply), False, int(getattr(usage, "prompt_tokens", 0) or 0),
                      int(getattr(usage, "completion_tokens", 0) or 0))


def _params(max_tokens: int, seed: int | None, params: dict[str, Any]) -> dict[str, Any]:
    return {"max_tokens": max_tokens, **({"seed": seed} if seed is not None else {}), **params}


def uncached(messages_list: Sequence[Messages], *, model: str, max_tokens: int, seed: int | None = 42,
             **params: Any) -> tuple[list[Messages], int]:
    """What a run of complete() with these arguments would send (each distinct conversation not in
    the cache), and how many distinct ones it would take from the cache."""
    url, params = base_url(), _params(max_tokens, seed, params)
    distinct = {cache_key(url, model, m, params): m for m in messages_list}
    todo = [m for k, m in distinct.items() if cached(k) is None]
    return todo, len(distinct) - len(todo)


def complete(messages_list: Sequence[Messages], *, model: str, max_tokens: int, seed: int | None = 42,
             concurrency: int = CONCURRENCY, timeout: float = TIMEOUT, retries: int = RETRIES,
             backoff: float = BACKOFF, progress: ProgressFn | None = None, use_cache: bool = True,
             deadline: float | None = None, **params: Any) -> list[Completion]:
    """The reply to each conversation, in order; each distinct one asked at most once, ever.

    `params` (e.g. temperature) go to the server as they are, and into the cache key. The first
    error that retries cannot cure stops the run: the requests in flight finish (and are stored),
    nothing new starts, and the PricerError says how many answers were kept. No conversation takes
    longer than `deadline` seconds (None: the `within` around the call, else DEADLINE), all its
    tries and waits together; when every conversation starts at once (a web request), the call
    itself returns or fails by then, even if a server trickles its answer.
    """
    deadline = deadline if deadline is not None else (_deadline.get() or DEADLINE)
    if concurrency < 1 or timeout <= 0 or retries < 0 or max_tokens < 1 or not deadline > 0:
        raise BadInput("concurrency and max_tokens must be at least 1, the timeout and deadline positive and "
                       f"retries not negative (got {concurrency}, {max_tokens}, {timeout}, {deadline}, {retries}).")
    url, total = base_url(), len(messages_list)
    params = _params(max_tokens, seed, params)
    keys = [cache_key(url, model, m, params) for m in messages_list]
    answers: dict[str, Completion] = {}
    if use_cache:
        answers = {k: hit for k in set(keys) if (hit := cached(k)) is not None}
    todo = {k: m for k, m in zip(keys, messages_list, strict=True) if k not in answers}

    def report() -> None:
        if progress is not None:
            progress(sum(1 for k in keys if k in answers), total)

    report()
    if not todo:
        return _in_order(answers, keys, max_tokens)
    if use_cache:  # before paying for an answer that could not be kept
        _folder(writable=True)
    with _visitors_place():  # a web visitor's call takes one of the places all visitors share
        api, pause = openai_client(timeout), _Pause()

        stop = threading.Event()  # set by the first failure: nothing new starts after it

        def ask(key: str, messages: Messages) -> Completion | None:
            if stop.is_set():
                return None
            try:
                answer = _ask(api, model, messages, params, timeout=timeout, retries=retries, backoff=backoff,
                              pause=pause, deadline=deadline)
                answer = dataclasses.replace(answer, reply=answer.reply[:max_tokens * TOKEN_CHARS])
            except BaseException:
                stop.set()
                raise
            if use_cache:
                _store(key, answer)
            return answer

        pool = ThreadPoolExecutor(max_workers=min(concurrency, len(todo)), thread_name_prefix="chat")
        futures = {pool.submit(ask, k, m): k for k, m in todo.items()}
        wall = deadline + GRACE if len(todo) <= concurrency else None  # all started at once: none ends later
        try:
            for future in as_completed(futures, timeout=wall):
                if (answer := future.result()) is not None:
                    answers[futures[future]] = answer
                    report()
        except Late:  # a request still reading past its deadline is left to end on its own timeout
            stop.set()
            raise _late(deadline) from None
        except PricerError as exc:
            pool.shutdown(wait=True, cancel_futures=True)
            distinct = set(keys)
            if not use_cache or len(distinct) == 1:
                raise
            kept = sum(1 for k in distinct if k in answers or cached(k) is not None)
            raise type(exc)(f"{str(exc).rstrip('.')}. {kept} of {len(distinct)} answers are saved: run again "
                            "to continue.") from None
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    return _in_order(answers, keys, max_tokens)


def _in_order(answers: dict[str, Completion], keys: list[str], max_tokens: int) -> list[Completion]:
    """The answer of each key in order, cut as far as max_tokens reaches (an answer cached before
    this cut was made is cut too)."""
    reach = max_tokens * TOKEN_CHARS
    return [answers[k] if len(answers[k].reply) <= reach else dataclasses.replace(answers[k], reply=answers[k].reply[:reach])
            for k in keys]
