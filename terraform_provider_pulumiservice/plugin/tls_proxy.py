"""A TLS front for the gRPC server, run by asyncio in a background thread.

grpcio's TLS (BoringSSL) cannot request Terraform's P-521 client certificate, Python's ``ssl``
(OpenSSL) can. So TLS ends here, on the public socket (unix, or TCP on 127.0.0.1), and each
connection's plaintext is piped to the gRPC server's private unix socket in the same 0700
directory (a loopback TCP port where unix sockets are unavailable). asyncio's ssl layer
drives OpenSSL through memory BIOs on the loop thread only, so no SSL object is shared between
threads. The pipe is protocol-based with flow control both ways: no per-chunk coroutine, no copy
beyond what the transports do.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import ssl
import threading
from collections.abc import Sequence
from typing import NamedTuple, cast

logger = logging.getLogger(__name__)

# Let a large message (up to 256 MiB) stream without stalling on tiny buffers, but bound memory.
WRITE_BUFFER_HIGH_WATER = 8 * 1024 * 1024
WRITE_BUFFER_LOW_WATER = 1 * 1024 * 1024
TLS_HANDSHAKE_TIMEOUT_SECONDS = 10.0
TLS_SHUTDOWN_TIMEOUT_SECONDS = 1.0
LISTEN_BACKLOG = 128


class Endpoint(NamedTuple):
    """Where to listen or connect: ``("unix", path)`` or ``("tcp", "127.0.0.1:PORT")``."""

    network: str
    address: str

    def host_port(self) -> tuple[str, int]:
        host, _, port = self.address.rpartition(":")
        return host, int(port)


class _Side(asyncio.Protocol):
    """One end of a connection pair; forwards what it reads to its peer's transport."""

    def __init__(self, pipe: _Pipe) -> None:
        self.pipe = pipe
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self._reading_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(WRITE_BUFFER_HIGH_WATER, WRITE_BUFFER_LOW_WATER)

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.transport.is_closing():
            peer.transport.write(data)

    # Called by our own transport when its outgoing buffer crosses the water marks: stop (or
    # resume) reading from the peer that fills it.
    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.resume_reading()

    def pause_reading(self) -> None:
        if self.transport is not None and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class _TlsSide(_Side):
    """The decrypted side facing Terraform; opens the upstream connection once TLS is up."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # Hold client bytes until the upstream connection exists.
        self.pause_reading()
        self.pipe.started(self)

    def eof_received(self) -> bool | None:
        # TLS transports cannot half-close; forward the EOF and let the transport close.
        upstream = self.peer
        if upstream is not None and upstream.transport is not None:
            if upstream.transport.can_write_eof():
                upstream.transport.write_eof()
            else:
                upstream.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.peer.close()
        self.pipe.finished()


class _UpstreamSide(_Side):
    """The plaintext side connected to the gRPC server's private socket."""

    def eof_received(self) -> bool | None:
        # The gRPC server closed: send what is buffered to Terraform, then close TLS.
        if self.peer is not None:
            self.peer.close()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.peer.close()
        self.pipe.upstream_closed()


class _Pipe:
    """Joins one accepted TLS connection with one connection to the gRPC server."""

    def __init__(self, proxy: TlsProxy) -> None:
        self.proxy = proxy
        self.tls_side = _TlsSide(self)
        self._task: asyncio.Task[None] | None = None

    def started(self, tls_side: _TlsSide) -> None:
        self.proxy.pipe_opened(self)
        self._task = asyncio.get_running_loop().create_task(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        upstream = _UpstreamSide(self)
        target = self.proxy.upstream
        try:
            if target.network == "unix":
                await loop.create_unix_connection(lambda: upstream, path=target.address)
            else:
                host, port = target.host_port()
                await loop.create_connection(lambda: upstream, host, port)
        except OSError as error:
            logger.error("cannot reach the gRPC server behind the TLS front: %s", error)
            self.tls_side.close()
            self.proxy.pipe_upstream_done(self)
            return
        upstream.peer = self.tls_side
        self.tls_side.peer = upstream
        tls_transport = self.tls_side.transport
        if tls_transport is None or tls_transport.is_closing():
            upstream.close()
            return
        self.tls_side.resume_reading()

    def upstream_closed(self) -> None:
        self.proxy.pipe_upstream_done(self)

    def finished(self) -> None:
        if self.tls_side.peer is None and self._task is not None:
            # TLS closed before the upstream connection was made.
            self._task.cancel()
        self.proxy.pipe_closed(self)


class TlsProxy:
    """Accepts TLS on ``public`` and pipes plaintext to ``upstream``. For TCP, the first free
    port of ``ports`` is taken (0: any); ``public`` holds the real address once ``start`` has
    returned."""

    def __init__(
        self,
        public: Endpoint,
        upstream: Endpoint,
        context: ssl.SSLContext,
        ports: Sequence[int] = (0,),
    ) -> None:
        self.public = public
        self._ports = list(ports) or [0]
        self.upstream = upstream
        self._context = context
        # asyncio's own debug chatter ("Using selector...") is noise in Terraform's log.
        logging.getLogger("asyncio").setLevel(max(logging.INFO, logging.getLogger().level))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tls-front", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._open_pipes: set[_Pipe] = set()
        self._upstream_open: set[_Pipe] = set()
        self._all_upstream_done: asyncio.Event | None = None

    def start(self) -> None:
        """Listen on the public socket; returns once it accepts connections."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        future.result()

    async def _listen(self) -> None:
        self._all_upstream_done = asyncio.Event()
        if self.public.network == "unix":
            self._server = await self._loop.create_unix_server(
                lambda: _Pipe(self).tls_side,
                path=self.public.address,
                ssl=self._context,
                backlog=LISTEN_BACKLOG,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_SECONDS,
                ssl_shutdown_timeout=TLS_SHUTDOWN_TIMEOUT_SECONDS,
            )
            return
        host = self.public.host_port()[0]
        for attempt, port in enumerate(self._ports):
            try:
                self._server = await self._loop.create_server(
                    lambda: _Pipe(self).tls_side,
                    host=host,
                    port=port,
                    ssl=self._context,
                    backlog=LISTEN_BACKLOG,
                    ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_SECONDS,
                    ssl_shutdown_timeout=TLS_SHUTDOWN_TIMEOUT_SECONDS,
                )
                break
            except OSError as error:
                if error.errno != errno.EADDRINUSE or attempt == len(self._ports) - 1:
                    raise
        assert self._server is not None
        bound_host, bound_port = self._server.sockets[0].getsockname()[:2]
        self.public = Endpoint("tcp", f"{bound_host}:{bound_port}")

    # Bookkeeping, all on the loop thread.
    def pipe_opened(self, pipe: _Pipe) -> None:
        self._open_pipes.add(pipe)
        self._upstream_open.add(pipe)
        if self._all_upstream_done is not None:
            self._all_upstream_done.clear()

    def pipe_upstream_done(self, pipe: _Pipe) -> None:
        self._upstream_open.discard(pipe)
        if not self._upstream_open and self._all_upstream_done is not None:
            self._all_upstream_done.set()

    def pipe_closed(self, pipe: _Pipe) -> None:
        self._open_pipes.discard(pipe)
        self.pipe_upstream_done(pipe)

    def stop_accepting(self) -> None:
        if self._loop.is_closed() or not self._loop.is_running():
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._close_listener)

    def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()

    def drain(self, timeout: float) -> bool:
        """After the gRPC server has closed its connections, wait until what it last wrote has
        been handed to the TLS connections. True if that happened within ``timeout``."""
        if not self._loop.is_running():
            return True

        async def wait() -> None:
            self._close_listener()
            if self._upstream_open and self._all_upstream_done is not None:
                await self._all_upstream_done.wait()
            for pipe in list(self._open_pipes):
                pipe.tls_side.close()

        future = asyncio.run_coroutine_threadsafe(wait(), self._loop)
        try:
            future.result(timeout)
        except TimeoutError:
            future.cancel()
            return False
        return True
