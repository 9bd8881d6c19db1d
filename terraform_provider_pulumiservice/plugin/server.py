"""The provider process: gRPC server, socket directory, handshake, signals and shutdown.

Transport as go-plugin: a unix socket in a fresh 0700 directory, or TCP on 127.0.0.1 where unix
sockets are unavailable (Windows) or when TFPS_PLUGIN_TRANSPORT=tcp asks for it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from concurrent import futures
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from terraform_provider_pulumiservice import PROVIDER_ADDRESS
from terraform_provider_pulumiservice._proto import tfplugin6_pb2_grpc
from terraform_provider_pulumiservice.plugin import handshake
from terraform_provider_pulumiservice.plugin.services import add_plugin_services

if TYPE_CHECKING:
    from terraform_provider_pulumiservice.plugin.tls import ServerIdentity

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
# Terraform runs up to -parallelism (default 10, often 20+) RPCs at once, and StopProvider must
# still find a free worker; the stdio and broker streams each hold one for the process lifetime.
RPC_WORKERS = 64
PUBLIC_SOCKET_NAME = "plugin.sock"
PRIVATE_SOCKET_NAME = "grpc.sock"
SOCKET_DIR_PREFIX = "tf-pulumiservice-"
HEALTH_SERVICE_NAME = "plugin"
# Shutdown budget: Terraform SIGKILLs 2 s after asking; we aim to be gone in about 0.1 s.
SHUTDOWN_GRACE_SECONDS = 0.05
SHUTDOWN_WAIT_SECONDS = 0.3
PROXY_DRAIN_SECONDS = 0.2
# How often to check that Terraform (our parent) is still alive.
PARENT_CHECK_SECONDS = 1.0

# Terraform's end of stdout stays open (unused) until we exit, as it does for Go plugins.
_retained_stdout_fds: list[int] = []


def serve(
    servicer: tfplugin6_pb2_grpc.ProviderServicer,
    *,
    debug: bool = False,
    environ: Mapping[str, str] | None = None,
    identity_source: Callable[[], ServerIdentity] | None = None,
) -> int:
    """Serve ``servicer`` until Terraform calls Shutdown (not in debug mode) or SIGTERM arrives
    (or Ctrl-C in debug mode). Returns the exit code; the socket directory is gone by then.

    Threads of RPCs that ignore cancellation may still be alive afterwards, so the caller should
    end the process with ``os._exit`` (``main`` does). ``identity_source`` supplies the TLS
    identity (``main`` starts making it early); by default it is generated here.
    """
    env = os.environ if environ is None else environ
    # Read before the handshake: Terraform is certainly alive while it waits for that line.
    parent_pid = os.getppid()
    shutdown_requested = threading.Event()
    _install_signal_handlers(shutdown_requested, debug=debug)

    socket_dir = tempfile.mkdtemp(
        prefix=SOCKET_DIR_PREFIX, dir=env.get(handshake.SOCKET_DIR_KEY) or None
    )
    try:
        os.chmod(socket_dir, 0o700)
        return _serve_in(
            socket_dir,
            servicer,
            shutdown_requested,
            debug=debug,
            env=env,
            identity_source=identity_source,
            parent_pid=None if debug else parent_pid,
        )
    finally:
        shutil.rmtree(socket_dir, ignore_errors=True)


def _serve_in(
    socket_dir: str,
    servicer: Any,
    shutdown_requested: threading.Event,
    *,
    debug: bool,
    env: Mapping[str, str],
    identity_source: Callable[[], ServerIdentity] | None,
    parent_pid: int | None,
) -> int:
    network = handshake.choose_transport(env, os.name)
    public_path = os.path.join(socket_dir, PUBLIC_SOCKET_NAME)
    client_certificate = "" if debug else env.get(handshake.CLIENT_CERT_KEY, "").strip()

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=RPC_WORKERS, thread_name_prefix="rpc"),
        options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            # Without this gRPC shares a TCP port another process already listens on
            # (SO_REUSEPORT), and connections would be split between two providers.
            ("grpc.so_reuseport", 0),
        ],
    )
    tfplugin6_pb2_grpc.add_ProviderServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]

    def on_shutdown_rpc() -> None:
        if debug:
            logger.debug("ignoring Shutdown in debug mode; stop the provider with Ctrl-C")
        else:
            shutdown_requested.set()

    add_plugin_services(server, on_shutdown_rpc)
    health_servicer = health.HealthServicer()
    health_servicer.set(HEALTH_SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)

    proxy = None
    certificate_der: bytes | None = None
    if client_certificate:
        # Imported only here: plaintext (debug) runs skip cryptography and asyncio's TLS.
        from terraform_provider_pulumiservice.plugin.tls import (
            generate_server_identity,
            server_ssl_context,
        )
        from terraform_provider_pulumiservice.plugin.tls_proxy import Endpoint, TlsProxy

        identity = (identity_source or generate_server_identity)()
        context = server_ssl_context(identity, client_certificate, socket_dir)
        # The plaintext gRPC server stays on a unix socket in the 0700 directory whenever the
        # platform has them, so only the TLS front is reachable over TCP.
        if _unix_sockets_available():
            private = Endpoint("unix", os.path.join(socket_dir, PRIVATE_SOCKET_NAME))
            _bind(server, private.address)
        else:
            private = Endpoint("tcp", _bind_tcp(server, [0]))
        server.start()
        public = (
            Endpoint("unix", public_path)
            if network == "unix"
            else Endpoint("tcp", f"{handshake.TCP_HOST}:0")
        )
        proxy = TlsProxy(public, private, context, ports=handshake.tcp_ports(env, os.getpid()))
        proxy.start()
        address = proxy.public.address
        certificate_der = identity.certificate_der
    else:
        address = (
            _bind(server, public_path)
            if network == "unix"
            else _bind_tcp(server, handshake.tcp_ports(env, os.getpid()))
        )
        server.start()

    try:
        if debug:
            _announce_debug(address, network)
        else:
            _announce_handshake(handshake.handshake_line(address, certificate_der, network))
        logger.debug(
            "plugin serving",
            extra={
                "pid": os.getpid(),
                "network": network,
                "address": address,
                "tls": proxy is not None,
                "debug": debug,
                "protocol_version": handshake.PLUGIN_PROTOCOL_VERSION,
            },
        )
        _wait_for_shutdown(shutdown_requested, parent_pid)
        logger.debug("plugin shutting down")
    finally:
        _stop(server, servicer, proxy)
    return 0


def _wait_for_shutdown(shutdown_requested: threading.Event, parent_pid: int | None) -> None:
    """Until asked to stop. A provider whose Terraform died (SIGKILL, crash) is reparented and
    would otherwise live on forever, so that also ends it."""
    if parent_pid is None:
        shutdown_requested.wait()
        return
    while not shutdown_requested.wait(PARENT_CHECK_SECONDS):
        if os.getppid() != parent_pid:
            logger.warning("Terraform (pid %d) went away; shutting down", parent_pid)
            return


def _bind(server: grpc.Server, socket_path: str) -> str:
    try:
        bound = server.add_insecure_port(f"unix:{socket_path}")
    except RuntimeError as error:
        raise OSError(f"cannot listen on {socket_path}: {error}") from error
    if not bound:
        raise OSError(f"cannot listen on {socket_path}")
    return socket_path


def _bind_tcp(server: grpc.Server, ports: list[int]) -> str:
    """Listen on the first free loopback port of ``ports`` (0: any); returns 127.0.0.1:PORT."""
    for port in ports:
        wanted = f"{handshake.TCP_HOST}:{port}"
        try:
            bound = server.add_insecure_port(wanted)
        except RuntimeError:
            continue  # taken; grpc raises instead of returning 0 in recent versions
        if bound:
            return f"{handshake.TCP_HOST}:{bound}"
    raise OSError(f"cannot listen on {handshake.TCP_HOST} on any of {len(ports)} ports")


def _unix_sockets_available() -> bool:
    # Windows has AF_UNIX in recent builds, but neither asyncio's proactor loop nor go-plugin
    # uses it there.
    return os.name != "nt" and hasattr(socket, "AF_UNIX")


def _stop(server: grpc.Server, servicer: Any, proxy: Any) -> None:
    if proxy is not None:
        proxy.stop_accepting()
    stop_all = getattr(servicer, "stop_all", None)
    if callable(stop_all):
        try:
            stop_all()
        except Exception:
            logger.exception("stopping in-flight provider work failed")
    server.stop(SHUTDOWN_GRACE_SECONDS).wait(SHUTDOWN_WAIT_SECONDS)
    if proxy is not None:
        proxy.drain(PROXY_DRAIN_SECONDS)


def _install_signal_handlers(shutdown_requested: threading.Event, *, debug: bool) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def request_shutdown(signum: int, frame: object) -> None:
        shutdown_requested.set()

    signal.signal(signal.SIGTERM, request_shutdown)
    # Ctrl-C reaches the whole process group; Terraform then calls StopProvider and Shutdown
    # itself, so a Terraform-run provider ignores it. In debug mode it is how you stop us.
    signal.signal(signal.SIGINT, request_shutdown if debug else signal.SIG_IGN)


def _announce_handshake(line: str) -> None:
    """Print the handshake, then make sure nothing else ever reaches Terraform's stdout: fd 1
    and ``sys.stdout`` both become stderr (which Terraform logs)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    _retained_stdout_fds.append(os.dup(1))
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def _announce_debug(address: str, network: str) -> None:
    reattach = handshake.reattach_config(PROVIDER_ADDRESS, os.getpid(), address, network)
    sys.stderr.write(
        "Provider started in debug mode; it serves until you press Ctrl-C.\n"
        "To use it, run this in the shell where you run Terraform:\n\n"
    )
    sys.stderr.flush()
    sys.stdout.write(f"export TF_REATTACH_PROVIDERS='{reattach}'\n")
    sys.stdout.flush()
