"""The Pulumi Cloud agent-task API: its operations, paths and create semantics.

One :class:`CloudClient` is shared by every operation Terraform runs in parallel; it holds one
:class:`~.transport.Transport` (a pooled, thread-safe httpx client) and no per-request mutable
state. The transport bounds every request and operation and retries what is safe to retry; this
module decides what the answers mean. It is the only place that knows what a create may do: a
create is never sent twice when the server may have acted on it, and its task id comes from the
create response only.

Answers are decoded strictly (:mod:`.jsonbody`): a 2xx body that is not a JSON object, holds
NaN/Infinity, nests too deep or lacks a required field raises :class:`InvalidResponseError`
naming the operation, the HTTP status, the request id and the URL.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from terraform_provider_pulumiservice.durations import format_duration

from .errors import (
    AmbiguousCreateError,
    ApiError,
    CancelledCreateError,
    CancelledError,
    CloudError,
    DeadlineExceededError,
    InvalidCreateResponseError,
    InvalidResponseError,
    PaginationLimitError,
)
from .jsonbody import BodyError, loads, type_name
from .retry import RequestKind, backoff_delay
from .settings import (
    ACCESS_TOKEN_ENV,
    API_URL_ENV,
    DEFAULT_API_URL,
    USER_AGENT_PRODUCT,
    ClientSettings,
    resolve_settings,
)
from .sse import SseParser
from .transport import (
    PULUMI_ACCEPT,
    REQUEST_ID_HEADER,
    Budget,
    Reply,
    Transport,
    Unconfirmed,
    request_deadline,
)

logger = logging.getLogger(__name__)

__all__ = [
    "ACCESS_TOKEN_ENV",
    "API_URL_ENV",
    "DEFAULT_API_URL",
    "PULUMI_ACCEPT",
    "REQUEST_ID_HEADER",
    "USER_AGENT_PRODUCT",
    "ClientSettings",
    "CloudClient",
    "resolve_settings",
]

# Statuses and content types that mean "this server has no event stream": poll instead.
_NO_STREAM_STATUSES = frozenset({404, 405, 406, 501})
EVENT_STREAM_TYPE = "text/event-stream"
# Polling cadence when the stream cannot be used.
POLL_INTERVAL = 1.5
# Consecutive stream connections that fail before any event before falling back to polling.
_STREAM_FAILURES_BEFORE_POLLING = 3
# Events larger than this are logged by type and size only.
_MAX_LOGGED_EVENT = 200


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
        self._rng = rng or random.Random()
        self._transport = Transport(
            settings, transport=transport, sleep=sleep, clock=clock, rng=self._rng
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
        """Create a task; returns its id (``taskId`` of the create response).

        Never sends the create twice if it may have landed: AmbiguousCreateError when the
        outcome is unknown (5xx, timeout or deadline, connection lost after sending),
        InvalidCreateResponseError (an AmbiguousCreateError) for a 2xx answer without a string
        task id, CancelledCreateError when StopProvider interrupted it after it was sent.
        """
        path = _tasks_path(org)
        operation = f"create task in organization {org!r}"
        try:
            reply = self._transport.send(
                "POST", path, RequestKind.CREATE, operation=operation, content=_encode(body)
            )
        except Unconfirmed as unconfirmed:
            if unconfirmed.stopped:
                raise CancelledCreateError(org=org) from None
            raise AmbiguousCreateError(
                org=org,
                reason=unconfirmed.reason,
                status=unconfirmed.status,
                request_id=unconfirmed.request_id,
            ) from None
        except InvalidResponseError as error:  # an oversized answer to a create
            raise self._invalid_create(
                org, error.status or 0, error.request_id, error.url, error.problem
            ) from None
        try:
            payload = loads(reply.content)
        except BodyError as error:
            raise self._invalid_create(
                org, reply.status, reply.request_id, reply.url, error.problem
            ) from None
        task_id = payload.get("taskId") if isinstance(payload, dict) else None
        if not isinstance(task_id, str) or not task_id.strip():
            problem = (
                f"the body is {type_name(payload)}, not an object"
                if not isinstance(payload, dict)
                else "the body has no task id: `taskId` is missing, empty or not a string"
            )
            raise self._invalid_create(org, reply.status, reply.request_id, reply.url, problem)
        return task_id

    def get_task(self, org: str, task_id: str) -> dict[str, Any]:
        """Fetch one task; raises NotFoundError if it does not exist (any more)."""
        return self._object(
            "GET", _task_path(org, task_id), f"read task {org}/{task_id}", budget=None
        )

    def update_task(self, org: str, task_id: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """PATCH a task's mutable settings.

        Returns the task the API answered with, or None when the answer has no body (204, or a
        2xx with an empty body): the caller then reads the task itself. Any other body must be a
        JSON object (else InvalidResponseError).
        """
        path = _task_path(org, task_id)
        operation = f"update task {org}/{task_id}"
        reply = self._transport.send(
            "PATCH", path, RequestKind.IDEMPOTENT, operation=operation, content=_encode(body)
        )
        if reply.status == 204 or not reply.content.strip():
            return None
        return self._decode_object(reply, operation)

    def cancel_task(self, org: str, task_id: str) -> None:
        """Force-cancel a task's running session (idempotent, so retried like PATCH). The
        answer's body, if any, is ignored."""
        self._transport.send(
            "POST",
            _task_path(org, task_id) + "/cancel",
            RequestKind.IDEMPOTENT,
            operation=f"cancel task {org}/{task_id}",
            content=_encode({"force": True}),
        )

    def list_tasks(
        self, org: str, task_type: str | None = None, *, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """Every task of the organization, following continuation tokens across pages, within
        the page limit and the operation timeout (else PaginationLimitError)."""
        params: dict[str, str] = {"pageSize": str(page_size)}
        if task_type:
            params["taskType"] = task_type
        return self._paginate(
            _tasks_path(org), params, "tasks", f"list the tasks of organization {org!r}"
        )

    # -- events ---------------------------------------------------------------------------

    def list_events(self, org: str, task_id: str, *, page_size: int = 100) -> list[dict[str, Any]]:
        """Every event of a task (AgentConsoleEvent objects), oldest first, across all pages,
        with the same page and time limits as :meth:`list_tasks`."""
        return self._paginate(
            _task_path(org, task_id) + "/events",
            {"pageSize": str(page_size)},
            "events",
            f"list the events of task {org}/{task_id}",
        )

    def watch_events(
        self,
        org: str,
        task_id: str,
        *,
        deadline: float,
        after_event_id: str | None = None,
        idle_timeout: float = 60.0,
    ) -> Generator[dict[str, Any], None, None]:
        """Yield each event of a task (AgentConsoleEvent objects) exactly once, in order, as the
        task produces them, until the task stops running.

        - ``deadline`` is a time.monotonic() value; when it passes, DeadlineExceededError.
        - ``after_event_id``: yield only the events after this one (its predecessors are
          looked up once with :meth:`list_events`, so servers that ignore Last-Event-ID are
          handled too; an unknown id means "from the start").
        - ``idle_timeout``: the stream may be silent this long (keep-alive comments count as
          traffic) before the client reconnects.

        Follows ``GET …/events/stream`` (Server-Sent Events), reconnecting with
        ``Last-Event-ID`` after a dropped connection; events are also de-duplicated by their
        ``id``. When the stream ends cleanly the task is read: ``running`` means reconnect,
        anything else ends the iteration. When the stream cannot be used (HTTP 404, 405, 406 or
        501, a content type other than text/event-stream, or repeated failures before any
        event) it polls ``GET …/tasks/{id}`` and ``…/events`` every ~1.5 s instead and ends once
        the task is not running and no new events came. stop() makes it raise CancelledError
        at once; closing the iterator early closes its connection.
        """
        seen: set[str] = set()
        if after_event_id:
            self._mark_seen_up_to(org, task_id, after_event_id, seen, deadline)
        watch = _Watch(org=org, task_id=task_id, deadline=deadline, seen=seen)
        watch.last_event_id = after_event_id or ""
        failures = 0
        while True:
            self._check_watch(watch)
            status = yield from self._stream_once(watch, idle_timeout)
            if status == "unsupported":
                break
            if status == "ended":
                failures = 0
                if self._task_status(watch) != "running":
                    # A connection cut exactly between two frames looks like a clean end:
                    # one listing makes sure nothing was missed.
                    yield from self._missed_events(watch)
                    return
                self._wait(watch, 0.5)
                continue
            # "dropped": lost mid-stream, idle too long, or could not connect.
            failures = 0 if status == "dropped-after-events" else failures + 1
            if failures >= _STREAM_FAILURES_BEFORE_POLLING:
                logger.warning(
                    "the event stream of task %s/%s failed %d times in a row; polling instead",
                    org,
                    task_id,
                    failures,
                )
                break
            wait = backoff_delay(failures + 1, base=0.5, cap=5.0, rng=self._rng)
            logger.warning(
                "the event stream of task %s/%s was interrupted (%s); reconnecting in %.1f s",
                org,
                task_id,
                watch.last_problem,
                wait,
            )
            self._wait(watch, wait)
        yield from self._poll(watch)

    # -- lifecycle ----------------------------------------------------------------------------

    def stop(self) -> None:
        """StopProvider: end waits and in-flight requests now; later calls raise CancelledError.

        A create already on the wire is let finish (its deadline bounds it): abandoning it could
        leave a task in Pulumi Cloud that Terraform never hears of.
        """
        self._transport.stop()

    def close(self) -> None:
        """Release pooled connections and worker threads. Idempotent."""
        self._transport.close()

    # -- decoding -----------------------------------------------------------------------------

    def _object(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        budget: Budget | None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        reply = self._transport.send(
            method, path, RequestKind.IDEMPOTENT, operation=operation, budget=budget, params=params
        )
        return self._decode_object(reply, operation)

    def _decode_object(self, reply: Reply, operation: str) -> dict[str, Any]:
        try:
            payload = loads(reply.content)
        except BodyError as error:
            raise _invalid(reply, operation, error.problem) from None
        if not isinstance(payload, dict):
            raise _invalid(reply, operation, f"the body is {type_name(payload)}, not an object")
        return payload

    def _invalid_create(
        self, org: str, status: int, request_id: str | None, url: str, problem: str
    ) -> InvalidCreateResponseError:
        return InvalidCreateResponseError(
            org=org,
            method="POST",
            url=url,
            status=status,
            request_id=request_id,
            problem=problem,
        )

    def _paginate(
        self,
        path: str,
        params: dict[str, str],
        key: str,
        operation: str,
        *,
        until: float | None = None,
    ) -> list[dict[str, Any]]:
        """All items of a paginated listing, within max_pages and one operation budget (ending
        no later than ``until``, a time.monotonic() value, if given)."""
        budget = self._transport.budget(until=until)
        limit = self._settings.max_pages
        items: list[dict[str, Any]] = []
        seen_tokens: set[str] = set()
        for page_number in range(1, limit + 1):
            page_operation = f"{operation} (page {page_number})"
            try:
                reply = self._transport.send(
                    "GET",
                    path,
                    RequestKind.IDEMPOTENT,
                    operation=page_operation,
                    budget=budget,
                    params=dict(params),
                )
            except DeadlineExceededError as error:
                if budget.caller_deadline:
                    raise
                text = (
                    f"Stopped trying to {operation} after {page_number - 1} pages and "
                    f"{len(items)} items: the listing did not finish within the operation "
                    f"timeout of {format_duration(budget.seconds)} (the provider's "
                    f"`operation_timeout`) at {self._settings.base_url} "
                    f"(from {self._settings.url_source})"
                )
                if error.last_failure:
                    text += f"; the last request failed with {error.last_failure.rstrip('.')}"
                raise PaginationLimitError(text + ".") from None
            page = self._decode_object(reply, page_operation)
            reply_items = page.get(key)
            if reply_items is None:
                reply_items = []
            if not isinstance(reply_items, list) or not all(
                isinstance(item, dict) for item in reply_items
            ):
                raise _invalid(reply, page_operation, f"`{key}` is not a list of objects")
            items.extend(reply_items)
            token = page.get("continuationToken")
            if not token:
                return items
            if not isinstance(token, str):
                raise _invalid(reply, page_operation, "`continuationToken` is not a string")
            if token in seen_tokens:
                raise PaginationLimitError(
                    f"Pulumi Cloud returned the same continuation token twice while trying to "
                    f"{operation}; stopped after {page_number} pages to avoid looping forever."
                )
            seen_tokens.add(token)
            params["continuationToken"] = token
        raise PaginationLimitError(
            f"Stopped trying to {operation}: the API still returned a continuation token after "
            f"{limit} pages ({len(items)} items), so it looks like it would never end."
        )

    # -- watching events ----------------------------------------------------------------------

    def _stream_once(
        self, watch: _Watch, idle_timeout: float
    ) -> Generator[dict[str, Any], None, str]:
        """One stream connection. Yields new events; returns "ended" (clean end of stream),
        "dropped" / "dropped-after-events" (try again) or "unsupported" (poll instead)."""
        path = _task_path(watch.org, watch.task_id) + "/events/stream"
        headers = {"Accept": EVENT_STREAM_TYPE, "Cache-Control": "no-cache"}
        if watch.last_event_id:
            headers["Last-Event-ID"] = watch.last_event_id
        url = self._transport.url(path)
        connect_by = min(time.monotonic() + self._settings.request_timeout, watch.deadline)
        try:
            response = self._transport.open_stream(path, headers=headers, deadline=connect_by)
        except httpx.HTTPError as exc:
            self._check_watch(watch)
            watch.last_problem = f"{type(exc).__name__} connecting to {url}"
            return "dropped"
        delivered = 0
        try:
            status = response.status_code
            content_type = response.headers.get("Content-Type", "")
            if status in _NO_STREAM_STATUSES or (
                200 <= status < 300 and not _is_event_stream(content_type)
            ):
                logger.info(
                    "the event stream at %s is not available (HTTP %d, %s); polling instead",
                    url,
                    status,
                    content_type or "no content type",
                )
                return "unsupported"
            if not 200 <= status < 300:
                try:
                    with request_deadline(connect_by):
                        body = response.read()[:4096]
                except httpx.HTTPError:
                    body = b""
                reply = Reply(
                    "GET", str(url), status, response.headers, body, response.reason_phrase
                )
                if status in (429,) or status >= 500:
                    watch.last_problem = f"HTTP {status}"
                    return "dropped"
                raise ApiError(
                    status=status,
                    message=self._transport.api_message(reply),
                    request_id=reply.request_id,
                    method="GET",
                    path=url.path,
                    base_url=self._settings.base_url,
                    url_source=self._settings.url_source,
                )
            parser = SseParser(watch.last_event_id)
            try:
                for chunk in self._transport.iter_stream(
                    response, idle_timeout=idle_timeout, deadline=watch.deadline
                ):
                    for frame in parser.feed(chunk):
                        if frame.has_own_id:
                            watch.last_event_id = frame.id
                        if frame.event not in ("message", ""):
                            continue  # events of other types are not task events
                        event = self._decode_event(frame.data, str(url), response)
                        if event is not None and watch.fresh(event):
                            delivered += 1
                            yield event
            except httpx.HTTPError as exc:
                self._check_watch(watch)
                watch.last_problem = (
                    f"no data for {format_duration(idle_timeout)}"
                    if isinstance(exc, httpx.ReadTimeout)
                    else f"{type(exc).__name__}"
                )
                return "dropped-after-events" if delivered else "dropped"
            except ValueError as exc:  # an endless line
                watch.last_problem = str(exc)
                return "dropped"
            if parser.has_partial_event:
                watch.last_problem = "the stream ended in the middle of an event"
                return "dropped-after-events" if delivered else "dropped"
            return "ended"
        finally:
            response.close()

    def _decode_event(self, data: str, url: str, response: httpx.Response) -> dict[str, Any] | None:
        try:
            event = loads(data.encode("utf-8"))
        except BodyError as error:
            raise InvalidResponseError(
                operation="watch task events",
                method="GET",
                url=url,
                status=response.status_code,
                request_id=response.headers.get(REQUEST_ID_HEADER),
                problem=f"an event's data is unusable: {error.problem}",
            ) from None
        if not isinstance(event, dict):
            raise InvalidResponseError(
                operation="watch task events",
                method="GET",
                url=url,
                status=response.status_code,
                request_id=response.headers.get(REQUEST_ID_HEADER),
                problem=f"an event's data is {type_name(event)}, not an object",
            )
        return event

    def _poll(self, watch: _Watch) -> Iterator[dict[str, Any]]:
        while True:
            self._check_watch(watch)
            status = self._task_status(watch)
            new = 0
            for event in self._missed_events(watch):
                new += 1
                yield event
            if status != "running" and new == 0:
                return
            self._wait(watch, POLL_INTERVAL)

    def _missed_events(self, watch: _Watch) -> Iterator[dict[str, Any]]:
        events = self._paginate(
            _task_path(watch.org, watch.task_id) + "/events",
            {"pageSize": "100"},
            "events",
            f"list the events of task {watch.org}/{watch.task_id}",
            until=watch.deadline,
        )
        for event in events:
            if watch.fresh(event):
                yield event

    def _task_status(self, watch: _Watch) -> str | None:
        budget = self._transport.budget(until=watch.deadline)
        operation = f"read task {watch.org}/{watch.task_id}"
        try:
            task = self._object(
                "GET", _task_path(watch.org, watch.task_id), operation, budget=budget
            )
        except DeadlineExceededError:
            self._check_watch(watch)
            raise
        status = task.get("status")
        return status if isinstance(status, str) else None

    def _mark_seen_up_to(
        self, org: str, task_id: str, event_id: str, seen: set[str], deadline: float
    ) -> None:
        ids = [e.get("id") for e in self.list_events(org, task_id)]
        if event_id not in ids:
            logger.warning(
                "event %s is not among the events of task %s/%s; watching from the start",
                event_id,
                org,
                task_id,
            )
            return
        for known in ids[: ids.index(event_id) + 1]:
            if isinstance(known, str):
                seen.add(known)

    def _wait(self, watch: _Watch, seconds: float) -> None:
        remaining = watch.deadline - time.monotonic()
        if self._transport.stop_signal.wait(min(seconds, max(0.0, remaining))):
            raise CancelledError()
        self._check_watch(watch)

    def _check_watch(self, watch: _Watch) -> None:
        if self._transport.stop_signal.is_set():
            raise CancelledError()
        if time.monotonic() >= watch.deadline:
            raise DeadlineExceededError(
                f"Watching the events of task {watch.org}/{watch.task_id} reached its deadline, "
                f"{format_duration(round(watch.deadline - watch.started, 1))} after the watch "
                f"began, before the task stopped running ({watch.delivered} new events "
                "received)."
            )


class _Watch:
    """The state of one watch_events call."""

    def __init__(self, *, org: str, task_id: str, deadline: float, seen: set[str]) -> None:
        self.org = org
        self.task_id = task_id
        self.deadline = deadline
        self.seen = seen
        self.last_event_id = ""
        self.last_problem = ""
        self.delivered = 0
        self.started = time.monotonic()

    def fresh(self, event: dict[str, Any]) -> bool:
        """True (and logged) the first time an event is seen; events without an id are always
        new."""
        event_id = event.get("id")
        if isinstance(event_id, str):
            if event_id in self.seen:
                return False
            self.seen.add(event_id)
        self.delivered += 1
        _log_event(self.org, self.task_id, event)
        return True


def _log_event(org: str, task_id: str, event: dict[str, Any]) -> None:
    body = event.get("eventBody")
    body_type = body.get("type") if isinstance(body, dict) else None
    # DEBUG: the caller (agents/wait.py) logs each event at INFO with what it says.
    logger.debug(
        "task %s/%s event %s: %s%s",
        org,
        task_id,
        event.get("id", "-"),
        event.get("type", "?"),
        f" ({body_type})" if isinstance(body_type, str) else "",
    )


def _is_event_stream(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == EVENT_STREAM_TYPE


def _invalid(reply: Reply, operation: str, problem: str) -> InvalidResponseError:
    return InvalidResponseError(
        operation=operation,
        method=reply.method,
        url=str(httpx.URL(reply.url).copy_with(query=None)),
        status=reply.status,
        request_id=reply.request_id,
        problem=problem,
    )


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode("utf-8")


def _segment(value: str, what: str) -> str:
    if not value:
        raise CloudError(f"The {what} must not be empty.")
    # "." and ".." would be resolved away when the path is joined onto the base URL.
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


def _tasks_path(org: str) -> str:
    return f"api/preview/agents/{_segment(org, 'organization name')}/tasks"


def _task_path(org: str, task_id: str) -> str:
    return f"{_tasks_path(org)}/{_segment(task_id, 'task id')}"
