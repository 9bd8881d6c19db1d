"""Shared machinery for the plugin-layer tests, and a stand-in provider program.

``python -m tests.unit.test_plugin_harness`` runs the real plugin ``main`` with ``FakeServicer``
instead of the real provider, so the tests can exercise slow RPCs, StopProvider and stray prints.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from terraform_provider_pulumiservice._proto import tfplugin6_pb2, tfplugin6_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
MAGIC_COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
REAL_PROVIDER_MODULE = "terraform_provider_pulumiservice"
FAKE_PROVIDER_MODULE = "tests.unit.test_plugin_harness"
SCHEMA_VERSION_MARKER = 4242
SLOW_RPC_LIMIT_SECONDS = 20.0
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS_FRAME = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"

logger = logging.getLogger("terraform_provider_pulumiservice.resources.fake")


class FakeServicer(tfplugin6_pb2_grpc.ProviderServicer):
    """Just enough provider: a schema call, an echo, a slow call that waits for StopProvider,
    and a call that prints to stdout (which must never reach Terraform's stdout)."""

    def __init__(self) -> None:
        self.stopped = threading.Event()

    def GetProviderSchema(self, request: Any, context: Any) -> Any:  # noqa: N802
        response = tfplugin6_pb2.GetProviderSchema.Response()
        response.provider.version = SCHEMA_VERSION_MARKER
        return response

    def ReadResource(self, request: Any, context: Any) -> Any:  # noqa: N802
        # Echo: private bytes come back, to push big messages through the TLS front.
        return tfplugin6_pb2.ReadResource.Response(private=request.private)

    def ValidateProviderConfig(self, request: Any, context: Any) -> Any:  # noqa: N802
        print("stray print from a provider")
        logger.info("validated the provider config", extra={"tf_rpc": "ValidateProviderConfig"})
        return tfplugin6_pb2.ValidateProviderConfig.Response()

    def ApplyResourceChange(self, request: Any, context: Any) -> Any:  # noqa: N802
        stopped = self.stopped.wait(SLOW_RPC_LIMIT_SECONDS)
        response = tfplugin6_pb2.ApplyResourceChange.Response()
        diagnostic = response.diagnostics.add()
        diagnostic.severity = tfplugin6_pb2.Diagnostic.ERROR
        diagnostic.summary = "stopped" if stopped else "timed out"
        return response

    def StopProvider(self, request: Any, context: Any) -> Any:  # noqa: N802
        self.stopped.set()
        return tfplugin6_pb2.StopProvider.Response()

    def stop_all(self) -> None:
        self.stopped.set()
        logger.warning("stop_all called")


# --- certificates -------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientCertificate:
    certificate_pem: str
    certificate_path: Path
    key_path: Path


def make_client_certificate(directory: Path, name: str = "client") -> ClientCertificate:
    """A self-signed ECDSA P-521 certificate like the one Terraform makes for AutoMTLS."""
    key = ec.generate_private_key(ec.SECP521R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA512())
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    certificate_path = directory / f"{name}-cert.pem"
    key_path = directory / f"{name}-key.pem"
    certificate_path.write_bytes(certificate_pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ClientCertificate(certificate_pem.decode(), certificate_path, key_path)


def decode_handshake_certificate(field: str) -> bytes:
    return base64.b64decode(field + "=" * (-len(field) % 4), validate=True)


def client_tls_context(
    server_certificate_der: bytes, client: ClientCertificate | None
) -> ssl.SSLContext:
    """What Terraform does: trust only the handshake certificate, expect ``localhost``, offer h2."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=server_certificate_der)
    context.set_alpn_protocols(["h2"])
    if client is not None:
        context.load_cert_chain(client.certificate_path, client.key_path)
    return context


# --- the provider process -----------------------------------------------------------------


def provider_environment(client: ClientCertificate | None, **extra: str) -> dict[str, str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("TF_", "PLUGIN_"))
    }
    environment.update(
        TF_PLUGIN_MAGIC_COOKIE=MAGIC_COOKIE,
        PLUGIN_PROTOCOL_VERSIONS="5,6",
        PLUGIN_MIN_PORT="10000",
        PLUGIN_MAX_PORT="25000",
    )
    if client is not None:
        environment["PLUGIN_CLIENT_CERT"] = client.certificate_pem
    environment.update(extra)
    return environment


class ProviderProcess:
    """The provider as Terraform runs it: a child with piped stdout/stderr."""

    def __init__(
        self,
        environment: dict[str, str],
        *,
        module: str = FAKE_PROVIDER_MODULE,
        args: tuple[str, ...] = (),
    ) -> None:
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [PYTHON, "-m", module, *args],
            cwd=REPO_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._first_stdout_line = threading.Event()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.stdout_lines.append(raw.decode())
            self._first_stdout_line.set()
        self._first_stdout_line.set()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self.stderr_lines.append(raw.decode())

    def handshake(self, timeout: float = 20.0) -> str:
        if not self._first_stdout_line.wait(timeout):
            raise AssertionError(f"no handshake within {timeout}s; stderr: {self.stderr()}")
        if not self.stdout_lines:
            raise AssertionError(f"exited without handshake; stderr: {self.stderr()}")
        return self.stdout_lines[0].rstrip("\n")

    def handshake_fields(self) -> list[str]:
        return self.handshake().split("|")

    @property
    def socket_path(self) -> str:
        return self.handshake_fields()[3]

    @property
    def server_certificate_der(self) -> bytes:
        return decode_handshake_certificate(self.handshake_fields()[5])

    def wait(self, timeout: float = 10.0) -> int:
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code

    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)


@contextmanager
def running_provider(
    environment: dict[str, str], *, module: str = FAKE_PROVIDER_MODULE, args: tuple[str, ...] = ()
) -> Iterator[ProviderProcess]:
    provider = ProviderProcess(environment, module=module, args=args)
    try:
        yield provider
    finally:
        provider.kill()


# --- a gRPC client that presents a P-521 certificate --------------------------------------


class TlsForwarder:
    """A plaintext unix socket for ``grpc.insecure_channel`` whose connections are carried over
    TLS (with our client certificate) to the provider: grpcio itself cannot present P-521."""

    def __init__(self, listen_path: Path, target_path: str, context: ssl.SSLContext) -> None:
        self.listen_path = listen_path
        self.target_path = target_path
        self.context = context
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> TlsForwarder:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def _close(self) -> None:
        self.server.close()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _listen(self) -> None:
        self.server = await asyncio.start_unix_server(self._handle, path=str(self.listen_path))

    async def _handle(
        self, plain_reader: asyncio.StreamReader, plain_writer: asyncio.StreamWriter
    ) -> None:
        try:
            tls_reader, tls_writer = await asyncio.open_unix_connection(
                self.target_path, ssl=self.context, server_hostname="localhost"
            )
        except (OSError, ssl.SSLError):
            plain_writer.close()
            return

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while chunk := await reader.read(1 << 20):
                    writer.write(chunk)
                    await writer.drain()
            except (OSError, ConnectionError):
                pass
            finally:
                writer.close()

        try:
            await asyncio.gather(pump(plain_reader, tls_writer), pump(tls_reader, plain_writer))
        except asyncio.CancelledError:
            # Swallowed: Python 3.11's stream callback chokes on a cancelled handler task.
            tls_writer.close()
            plain_writer.close()


def provider_stub(channel: grpc.Channel) -> Any:
    return tfplugin6_pb2_grpc.ProviderStub(channel)  # type: ignore[no-untyped-call]


def open_channel(target: str) -> grpc.Channel:
    size = 256 * 1024 * 1024
    return grpc.insecure_channel(
        target,
        options=[
            ("grpc.max_send_message_length", size),
            ("grpc.max_receive_message_length", size),
        ],
    )


def raw_tls_exchange(address: str, context: ssl.SSLContext, network: str = "unix") -> bytes:
    """Connect (to a socket path, or to ``host:port`` for tcp), send an HTTP/2 client preface
    with an empty SETTINGS frame, return what the server answers (b"" if it closed). Raises
    ssl.SSLError/OSError if TLS is refused."""
    family = socket.AF_UNIX if network == "unix" else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as raw:
        raw.settimeout(10)
        if network == "unix":
            raw.connect(address)
        else:
            host, _, port = address.rpartition(":")
            raw.connect((host, int(port)))
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(HTTP2_PREFACE + EMPTY_SETTINGS_FRAME)
            return tls.recv(65536)


if __name__ == "__main__":
    from terraform_provider_pulumiservice.plugin.main import main

    sys.exit(main(servicer_factory=FakeServicer))
