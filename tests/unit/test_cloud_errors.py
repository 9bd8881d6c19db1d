"""Error texts: one paragraph each, never ending in "..", saying what to do next."""

from __future__ import annotations

import threading
import time

import pytest

from terraform_provider_pulumiservice.cloud import (
    AmbiguousCreateError,
    ApiError,
    CancelledCreateError,
    CancelledError,
    ClientSettings,
    CloudClient,
    CloudError,
    InvalidCreateResponseError,
    InvalidResponseError,
    TransportError,
)
from tests.support.hostile_api import Exchange, HostileApi, Wire

ERRORS: list[CloudError] = [
    ApiError(status=500, message="boom.", request_id="r", method="GET", path="/p", attempts=3),
    ApiError(status=400, message="bad...", request_id=None, method="GET", path="/p"),
    TransportError(method="GET", path="/p", reason="ConnectError: refused.", attempts=2),
    TransportError(
        method="GET",
        path="/p",
        reason="x",
        attempts=1,
        base_url="https://h",
        url_source="the default",
    ),
    AmbiguousCreateError(org="acme", reason="the API answered HTTP 502: bad gateway."),
    CancelledCreateError(org="acme"),
    CancelledCreateError(org="acme", task_id="t1"),
    InvalidResponseError(
        operation="read task acme/t1",
        method="GET",
        url="https://h/api",
        status=200,
        request_id="r",
        problem="the body is not valid JSON.",
    ),
    InvalidCreateResponseError(
        org="acme", method="POST", url="https://h/api", status=201, request_id=None, problem="x."
    ),
    CancelledError(),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_no_message_ends_in_two_full_stops(error: CloudError) -> None:
    text = str(error)
    assert ".." not in text.replace("...", "…"), text
    assert "\n" not in text


def test_a_create_kept_tainted_after_stop_says_the_next_apply_replaces_it_and_how_to_keep_it() -> (
    None
):
    text = str(CancelledCreateError(org="acme", task_id="t-42"))
    assert "acme/t-42" in text
    assert "tainted" in text
    assert "next `terraform apply` will replace it" in text
    assert "terraform untaint <resource address>" in text


def test_a_cancelled_create_without_an_id_keeps_the_import_hint() -> None:
    error = CancelledCreateError(org="acme")
    assert isinstance(error, AmbiguousCreateError) and isinstance(error, CancelledError)
    assert "terraform import <resource address> acme/<taskID>" in str(error)


def test_stop_does_not_abandon_a_dripping_create_but_its_deadline_ends_it() -> None:
    def drip(exchange: Exchange, wire: Wire) -> None:
        wire.send(b"HTTP/1.1 201 Created\r\nContent-Length: 500\r\n\r\n")
        wire.drip(b" " * 500, 0.1)

    with HostileApi(drip) as api:
        client = CloudClient(
            ClientSettings(base_url=api.url, token="t", user_agent="ua", request_timeout=1.2)
        )
        started = time.monotonic()
        stopper = threading.Timer(0.3, client.stop)
        stopper.start()
        with pytest.raises(CancelledCreateError) as caught:
            client.create_task("acme", {"prompt": "p"})
        elapsed = time.monotonic() - started
        stopper.join()
        client.close()
    assert 1.0 <= elapsed < 2.5, "not abandoned at stop(), ended by the deadline"
    assert "terraform import" in str(caught.value)
    assert len(api.requests_to("POST")) == 1
