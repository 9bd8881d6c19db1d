"""list_events and watch_events: the SSE stream, reconnects, de-duplication, the polling
fallback, deadlines, stop and clean-up, against a scripted server and the emulator."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from terraform_provider_pulumiservice.cloud import (
    ApiError,
    CancelledError,
    ClientSettings,
    CloudClient,
    DeadlineExceededError,
    InvalidResponseError,
    NotFoundError,
    PaginationLimitError,
)
from tests.support.hostile_api import (
    Exchange,
    HostileApi,
    Wire,
    response_bytes,
    sse_frame,
    stream_head,
)

TASK = "/api/preview/agents/acme/tasks/t1"


def event(number: int, kind: str = "assistant_message") -> dict[str, Any]:
    return {
        "id": f"e{number}",
        "type": "agentResponse",
        "isSynthetic": False,
        "eventBody": {"type": kind, "timestamp": "2026-01-01T00:00:00Z", "content": f"#{number}"},
    }


EVENTS = [event(n) for n in range(1, 5)]
StreamScript = Callable[[Exchange, Wire, int], None]


class TaskApi:
    """A task whose status and events the test controls; the stream follows a script per
    connection (numbered from 1)."""

    def __init__(self, stream: StreamScript | None, *, statuses: list[str] | None = None) -> None:
        self.stream = stream
        self.statuses = statuses or ["idle"]
        self.events: list[dict[str, Any]] = list(EVENTS)
        self.stream_connections = 0
        self.lock = threading.Lock()

    def __call__(self, exchange: Exchange, wire: Wire) -> None:
        if exchange.path == TASK + "/events/stream":
            with self.lock:
                self.stream_connections += 1
                number = self.stream_connections
            if self.stream is None:
                wire.send(response_bytes(404, {"message": "no stream here"}))
                return
            self.stream(exchange, wire, number)
            wire.close()
        elif exchange.path == TASK + "/events":
            wire.send(response_bytes(200, {"events": self.events}))
        elif exchange.path == TASK:
            with self.lock:
                status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            wire.send(response_bytes(200, {"id": "t1", "status": status}))
        else:
            wire.send(response_bytes(404, {"message": "unknown"}))


def client_for(url: str, **overrides: Any) -> CloudClient:
    values: dict[str, Any] = {"base_url": url, "token": "tok-events", "user_agent": "ua"}
    values.update(overrides)
    return CloudClient(ClientSettings(**values))


def watch(api: HostileApi, seconds: float = 10.0, **options: Any) -> list[dict[str, Any]]:
    client = client_for(api.url)
    try:
        deadline = time.monotonic() + seconds
        return list(client.watch_events("acme", "t1", deadline=deadline, **options))
    finally:
        client.close()


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in events]


def all_then_end(exchange: Exchange, wire: Wire, number: int) -> None:
    wire.send(stream_head())
    for item in EVENTS:
        wire.send(sse_frame(item))


# -- listing -----------------------------------------------------------------------------------


def test_list_events_follows_every_page_in_order() -> None:
    pages = {"": (EVENTS[:2], "p2"), "p2": (EVENTS[2:3], "p3"), "p3": (EVENTS[3:], None)}

    def paged(exchange: Exchange, wire: Wire) -> None:
        token = exchange.query.partition("continuationToken=")[2]
        items, following = pages[token]
        body: dict[str, Any] = {"events": items}
        if following:
            body["continuationToken"] = following
        wire.send(response_bytes(200, body))

    with HostileApi(paged) as api:
        client = client_for(api.url)
        assert ids(client.list_events("acme", "t1")) == ["e1", "e2", "e3", "e4"]
        client.close()
    assert len(api.requests) == 3


def test_list_events_has_the_same_page_limit_as_listing_tasks() -> None:
    def endless(exchange: Exchange, wire: Wire) -> None:
        token = f"t{time.monotonic_ns()}"
        wire.send(response_bytes(200, {"events": [], "continuationToken": token}))

    with HostileApi(endless) as api:
        client = client_for(api.url, max_pages=10)
        with pytest.raises(PaginationLimitError, match="after 10 pages"):
            client.list_events("acme", "t1")
        client.close()


# -- the stream --------------------------------------------------------------------------------


def test_a_stream_that_ends_with_the_task_idle_yields_every_event_once_and_ends() -> None:
    with HostileApi(TaskApi(all_then_end)) as api:
        assert ids(watch(api)) == ["e1", "e2", "e3", "e4"]
    assert len(api.requests_to("GET", "/events/stream")) == 1
    assert api.requests_to("GET", "/events/stream")[0].headers["accept"] == "text/event-stream"


def test_a_dropped_stream_reconnects_with_last_event_id_without_duplicates() -> None:
    def drop_then_replay(exchange: Exchange, wire: Wire, number: int) -> None:
        wire.send(stream_head())
        if number == 1:
            wire.send(sse_frame(EVENTS[0]) + sse_frame(EVENTS[1]) + b'id: e3\ndata: {"id"')
            return  # connection cut mid-frame
        for item in EVENTS:  # a server that ignores Last-Event-ID and replays everything
            wire.send(sse_frame(item))

    with HostileApi(TaskApi(drop_then_replay)) as api:
        assert ids(watch(api)) == ["e1", "e2", "e3", "e4"]
    streams = api.requests_to("GET", "/events/stream")
    assert len(streams) == 2
    assert "last-event-id" not in streams[0].headers
    assert streams[1].headers["last-event-id"] == "e2"


def test_a_stream_cut_between_frames_loses_nothing() -> None:
    def cut_after_two(exchange: Exchange, wire: Wire, number: int) -> None:
        wire.send(stream_head() + sse_frame(EVENTS[0]) + sse_frame(EVENTS[1]))

    with HostileApi(TaskApi(cut_after_two)) as api:
        assert ids(watch(api)) == ["e1", "e2", "e3", "e4"]
    assert len(api.requests_to("GET", "/events/stream")) == 1


def test_a_clean_end_while_the_task_still_runs_reconnects() -> None:
    def halves(exchange: Exchange, wire: Wire, number: int) -> None:
        wire.send(stream_head())
        for item in EVENTS[:2] if number == 1 else EVENTS:
            wire.send(sse_frame(item))

    with HostileApi(TaskApi(halves, statuses=["running", "idle"])) as api:
        assert ids(watch(api)) == ["e1", "e2", "e3", "e4"]
    assert len(api.requests_to("GET", "/events/stream")) == 2


def test_keep_alive_comments_reset_the_idle_limit() -> None:
    def slow_with_keep_alives(exchange: Exchange, wire: Wire, number: int) -> None:
        wire.send(stream_head())
        for _ in range(8):  # 1.6 s of keep-alives, four times the idle limit
            wire.send(b": keep-alive\n\n")
            wire.pause(0.2)
        wire.send(sse_frame(EVENTS[0]))

    task_api = TaskApi(slow_with_keep_alives)
    task_api.events = EVENTS[:1]
    with HostileApi(task_api) as api:
        assert ids(watch(api, idle_timeout=0.5)) == ["e1"]
    assert len(api.requests_to("GET", "/events/stream")) == 1


def test_a_silent_stream_is_reconnected_after_the_idle_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def silent_first(exchange: Exchange, wire: Wire, number: int) -> None:
        wire.send(stream_head())
        if number == 1:
            wire.send(sse_frame(EVENTS[0]))
            wire.hold()
            return
        all_then_end(exchange, wire, number)

    with (
        HostileApi(TaskApi(silent_first)) as api,
        caplog.at_level(logging.DEBUG, logger="terraform_provider_pulumiservice.cloud"),
    ):
        started = time.monotonic()
        assert ids(watch(api, idle_timeout=0.4)) == ["e1", "e2", "e3", "e4"]
        assert time.monotonic() - started < 3.0
    assert len(api.requests_to("GET", "/events/stream")) == 2
    assert "no data for 0.4s" in caplog.text
    # Each event at DEBUG here; agents/wait.py logs it at INFO with what it says.
    debugs = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("event e1: agentResponse (assistant_message)" in m for m in debugs)


def test_after_event_id_skips_what_the_caller_has_already_seen() -> None:
    with HostileApi(TaskApi(all_then_end)) as api:
        assert ids(watch(api, after_event_id="e2")) == ["e3", "e4"]
    assert api.requests_to("GET", "/events/stream")[0].headers["last-event-id"] == "e2"


def test_an_event_with_unusable_data_is_an_invalid_response() -> None:
    def bad(exchange: Exchange, wire: Wire, number: int) -> None:
        wire.send(stream_head() + b"data: [1, 2]\n\n")

    with HostileApi(TaskApi(bad)) as api, pytest.raises(InvalidResponseError, match="a list"):
        watch(api)


def test_events_of_other_sse_types_are_skipped() -> None:
    def typed(exchange: Exchange, wire: Wire, number: int) -> None:
        wire.send(stream_head() + b"event: heartbeat\ndata: {}\n\n" + sse_frame(EVENTS[0]))

    task_api = TaskApi(typed)
    task_api.events = EVENTS[:1]
    with HostileApi(task_api) as api:
        assert ids(watch(api)) == ["e1"]


# -- the polling fallback ----------------------------------------------------------------------


def test_without_a_stream_it_polls_the_task_and_its_events() -> None:
    task_api = TaskApi(None, statuses=["running", "idle"])
    task_api.events = EVENTS[:2]

    def add_events_later() -> None:
        time.sleep(0.5)
        task_api.events = list(EVENTS)

    adder = threading.Thread(target=add_events_later)
    with HostileApi(task_api) as api:
        adder.start()
        assert ids(watch(api)) == ["e1", "e2", "e3", "e4"]
        adder.join()
    assert len(api.requests_to("GET", "/events/stream")) == 1
    assert len(api.requests_to("GET", "/events")) >= 2


def test_a_stream_with_the_wrong_content_type_falls_back_to_polling() -> None:
    def json_instead(exchange: Exchange, wire: Wire, number: int) -> None:
        wire.send(response_bytes(200, {"events": []}))

    with HostileApi(TaskApi(json_instead)) as api:
        assert ids(watch(api)) == ["e1", "e2", "e3", "e4"]
    assert len(api.requests_to("GET", "/events/stream")) == 1


def test_a_missing_task_ends_the_watch_with_not_found() -> None:
    def missing(exchange: Exchange, wire: Wire) -> None:
        wire.send(response_bytes(404, {"message": "task not found"}))

    with HostileApi(missing) as api, pytest.raises(NotFoundError, match="task not found"):
        watch(api)


# -- deadline, stop, close ---------------------------------------------------------------------


def keep_alive_forever(exchange: Exchange, wire: Wire, number: int) -> None:
    wire.send(stream_head() + sse_frame(EVENTS[0]))
    while wire.send(b":\n\n") and wire.pause(0.1):
        pass


def test_the_deadline_ends_the_watch_with_an_error_naming_it() -> None:
    with HostileApi(TaskApi(keep_alive_forever, statuses=["running"])) as api:
        started = time.monotonic()
        received: list[dict[str, Any]] = []
        client = client_for(api.url)
        with pytest.raises(DeadlineExceededError) as caught:
            for item in client.watch_events("acme", "t1", deadline=time.monotonic() + 1.0):
                received.append(item)
        client.close()
        assert time.monotonic() - started < 2.0
    assert ids(received) == ["e1"]
    text = str(caught.value)
    assert "reached its deadline, 1s after the watch began" in text
    assert "task acme/t1" in text


@pytest.mark.parametrize(
    "behaviour", [keep_alive_forever, None], ids=["waiting-on-the-stream", "polling"]
)
def test_stop_ends_a_watch_promptly(behaviour: StreamScript | None) -> None:
    with HostileApi(TaskApi(behaviour, statuses=["running"])) as api:
        client = client_for(api.url)
        stopper = threading.Timer(0.5, client.stop)
        stopper.start()
        started = time.monotonic()
        with pytest.raises(CancelledError):
            list(client.watch_events("acme", "t1", deadline=time.monotonic() + 30))
        assert time.monotonic() - started < 1.3
        stopper.join()
        client.close()


def test_closing_the_iterator_early_closes_the_connection_and_leaks_no_thread() -> None:
    closed = threading.Event()

    def notice_close(exchange: Exchange, wire: Wire, number: int) -> None:
        keep_alive_forever(exchange, wire, number)
        if wire.peer_closed.is_set():
            closed.set()

    with HostileApi(TaskApi(notice_close, statuses=["running"])) as api:
        client = client_for(api.url)
        before = threading.active_count()
        events = client.watch_events("acme", "t1", deadline=time.monotonic() + 30)
        assert next(events)["id"] == "e1"
        events.close()
        assert closed.wait(2.0), "the server saw the connection close"
        time.sleep(0.2)
        # The one reused worker thread may stay; the server's connection thread has ended.
        assert threading.active_count() <= before + 1
        client.close()


# -- against the emulator ----------------------------------------------------------------------


@pytest.fixture
def emulator_url() -> Iterator[str]:
    from terraform_provider_pulumiservice.emulator.server import EmulatorServer

    server = EmulatorServer(
        host="127.0.0.1", port=0, db_path=None, tokens=("emulator-token",), idle_after=1.0
    )
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def test_watching_a_task_of_the_emulator_yields_its_events_until_it_is_idle(
    emulator_url: str,
) -> None:
    client = CloudClient(
        ClientSettings(base_url=emulator_url, token="emulator-token", user_agent="ua")
    )
    body = {
        "message": {
            "type": "user_message",
            "content": "Check my stacks",
            "timestamp": "2026-01-01T00:00:00Z",
        }
    }
    task_id = client.create_task("acme", body)
    watched = list(client.watch_events("acme", task_id, deadline=time.monotonic() + 20))
    listed = client.list_events("acme", task_id)
    client.close()
    assert watched, "the emulator records at least the user's message"
    assert ids(watched) == ids(listed)
    assert len(set(ids(watched))) == len(watched)
    assert json.dumps(watched)


def test_a_refused_stream_is_an_api_error_naming_the_url() -> None:
    def refuse(exchange: Exchange, wire: Wire, number: int) -> None:
        wire.send(response_bytes(401, {"message": "bad token"}))

    with HostileApi(TaskApi(refuse)) as api, pytest.raises(ApiError) as caught:
        watch(api)
    assert "HTTP 401: bad token" in str(caught.value)
    assert f"{TASK}/events/stream" in str(caught.value)


def test_a_stream_failing_with_server_errors_falls_back_to_polling() -> None:
    def busy(exchange: Exchange, wire: Wire, number: int) -> None:
        wire.send(response_bytes(503, {"message": "busy"}))

    with HostileApi(TaskApi(busy)) as api:
        assert ids(watch(api)) == ["e1", "e2", "e3", "e4"]
    assert len(api.requests_to("GET", "/events/stream")) == 3
