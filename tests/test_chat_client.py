"""pricer.pricers.chat.client: a batch of chat requests against a local stand-in for the OpenAI API — retries
(429 with Retry-After, 5xx), timeouts, refusals, malformed answers, bounded concurrency, the disk
cache and resuming, and the key kept out of every message, log line and file."""

from __future__ import annotations

import logging
import threading

import pytest
from openai_stand_in import KEY, Reply, chat_reply, error_reply, openai_online

from pricer.errors import AccessDenied, BadInput, NotFound, PricerError
from pricer.pricers.chat import client


def conversation(i: int) -> client.Messages:
    return [{"role": "system", "content": "You estimate prices of items."},
            {"role": "user", "content": f"Item {i}"}, {"role": "assistant", "content": "Price is $"}]


@pytest.fixture
def server(monkeypatch, tmp_path):
    with openai_online(monkeypatch, tmp_path / "cache") as handler:
        yield handler


def ask(n: int = 1, **options) -> list[client.Completion]:
    return client.complete([conversation(i) for i in range(n)], model="gpt-4o-mini", max_tokens=5,
                         **{"backoff": 0.01, **options})


def test_a_401_is_one_request_and_one_message_without_the_key(server):
    server.script = lambda r: error_reply(401, f"Incorrect API key provided: {KEY}. ({KEY[:8]}***{KEY[-4:]})",
                                          "invalid_api_key")
    with pytest.raises(AccessDenied) as caught:
        ask(3, concurrency=1)
    message = str(caught.value)
    assert "refused the API key (401)" in message and "check OPENAI_API_KEY" in message
    assert KEY not in message and KEY[-4:] not in message and KEY[:8] not in message
    assert len(server.requests) == 1  # no retry, and nothing new started after it


def test_a_429_waits_as_long_as_retry_after_says(server):
    server.script = lambda r: error_reply(429, "Rate limit reached", "rate_limit_exceeded",
                                          retry_after="1") if len(server.requests) == 1 else None
    assert ask()[0].reply == "45"
    first, second = server.requests
    assert second.at - first.at >= 1.0  # backoff alone would have waited 0.01 s


def test_retry_after_ms_is_read_too_and_a_long_pause_is_refused(server):
    server.script = lambda r: error_reply(429, "slow down", retry_after_ms="300") if len(server.requests) == 1 else None
    ask()
    assert server.requests[1].at - server.requests[0].at >= 0.3
    server.reset()
    server.script = lambda r: error_reply(429, "slow down", retry_after="3600")
    with pytest.raises(PricerError, match="asks to wait 3600 s before the next request"):
        ask(use_cache=False)
    assert len(server.requests) == 1


def test_a_500_is_retried_until_it_succeeds(server):
    server.script = lambda r: error_reply(500, "The server had an error") if len(server.requests) <= 2 else None
    assert [c.reply for c in ask()] == ["45"]
    assert len(server.requests) == 3


def test_a_5xx_that_persists_gives_up_after_the_retries(server):
    server.script = lambda r: error_reply(503, "Overloaded")
    with pytest.raises(PricerError, match="answered 503 to a chat completion with gpt-4o-mini: Overloaded"):
        ask(retries=2)
    assert len(server.requests) == 3


def test_no_credit_left_is_not_retried(server):
    server.script = lambda r: error_reply(429, "You exceeded your current quota", "insufficient_quota")
    with pytest.raises(PricerError, match="no credit left"):
        ask()
    assert len(server.requests) == 1


def test_an_unknown_model_says_where_to_change_it(server):
    server.script = lambda r: error_reply(404, "The model `gpt-9` does not exist", "model_not_found")
    with pytest.raises(NotFound, match="PRICER_FRONTIER_MODEL or --model"):
        ask()
    assert len(server.requests) == 1


def test_a_slow_server_times_out_with_a_clear_message(server):
    server.script = lambda r: Reply(body=chat_reply("45"), delay=1.5)
    with pytest.raises(PricerError, match=r"did not answer within 0.2 s \(2 tries\)"):
        ask(timeout=0.2, retries=1)
    assert len(server.requests) == 2


@pytest.mark.parametrize(("body", "content_type"), [
    (b'{"choices": [ {"message": ', "application/json"),
    (b"<html><body>Welcome to nginx!</body></html>", "text/html"),
    ({"object": "list", "data": []}, "application/json"),
    ({"choices": []}, "application/json"),
])
def test_an_answer_that_is_not_a_chat_completion_is_a_clear_error(server, body, content_type):
    server.script = lambda r: Reply(body=body, content_type=content_type)
    with pytest.raises(PricerError, match="OpenAI-compatible API"):
        ask()
    assert len(server.requests) == 1


def test_an_unreachable_server_says_to_check_the_url(server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # the discard port: nothing listens
    with pytest.raises(PricerError, match="Cannot reach http://127.0.0.1:9/v1 .* check OPENAI_BASE_URL"):
        ask(retries=1)


def test_a_key_in_the_urls_userinfo_is_never_shown(server, monkeypatch):
    """OPENAI_BASE_URL=https://user:KEY@host/v1 works for some proxies: the key is in every
    message that names the server, so messages, labels and stored keys name it without."""
    from pricer.pricers import PricerOptions, get
    from pricer.pricers.chat import client

    secret = "proxy-" + "Q7x" * 8
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://someone:{secret}@127.0.0.1:9/v1")
    with pytest.raises(PricerError) as raised:
        ask(retries=0)
    assert secret not in str(raised.value) and "http://<hidden>@127.0.0.1:9/v1" in str(raised.value)
    assert secret not in client.shown_url() and secret not in client.host_note()
    assert client.host_note() == ", at 127.0.0.1:9"
    frontier = get("frontier", PricerOptions())
    assert secret not in frontier.label and secret not in frontier.cache_key(None)


def test_answers_are_cached_so_a_rerun_sends_nothing(server, tmp_path):
    first = ask(3)
    assert [c.cached for c in first] == [False] * 3 and len(server.requests) == 3
    again = ask(3)
    assert [c.reply for c in again] == ["45"] * 3 and all(c.cached for c in again)
    assert len(server.requests) == 3
    assert again[0].prompt_tokens == 120 and again[0].completion_tokens == 2  # the server's usage, kept
    files = list((tmp_path / "cache" / "chat").rglob("*"))
    assert len([f for f in files if f.is_file()]) == 3 and not [f for f in files if f.name.endswith(".tmp")]


def test_the_cache_key_holds_what_decides_the_answer(server, monkeypatch):
    ask()
    client.complete([conversation(0)], model="gpt-4o", max_tokens=5)  # another model
    client.complete([conversation(0)], model="gpt-4o-mini", max_tokens=7)  # other parameters
    client.complete([conversation(0)], model="gpt-4o-mini", max_tokens=5, seed=None)
    client.complete([conversation(0)], model="gpt-4o-mini", max_tokens=5, temperature=0)
    monkeypatch.setenv("OPENAI_BASE_URL", client.base_url() + "/")  # the same server, written otherwise
    ask()
    assert len(server.requests) == 5
    assert [r.body.get("seed") for r in server.requests] == [42, 42, 42, None, 42]
    assert server.requests[4].body["temperature"] == 0
    monkeypatch.setenv("OPENAI_API_KEY", "sk-another-key-of-the-same-account")  # the key is not in the key
    ask()
    assert len(server.requests) == 5


def test_a_conversation_asked_twice_in_a_batch_is_sent_once(server):
    replies = client.complete([conversation(1), conversation(2), conversation(1)], model="m", max_tokens=5)
    assert len(replies) == 3 and len(server.requests) == 2


def test_without_the_cache_every_run_asks(server, tmp_path):
    ask(use_cache=False)
    ask(use_cache=False)
    assert len(server.requests) == 2 and not (tmp_path / "cache" / "chat").exists()


def test_an_interrupted_run_keeps_its_answers_and_a_resumed_run_asks_only_the_rest(server):
    server.script = lambda r: error_reply(401, "Invalid key") if len(server.requests) > 3 else None
    with pytest.raises(AccessDenied, match="3 of 6 answers are saved: run again to continue"):
        ask(6, concurrency=1)
    server.reset()
    assert [c.cached for c in ask(6)] == [True] * 3 + [False] * 3
    assert sorted(r.user for r in server.requests) == ["Item 3", "Item 4", "Item 5"]


def test_a_run_stopped_by_ctrl_c_keeps_every_answer_that_arrived(server, tmp_path):
    def interrupt(done, total):
        if done == 2:
            raise KeyboardInterrupt

    server.script = lambda r: Reply(body=chat_reply("45"), delay=0.1)
    with pytest.raises(KeyboardInterrupt):
        ask(8, concurrency=2, progress=interrupt)
    for thread in threading.enumerate():  # the requests in flight finish, and are stored
        if thread.name.startswith("chat"):
            thread.join(5)
    saved = len(list((tmp_path / "cache" / "chat").rglob("*.json")))
    assert 2 <= saved < 8
    server.reset()
    ask(8)
    assert len(server.requests) == 8 - saved


def test_uncached_says_what_a_run_would_send(server):
    ask(2)
    todo, cached = client.uncached([conversation(i) for i in (0, 1, 2, 2)], model="gpt-4o-mini", max_tokens=5)
    assert todo == [conversation(2)] and cached == 2


def test_concurrency_is_bounded(server):
    server.script = lambda r: Reply(body=chat_reply("45"), delay=0.2)
    ask(8, concurrency=3)
    assert server.most_in_flight == 3 and len(server.requests) == 8


def test_progress_counts_up_to_the_total_cached_answers_first(server):
    ask(2)
    seen = []
    ask(5, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 5), (3, 5), (4, 5), (5, 5)]


def test_bad_options_are_refused_before_any_request(server):
    for options in ({"concurrency": 0}, {"timeout": 0}, {"retries": -1}):
        with pytest.raises(BadInput):
            ask(**options)
    assert server.requests == []


def test_the_key_is_in_no_output_log_or_file(server, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    server.script = lambda r: (error_reply(500, f"boom {KEY}") if len(server.requests) == 1 else None
                               if len(server.requests) == 2 else error_reply(401, f"Incorrect API key provided: {KEY}"))
    ask(1)
    with pytest.raises(PricerError) as caught:
        ask(2)
    captured = capsys.readouterr()
    assert "retry 1 of 4" in caplog.text  # the retry was logged, without the key
    assert KEY not in captured.out + captured.err + caplog.text + str(caught.value)
    files = [f for f in (tmp_path / "cache").rglob("*") if f.is_file()]
    assert len(files) == 1 and all(KEY not in f.read_text() and KEY not in str(f) for f in files)


def test_redact_removes_whole_and_shortened_keys():
    assert client.redact(f"Incorrect API key provided: {KEY}.", KEY) == "Incorrect API key provided: ***."
    assert client.redact("Incorrect API key provided: sk-proj-********************XYZ.", KEY) == (
        "Incorrect API key provided: sk-***.")


# --- a deadline over all tries: what a visitor waits for a chat price ---------------------------


def test_a_server_that_never_answers_costs_the_deadline_not_every_try(server):
    import time

    server.script = lambda r: Reply(body=chat_reply("45"), delay=10)  # never, as far as the test is concerned
    started = time.monotonic()
    with pytest.raises(PricerError, match=r"did not answer within 1 s .*try again later"):
        ask(timeout=30, retries=4, deadline=1.0, use_cache=False)
    assert time.monotonic() - started < 1.0 + client.GRACE + 1.5  # 5 tries x 30 s before
    assert len(server.requests) == 1  # its one try took the whole deadline: no retry after it


def test_the_web_apps_deadline_bounds_every_request_made_within_it(server):
    import time

    server.script = lambda r: Reply(body=chat_reply("45"), delay=10)
    started = time.monotonic()
    with client.within(0.8), pytest.raises(PricerError, match=r"did not answer within 0.8 s"):
        ask(2, timeout=30, retries=4)
    assert time.monotonic() - started < 0.8 + client.GRACE + 1.5
    assert client.WEB_DEADLINE <= 60 < client.RETRIES * client.TIMEOUT  # what a person waits, not 5 x 30 s


def test_no_retry_starts_that_would_end_past_the_deadline(server):
    import time

    server.script = lambda r: error_reply(503, "overloaded")
    started = time.monotonic()
    with pytest.raises(PricerError, match=r"did not answer within 1 s \(2 tries\)"):
        ask(retries=4, backoff=0.4, deadline=1.0, use_cache=False)  # waits 0.4 s, then 0.8 s: past 1 s
    assert time.monotonic() - started < 1.0
    assert len(server.requests) == 2


def test_a_deadline_that_is_not_positive_is_refused_before_any_request(server):
    with pytest.raises(BadInput, match="deadline positive"):
        ask(deadline=0)
    assert server.requests == []


def test_visitors_calls_share_a_few_places_and_one_more_is_refused_as_busy_at_once(server, monkeypatch):
    """A public Space's visitors asking a chat server that hangs hold at most WEB_CALLS of the
    app's threads: one more visitor's call is refused within WEB_WAIT, a command-line call is not
    bounded by them, and an answer from the cache needs no place."""
    import time

    monkeypatch.setattr(client, "_web_calls", threading.BoundedSemaphore(2))
    monkeypatch.setattr(client, "WEB_CALLS", 2)
    monkeypatch.setattr(client, "WEB_WAIT", 0.3)
    monkeypatch.setattr(client, "WEB_DEADLINE", 3.0)
    ask(1)  # conversation(0) answered once, now in the cache
    server.script = lambda r: Reply(body=chat_reply("45"), delay=10)
    errors: list[str] = []

    def visitor(i: int) -> None:
        with client.for_a_visitor():
            try:
                client.complete([conversation(i)], model="gpt-4o-mini", max_tokens=5, use_cache=False)
            except PricerError as exc:
                errors.append(str(exc))

    holders = [threading.Thread(target=visitor, args=(10 + i,), daemon=True) for i in range(2)]
    for holder in holders:
        holder.start()
    end = time.monotonic() + 10
    while len(server.requests) < 3 and time.monotonic() < end:  # the cached one, then both holders' calls
        time.sleep(0.02)
    started = time.monotonic()
    with client.for_a_visitor(), pytest.raises(PricerError, match=r"busy: 2 requests of this app's visitors"):
        client.complete([conversation(20)], model="gpt-4o-mini", max_tokens=5, use_cache=False)
    assert time.monotonic() - started < 0.3 + 1.0  # refused at once, not after the deadline
    with client.for_a_visitor():
        assert ask(1)[0].reply == "45"  # from the cache: no place needed
    assert len(server.requests) == 3  # neither the refused call nor the cached one reached the server
    with pytest.raises(PricerError, match="did not answer within 0.5 s"):
        ask(1, deadline=0.5, use_cache=False, retries=0)  # the command line is not bounded by visitors' places
    for holder in holders:
        holder.join(10)
    assert len(errors) == 2 and all("did not answer within 3 s" in e for e in errors)
    with client.for_a_visitor(), pytest.raises(PricerError, match="did not answer within"):
        client.complete([conversation(30)], model="gpt-4o-mini", max_tokens=5, use_cache=False, deadline=0.5)
