"""CloudClient behaviour against scripted HTTP handlers and tiny raw-socket servers."""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from terraform_provider_pulumiservice.cloud import (
    AmbiguousCreateError,
    ApiError,
    CancelledError,
    ClientSettings,
    CloudClient,
    CloudError,
    NotFoundError,
    TransportError,
)

TOKEN = "pul-0123456789abcdef-SECRET"
BASE = "https://cloud.example.test"
TASKS = "/api/preview/agents/acme/tasks"
FIXED_NOW = 1_800_000_000.0

Handler = Callable[[httpx.Request], httpx.Response]


def settings(**overrides: Any) -> ClientSettings:
    values: dict[str, Any] = {
        "base_url": BASE,
        "token": TOKEN,
        "user_agent": "terraform-provider-pulumiservice/9.9.9",
    }
    values.update(overrides)
    return ClientSettings(**values)


class Recorder:
    """A MockTransport handler that records requests and answers from a script."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)


def make_client(
    handler: Handler, sleeps: list[float] | None = None, **overrides: Any
) -> CloudClient:
    recorded = sleeps if sleeps is not None else []
    return CloudClient(
        settings(**overrides),
        transport=httpx.MockTransport(handler),
        sleep=recorded.append,
        clock=lambda: FIXED_NOW,
        rng=random.Random(7),
    )


def error_response(
    status: int, message: str, *, request_id: str | None = None, **headers: str
) -> httpx.Response:
    all_headers = dict(headers)
    if request_id:
        all_headers["X-Pulumi-Request-ID"] = request_id
    return httpx.Response(status, json={"code": status, "message": message}, headers=all_headers)


def created(task_id: str = "task-1") -> httpx.Response:
    return httpx.Response(201, json={"taskId": task_id})


def assert_no_token(error: BaseException) -> None:
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error)
    for value in vars(error).values():
        assert TOKEN not in repr(value)


# -- requests on the wire ---------------------------------------------------------------------


def test_every_request_carries_auth_accept_content_type_and_user_agent() -> None:
    task = {"id": "t1", "name": "n"}
    recorder = Recorder(
        created("t1"),
        httpx.Response(200, json=task),
        httpx.Response(200, json=task),
        httpx.Response(204),
        httpx.Response(200, json={"tasks": []}),
    )
    client = make_client(recorder)
    assert client.create_task("acme", {"prompt": "hello"}) == "t1"
    assert client.get_task("acme", "t1") == task
    assert client.update_task("acme", "t1", {"name": "n"}) == task
    client.cancel_task("acme", "t1")
    assert client.list_tasks("acme") == []

    assert [(r.method, r.url.path) for r in recorder.requests] == [
        ("POST", TASKS),
        ("GET", f"{TASKS}/t1"),
        ("PATCH", f"{TASKS}/t1"),
        ("POST", f"{TASKS}/t1/cancel"),
        ("GET", TASKS),
    ]
    for request in recorder.requests:
        assert request.headers["Authorization"] == f"token {TOKEN}"
        assert request.headers["Accept"] == "application/vnd.pulumi+8"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"] == "terraform-provider-pulumiservice/9.9.9"
    assert json.loads(recorder.requests[0].content) == {"prompt": "hello"}
    assert json.loads(recorder.requests[2].content) == {"name": "n"}
    assert json.loads(recorder.requests[3].content) == {"force": True}


def test_path_segments_are_escaped() -> None:
    recorder = Recorder(httpx.Response(200, json={"id": "x"}))
    client = make_client(recorder, base_url="http://127.0.0.1:9/prefix")
    client.get_task("my org/x", "id?#%")
    raw_path = recorder.requests[0].url.raw_path
    assert raw_path == b"/prefix/api/preview/agents/my%20org%2Fx/tasks/id%3F%23%25"


def test_empty_org_or_task_id_is_refused_before_sending() -> None:
    recorder = Recorder(httpx.Response(200, json={}))
    client = make_client(recorder)
    with pytest.raises(CloudError, match="organization name"):
        client.get_task("", "t1")
    with pytest.raises(CloudError, match="task id"):
        client.get_task("acme", "")
    assert recorder.requests == []


# -- retries ----------------------------------------------------------------------------------


def test_retry_after_in_seconds_is_honoured() -> None:
    sleeps: list[float] = []
    recorder = Recorder(
        error_response(429, "slow down", **{"Retry-After": "7"}),
        httpx.Response(200, json={"id": "t1"}),
    )
    assert make_client(recorder, sleeps).get_task("acme", "t1") == {"id": "t1"}
    assert sleeps == [7.0]
    assert len(recorder.requests) == 2


def test_retry_after_as_http_date_is_honoured() -> None:
    sleeps: list[float] = []
    when = formatdate(FIXED_NOW + 12, usegmt=True)
    recorder = Recorder(
        error_response(429, "slow down", **{"Retry-After": when}),
        httpx.Response(200, json={"id": "t1"}),
    )
    make_client(recorder, sleeps).get_task("acme", "t1")
    assert sleeps == [12.0]


@pytest.mark.parametrize("retry_after", ["3600", formatdate(FIXED_NOW + 86_400, usegmt=True)])
def test_retry_after_is_capped(retry_after: str) -> None:
    sleeps: list[float] = []
    recorder = Recorder(
        error_response(429, "slow down", **{"Retry-After": retry_after}),
        httpx.Response(200, json={"id": "t1"}),
    )
    make_client(recorder, sleeps, retry_after_cap=30.0).get_task("acme", "t1")
    assert sleeps == [30.0]


def test_without_retry_after_backoff_grows_with_jitter_and_stays_capped() -> None:
    sleeps: list[float] = []
    recorder = Recorder(error_response(503, "unavailable"))
    client = make_client(recorder, sleeps, max_attempts=7, backoff_base=0.5, backoff_cap=4.0)
    with pytest.raises(ApiError):
        client.get_task("acme", "t1")
    assert len(recorder.requests) == 7
    steps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(sleeps) == len(steps)
    for waited, step in zip(sleeps, steps, strict=True):
        assert step / 2 <= waited <= step


def test_server_error_on_get_is_retried_then_succeeds() -> None:
    sleeps: list[float] = []
    recorder = Recorder(
        error_response(503, "unavailable"),
        error_response(502, "bad gateway"),
        httpx.Response(200, json={"id": "t1", "status": "idle"}),
    )
    task = make_client(recorder, sleeps).get_task("acme", "t1")
    assert task == {"id": "t1", "status": "idle"}
    assert len(recorder.requests) == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
def test_transport_failures_on_patch_are_retried(failure: Exception) -> None:
    recorder = Recorder(failure, httpx.Response(200, json={"id": "t1", "name": "new"}))
    task = make_client(recorder).update_task("acme", "t1", {"name": "new"})
    assert task is not None and task["name"] == "new"
    assert len(recorder.requests) == 2


def test_cancel_is_retried_like_patch() -> None:
    recorder = Recorder(error_response(500, "oops"), httpx.Response(204))
    make_client(recorder).cancel_task("acme", "t1")
    assert len(recorder.requests) == 2
    assert all(json.loads(r.content) == {"force": True} for r in recorder.requests)


def test_not_implemented_is_not_retried() -> None:
    recorder = Recorder(error_response(501, "no such thing"))
    with pytest.raises(ApiError) as caught:
        make_client(recorder).get_task("acme", "t1")
    assert caught.value.status == 501
    assert len(recorder.requests) == 1


def test_persistent_connection_errors_end_in_transport_error() -> None:
    sleeps: list[float] = []
    recorder = Recorder(httpx.ConnectError(f"refused; header was token {TOKEN}"))
    with pytest.raises(TransportError) as caught:
        make_client(recorder, sleeps, max_attempts=3).get_task("acme", "t1")
    assert len(recorder.requests) == 3
    assert len(sleeps) == 2
    assert caught.value.attempts == 3
    assert "ConnectError" in str(caught.value)
    assert f"GET {TASKS}/t1" in str(caught.value)
    assert_no_token(caught.value)


# -- create is never duplicated ---------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_on_create_is_ambiguous_and_not_retried(status: int) -> None:
    recorder = Recorder(error_response(status, "upstream failed", request_id="req-77"))
    with pytest.raises(AmbiguousCreateError) as caught:
        make_client(recorder).create_task("acme", {"prompt": "p"})
    assert len(recorder.requests) == 1
    error = caught.value
    assert error.status == status
    assert error.request_id == "req-77"
    text = str(error)
    assert "may have succeeded" in text
    assert "terraform import" in text
    assert "acme/<taskID>" in text
    assert "upstream failed" in text
    assert "req-77" in text


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
        httpx.WriteError("broken pipe"),
    ],
)
def test_failure_after_sending_create_is_ambiguous_and_not_retried(failure: Exception) -> None:
    recorder = Recorder(failure, created())
    with pytest.raises(AmbiguousCreateError) as caught:
        make_client(recorder).create_task("acme", {"prompt": "p"})
    assert len(recorder.requests) == 1
    assert type(failure).__name__ in str(caught.value)


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("busy")],
)
def test_failure_before_sending_create_is_retried_once_to_success(failure: Exception) -> None:
    recorder = Recorder(failure, created("t9"))
    sleeps: list[float] = []
    assert make_client(recorder, sleeps).create_task("acme", {"prompt": "p"}) == "t9"
    assert len(recorder.requests) == 2
    assert len(sleeps) == 1


def test_throttled_create_is_retried() -> None:
    sleeps: list[float] = []
    recorder = Recorder(
        error_response(429, "too many", **{"Retry-After": "2"}),
        error_response(429, "too many", **{"Retry-After": "1"}),
        created("t3"),
    )
    assert make_client(recorder, sleeps).create_task("acme", {"prompt": "p"}) == "t3"
    assert sleeps == [2.0, 1.0]
    assert len(recorder.requests) == 3


def test_create_throttled_until_give_up_is_a_plain_api_error() -> None:
    recorder = Recorder(error_response(429, "quota exceeded", request_id="r-429"))
    with pytest.raises(ApiError) as caught:
        make_client(recorder, max_attempts=3).create_task("acme", {"prompt": "p"})
    assert not isinstance(caught.value, AmbiguousCreateError)
    assert caught.value.status == 429
    assert len(recorder.requests) == 3


def test_rejected_create_is_a_plain_api_error() -> None:
    recorder = Recorder(error_response(400, "prompt is required", request_id="r-400"))
    with pytest.raises(ApiError) as caught:
        make_client(recorder).create_task("acme", {})
    assert caught.value.status == 400
    assert caught.value.message == "prompt is required"
    assert len(recorder.requests) == 1


def test_create_success_without_task_id_is_ambiguous() -> None:
    recorder = Recorder(httpx.Response(201, json={"id": "wrong-field"}))
    with pytest.raises(AmbiguousCreateError, match="has no task id"):
        make_client(recorder).create_task("acme", {"prompt": "p"})


# -- errors -----------------------------------------------------------------------------------


def test_give_up_error_has_message_status_and_request_id_but_never_the_token() -> None:
    echoed = f"upstream echoed your headers: Authorization: token {TOKEN}"
    recorder = Recorder(error_response(503, echoed, request_id="req-abc-123"))
    with pytest.raises(ApiError) as caught:
        make_client(recorder).get_task("acme", "t1")
    error = caught.value
    assert len(recorder.requests) == 5
    assert error.status == 503
    assert error.request_id == "req-abc-123"
    assert error.method == "GET"
    assert error.path == f"{TASKS}/t1"
    assert error.attempts == 5
    text = str(error)
    assert "503" in text
    assert "upstream echoed your headers" in text
    assert "req-abc-123" in text
    assert_no_token(error)


def test_non_json_error_body_is_summarised_without_the_token() -> None:
    body = f"<html>Bad gateway for token {TOKEN}</html>" + "x" * 2000
    recorder = Recorder(httpx.Response(400, text=body))
    with pytest.raises(ApiError) as caught:
        make_client(recorder).get_task("acme", "t1")
    assert "Bad gateway" in caught.value.message
    assert len(caught.value.message) < 600
    assert_no_token(caught.value)


def test_missing_task_raises_not_found() -> None:
    recorder = Recorder(error_response(404, "task not found", request_id="r404"))
    with pytest.raises(NotFoundError) as caught:
        make_client(recorder).get_task("acme", "gone")
    assert isinstance(caught.value, ApiError)
    assert caught.value.status == 404
    assert "task not found" in str(caught.value)
    assert len(recorder.requests) == 1


def test_update_of_missing_task_raises_not_found() -> None:
    recorder = Recorder(error_response(404, "task not found or not owned by user"))
    with pytest.raises(NotFoundError):
        make_client(recorder).update_task("acme", "gone", {"name": "x"})


def test_non_object_success_body_is_an_error() -> None:
    recorder = Recorder(httpx.Response(200, text="not json"))
    with pytest.raises(CloudError, match="not valid JSON"):
        make_client(recorder).get_task("acme", "t1")


# -- listing ----------------------------------------------------------------------------------


def test_list_follows_continuation_tokens_across_three_pages() -> None:
    pages = {
        None: {"tasks": [{"id": "a"}, {"id": "b"}], "continuationToken": "p2"},
        "p2": {"tasks": [{"id": "c"}], "continuationToken": "p3"},
        "p3": {"tasks": [{"id": "d"}], "continuationToken": ""},
    }
    recorder = Recorder(
        lambda request: httpx.Response(200, json=pages[request.url.params.get("continuationToken")])
    )
    tasks = make_client(recorder).list_tasks("acme", task_type="async", page_size=2)
    assert [task["id"] for task in tasks] == ["a", "b", "c", "d"]
    queries = [dict(request.url.params) for request in recorder.requests]
    assert queries == [
        {"pageSize": "2", "taskType": "async"},
        {"pageSize": "2", "taskType": "async", "continuationToken": "p2"},
        {"pageSize": "2", "taskType": "async", "continuationToken": "p3"},
    ]


def test_list_without_task_type_sends_no_filter_and_stops_on_absent_token() -> None:
    recorder = Recorder(httpx.Response(200, json={"tasks": [{"id": "a"}]}))
    assert make_client(recorder).list_tasks("acme") == [{"id": "a"}]
    assert dict(recorder.requests[0].url.params) == {"pageSize": "100"}


def test_list_refuses_to_loop_on_a_repeating_token() -> None:
    recorder = Recorder(
        httpx.Response(200, json={"tasks": [{"id": "a"}], "continuationToken": "again"})
    )
    with pytest.raises(CloudError, match="same continuation token"):
        make_client(recorder).list_tasks("acme")
    assert len(recorder.requests) == 2


def test_list_retries_a_failed_page() -> None:
    recorder = Recorder(
        httpx.Response(200, json={"tasks": [{"id": "a"}], "continuationToken": "p2"}),
        error_response(503, "busy"),
        httpx.Response(200, json={"tasks": [{"id": "b"}]}),
    )
    assert [t["id"] for t in make_client(recorder).list_tasks("acme")] == ["a", "b"]
    assert recorder.requests[2].url.params["continuationToken"] == "p2"


# -- stop and close ---------------------------------------------------------------------------


def stop_later(client: CloudClient, delay: float) -> threading.Thread:
    stopper = threading.Timer(delay, client.stop)
    stopper.start()
    return stopper


def assert_stop_cancels_a_blocked_get_promptly(client: CloudClient) -> None:
    """Stop the client 0.2 s into a GET whose answer never comes; the GET must end in well under
    2 s with CancelledError."""
    stopper = stop_later(client, 0.2)
    started = time.monotonic()
    try:
        with pytest.raises(CancelledError):
            client.get_task("acme", "t1")
        assert time.monotonic() - started < 2.0
    finally:
        stopper.join()


def test_stop_interrupts_a_backoff_wait_promptly() -> None:
    recorder = Recorder(error_response(429, "slow down", **{"Retry-After": "30"}))
    client = CloudClient(settings(), transport=httpx.MockTransport(recorder))
    stopper = stop_later(client, 0.2)
    started = time.monotonic()
    with pytest.raises(CancelledError) as caught:
        client.get_task("acme", "t1")
    assert time.monotonic() - started < 2.0
    assert not isinstance(caught.value, AmbiguousCreateError)
    stopper.join()
    assert len(recorder.requests) == 1


def test_stop_during_throttled_create_is_not_ambiguous() -> None:
    recorder = Recorder(error_response(429, "slow down", **{"Retry-After": "30"}))
    client = CloudClient(settings(), transport=httpx.MockTransport(recorder))
    stopper = stop_later(client, 0.1)
    with pytest.raises(CancelledError) as caught:
        client.create_task("acme", {"prompt": "p"})
    assert not isinstance(caught.value, AmbiguousCreateError)
    stopper.join()


def test_stop_interrupts_an_in_flight_request_promptly() -> None:
    release = threading.Event()

    def hang(request: httpx.Request) -> httpx.Response:
        release.wait(10)
        return httpx.Response(200, json={"id": "t1"})

    try:
        assert_stop_cancels_a_blocked_get_promptly(make_client(hang))
    finally:
        release.set()


def test_stop_lets_an_in_flight_create_finish_so_the_task_is_not_lost() -> None:
    release = threading.Event()

    def hang(request: httpx.Request) -> httpx.Response:
        release.wait(10)
        return created()

    client = make_client(hang)
    stopper = stop_later(client, 0.1)
    releaser = threading.Timer(0.5, release.set)
    releaser.start()
    try:
        started = time.monotonic()
        task_id = client.create_task("acme", {"prompt": "p"})
        assert time.monotonic() - started >= 0.4  # it waited for the answer despite stop()
        assert task_id
        with pytest.raises(CancelledError):
            client.get_task("acme", task_id)
    finally:
        release.set()
        releaser.join()
        stopper.join()


def test_calls_after_stop_raise_cancelled_without_sending() -> None:
    recorder = Recorder(httpx.Response(200, json={"id": "t1"}))
    client = make_client(recorder)
    client.stop()
    with pytest.raises(CancelledError):
        client.get_task("acme", "t1")
    with pytest.raises(CancelledError) as caught:
        client.create_task("acme", {"prompt": "p"})
    assert not isinstance(caught.value, AmbiguousCreateError)
    assert recorder.requests == []


def test_stop_observed_after_an_injected_sleep() -> None:
    recorder = Recorder(error_response(503, "busy"))
    client: CloudClient

    def sleep_then_stop(seconds: float) -> None:
        client.stop()

    client = CloudClient(settings(), transport=httpx.MockTransport(recorder), sleep=sleep_then_stop)
    with pytest.raises(CancelledError):
        client.get_task("acme", "t1")
    assert len(recorder.requests) == 1


def test_calls_after_close_fail_clearly() -> None:
    recorder = Recorder(httpx.Response(200, json={"id": "t1"}))
    with make_client(recorder) as client:
        assert client.get_task("acme", "t1") == {"id": "t1"}
    with pytest.raises(CloudError, match="closed"):
        client.get_task("acme", "t1")


# -- concurrency ------------------------------------------------------------------------------


def test_twenty_threads_create_through_one_client() -> None:
    counter = iter(range(1, 1000))
    lock = threading.Lock()
    in_flight = 0
    peak = 0

    def create(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            task_id = f"task-{next(counter)}"
        time.sleep(0.05)
        with lock:
            in_flight -= 1
        return created(task_id)

    recorder = Recorder(create)
    client = make_client(recorder)
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def worker(index: int) -> None:
        barrier.wait()
        try:
            task_id = client.create_task("acme", {"prompt": f"p{index}"})
        except BaseException as exc:
            errors.append(exc)
        else:
            with lock:
                results.append(task_id)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert len(results) == 20 == len(set(results))
    assert len(recorder.requests) == 20
    assert peak > 1
    prompts = sorted(json.loads(r.content)["prompt"] for r in recorder.requests)
    assert prompts == sorted(f"p{i}" for i in range(20))


# -- logging ----------------------------------------------------------------------------------


def test_requests_are_logged_at_debug_without_headers(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(
        error_response(503, "busy", request_id="r-1"),
        httpx.Response(200, json={"id": "t1"}, headers={"X-Pulumi-Request-ID": "r-2"}),
    )
    with caplog.at_level(logging.DEBUG, logger="terraform_provider_pulumiservice.cloud"):
        make_client(recorder).get_task("acme", "t1")
    text = caplog.text
    assert f"GET {TASKS}/t1 -> 503" in text
    assert f"GET {TASKS}/t1 -> 200" in text
    assert "r-1" in text
    assert "r-2" in text
    assert TOKEN not in text
    assert "Authorization" not in text


# -- real sockets -----------------------------------------------------------------------------


@contextmanager
def raw_server(on_connection: Callable[[socket.socket], None]) -> Iterator[tuple[str, list[int]]]:
    """Serve 127.0.0.1 with a per-connection function; yields (base URL, connection counter)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    connections: list[int] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connections.append(1)
            threading.Thread(target=on_connection, args=(conn,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", connections
    finally:
        done.set()
        server.join(2)
        listener.close()


def read_request(conn: socket.socket) -> bytes:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
            while len(body) < length:
                body += conn.recv(65536)
    return data


def real_client(base_url: str, **overrides: Any) -> CloudClient:
    # An explicit transport keeps any proxy settings in the environment out of the way.
    return CloudClient(
        settings(base_url=base_url, **overrides),
        transport=httpx.HTTPTransport(),
        sleep=lambda _: None,
    )


def test_connection_dropped_after_create_was_sent_is_ambiguous() -> None:
    requests: list[bytes] = []

    def drop_after_reading(conn: socket.socket) -> None:
        requests.append(read_request(conn))
        conn.close()

    with raw_server(drop_after_reading) as (url, connections):
        with pytest.raises(AmbiguousCreateError):
            real_client(url).create_task("acme", {"prompt": "p"})
        time.sleep(0.1)
    assert len(connections) == 1
    assert len(requests) == 1
    assert requests[0].startswith(b"POST /api/preview/agents/acme/tasks ")


def test_dropped_get_is_retried_on_a_new_connection() -> None:
    answered: list[bytes] = []

    def drop_first_then_answer(conn: socket.socket) -> None:
        read_request(conn)
        if not answered:
            answered.append(b"dropped")
            conn.close()
            return
        body = b'{"id": "t1"}'
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        conn.close()

    with raw_server(drop_first_then_answer) as (url, connections):
        assert real_client(url).get_task("acme", "t1") == {"id": "t1"}
    assert len(connections) == 2


def test_refused_connection_on_create_is_retried_then_reported_as_not_created() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    # Nothing listens on the port any more, so every connection attempt is refused.
    with pytest.raises(TransportError) as caught:
        real_client(f"http://127.0.0.1:{port}", max_attempts=3).create_task("acme", {})
    assert caught.value.attempts == 3
    assert not isinstance(caught.value, AmbiguousCreateError)


def test_stop_interrupts_a_real_blocked_read() -> None:
    hold = threading.Event()

    def never_answer(conn: socket.socket) -> None:
        read_request(conn)
        hold.wait(10)
        conn.close()

    with raw_server(never_answer) as (url, _):
        try:
            assert_stop_cancels_a_blocked_get_promptly(real_client(url))
        finally:
            hold.set()
