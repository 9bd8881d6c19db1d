"""Pure retry rules: Retry-After parsing, backoff bounds, what is worth retrying."""

from __future__ import annotations

import random
from email.utils import formatdate

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from terraform_provider_pulumiservice.cloud.retry import (
    RequestKind,
    backoff_delay,
    is_retryable_status,
    is_retryable_transport_error,
    parse_retry_after,
    retry_wait,
)

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 12 ", 12.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        (formatdate(NOW + 20, usegmt=True), 20.0),
        (formatdate(NOW - 20, usegmt=True), 0.0),
        # "-0000" parses to a naive datetime; it still means GMT.
        (formatdate(NOW + 20, usegmt=True).replace("GMT", "-0000"), 20.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@given(st.text(max_size=40))
def test_parse_retry_after_never_raises_and_never_goes_negative(value: str) -> None:
    parsed = parse_retry_after(value, NOW)
    assert parsed is None or parsed >= 0.0


@given(attempt=st.integers(min_value=1, max_value=60), seed=st.integers(0, 2**32))
def test_backoff_stays_within_half_step_and_cap(attempt: int, seed: int) -> None:
    delay = backoff_delay(attempt, base=0.5, cap=8.0, rng=random.Random(seed))
    step = min(8.0, 0.5 * 2 ** (attempt - 1))
    assert step / 2 <= delay <= step


def wait_for(retry_after: str) -> float:
    return retry_wait(
        1, retry_after, now=NOW, base=0.5, cap=8.0, retry_after_cap=30.0, rng=random.Random(1)
    )


def test_retry_wait_prefers_retry_after_and_caps_it() -> None:
    assert wait_for("4") == 4.0
    assert wait_for("999") == 30.0
    assert 0.25 <= wait_for("garbage") <= 0.5


@pytest.mark.parametrize(
    ("status", "idempotent", "create"),
    [
        (429, True, True),
        (500, True, False),
        (502, True, False),
        (503, True, False),
        (504, True, False),
        (501, False, False),
        (400, False, False),
        (404, False, False),
        (409, False, False),
    ],
)
def test_retryable_statuses(status: int, idempotent: bool, create: bool) -> None:
    assert is_retryable_status(status, RequestKind.IDEMPOTENT) is idempotent
    assert is_retryable_status(status, RequestKind.CREATE) is create


@pytest.mark.parametrize(
    ("error", "idempotent", "create"),
    [
        (httpx.ConnectError("x"), True, True),
        (httpx.ConnectTimeout("x"), True, True),
        (httpx.PoolTimeout("x"), True, True),
        (httpx.ReadTimeout("x"), True, False),
        (httpx.WriteTimeout("x"), True, False),
        (httpx.ReadError("x"), True, False),
        (httpx.WriteError("x"), True, False),
        (httpx.RemoteProtocolError("x"), True, False),
        (httpx.UnsupportedProtocol("x"), False, False),
        (httpx.ProxyError("x"), False, False),
    ],
)
def test_retryable_transport_errors(
    error: httpx.TransportError, idempotent: bool, create: bool
) -> None:
    assert is_retryable_transport_error(error, RequestKind.IDEMPOTENT) is idempotent
    assert is_retryable_transport_error(error, RequestKind.CREATE) is create
