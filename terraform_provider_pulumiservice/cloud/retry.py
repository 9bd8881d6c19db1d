"""Retry decisions for Pulumi Cloud requests: which failures to retry and how long to wait.

Kept free of I/O so the rules can be tested on their own.
"""

from __future__ import annotations

import enum
import random
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx


class RequestKind(enum.Enum):
    """How safe a request is to repeat."""

    # GET, PATCH and the forced cancel: repeating them changes nothing.
    IDEMPOTENT = "idempotent"
    # Creating a task: repeating a request the server acted on would create a second task.
    CREATE = "create"


# 501/505 describe a request the server will never support; retrying cannot help.
_PERMANENT_SERVER_STATUSES = frozenset({501, 505})


def is_retryable_status(status: int, kind: RequestKind) -> bool:
    """Whether an HTTP status is worth another attempt for this kind of request."""
    if status == 429:
        # A throttled request was rejected before the server acted on it.
        return True
    if kind is RequestKind.CREATE:
        return False
    return status >= 500 and status not in _PERMANENT_SERVER_STATUSES


# Failures raised before any byte of the request left this process: the server cannot have acted.
_NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


def transport_error_proves_not_sent(error: httpx.TransportError) -> bool:
    """True when the request certainly never reached the server."""
    return isinstance(error, _NOT_SENT_ERRORS)


def is_retryable_transport_error(error: httpx.TransportError, kind: RequestKind) -> bool:
    """Whether a connection-level failure is worth another attempt for this kind of request."""
    if kind is RequestKind.CREATE:
        return transport_error_proves_not_sent(error)
    # Proxy, protocol and unsupported-protocol errors are configuration problems, not blips.
    return isinstance(
        error, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError
    )


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value, or None if unusable.

    Accepts delta-seconds and HTTP-dates (RFC 9110 section 10.2.3); ``now`` is the current Unix
    time, used to turn a date into a delay. Dates in the past mean "retry now".
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        # float() also accepts "nan" and "inf"; neither is a usable delay.
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # HTTP-dates are always GMT; "-0000" parses to a naive datetime.
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with jitter before retry number ``attempt`` (1 for the first retry).

    Half of the exponential step is fixed and half random ("equal jitter"), so concurrent
    operations spread out without any retry becoming instantaneous.
    """
    step = min(cap, base * 2.0 ** max(0, attempt - 1))
    return step / 2 + rng.uniform(0.0, step / 2)


def retry_wait(
    attempt: int,
    retry_after: str | None,
    *,
    now: float,
    base: float,
    cap: float,
    retry_after_cap: float,
    rng: random.Random,
) -> float:
    """How long to wait before retry number ``attempt``.

    A usable ``Retry-After`` from the server wins (capped, so a hostile or confused server cannot
    park Terraform for hours); otherwise exponential backoff with jitter.
    """
    requested = parse_retry_after(retry_after, now)
    if requested is not None:
        return min(requested, retry_after_cap)
    return backoff_delay(attempt, base=base, cap=cap, rng=rng)
