"""The emulator's HTTP server: the agent-task API, fault injection, the `/_emulator` control plane.

Usage from tests::

    srv = EmulatorServer(port=0)
    srv.start()
    ...  # talk to srv.url
    srv.stop()
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from terraform_provider_pulumiservice.emulator.agent import OUTCOMES
from terraform_provider_pulumiservice.emulator.faults import FaultBook, RequestLog
from terraform_provider_pulumiservice.emulator.model import (
    APPROVAL_MODES,
    DEFAULT_CLI_INTEGRATIONS,
    DEFAULT_TOKEN,
    MAX_PAGE_SIZE,
    ApiError,
    ListEventsQuery,
    normalise_cli_integrations,
    parse_cancel_request,
    parse_create_request,
    parse_events_query,
    parse_list_query,
    parse_respond_request,
    parse_update_request,
    user_for_token,
)
from terraform_provider_pulumiservice.emulator.store import TaskStore

API_PREFIX = "/api/preview/agents/"
CONTROL_PREFIX = "/_emulator"
_SEGMENT = r"(?P<org>[^/]+)/tasks"
_TASK_SEGMENT = _SEGMENT + r"/(?P<task>[^/]+)"
_API_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("tasks", re.compile(rf"^{API_PREFIX}{_SEGMENT}/?$")),
    ("task", re.compile(rf"^{API_PREFIX}{_TASK_SEGMENT}/?$")),
    ("cancel", re.compile(rf"^{API_PREFIX}{_TASK_SEGMENT}/cancel/?$")),
    ("events", re.compile(rf"^{API_PREFIX}{_TASK_SEGMENT}/events/?$")),
    ("stream", re.compile(rf"^{API_PREFIX}{_TASK_SEGMENT}/events/stream/?$")),
)
_CONTROL_TASK = re.compile(rf"^{CONTROL_PREFIX}/tasks/(?P<org>[^/]+)/(?P<task>[^/]+)/?$")
_CONTROL_TASK_STATUS = re.compile(
    rf"^{CONTROL_PREFIX}/tasks/(?P<org>[^/]+)/(?P<task>[^/]+)/status/?$"
)
_STREAM_POLL_SECONDS = 0.05


@dataclass
class Response:
    status: int
    body: Any = None  # None: an empty body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _StreamRequest:
    """The router's answer for the SSE endpoint: the handler streams rather than answering once."""

    org: str
    task_id: str
    after_seq: int = 0  # from Last-Event-ID: replay strictly after this event


class _NotJson:
    """Marks a request body that is present but not JSON."""


_NOT_JSON = _NotJson()


def _method_not_allowed(allowed: Iterable[str]) -> Response:
    allow = ", ".join(allowed)
    return Response(
        405, {"code": 405, "message": f"method not allowed; use {allow}"}, {"Allow": allow}
    )


class EmulatorServer:
    """A Pulumi Cloud emulator listening on `host:port` (port 0 picks a free one)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        db_path: str | None = None,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        idle_after: float = 2.0,
        cli_integrations: Iterable[Iterable[str]] = DEFAULT_CLI_INTEGRATIONS,
        latency_ms: int = 0,
        stream_max_seconds: float = 5.0,
        verbose: bool = False,
        clock: Callable[[], float] = time.time,
        stream_keepalive_seconds: float = 2.0,
        agent_pace: float | None = None,
        agent_outcome: str = "success",
        default_approval_mode: str = "manual",
    ) -> None:
        self.store = TaskStore(db_path, idle_after=idle_after, clock=clock)
        self.faults = FaultBook()
        self.request_log = RequestLog()
        self.tokens: frozenset[str] = frozenset(tokens)
        self.cli_integrations = normalise_cli_integrations(cli_integrations)
        self.latency_ms = latency_ms
        self.stream_max_seconds = stream_max_seconds
        self.verbose = verbose
        self.stream_keepalive_seconds = stream_keepalive_seconds
        try:
            self.configure(
                {
                    "agent_pace": agent_pace,
                    "agent_outcome": agent_outcome,
                    "default_approval_mode": default_approval_mode,
                }
            )
        except ValueError:
            self.store.close()
            raise
        try:
            self._httpd = _EmulatorHTTPServer((host, port), self)
        except OSError:
            self.store.close()
            raise
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._httpd.server_address[0])
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> None:
        """Serve in a background daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="pulumi-cloud-emulator",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, drop open connections and close the database. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        self._httpd.close_connections()
        self.store.close()

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- configuration (also reachable through POST /_emulator/config) ---------------------------

    def configure(self, settings: Any) -> None:
        """Apply `{"latency_ms", "idle_after", "cli_integrations", "tokens", "agent_pace",
        "agent_outcome", "default_approval_mode", "stream_keepalive_seconds",
        "stream_max_seconds"}`; all or nothing."""
        if not isinstance(settings, dict):
            raise ValueError("config must be a JSON object")
        store = self.store
        pace = settings.get("agent_pace", store.agent_pace)
        if pace is not None and (
            not isinstance(pace, int | float) or isinstance(pace, bool) or not pace > 0
        ):
            raise ValueError("agent_pace must be a positive number of seconds per step, or null")
        outcome = settings.get("agent_outcome", store.agent_outcome)
        if outcome not in OUTCOMES:
            raise ValueError(f"agent_outcome must be one of {', '.join(OUTCOMES)}")
        approval_mode = settings.get("default_approval_mode", store.default_approval_mode)
        if approval_mode not in APPROVAL_MODES:
            raise ValueError(f"default_approval_mode must be one of {', '.join(APPROVAL_MODES)}")
        seconds: dict[str, float] = {}
        for key in ("stream_keepalive_seconds", "stream_max_seconds"):
            value = settings.get(key, getattr(self, key))
            if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
                raise ValueError(f"{key} must be a positive number")
            seconds[key] = float(value)
        latency = settings.get("latency_ms", self.latency_ms)
        if not isinstance(latency, int) or isinstance(latency, bool) or latency < 0:
            raise ValueError("latency_ms must be a non-negative integer")
        idle_after = settings.get("idle_after", self.store.idle_after)
        if (
            not isinstance(idle_after, int | float)
            or isinstance(idle_after, bool)
            or idle_after < 0
        ):
            raise ValueError("idle_after must be a non-negative number")
        integrations = self.cli_integrations
        if "cli_integrations" in settings:
            raw = settings["cli_integrations"]
            if not isinstance(raw, list):
                raise ValueError("cli_integrations must be an array of [catalogId, name]")
            integrations = normalise_cli_integrations(raw)
        tokens = self.tokens
        if "tokens" in settings:
            raw_tokens = settings["tokens"]
            if not isinstance(raw_tokens, list) or not all(
                isinstance(token, str) and token for token in raw_tokens
            ):
                raise ValueError("tokens must be an array of non-empty strings")
            tokens = frozenset(raw_tokens)
        self.latency_ms = latency
        self.store.idle_after = float(idle_after)
        self.cli_integrations = integrations
        self.tokens = tokens
        store.agent_pace = None if pace is None else float(pace)
        store.agent_outcome = outcome
        store.default_approval_mode = approval_mode
        self.stream_keepalive_seconds = seconds["stream_keepalive_seconds"]
        self.stream_max_seconds = seconds["stream_max_seconds"]

    def config_snapshot(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "idle_after": self.store.idle_after,
            "cli_integrations": sorted([list(pair) for pair in self.cli_integrations]),
            "token_count": len(self.tokens),
            "agent_pace": self.store.agent_pace,
            "agent_outcome": self.store.agent_outcome,
            "default_approval_mode": self.store.default_approval_mode,
            "stream_keepalive_seconds": self.stream_keepalive_seconds,
            "stream_max_seconds": self.stream_max_seconds,
        }

    # --- the agent-task API ---------------------------------------------------------------------

    def authenticate(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The UserInfo for a valid `Authorization: token <t>` header, else a 401."""
        header = headers.get("authorization")
        if not header:
            raise ApiError(401, "unauthorized: no Authorization header")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "token" or not token.strip():
            raise ApiError(401, "unauthorized: expected 'Authorization: token <access token>'")
        if token.strip() not in self.tokens:
            raise ApiError(401, "unauthorized: invalid access token")
        return user_for_token(token.strip())

    def route_api(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: Any,
    ) -> Response | _StreamRequest:
        route = next(
            ((name, m) for name, pattern in _API_ROUTES if (m := pattern.match(path)) is not None),
            None,
        )
        if route is None:
            raise ApiError(404, f"no API route for {path}")
        name, match = route
        user = self.authenticate(headers)
        org = unquote(match["org"])
        task_id = unquote(match["task"]) if "task" in match.re.groupindex else ""
        if isinstance(body, _NotJson):
            raise ApiError(400, "request body is not valid JSON")
        store = self.store

        if name == "tasks":
            if method == "GET":
                tasks, token = store.list_tasks(org, parse_list_query(query))
                listing: dict[str, Any] = {"tasks": tasks}
                if token is not None:
                    listing["continuationToken"] = token
                return Response(200, listing)
            if method == "POST":
                params = parse_create_request(body, self.cli_integrations)
                return Response(201, {"taskId": store.create(org, user, params)})
            return _method_not_allowed(("GET", "POST"))
        if name == "task":
            if method == "GET":
                return Response(200, store.get(org, task_id))
            if method == "PATCH":
                params_update = parse_update_request(body)
                return Response(200, store.update(org, task_id, user["githubLogin"], params_update))
            if method == "POST":
                store.respond(org, task_id, parse_respond_request(body))
                return Response(202)
            return _method_not_allowed(("GET", "PATCH", "POST"))
        if name == "cancel":
            if method != "POST":
                return _method_not_allowed(("POST",))
            parse_cancel_request(body)
            store.cancel(org, task_id)
            return Response(204)
        if name == "events":
            if method != "GET":
                return _method_not_allowed(("GET",))
            page = store.events(org, task_id, parse_events_query(query))
            events: dict[str, Any] = {"events": page.events}
            if page.continuation_token is not None:
                events["continuationToken"] = page.continuation_token
            return Response(200, events)
        if method != "GET":
            return _method_not_allowed(("GET",))
        store.get(org, task_id)  # 404 before the stream starts
        last_event_id = headers.get("last-event-id", "").strip()
        after_seq = store.event_seq(org, task_id, last_event_id) if last_event_id else 0
        return _StreamRequest(org, task_id, after_seq)

    # --- the control plane ----------------------------------------------------------------------

    def route_control(self, method: str, path: str, body: Any) -> Response:
        if isinstance(body, _NotJson):
            raise ApiError(400, "request body is not valid JSON")
        try:
            return self._route_control(method, path.rstrip("/") or "/", body)
        except ValueError as error:
            raise ApiError(400, str(error)) from None

    def _route_control(self, method: str, path: str, body: Any) -> Response:
        if path == f"{CONTROL_PREFIX}/requests":
            if method == "GET":
                return Response(200, {"requests": self.request_log.snapshot()})
            if method == "DELETE":
                self.request_log.clear()
                return Response(204)
            return _method_not_allowed(("GET", "DELETE"))
        if path == f"{CONTROL_PREFIX}/faults":
            if method == "POST":
                if not isinstance(body, dict):
                    raise ValueError('expected {"rules": [...]}')
                self.faults.add(body.get("rules"))
                return Response(200, {"rules": self.faults.snapshot()})
            if method == "GET":
                return Response(200, {"rules": self.faults.snapshot()})
            if method == "DELETE":
                self.faults.clear()
                return Response(204)
            return _method_not_allowed(("GET", "POST", "DELETE"))
        if path == f"{CONTROL_PREFIX}/config":
            if method == "POST":
                self.configure(body)
                return Response(200, self.config_snapshot())
            if method == "GET":
                return Response(200, self.config_snapshot())
            return _method_not_allowed(("GET", "POST"))
        if path == f"{CONTROL_PREFIX}/tasks":
            if method != "GET":
                return _method_not_allowed(("GET",))
            tasks = [{"org": org, "task": task} for org, task in self.store.all_tasks()]
            return Response(200, {"tasks": tasks})
        status_match = _CONTROL_TASK_STATUS.match(path)
        if status_match is not None:
            if method != "POST":
                return _method_not_allowed(("POST",))
            status = body.get("status") if isinstance(body, dict) else None
            if status not in ("running", "idle"):
                raise ValueError('expected {"status": "running" | "idle"}')
            org, task_id = unquote(status_match["org"]), unquote(status_match["task"])
            self.store.force_status(org, task_id, status)
            return Response(200, self.store.get(org, task_id))
        task_match = _CONTROL_TASK.match(path)
        if task_match is not None:
            if method != "DELETE":
                return _method_not_allowed(("DELETE",))
            self.store.delete(unquote(task_match["org"]), unquote(task_match["task"]))
            return Response(204)
        if path == f"{CONTROL_PREFIX}/health" and method == "GET":
            return Response(200, {"ok": True})
        raise ApiError(404, f"no control route for {path}")


class _EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Terraform opens 10-20 connections at once and load tests far more; the default backlog is 5.
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: EmulatorServer) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Wake keep-alive threads blocked on idle connections so they exit."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.verbose:
            sys.stderr.write(f"emulator: {self.address_string()} {format % args}\n")

    # http.server dispatches on these method names.
    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # --- request handling -------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers end with an empty line.
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        try:
            url = urlsplit(self.path)
            query = {
                key: values[-1]
                for key, values in parse_qs(url.query, keep_blank_values=True).items()
            }
            try:
                raw = self._read_body()
            except ValueError:
                # Unparseable framing: the rest of the stream cannot be trusted, so close after.
                self.close_connection = True
                self._send(Response(400, {"code": 400, "message": "malformed request body"}))
                return
            body: Any = None
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = _NOT_JSON
            if url.path == CONTROL_PREFIX or url.path.startswith(CONTROL_PREFIX + "/"):
                self._handle_control(url.path, body)
            else:
                self._handle_api(url.path, query, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _handle_control(self, path: str, body: Any) -> None:
        try:
            response = self.server.emulator.route_control(self.command, path, body)
        except ApiError as error:
            response = Response(error.status, error.body())
        except Exception as error:  # answer 500 rather than leave the client hanging
            sys.stderr.write(f"emulator: internal error on {self.command} {path}: {error!r}\n")
            response = Response(500, {"code": 500, "message": f"internal error: {error}"})
        self._send(response)

    def _handle_api(self, path: str, query: dict[str, str], body: Any) -> None:
        emulator = self.server.emulator
        headers = {name.lower(): value for name, value in self.headers.items()}
        logged_body = None if isinstance(body, _NotJson) else body
        entry = emulator.request_log.record(
            self.command, path, query, logged_body, headers, time.time()
        )
        if emulator.latency_ms:
            time.sleep(emulator.latency_ms / 1000)

        drop_after = False
        drop_stream_after: int | None = None
        for rule in emulator.faults.fire(self.command, path):
            if rule.action == "delay":
                time.sleep(rule.delay_ms / 1000)
            elif rule.action == "drop_after":
                drop_after = True
            elif rule.action == "drop_stream":
                drop_stream_after = rule.after_events
            elif rule.action == "drop_before":
                self._drop()
                return
            else:
                message = f"injected fault: status {rule.status}"
                extra = {"Retry-After": rule.retry_after} if rule.retry_after is not None else {}
                # Log before answering: a client may read the log as soon as it has the answer.
                emulator.request_log.set_status(entry, rule.status)
                self._send(Response(rule.status, {"code": rule.status, "message": message}, extra))
                return

        try:
            outcome = emulator.route_api(self.command, path, query, headers, body)
        except ApiError as error:
            outcome = Response(error.status, error.body())
        except Exception as error:  # answer 500 rather than leave the client hanging
            sys.stderr.write(f"emulator: internal error on {self.command} {path}: {error!r}\n")
            outcome = Response(500, {"code": 500, "message": f"internal error: {error}"})

        if drop_after:
            self._drop()
            return
        if isinstance(outcome, _StreamRequest):
            emulator.request_log.set_status(entry, 200)
            self._stream_events(outcome, drop_stream_after)
            return
        emulator.request_log.set_status(entry, outcome.status)
        self._send(outcome)

    def _drop(self) -> None:
        """Close the connection without a response (the request log keeps status null)."""
        self.close_connection = True

    def _send(self, response: Response) -> None:
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        if response.status != 204:  # RFC 9110: a 204 carries no Content-Length
            self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Pulumi-Request-ID", str(uuid.uuid4()))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _stream_events(self, request: _StreamRequest, drop_after_events: int | None) -> None:
        """Server-sent events: the stored events after `request.after_seq`, then new ones as the
        run produces them, until the task is idle (or `stream_max_seconds` passed: a client must
        expect a stream to end early and reconnect with Last-Event-ID).

        Each event is one `id: <event id>` + `data: <json>` frame; a `: keep-alive` comment goes
        out when nothing was sent for `stream_keepalive_seconds`. The body is chunked, so a cut
        connection (the drop_stream fault) is distinguishable from a stream that ended.
        """
        emulator = self.server.emulator
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Pulumi-Request-ID", str(uuid.uuid4()))
        self.end_headers()
        started = last_write = time.monotonic()
        after_seq = request.after_seq
        sent = 0
        try:
            while True:
                if drop_after_events is not None and sent >= drop_after_events:
                    self._cut()
                    return
                # Read the status before draining, so events that end the run are still sent.
                running = emulator.store.is_running(request.org, request.task_id)
                while True:
                    page = emulator.store.events(
                        request.org, request.task_id, ListEventsQuery(MAX_PAGE_SIZE, after_seq)
                    )
                    for seq, event in zip(page.seqs, page.events, strict=True):
                        frame = f"id: {event['id']}\ndata: {json.dumps(event)}\n\n"
                        self._write_chunk(frame.encode())
                        after_seq, sent, last_write = seq, sent + 1, time.monotonic()
                        if drop_after_events is not None and sent >= drop_after_events:
                            break
                    if page.continuation_token is None or (
                        drop_after_events is not None and sent >= drop_after_events
                    ):
                        break
                self.wfile.flush()
                if drop_after_events is not None and sent >= drop_after_events:
                    continue
                now = time.monotonic()
                if not running or now - started >= emulator.stream_max_seconds:
                    break
                if now - last_write >= emulator.stream_keepalive_seconds:
                    self._write_chunk(b": keep-alive\n\n")
                    self.wfile.flush()
                    last_write = now
                time.sleep(_STREAM_POLL_SECONDS)
        except ApiError:
            pass  # the task was deleted mid-stream: end it
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        """End the connection mid-body, as a network failure would."""
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
