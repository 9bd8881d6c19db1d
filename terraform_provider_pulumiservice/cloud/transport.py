"""The HTTP exchange: one pooled httpx client, deadlines, retries, and abandonable requests.

This module knows URLs, methods and the retry policy (:mod:`.retry`), not organizations or
tasks; :mod:`.client` builds the API operations on top of it.

Time is bounded at three levels:

- **Per network read and write.** Every socket operation's timeout is clamped to the deadline of
  the request it serves (a thread-local set around each exchange, read by the connection pool's
  network backend), so a server that drips one byte a second cannot stretch a request: the
  first read after the deadline fails with a timeout. httpx itself only bounds each read.
- **Per request** (``request_timeout``): connect, send and the whole answer.
- **Per operation** (``operation_timeout``, an :class:`Budget`): every attempt and every back-off
  wait. A retry that would start after the budget ends is not made.

Requests other than creates run on a small, reused pool of daemon worker threads while the
calling thread waits for either the outcome or :meth:`StopSignal.set`; that lets StopProvider
return at once even when a socket is blocked in a read (closing the pool does not interrupt a
read on Linux). The abandoned request still ends by its own deadline. A create is never
abandoned (a task could be lost), so it is sent on the calling thread; its deadline bounds it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from terraform_provider_pulumiservice.durations import format_duration

from .cancellation import Stopped, StopSignal, settle
from .errors import (
    ApiError,
    CancelledError,
    CloudError,
    DeadlineExceededError,
    InvalidResponseError,
    NotFoundError,
    TransportError,
)
from .jsonbody import loads_or_none
from .retry import (
    RequestKind,
    is_retryable_status,
    is_retryable_transport_error,
    retry_wait,
    transport_error_proves_not_sent,
)
from .settings import ClientSettings

logger = logging.getLogger("terraform_provider_pulumiservice.cloud")

PULUMI_ACCEPT = "application/vnd.pulumi+8"
REQUEST_ID_HEADER = "X-Pulumi-Request-ID"
# Enough connections (and workers) for Terraform's default parallelism (10) with headroom.
POOL_MAX_CONNECTIONS = 32
_REDACTED = "<redacted>"
_MAX_ERROR_TEXT = 500


# -- deadlines enforced at the socket --------------------------------------------------------

_deadline = threading.local()


@contextlib.contextmanager
def request_deadline(deadline: float | None) -> Iterator[None]:
    """Within the block, every socket read, write and connect of this thread ends by
    ``deadline`` (a time.monotonic() value). Never hold it across a ``yield``."""
    previous = getattr(_deadline, "value", None)
    _deadline.value = deadline
    try:
        yield
    finally:
        _deadline.value = previous


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    deadline: float | None = getattr(_deadline, "value", None)
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error("the request deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _clamp(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _clamp(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install_deadlines(transport: httpx.BaseTransport) -> bool:
    """Make ``transport``'s connections honour :func:`request_deadline`; False if it is not an
    httpx.HTTPTransport (a MockTransport has no sockets to bound).

    httpx exposes no network-backend option, so this reaches into its connection pool; a unit
    test checks that it took effect with the installed httpx.
    """
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if not isinstance(pool, httpcore.ConnectionPool) or backend is None:
        return False
    if not isinstance(backend, _DeadlineBackend):
        pool._network_backend = _DeadlineBackend(backend)
    return True


# -- a small pool of reusable daemon workers -------------------------------------------------


class WorkerPool:
    """Runs jobs on up to ``max_workers`` reused daemon threads.

    Daemon threads, unlike concurrent.futures', never hold up interpreter exit for a request
    StopProvider abandoned.
    """

    def __init__(self, max_workers: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._max = max_workers
        self._name = name
        self._threads = 0
        self._idle = 0

    @property
    def size(self) -> int:
        with self._lock:
            return self._threads

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
            elif self._threads < self._max:
                self._threads += 1
                threading.Thread(target=self._work, name=self._name, daemon=True).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                with self._lock:
                    self._threads -= 1
                return
            with contextlib.suppress(BaseException):
                job()
            with self._lock:
                self._idle += 1

    def shutdown(self) -> None:
        with self._lock:
            count = self._threads
        for _ in range(count):
            self._jobs.put(None)


# -- outcomes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A complete answer: status, headers and the whole body."""

    method: str
    url: str
    status: int
    headers: httpx.Headers
    content: bytes
    reason_phrase: str

    @property
    def request_id(self) -> str | None:
        value: str | None = self.headers.get(REQUEST_ID_HEADER)
        return value

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Unconfirmed(Exception):
    """A request the server may have acted on failed, and it is not safe to repeat (a create).

    The client turns it into AmbiguousCreateError, or CancelledCreateError when ``stopped``.
    """

    def __init__(
        self,
        reason: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        stopped: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.request_id = request_id
        self.stopped = stopped


class Budget:
    """An operation's time budget, shared by all its attempts (and all pages of a listing)."""

    def __init__(self, seconds: float, *, until: float | None = None) -> None:
        self.seconds = seconds
        deadline = time.monotonic() + seconds
        self.deadline = deadline if until is None else min(deadline, until)
        # True when a caller's deadline, not the operation budget, is the limit.
        self.caller_deadline = until is not None and until < deadline

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


# -- the transport ---------------------------------------------------------------------------


class Transport:
    """Sends requests to one API base URL with deadlines, retries and stop support."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.stop_signal = StopSignal()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._closed = False
        self._base = httpx.URL(settings.base_url.rstrip("/") + "/")
        self._workers = WorkerPool(POOL_MAX_CONNECTIONS, "pulumi-cloud-request")
        limits = httpx.Limits(
            max_connections=POOL_MAX_CONNECTIONS,
            max_keepalive_connections=POOL_MAX_CONNECTIONS,
            keepalive_expiry=30.0,
        )
        self._http = httpx.Client(
            headers={
                "Authorization": f"token {settings.token}",
                "Accept": PULUMI_ACCEPT,
                "Content-Type": "application/json",
                "User-Agent": settings.user_agent,
            },
            timeout=self._timeout(settings.request_timeout),
            limits=limits,
            transport=transport,
            follow_redirects=False,
            # A plain-http endpoint (such as the local emulator) never negotiates TLS, so skip
            # loading the CA bundle: ~40 ms and several MiB per provider process.
            verify=settings.base_url.startswith("https://"),
        )
        # httpx builds the default transport, and one per proxy from HTTP(S)_PROXY (honoured as
        # before), only inside the client; bound the sockets of each of them.
        transports = [transport] if transport is not None else _client_transports(self._http)
        self.deadlines_enforced = all([install_deadlines(t) for t in transports])

    # -- URLs and budgets ----------------------------------------------------------------------

    def url(self, path: str) -> httpx.URL:
        """The absolute URL of an API path ("api/preview/..."), joined onto the base URL so that
        a path prefix in the base URL (https://host/prefix) is kept."""
        return self._base.join(path.lstrip("/"))

    def budget(self, *, until: float | None = None) -> Budget:
        return Budget(self.settings.operation_timeout, until=until)

    def _timeout(self, seconds: float) -> httpx.Timeout:
        return httpx.Timeout(
            seconds,
            connect=min(self.settings.connect_timeout, seconds),
            pool=seconds,
        )

    # -- one operation: attempts, waits, errors ---------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        kind: RequestKind,
        *,
        operation: str,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        budget: Budget | None = None,
    ) -> Reply:
        """Send with retries; returns a 2xx Reply, or raises ApiError / NotFoundError,
        TransportError, DeadlineExceededError, CancelledError, InvalidResponseError (an answer
        over the size limit), or :class:`Unconfirmed` for a create that may have landed."""
        budget = budget or self.budget()
        url = self.url(path)
        shown = f"{method} {url.copy_with(query=None)}"
        max_attempts = self.settings.max_attempts
        last_failure: str | None = None
        for attempt in range(1, max_attempts + 1):
            self._ensure_usable()
            remaining = budget.remaining()
            if remaining <= 0:
                raise self._out_of_time(operation, budget, last_failure)
            limit = min(self.settings.request_timeout, remaining)
            started = time.monotonic()
            try:
                reply = self._exchange(method, url, content, params, kind, started + limit)
            except Stopped as stopped:
                raise self._cancelled(kind, sent=stopped.sent) from None
            except httpx.HTTPError as exc:
                elapsed = time.monotonic() - started
                reason = self._describe_exception(exc, limit, elapsed)
                not_sent = isinstance(exc, httpx.TransportError) and (
                    transport_error_proves_not_sent(exc)
                )
                if self.stop_signal.is_set():
                    raise self._cancelled(kind, sent=not not_sent) from None
                if kind is RequestKind.CREATE and not not_sent:
                    raise Unconfirmed(reason) from None
                retryable = isinstance(exc, httpx.TransportError) and (
                    is_retryable_transport_error(exc, kind)
                )
                if not retryable or attempt == max_attempts:
                    raise TransportError(
                        method=method,
                        path=url.path,
                        reason=reason,
                        attempts=attempt,
                        base_url=self.settings.base_url,
                        url_source=self.settings.url_source,
                    ) from None
                last_failure = reason
                self._pause(attempt, None, kind, shown, reason, budget, operation)
                continue

            logger.debug(
                "%s %s -> %d in %.0f ms (attempt %d/%d, request id %s)",
                method,
                url.path,
                reply.status,
                (time.monotonic() - started) * 1000,
                attempt,
                max_attempts,
                reply.request_id or "-",
            )
            if reply.ok:
                return reply
            if is_retryable_status(reply.status, kind) and attempt < max_attempts:
                last_failure = f"HTTP {reply.status}: {self.api_message(reply)}"
                retry_after = reply.headers.get("Retry-After")
                self._pause(attempt, retry_after, kind, shown, last_failure, budget, operation)
                continue
            raise self._status_error(reply, kind, attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _exchange(
        self,
        method: str,
        url: httpx.URL,
        content: bytes | None,
        params: Mapping[str, str] | None,
        kind: RequestKind,
        deadline: float,
    ) -> Reply:
        limit = max(0.001, deadline - time.monotonic())
        try:
            request = self._http.build_request(
                method, url, content=content, params=params, timeout=self._timeout(limit)
            )
        except RuntimeError:
            raise self._unusable() from None

        def exchange() -> Reply:
            with request_deadline(deadline):
                response = self._http.send(request, stream=True)
                try:
                    body = self._read_capped(response, method)
                finally:
                    response.close()
            return Reply(
                method=method,
                url=str(url),
                status=response.status_code,
                headers=response.headers,
                content=body,
                reason_phrase=response.reason_phrase,
            )

        try:
            if kind is RequestKind.CREATE:
                # A create on the wire is never abandoned, even by stop(); its deadline ends it.
                return exchange()
            reply: Reply = self._on_worker(exchange)
            return reply
        except RuntimeError:
            raise self._unusable() from None

    def _on_worker(self, job: Callable[[], Any]) -> Any:
        """Run ``job`` on a worker, so that stop() releases the waiting caller at once; the job
        itself ends on its own (its deadline bounds it)."""
        outcome: Future[Any] = Future()
        if not self.stop_signal.track(outcome):
            raise Stopped(sent=False)

        def run() -> None:
            try:
                result = job()
            except BaseException as exc:  # handed to the waiting caller
                settle(outcome, error=exc)
            else:
                if not settle(outcome, result=result) and isinstance(result, httpx.Response):
                    result.close()  # abandoned: nobody will read it

        self._workers.submit(run)
        try:
            return outcome.result()
        finally:
            self.stop_signal.untrack(outcome)

    def _read_capped(self, response: httpx.Response, method: str) -> bytes:
        cap = self.settings.max_response_bytes
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise InvalidResponseError(
                    operation=f"{method} {response.request.url.path}",
                    method=method,
                    url=str(response.request.url.copy_with(query=None)),
                    status=response.status_code,
                    request_id=response.headers.get(REQUEST_ID_HEADER),
                    problem=f"the body is larger than {cap // (1024 * 1024)} MiB",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    # -- long-lived streams (server-sent events) ---------------------------------------------

    def open_stream(
        self, path: str, *, headers: Mapping[str, str], deadline: float
    ) -> httpx.Response:
        """Send a GET and return the response once its headers arrived (by ``deadline``), with
        the body unread. The caller must close it. Raises httpx errors, CancelledError."""
        self._ensure_usable()
        url = self.url(path)
        limit = max(0.001, deadline - time.monotonic())
        try:
            request = self._http.build_request(
                "GET", url, headers=headers, timeout=self._timeout(limit)
            )
        except RuntimeError:
            raise self._unusable() from None

        def connect() -> httpx.Response:
            with request_deadline(deadline):
                return self._http.send(request, stream=True)

        try:
            response: httpx.Response = self._on_worker(connect)
        except Stopped:
            raise CancelledError() from None
        except RuntimeError:
            raise self._unusable() from None
        return response

    def iter_stream(
        self, response: httpx.Response, *, idle_timeout: float, deadline: float
    ) -> Iterator[bytes]:
        """The body of a streamed response, chunk by chunk. Each chunk must arrive within
        ``idle_timeout`` of the previous one (any bytes count, keep-alive comments included) and
        before ``deadline``; otherwise httpx.ReadTimeout. stop() shuts the socket down, which
        wakes a blocked read at once (then CancelledError)."""
        handle = self.stop_signal.on_stop(lambda: _shutdown(response))
        if handle is None:
            raise CancelledError()
        chunks = response.iter_bytes()
        try:
            while True:
                limit = min(time.monotonic() + idle_timeout, deadline)
                try:
                    with request_deadline(limit):
                        chunk = next(chunks, None)
                except httpx.HTTPError:
                    if self.stop_signal.is_set():
                        raise CancelledError() from None
                    raise
                if chunk is None:
                    if self.stop_signal.is_set():
                        raise CancelledError()
                    return
                yield chunk
        finally:
            self.stop_signal.forget(handle)

    # -- helpers -------------------------------------------------------------------------------

    def _pause(
        self,
        attempt: int,
        retry_after: str | None,
        kind: RequestKind,
        shown: str,
        reason: str,
        budget: Budget,
        operation: str,
    ) -> None:
        seconds = retry_wait(
            attempt,
            retry_after,
            now=self._clock(),
            base=self.settings.backoff_base,
            cap=self.settings.backoff_cap,
            retry_after_cap=self.settings.retry_after_cap,
            rng=self._rng,
        )
        if seconds >= budget.remaining():
            raise self._out_of_time(operation, budget, reason)
        logger.warning(
            "%s failed (attempt %d of %d): %s; retrying in %.1f s",
            shown,
            attempt,
            self.settings.max_attempts,
            reason,  # already scrubbed of the token
            seconds,
        )
        if self._sleep is not None:
            self._sleep(seconds)
            stopped = self.stop_signal.is_set()
        else:
            stopped = self.stop_signal.wait(seconds)
        if stopped:
            # Only requests the server certainly did not act on are ever retried.
            raise self._cancelled(kind, sent=False)

    def _out_of_time(self, operation: str, budget: Budget, last: str | None) -> CloudError:
        if budget.caller_deadline:
            text = f"{operation} did not finish before its deadline"
        else:
            text = (
                f"{operation} did not finish within the operation timeout of "
                f"{format_duration(budget.seconds)} (the provider's `operation_timeout`)"
            )
        text += f" at {self.settings.base_url} (from {self.settings.url_source})"
        if last:
            text += f"; the last attempt failed with {last.rstrip('.')}"
        return DeadlineExceededError(text + ".", last_failure=last)

    def _ensure_usable(self) -> None:
        if self.stop_signal.is_set():
            raise CancelledError()
        if self._closed:
            raise CloudError("The Pulumi Cloud client has been closed.")

    def _unusable(self) -> Exception:
        # httpx refuses to send on a closed client.
        if self.stop_signal.is_set():
            return Stopped(sent=False)
        return CloudError("The Pulumi Cloud client has been closed.")

    @staticmethod
    def _cancelled(kind: RequestKind, *, sent: bool) -> Exception:
        if kind is RequestKind.CREATE and sent:
            return Unconfirmed(
                "Terraform asked the provider to stop while the request ran", stopped=True
            )
        return CancelledError()

    def _status_error(self, reply: Reply, kind: RequestKind, attempts: int) -> Exception:
        message = self.api_message(reply)
        if kind is RequestKind.CREATE and reply.status >= 500:
            reason = f"the API answered HTTP {reply.status}"
            if message:
                reason += f": {message}"
            return Unconfirmed(reason, status=reply.status, request_id=reply.request_id)
        error_type = NotFoundError if reply.status == 404 else ApiError
        return error_type(
            status=reply.status,
            message=message,
            request_id=reply.request_id,
            method=reply.method,
            path=httpx.URL(reply.url).path,
            attempts=attempts,
            base_url=self.settings.base_url,
            url_source=self.settings.url_source,
        )

    def api_message(self, reply: Reply) -> str:
        """The API's error ``message``, else a short excerpt of the body, else the reason."""
        payload = loads_or_none(reply.content)
        message = payload.get("message") if isinstance(payload, dict) else None
        if not isinstance(message, str) or not message.strip():
            message = reply.content.decode("utf-8", errors="replace").strip()
            if len(message) > _MAX_ERROR_TEXT:
                message = message[:_MAX_ERROR_TEXT].rstrip(". ") + " (truncated)"
            message = message or reply.reason_phrase
        return self._redact(" ".join(message.split()))

    def _describe_exception(self, exc: BaseException, limit: float, elapsed: float) -> str:
        text = str(exc).strip()
        name = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException) and elapsed >= limit - 0.05:
            return (
                f"no complete answer within the {format_duration(round(limit, 1))} request "
                f"deadline ({name})"
            )
        return self._redact(f"{name}: {text}" if text else name)

    def _redact(self, text: str) -> str:
        token = self.settings.token
        return text.replace(token, _REDACTED) if token else text

    def stop(self) -> None:
        self.stop_signal.set()

    def close(self) -> None:
        self._closed = True
        self._http.close()
        self._workers.shutdown()


def _client_transports(client: httpx.Client) -> list[httpx.BaseTransport]:
    """The transports an httpx.Client built itself: its default one and its proxy mounts."""
    found: list[httpx.BaseTransport] = [client._transport]
    found.extend(t for t in client._mounts.values() if t is not None)
    return found


def _shutdown(response: httpx.Response) -> None:
    """Wake a read blocked on this response's socket (from another thread)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
