"""Exec-to-handshake and exec-to-first-RPC-answer of a provider binary, as Terraform starts it.

The provider is spawned with the environment Terraform sets (magic cookie, protocol versions and
an ECDSA P-521 `PLUGIN_CLIENT_CERT`). The first RPC goes over mutual TLS like Terraform's does:
grpcio cannot present a P-521 client certificate, so this module speaks just enough HTTP/2 itself
(one unary call) on top of Python's `ssl`. A provider that answers without a certificate in its
handshake line (older go-plugin) is called over plaintext HTTP/2 instead.
"""

from __future__ import annotations

import base64
import os
import select
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.unit.test_plugin_harness import ClientCertificate, make_client_certificate

MAGIC_COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"

_FRAME_DATA = 0x0
_FRAME_HEADERS = 0x1
_FRAME_RST_STREAM = 0x3
_FRAME_SETTINGS = 0x4
_FRAME_GOAWAY = 0x7
_FRAME_WINDOW_UPDATE = 0x8
_FLAG_END_STREAM = 0x1
_FLAG_ACK = 0x1
_FLAG_END_HEADERS = 0x4
_SETTING_INITIAL_WINDOW_SIZE = 0x4
_LARGE_WINDOW = (1 << 31) - 1 - 65535
_CONNECTION_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


# The Terraform-like AutoMTLS client certificate is the plugin tests' (one implementation).
ClientIdentity = ClientCertificate


def make_client_identity(directory: Path) -> ClientIdentity:
    """A self-signed ECDSA P-521 certificate for `localhost`, like Terraform generates per run."""
    return make_client_certificate(directory)


def terraform_plugin_environment(client: ClientIdentity | None) -> dict[str, str]:
    """The variables Terraform sets for a provider process (without client cert: plaintext)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PLUGIN_"))}
    environment.update(
        TF_PLUGIN_MAGIC_COOKIE=MAGIC_COOKIE,
        PLUGIN_PROTOCOL_VERSIONS="5,6",
        PLUGIN_MIN_PORT="10000",
        PLUGIN_MAX_PORT="25000",
    )
    if client is not None:
        environment["PLUGIN_CLIENT_CERT"] = client.certificate_pem
    return environment


@dataclass(frozen=True)
class StartupSample:
    handshake_seconds: float
    first_answer_seconds: float
    answer_bytes: int
    transport: str  # "mtls" or "plaintext"
    # User + system CPU of the provider process (and the children it waited for) from exec to
    # the moment it was killed, just after its first answer arrived.
    cpu_seconds: float = 0.0


class ProbeFailed(RuntimeError):
    """The provider did not hand shake or did not answer the RPC."""


def _hpack_integer(value: int, prefix_bits: int, first_byte_flags: int) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    encoded = bytearray([first_byte_flags | limit])
    value -= limit
    while value >= 128:
        encoded.append((value & 0x7F) | 0x80)
        value >>= 7
    encoded.append(value)
    return bytes(encoded)


def _hpack_literal(name: str, value: str) -> bytes:
    """A 'literal header field without indexing, new name' (no Huffman): no decoder state."""
    raw_name, raw_value = name.encode(), value.encode()
    return (
        b"\x00"
        + _hpack_integer(len(raw_name), 7, 0)
        + raw_name
        + _hpack_integer(len(raw_value), 7, 0)
        + raw_value
    )


def _frame(frame_type: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    header = struct.pack(">I", len(payload))[1:] + bytes([frame_type, flags])
    return header + struct.pack(">I", stream_id & 0x7FFFFFFF) + payload


def unary_request_bytes(rpc_path: str, message: bytes) -> bytes:
    """Client preface, settings and one gRPC unary call on stream 1."""
    settings = struct.pack(">HI", _SETTING_INITIAL_WINDOW_SIZE, _LARGE_WINDOW)
    block = b"".join(
        _hpack_literal(name, value)
        for name, value in (
            (":method", "POST"),
            (":scheme", "http"),
            (":path", rpc_path),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        )
    )
    grpc_message = b"\x00" + struct.pack(">I", len(message)) + message
    return (
        _CONNECTION_PREFACE
        + _frame(_FRAME_SETTINGS, 0, 0, settings)
        + _frame(_FRAME_WINDOW_UPDATE, 0, 0, struct.pack(">I", _LARGE_WINDOW))
        + _frame(_FRAME_HEADERS, _FLAG_END_HEADERS, 1, block)
        + _frame(_FRAME_DATA, _FLAG_END_STREAM, 1, grpc_message)
    )


class _FrameReader:
    def __init__(self, connection: socket.socket, deadline: float) -> None:
        self._connection = connection
        self._deadline = deadline
        self._buffer = bytearray()

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise ProbeFailed("timed out waiting for the RPC answer")
            self._connection.settimeout(remaining)
            chunk = self._connection.recv(65536)
            if not chunk:
                raise ProbeFailed("the provider closed the connection before answering")
            self._buffer.extend(chunk)

    def next_frame(self) -> tuple[int, int, int, bytes]:
        self._fill(9)
        length = int.from_bytes(self._buffer[0:3], "big")
        frame_type, flags = self._buffer[3], self._buffer[4]
        stream_id = int.from_bytes(self._buffer[5:9], "big") & 0x7FFFFFFF
        self._fill(9 + length)
        payload = bytes(self._buffer[9 : 9 + length])
        del self._buffer[: 9 + length]
        return frame_type, flags, stream_id, payload


def call_unary(connection: socket.socket, rpc_path: str, message: bytes, timeout: float) -> bytes:
    """One gRPC unary call over an open HTTP/2 connection; returns the response message."""
    connection.sendall(unary_request_bytes(rpc_path, message))
    reader = _FrameReader(connection, time.monotonic() + timeout)
    body = bytearray()
    while True:
        frame_type, flags, stream_id, payload = reader.next_frame()
        if frame_type == _FRAME_SETTINGS and not flags & _FLAG_ACK:
            connection.sendall(_frame(_FRAME_SETTINGS, _FLAG_ACK, 0, b""))
        elif frame_type in (_FRAME_GOAWAY, _FRAME_RST_STREAM):
            raise ProbeFailed(f"the provider reset the call (frame type {frame_type})")
        elif frame_type == _FRAME_DATA and stream_id == 1:
            if flags & 0x8:  # PADDED
                pad = payload[0]
                payload = payload[1 : len(payload) - pad]
            body.extend(payload)
            if len(body) >= 5:
                expected = 5 + int.from_bytes(body[1:5], "big")
                if len(body) >= expected:
                    return bytes(body[5:expected])
        elif frame_type == _FRAME_HEADERS and stream_id == 1 and flags & _FLAG_END_STREAM:
            raise ProbeFailed("the call ended without a response message (gRPC error)")


def _connect(network: str, address: str) -> socket.socket:
    if network == "unix":
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(address)
        return connection
    host, _, port = address.rpartition(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _read_handshake_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    collected = bytearray()
    while b"\n" not in collected:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProbeFailed("no handshake line in time")
        ready, _, _ = select.select([descriptor], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(descriptor, 4096)
        if not chunk:
            raise ProbeFailed(f"the provider exited before its handshake (code {process.wait()})")
        collected.extend(chunk)
    return collected.split(b"\n", 1)[0].decode()


def measure_startup(
    executable: Path,
    rpc_path: str,
    client: ClientIdentity | None,
    *,
    timeout: float = 30.0,
) -> StartupSample:
    """Spawn `executable` once; time exec → handshake line and exec → first complete answer."""
    environment = terraform_plugin_environment(client)
    with tempfile.TemporaryDirectory(prefix="bench-plugin-") as socket_dir:
        environment["PLUGIN_UNIX_SOCKET_DIR"] = socket_dir
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(executable)],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            line = _read_handshake_line(process, timeout)
            handshake_at = time.perf_counter()
            fields = line.split("|")
            if len(fields) < 5:
                raise ProbeFailed(f"unexpected handshake line {line!r}")
            network, address = fields[2], fields[3]
            server_certificate = fields[5] if len(fields) > 5 else ""
            raw = _connect(network, address)
            transport = "plaintext"
            connection: socket.socket = raw
            if server_certificate and client is not None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                der = base64.b64decode(server_certificate + "=" * (-len(server_certificate) % 4))
                context.load_verify_locations(cadata=der)
                context.load_cert_chain(client.certificate_path, client.key_path)
                context.set_alpn_protocols(["h2"])
                connection = context.wrap_socket(raw, server_hostname="localhost")
                transport = "mtls"
            with connection:
                answer = call_unary(connection, rpc_path, b"", timeout)
            answered_at = time.perf_counter()
        finally:
            process.kill()
            cpu_seconds = _reap_cpu_seconds(process)
            if process.stdout is not None:
                process.stdout.close()
    return StartupSample(
        handshake_seconds=handshake_at - started,
        first_answer_seconds=answered_at - started,
        answer_bytes=len(answer),
        transport=transport,
        cpu_seconds=cpu_seconds,
    )


def _reap_cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """Reap the killed provider; its CPU seconds (0.0 if Popen had reaped it already)."""
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except ChildProcessError:
        process.wait(10)
        return 0.0
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


@dataclass
class InterpreterFloor:
    label: str
    code: str
    seconds: float
    peak_rss_mib: float


# What any provider built on this stack (CPython + grpcio) pays before its own code runs.
FLOOR_PROGRAMS = (
    ("CPython start, nothing imported", "pass"),
    ("CPython start + `import grpc`", "import grpc"),
    ("CPython start + grpcio, protobuf, ssl, asyncio (the TLS front)",
     "import grpc, google.protobuf.message, ssl, asyncio"),
)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the (larger) parent.
_REPORT_PEAK_RSS = (
    "\nimport sys\nsys.stdout.write([line.split()[1] for line in open('/proc/self/status')"
    " if line.startswith('VmHWM:')][0])"
)


def interpreter_floor(python: str, repeats: int) -> list[InterpreterFloor]:
    """Fastest wall time and peak RSS of `python -I -c <program>` for each floor program.

    The PyInstaller bundle runs the same CPython and the same grpcio, so these are lower bounds
    for the provider's own start-up and memory on this machine. A floor is a best case, and noise
    on this shared machine only ever adds time, so the fastest run is the figure; the programs
    take turns in every round so that a slow spell hits all of them alike.
    """
    timings: dict[str, list[float]] = {code: [] for _, code in FLOOR_PROGRAMS}
    peaks: dict[str, list[float]] = {code: [] for _, code in FLOOR_PROGRAMS}
    for round_number in range(repeats + 1):
        for _, code in FLOOR_PROGRAMS:
            started = time.perf_counter()
            completed = subprocess.run(
                [python, "-I", "-c", code + _REPORT_PEAK_RSS],
                capture_output=True, text=True, check=True,
            )
            elapsed = time.perf_counter() - started
            if round_number == 0:
                continue  # the first round only warms the page cache
            timings[code].append(elapsed)
            peaks[code].append(int(completed.stdout.strip()) / 1024)
    return [
        InterpreterFloor(label, code, min(timings[code]), max(peaks[code]))
        for label, code in FLOOR_PROGRAMS
    ]
