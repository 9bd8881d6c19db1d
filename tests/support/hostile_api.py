"""An adversarial HTTP server for the client's tests: 127.0.0.1 only, scripted, bounded.

Each request is handed to a *behaviour*, a function of the parsed request and a :class:`Wire`
that writes whatever bytes it likes, as slowly as it likes: a valid answer, a body dripped one
byte at a time, a connection held open without a word, an event stream, or a dropped
connection. Every wait is bounded (by ``max_seconds`` and by the server stopping), so a test
that fails cannot hang the suite, and stopping the server closes every connection it accepted.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Exchange:
    """One request as the server read it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int
    received_at: float = field(default_factory=time.monotonic)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""


class Wire:
    """The server's side of one connection, for a behaviour to write to."""

    def __init__(self, sock: socket.socket, stopping: threading.Event, max_seconds: float) -> None:
        self._sock = sock
        self._stopping = stopping
        self._ends_at = time.monotonic() + max_seconds
        self.closed = False
        self.peer_closed = threading.Event()

    def send(self, data: bytes) -> bool:
        """Write ``data``; False if the client is gone (or the server stopping)."""
        if self.closed or self._stopping.is_set():
            return False
        try:
            self._sock.sendall(data)
        except OSError:
            self.peer_closed.set()
            return False
        return True

    def pause(self, seconds: float) -> bool:
        """Wait up to ``seconds`` (bounded); False once the server stops or time is up.

        A client closing the connection meanwhile also ends the wait (it is noticed by peeking).
        """
        until = min(time.monotonic() + seconds, self._ends_at)
        while time.monotonic() < until:
            if self._stopping.wait(min(0.02, max(0.0, until - time.monotonic()))):
                return False
            if self._peer_gone():
                return False
        return time.monotonic() < self._ends_at

    def hold(self) -> None:
        """Say nothing until the client gives up, the server stops or max_seconds pass."""
        while self.pause(0.1):
            pass

    def drip(self, data: bytes, interval: float) -> bool:
        """Write ``data`` one byte every ``interval`` seconds; False if cut short."""
        for index in range(len(data)):
            if not self.send(data[index : index + 1]) or not self.pause(interval):
                return False
        return True

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def _peer_gone(self) -> bool:
        try:
            # A socket with a timeout polls before recv() whatever the flags, so ask first.
            readable, _, _ = select.select([self._sock], [], [], 0)
            if not readable:
                return False
            data = self._sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self.peer_closed.set()
            return True
        if data == b"":
            self.peer_closed.set()
            return True
        return False


Behaviour = Callable[[Exchange, Wire], None]


def response_bytes(
    status: int,
    body: bytes | str | Any = b"",
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    request_id: str | None = "req-hostile-1",
) -> bytes:
    """A complete HTTP/1.1 answer; a non-bytes, non-str body is sent as JSON."""
    if isinstance(body, str):
        payload = body.encode()
    elif isinstance(body, bytes):
        payload = body
    else:
        payload = json.dumps(body).encode()
    lines = [f"HTTP/1.1 {status} Hostile", f"Content-Type: {content_type}"]
    lines.append(f"Content-Length: {len(payload)}")
    if request_id:
        lines.append(f"X-Pulumi-Request-ID: {request_id}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def stream_head(content_type: str = "text/event-stream", status: int = 200) -> bytes:
    """Headers of an event stream whose body runs until the connection closes."""
    return (
        f"HTTP/1.1 {status} Hostile\r\nContent-Type: {content_type}\r\n"
        "Cache-Control: no-cache\r\nConnection: close\r\nX-Pulumi-Request-ID: req-stream\r\n\r\n"
    ).encode()


def sse_frame(event: dict[str, Any], *, with_id: bool = True) -> bytes:
    head = f"id: {event['id']}\n" if with_id else ""
    return (head + f"data: {json.dumps(event)}\n\n").encode()


class HostileApi:
    """A threaded server on 127.0.0.1: ``with HostileApi(behaviour) as api: api.url``."""

    def __init__(self, behaviour: Behaviour, *, max_seconds: float = 30.0) -> None:
        self.behaviour = behaviour
        self.max_seconds = max_seconds
        self.requests: list[Exchange] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> HostileApi:
        thread = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def requests_to(self, method: str, path_suffix: str = "") -> list[Exchange]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
                self._sockets.append(conn)
            thread = threading.Thread(
                target=self._serve, args=(conn, number), name="hostile-conn", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(self.max_seconds)
        wire = Wire(conn, self._stopping, self.max_seconds)
        buffer = b""
        try:
            while not wire.closed and not self._stopping.is_set():
                exchange, buffer = _read_request(conn, buffer, number)
                if exchange is None:
                    return
                with self._lock:
                    self.requests.append(exchange)
                self.behaviour(exchange, wire)
        except OSError:
            return
        finally:
            if not wire.closed:
                wire.close()


def _read_request(conn: socket.socket, buffer: bytes, number: int) -> tuple[Exchange | None, bytes]:
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    body, remaining = rest[:length], rest[length:]
    return Exchange(method, target, headers, body, number), remaining


@contextlib.contextmanager
def hostile_api(behaviour: Behaviour, **options: Any) -> Iterator[HostileApi]:
    with HostileApi(behaviour, **options) as api:
        yield api
