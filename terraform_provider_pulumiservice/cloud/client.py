"""HTTP client for the Pulumi Cloud agent-task API.

One :class:`CloudClient` is shared by every operation Terraform runs in parallel, so it keeps a
single pooled, thread-safe ``httpx.Client`` and no per-request mutable state. Each request other
than a create runs on a short-lived daemon thread while the calling thread waits for either its
outcome or :meth:`CloudClient.stop`; that is what lets StopProvider return promptly even when a
socket is blocked in a read, which closing the pool alone does not interrupt on Linux. A create
is never abandoned (a task could be lost), so it is sent on the calling thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from .errors import (
    AmbiguousCreateError,
    ApiError,
    CancelledCreateError,
    CancelledError,
    CloudError,
    InvalidSettingsError,
    MissingTokenError,
    NotFoundError,
    TransportError,
)
from .retry import (
    RequestKind,
    is_retryable_status,
    is_retryable_transport_error,
    retry_wait,
    transport_error_proves_not_sent,
)

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.pulumi.com"
API_URL_ENV = "PULUMI_BACKEND_URL"
ACCESS_TOKEN_ENV = "PULUMI_ACCESS_TOKEN"
PULUMI_ACCEPT = "application/vnd.pulumi+8"
REQUEST_ID_HEADER = "X-Pulumi-Request-ID"
USER_AGENT_PRODUCT = "terraform-provider-pulumiservice"

# Enough connections for Terraform's default parallelism (10) with plenty of headroom.
POOL_MAX_CONNECTIONS = 32
CONNECT_TIMEOUT_SECONDS = 10.0
# A misbehaving server must not make pagination loop forever.
MAX_LIST_PAGES = 10_000
_REDACTED = "<redacted>"
_MAX_ERROR_TEXT = 500


@dataclass(frozen=True)
class ClientSettings:
    """Everything needed to talk to one Pulumi Cloud API endpoint."""

    base_url: str
    # Kept out of repr so settings can be logged or shown in tracebacks safely.
    token: str = field(repr=False)
    user_agent: str
    timeout: float = 30.0
    max_attempts: int = 5
    retry_after_cap: float = 30.0
    backoff_base: float = 0.5
    backoff_cap: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")


def resolve_settings(
    api_url: str | None,
    access_token: str | None,
    environ: Mapping[str, str],
    version: str,
) -> ClientSettings:
    """Combine provider configuration and environment into client settings.

    Explicit provider arguments win over the environment; empty strings count as unset.
    """
    if api_url and api_url.strip():
        base_url, source = api_url.strip(), "the provider's `api_url` argument"
    elif environ.get(API_URL_ENV, "").strip():
        base_url, source = environ[API_URL_ENV].strip(), f"the {API_URL_ENV} environment variable"
    else:
        base_url, source = DEFAULT_API_URL, "the default"
    base_url = base_url.rstrip("/")
    _check_base_url(base_url, source)

    token = (access_token or "").strip() or environ.get(ACCESS_TOKEN_ENV, "").strip()
    if not token:
        raise MissingTokenError()
    return ClientSettings(
        base_url=base_url, token=token, user_agent=f"{USER_AGENT_PRODUCT}/{version}"
    )


def _check_base_url(base_url: str, source: str) -> None:
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise InvalidSettingsError(
            f"The Pulumi Cloud API URL {base_url!r} from {source} is not a valid URL: {exc}."
        ) from None
    if url.scheme not in ("http", "https") or not url.host:
        # PULUMI_BACKEND_URL may name a self-managed backend (file://, s3://, ...), which has
        # no agent-task API.
        raise InvalidSettingsError(
            f"The Pulumi Cloud API URL {base_url!r} from {source} must be an http:// or "
            "https:// URL of a Pulumi Cloud API, such as https://api.pulumi.com."
        )


class _StopSignal:
    """A latch that StopProvider sets: backoff waits return at once, tracked requests are dropped.

    Each request has its own future, so finishing one wakes only its caller.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._stopped = False
        self._in_flight: set[Future[httpx.Response]] = set()

    def is_set(self) -> bool:
        with self._condition:
            return self._stopped

    def set(self) -> None:
        with self._condition:
            self._stopped = True
            abandoned = list(self._in_flight)
            self._in_flight.clear()
            self._condition.notify_all()
        for outcome in abandoned:
            _settle(outcome, error=_Stopped(sent=True))

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if stopped meanwhile."""
        with self._condition:
            return self._condition.wait_for(lambda: self._stopped, timeout=max(0.0, seconds))

    def track(self, outcome: Future[httpx.Response]) -> bool:
        """Make ``outcome`` end with ``_Stopped`` when the signal is set; False if already set."""
        with self._condition:
            if self._stopped:
                return False
            self._in_flight.add(outcome)
            return True

    def untrack(self, outcome: Future[httpx.Response]) -> None:
        with self._condition:
            self._in_flight.discard(outcome)


def _settle(
    outcome: Future[httpx.Response],
    *,
    result: httpx.Response | None = None,
    error: BaseException | None = None,
) -> None:
    """Complete ``outcome`` unless something (a stop, or the request) already did."""
    with contextlib.suppress(InvalidStateError):
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(result)  # type: ignore[arg-type]


class _Stopped(Exception):
    """Internal: the stop signal interrupted a request; ``sent`` says whether it may have landed."""

    def __init__(self, *, sent: bool) -> None:
        super().__init__()
        self.sent = sent


class CloudClient:
    """Pulumi Cloud agent-task API client; safe to share between threads."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._stop = _StopSignal()
        self._closed = False
        self._http = httpx.Client(
            headers={
                "Authorization": f"token {settings.token}",
                "Accept": PULUMI_ACCEPT,
                "Content-Type": "application/json",
                "User-Agent": settings.user_agent,
            },
            timeout=httpx.Timeout(
                settings.timeout, connect=min(CONNECT_TIMEOUT_SECONDS, settings.timeout)
            ),
            limits=httpx.Limits(
                max_connections=POOL_MAX_CONNECTIONS,
                max_keepalive_connections=POOL_MAX_CONNECTIONS,
                keepalive_expiry=30.0,
            ),
            transport=transport,
            follow_redirects=False,
            # A plain-http endpoint (such as the local emulator) never negotiates TLS, so skip
            # loading the CA bundle: it costs ~40 ms and several MiB in every provider process.
            verify=settings.base_url.startswith("https://"),
        )

    @property
    def settings(self) -> ClientSettings:
        return self._settings

    def __repr__(self) -> str:
        return f"CloudClient(base_url={self._settings.base_url!r})"

    def __enter__(self) -> CloudClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- agent-task operations ------------------------------------------------------------

    def create_task(self, org: str, body: dict[str, Any]) -> str:
        """Create a task; returns its id. Never sends the create twice if it may have landed."""
        response = self._call("POST", _tasks_path(org), RequestKind.CREATE, org=org, body=body)
        payload = _json_or_none(response)
        task_id = payload.get("taskId") if isinstance(payload, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise AmbiguousCreateError(
                org=org,
                reason=f"the API answered HTTP {response.status_code} without a task id",
                status=response.status_code,
                request_id=response.headers.get(REQUEST_ID_HEADER),
            )
        return task_id

    def get_task(self, org: str, task_id: str) -> dict[str, Any]:
        """Fetch one task; raises NotFoundError if it does not exist (any more)."""
        response = self._call("GET", _task_path(org, task_id), RequestKind.IDEMPOTENT, org=org)
        return self._json_object(response, "GET", _task_path(org, task_id))

    def update_task(self, org: str, task_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH a task's mutable settings; returns the updated task ({} if the body is empty)."""
        path = _task_path(org, task_id)
        response = self._call("PATCH", path, RequestKind.IDEMPOTENT, org=org, body=body)
        if not response.content.strip():
            return {}
        return self._json_object(response, "PATCH", path)

    def cancel_task(self, org: str, task_id: str) -> None:
        """Force-cancel a task's running session (idempotent, so retried like PATCH)."""
        self._call(
            "POST",
            _task_path(org, task_id) + "/cancel",
            RequestKind.IDEMPOTENT,
            org=org,
            body={"force": True},
        )

    def list_tasks(
        self, org: str, *, task_type: str | None = None, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """Every task of the organization, following continuation tokens across pages."""
        path = _tasks_path(org)
        params: dict[str, str] = {"pageSize": str(page_size)}
        if task_type:
            params["taskType"] = task_type
        tasks: list[dict[str, Any]] = []
        seen_tokens: set[str] = set()
        for _ in range(MAX_LIST_PAGES):
            response = self._call("GET", path, RequestKind.IDEMPOTENT, org=org, params=params)
            page = self._json_object(response, "GET", path)
            page_tasks = page.get("tasks") or []
            if not isinstance(page_tasks, list) or not all(
                isinstance(task, dict) for task in page_tasks
            ):
                raise self._unexpected(response, "GET", path, "`tasks` is not a list of objects")
            tasks.extend(page_tasks)
            token = page.get("continuationToken")
            if not token:
                return tasks
            if not isinstance(token, str):
                raise self._unexpected(response, "GET", path, "`continuationToken` is not text")
            if token in seen_tokens:
                raise CloudError(
                    f"Pulumi Cloud returned the same continuation token twice while listing the "
                    f"tasks of organization {org!r}; stopped to avoid looping forever."
                )
            seen_tokens.add(token)
            params["continuationToken"] = token
        raise CloudError(
            f"Listing the tasks of organization {org!r} did not finish after {MAX_LIST_PAGES} "
            "pages; stopped to avoid looping forever."
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def stop(self) -> None:
        """StopProvider: end waits and in-flight requests now; later calls raise CancelledError.

        A create already on the wire is let finish (its own timeouts bound it): abandoning it
        could leave a task in Pulumi Cloud that Terraform never hears of.
        """
        self._stop.set()

    def close(self) -> None:
        """Release pooled connections. Idempotent."""
        self._closed = True
        self._http.close()

    # -- request machinery --------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        kind: RequestKind,
        *,
        org: str,
        body: dict[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send with retries; returns a 2xx response or raises a CloudError."""
        content = None if body is None else json.dumps(body).encode("utf-8")
        max_attempts = self._settings.max_attempts
        for attempt in range(1, max_attempts + 1):
            self._ensure_usable()
            started = time.monotonic()
            try:
                response = self._send(method, path, content, params, kind)
            except _Stopped as stopped:
                raise self._cancelled(kind, org, sent=stopped.sent) from None
            except httpx.HTTPError as exc:
                elapsed = time.monotonic() - started
                reason = self._describe_exception(exc)
                logger.debug(
                    "%s %s failed after %.0f ms (attempt %d/%d): %s",
                    method,
                    path,
                    elapsed * 1000,
                    attempt,
                    max_attempts,
                    reason,
                )
                not_sent = isinstance(exc, httpx.TransportError) and (
                    transport_error_proves_not_sent(exc)
                )
                if self._stop.is_set():
                    raise self._cancelled(kind, org, sent=not not_sent) from None
                retryable = isinstance(exc, httpx.TransportError) and (
                    is_retryable_transport_error(exc, kind)
                )
                if kind is RequestKind.CREATE and not not_sent:
                    raise AmbiguousCreateError(org=org, reason=reason) from None
                if not retryable or attempt == max_attempts:
                    raise TransportError(
                        method=method, path=path, reason=reason, attempts=attempt
                    ) from None
                self._pause(attempt, None, kind, org, f"{method} {path}")
                continue

            elapsed = time.monotonic() - started
            request_id = response.headers.get(REQUEST_ID_HEADER)
            logger.debug(
                "%s %s -> %d in %.0f ms (attempt %d/%d, request id %s)",
                method,
                path,
                response.status_code,
                elapsed * 1000,
                attempt,
                max_attempts,
                request_id or "-",
            )
            if response.is_success:
                return response
            status = response.status_code
            if is_retryable_status(status, kind) and attempt < max_attempts:
                retry_after = response.headers.get("Retry-After")
                self._pause(attempt, retry_after, kind, org, f"{method} {path}")
                continue
            raise self._status_error(response, method, path, kind, org, attempt)
        # The loop always returns or raises on its last attempt.
        raise AssertionError("unreachable")

    def _send(
        self,
        method: str,
        path: str,
        content: bytes | None,
        params: Mapping[str, str] | None,
        kind: RequestKind,
    ) -> httpx.Response:
        request = self._http.build_request(
            method, self._settings.base_url + path, content=content, params=params
        )
        try:
            if kind is RequestKind.CREATE:
                # A create on the wire is never abandoned, even by stop() (see stop()), so it
                # needs no thread of its own.
                return self._http.send(request)
            return self._send_abandonable(request)
        except RuntimeError:
            # httpx refuses to send on a client closed by stop() or close().
            if self._stop.is_set():
                raise _Stopped(sent=False) from None
            if self._closed:
                raise CloudError("The Pulumi Cloud client has been closed.") from None
            raise

    def _send_abandonable(self, request: httpx.Request) -> httpx.Response:
        """Send on a helper thread, so that stop() releases the waiting caller at once; the
        request itself ends on its own (its timeouts bound it)."""
        outcome: Future[httpx.Response] = Future()
        if not self._stop.track(outcome):
            raise _Stopped(sent=False)

        def exchange() -> None:
            try:
                response = self._http.send(request)
            except BaseException as exc:  # handed to the waiting caller
                _settle(outcome, error=exc)
            else:
                _settle(outcome, result=response)

        threading.Thread(target=exchange, name="pulumi-cloud-request", daemon=True).start()
        try:
            return outcome.result()
        finally:
            self._stop.untrack(outcome)

    def _pause(
        self,
        attempt: int,
        retry_after: str | None,
        kind: RequestKind,
        org: str,
        what: str,
    ) -> None:
        seconds = retry_wait(
            attempt,
            retry_after,
            now=self._clock(),
            base=self._settings.backoff_base,
            cap=self._settings.backoff_cap,
            retry_after_cap=self._settings.retry_after_cap,
            rng=self._rng,
        )
        logger.debug("retrying %s in %.2f s", what, seconds)
        if self._sleep is not None:
            self._sleep(seconds)
            stopped = self._stop.is_set()
        else:
            stopped = self._stop.wait(seconds)
        if stopped:
            # Only requests the server certainly did not act on are ever retried.
            raise self._cancelled(kind, org, sent=False)

    def _ensure_usable(self) -> None:
        if self._stop.is_set():
            raise CancelledError()
        if self._closed:
            raise CloudError("The Pulumi Cloud client has been closed.")

    @staticmethod
    def _cancelled(kind: RequestKind, org: str, *, sent: bool) -> CancelledError:
        if kind is RequestKind.CREATE and sent:
            return CancelledCreateError(org=org)
        return CancelledError()

    def _status_error(
        self,
        response: httpx.Response,
        method: str,
        path: str,
        kind: RequestKind,
        org: str,
        attempts: int,
    ) -> CloudError:
        status = response.status_code
        request_id = response.headers.get(REQUEST_ID_HEADER)
        message = self._api_message(response)
        if kind is RequestKind.CREATE and status >= 500:
            reason = f"the API answered HTTP {status}"
            if message:
                reason += f": {message}"
            return AmbiguousCreateError(
                org=org, reason=reason, status=status, request_id=request_id
            )
        error_type = NotFoundError if status == 404 else ApiError
        return error_type(
            status=status,
            message=message,
            request_id=request_id,
            method=method,
            path=path,
            attempts=attempts,
        )

    def _api_message(self, response: httpx.Response) -> str:
        """The API's error ``message``, else a short excerpt of the body, else the reason."""
        payload = _json_or_none(response)
        message = payload.get("message") if isinstance(payload, dict) else None
        if not isinstance(message, str) or not message.strip():
            try:
                message = response.text.strip()
            except (UnicodeDecodeError, LookupError):
                message = ""
            if len(message) > _MAX_ERROR_TEXT:
                message = message[:_MAX_ERROR_TEXT] + "..."
            message = message or response.reason_phrase
        return self._redact(" ".join(message.split()))

    def _json_object(self, response: httpx.Response, method: str, path: str) -> dict[str, Any]:
        payload = _json_or_none(response)
        if not isinstance(payload, dict):
            raise self._unexpected(response, method, path, "the body is not a JSON object")
        return payload

    def _unexpected(
        self, response: httpx.Response, method: str, path: str, problem: str
    ) -> CloudError:
        request_id = response.headers.get(REQUEST_ID_HEADER)
        text = (
            f"Pulumi Cloud answered {method} {path} with HTTP {response.status_code}, but "
            f"{problem}."
        )
        if request_id:
            text += f" (Pulumi request ID: {request_id})"
        return CloudError(text)

    def _describe_exception(self, exc: BaseException) -> str:
        text = str(exc).strip()
        name = type(exc).__name__
        return self._redact(f"{name}: {text}" if text else name)

    def _redact(self, text: str) -> str:
        token = self._settings.token
        return text.replace(token, _REDACTED) if token else text


def _segment(value: str, what: str) -> str:
    if not value:
        raise CloudError(f"The {what} must not be empty.")
    return quote(value, safe="")


def _tasks_path(org: str) -> str:
    return f"/api/preview/agents/{_segment(org, 'organization name')}/tasks"


def _task_path(org: str, task_id: str) -> str:
    return f"{_tasks_path(org)}/{_segment(task_id, 'task id')}"


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
