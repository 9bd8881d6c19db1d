"""CloudClient against an adversarial API on a real socket: deadlines, budgets, bad bodies."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import httpx
import pytest

from terraform_provider_pulumiservice.cloud import (
    AmbiguousCreateError,
    ClientSettings,
    CloudClient,
    DeadlineExceededError,
    InvalidCreateResponseError,
    InvalidResponseError,
    PaginationLimitError,
    TransportError,
)
from terraform_provider_pulumiservice.cloud.settings import SOURCE_ENV
from tests.support.hostile_api import Exchange, HostileApi, Wire, response_bytes

TOKEN = "pul-hostile-0123456789-SECRET"
TASKS = "/api/preview/agents/acme/tasks"


def client_for(url: str, **overrides: Any) -> CloudClient:
    values: dict[str, Any] = {
        "base_url": url,
        "token": TOKEN,
        "user_agent": "terraform-provider-pulumiservice/test",
        "backoff_base": 0.05,
        "backoff_cap": 0.2,
    }
    values.update(overrides)
    return CloudClient(ClientSettings(**values))


def answer(status: int, body: Any, **options: Any) -> Any:
    def behaviour(exchange: Exchange, wire: Wire) -> None:
        wire.send(response_bytes(status, body, **options))

    return behaviour


def drip_body(exchange: Exchange, wire: Wire) -> None:
    """Valid headers at once, then a 1000-byte body one byte every 0.1 s (100 s in all)."""
    wire.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
    wire.drip(b"{" + b" " * 998 + b"}", 0.1)


def never_answer(exchange: Exchange, wire: Wire) -> None:
    wire.hold()


# -- deadlines -----------------------------------------------------------------------------


def test_a_dripping_create_ends_as_ambiguous_within_the_request_deadline() -> None:
    with HostileApi(drip_body) as api:
        client = client_for(api.url, request_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(AmbiguousCreateError) as caught:
            client.create_task("acme", {"prompt": "p"})
        elapsed = time.monotonic() - started
        client.close()
    assert elapsed < 2.5
    text = str(caught.value)
    assert "may have succeeded" in text
    assert "request deadline" in text
    assert "terraform import" in text
    assert ".." not in text
    assert len(api.requests_to("POST", TASKS)) == 1


def test_dripping_status_line_and_headers_do_not_outlast_the_deadline() -> None:
    def drip_head(exchange: Exchange, wire: Wire) -> None:
        wire.drip(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200, 0.05)

    with HostileApi(drip_head) as api:
        client = client_for(api.url, request_timeout=1.0, operation_timeout=1.0)
        started = time.monotonic()
        with pytest.raises((DeadlineExceededError, TransportError)):
            client.get_task("acme", "t1")
        assert time.monotonic() - started < 2.5
        client.close()


def test_a_dripping_get_is_retried_then_bounded_by_the_operation_timeout() -> None:
    with HostileApi(drip_body) as api:
        client = client_for(api.url, request_timeout=0.6, operation_timeout=2.0)
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as caught:
            client.get_task("acme", "t1")
        elapsed = time.monotonic() - started
        client.close()
    assert elapsed < 3.0
    assert len(api.requests_to("GET")) >= 2
    text = str(caught.value)
    assert "operation timeout of 2s" in text and "`operation_timeout`" in text
    assert "request deadline" in text
    assert api.url in text


def test_an_api_that_never_answers_is_bounded_and_each_retry_is_logged_at_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with HostileApi(never_answer) as api:
        client = client_for(api.url, request_timeout=0.5, operation_timeout=1.8)
        started = time.monotonic()
        with (
            caplog.at_level(logging.WARNING, logger="terraform_provider_pulumiservice.cloud"),
            pytest.raises(DeadlineExceededError) as caught,
        ):
            client.get_task("acme", "t1")
        elapsed = time.monotonic() - started
        client.close()
    assert elapsed < 2.8
    assert "read task acme/t1 did not finish within the operation timeout" in str(caught.value)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings, "each retry is logged at WARN"
    assert "attempt 1 of 5" in warnings[0]
    assert "request deadline" in warnings[0]
    assert "retrying in" in warnings[0]
    assert f"{api.url}{TASKS}/t1" in warnings[0]
    assert all(TOKEN not in message for message in caplog.text.splitlines())


def test_the_deadline_backend_is_installed_on_the_default_transport() -> None:
    client = client_for("http://127.0.0.1:9")
    assert client._transport.deadlines_enforced
    client.close()


def test_sequential_requests_reuse_one_worker_thread() -> None:
    with HostileApi(answer(200, {"id": "t1"})) as api:
        client = client_for(api.url)
        client.get_task("acme", "t1")  # opens the connection (and the server's thread for it)
        before = threading.active_count()
        for _ in range(20):
            assert client.get_task("acme", "t1") == {"id": "t1"}
        assert client._transport._workers.size == 1
        assert threading.active_count() == before
        client.close()


# -- listing budgets -------------------------------------------------------------------------


def endless_pages(exchange: Exchange, wire: Wire) -> None:
    """Every page carries a continuation token never seen before."""
    token = f"n{time.monotonic_ns()}"
    wire.send(response_bytes(200, {"tasks": [{"id": token}], "continuationToken": token}))


def test_endless_continuation_tokens_stop_at_the_page_limit_with_an_error_that_says_so() -> None:
    with HostileApi(endless_pages) as api:
        client = client_for(api.url, max_pages=25)
        with pytest.raises(PaginationLimitError) as caught:
            client.list_tasks("acme")
        client.close()
    text = str(caught.value)
    assert "after 25 pages" in text and "list the tasks of organization 'acme'" in text
    assert len(api.requests_to("GET", TASKS)) == 25


def test_endless_continuation_tokens_stop_at_the_operation_timeout() -> None:
    def slow_endless(exchange: Exchange, wire: Wire) -> None:
        wire.pause(0.05)
        endless_pages(exchange, wire)

    with HostileApi(slow_endless) as api:
        client = client_for(api.url, operation_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(PaginationLimitError) as caught:
            client.list_tasks("acme")
        assert time.monotonic() - started < 2.0
        client.close()
    assert "operation timeout of 1s" in str(caught.value)


# -- unusable 2xx bodies ------------------------------------------------------------------

BAD_BODIES = {
    "invalid JSON": (b"{not json", "not valid JSON"),
    "NaN": (b'{"id": NaN}', "NaN"),
    "Infinity": (b'{"id": -Infinity}', "Infinity"),
    "deep nesting": (b"[" * 5000 + b"]" * 5000, "nested more than 64 levels"),
    "moderately deep nesting": (b'{"a":' * 100 + b"1" + b"}" * 100, "nested more than 64 levels"),
    "a list": (b'[{"id": "t1"}]', "a list, not an object"),
    "a string": (b'"t1"', "a string, not an object"),
    "not UTF-8": (b'{"id": "\xff"}', "not UTF-8"),
}


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_an_unusable_get_body_names_operation_status_request_id_and_url(name: str) -> None:
    body, problem = BAD_BODIES[name]
    with HostileApi(answer(200, body, request_id="req-bad-7")) as api:
        client = client_for(api.url)
        with pytest.raises(InvalidResponseError) as caught:
            client.get_task("acme", "t1")
        client.close()
    text = str(caught.value)
    assert problem in text
    assert "read task acme/t1" in text
    assert "HTTP 200" in text and "req-bad-7" in text
    assert f"{api.url}{TASKS}/t1" in text
    assert ".." not in text.replace("...", "")
    assert len(api.requests_to("GET")) == 1, "an unusable body is not retried"


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_an_unusable_create_body_is_ambiguous_and_sent_once(name: str) -> None:
    body, problem = BAD_BODIES[name]
    with HostileApi(answer(201, body, request_id="req-bad-8")) as api:
        client = client_for(api.url)
        with pytest.raises(InvalidCreateResponseError) as caught:
            client.create_task("acme", {"prompt": "p"})
        client.close()
    assert isinstance(caught.value, AmbiguousCreateError)
    text = str(caught.value)
    assert problem in text and "HTTP 201" in text and "req-bad-8" in text
    assert "terraform import" in text
    assert len(api.requests_to("POST")) == 1


@pytest.mark.parametrize("body", [{"taskId": 42}, {"taskId": ""}, {"id": "t1"}, {"taskId": None}])
def test_a_create_answer_without_a_string_task_id_is_ambiguous(body: dict[str, Any]) -> None:
    with HostileApi(answer(201, body)) as api:
        client = client_for(api.url)
        with pytest.raises(InvalidCreateResponseError, match="has no task id"):
            client.create_task("acme", {"prompt": "p"})
        client.close()
    assert len(api.requests_to("POST")) == 1


def test_an_unusable_listing_page_is_an_invalid_response() -> None:
    with HostileApi(answer(200, {"tasks": {"id": "t1"}})) as api:
        client = client_for(api.url)
        with pytest.raises(InvalidResponseError, match="`tasks` is not a list of objects"):
            client.list_tasks("acme")
        client.close()


def test_an_update_answer_without_a_body_is_none_and_with_a_bad_body_is_an_error() -> None:
    with HostileApi(answer(204, b"")) as api:
        client = client_for(api.url)
        assert client.update_task("acme", "t1", {"name": "n"}) is None
        client.close()
    with HostileApi(answer(200, b"[1]")) as api:
        client = client_for(api.url)
        with pytest.raises(InvalidResponseError, match="update task acme/t1"):
            client.update_task("acme", "t1", {"name": "n"})
        client.close()


def test_an_oversized_answer_is_refused() -> None:
    with HostileApi(answer(200, b'{"id": "' + b"x" * 3000 + b'"}')) as api:
        client = client_for(api.url, max_response_bytes=1024)
        with pytest.raises(InvalidResponseError, match="larger than"):
            client.get_task("acme", "t1")
        client.close()


# -- URLs --------------------------------------------------------------------------------------


def test_a_path_prefix_in_the_api_url_is_kept() -> None:
    with HostileApi(answer(200, {"id": "t1"})) as api:
        client = client_for(api.url + "/pulumi/prefix/")
        client.get_task("acme", "t 1")
        client.close()
    assert [r.path for r in api.requests] == ["/pulumi/prefix/api/preview/agents/acme/tasks/t%201"]


def test_dot_segments_are_escaped_rather_than_resolved() -> None:
    with HostileApi(answer(200, {"id": ".."})) as api:
        client = client_for(api.url)
        client.get_task("acme", "..")
        client.close()
    assert api.requests[0].path == f"{TASKS}/%2E%2E"


def test_a_transport_error_names_the_url_and_where_it_came_from() -> None:
    with HostileApi(never_answer) as api:
        url = api.url
    client = client_for(url, url_source=SOURCE_ENV, max_attempts=2)
    with pytest.raises(TransportError) as caught:
        client.get_task("acme", "t1")
    client.close()
    text = str(caught.value)
    assert url in text
    assert "PULUMI_BACKEND_URL environment variable" in text
    assert ".." not in text


def test_the_token_is_sent_as_the_only_credential() -> None:
    with HostileApi(answer(200, {"id": "t1"})) as api:
        client = client_for(api.url)
        client.get_task("acme", "t1")
        client.close()
    assert api.requests[0].headers["authorization"] == f"token {TOKEN}"
    assert json.dumps(api.requests[0].headers).count(TOKEN) == 1


def test_a_mock_transport_still_works_without_socket_deadlines() -> None:
    client = CloudClient(
        ClientSettings(base_url="https://x.test", token=TOKEN, user_agent="ua"),
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json={"id": "t"})),
    )
    assert not client._transport.deadlines_enforced
    assert client.get_task("acme", "t") == {"id": "t"}
    client.close()


def test_a_proxy_from_the_environment_is_used_and_its_connections_are_bounded_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with HostileApi(answer(200, {"id": "t1"})) as proxy:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        client = client_for("http://api.example.test")
        assert client._transport.deadlines_enforced
        assert client.get_task("acme", "t1") == {"id": "t1"}
        client.close()
    assert proxy.requests[0].target == f"http://api.example.test{TASKS}/t1"
