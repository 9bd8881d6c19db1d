"""The TCP transport: how it is chosen, its handshake line, and mutual TLS over loopback TCP."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from terraform_provider_pulumiservice.plugin import handshake
from tests.unit.test_plugin_harness import (
    ClientCertificate,
    ProviderProcess,
    client_tls_context,
    make_client_certificate,
    open_channel,
    provider_environment,
    raw_tls_exchange,
    running_provider,
)

TCP = {"TFPS_PLUGIN_TRANSPORT": "tcp"}


def test_unix_sockets_are_the_default_except_on_windows() -> None:
    assert handshake.choose_transport({}, "posix") == "unix"
    assert handshake.choose_transport({}, "nt") == "tcp"


@pytest.mark.parametrize("value", ["tcp", "TCP", " tcp "])
def test_the_environment_variable_forces_tcp(value: str) -> None:
    assert handshake.choose_transport({"TFPS_PLUGIN_TRANSPORT": value}, "posix") == "tcp"


@pytest.mark.parametrize(("value", "os_name"), [("udp", "posix"), ("unix", "nt")])
def test_an_unusable_transport_is_a_handshake_error_naming_the_variable(
    value: str, os_name: str
) -> None:
    with pytest.raises(handshake.HandshakeError, match="TFPS_PLUGIN_TRANSPORT"):
        handshake.choose_transport({"TFPS_PLUGIN_TRANSPORT": value}, os_name)


def test_tcp_handshake_line_has_exactly_six_fields() -> None:
    line = handshake.handshake_line("127.0.0.1:12345", b"\x01\x02", "tcp")
    assert line == "1|6|tcp|127.0.0.1:12345|grpc|AQI"
    assert len(line.split("|")) == 6


def test_reattach_config_names_the_tcp_network() -> None:
    text = handshake.reattach_config("example.com/a/b", 7, "127.0.0.1:9", "tcp")
    assert json.loads(text)["example.com/a/b"]["Addr"] == {
        "Network": "tcp",
        "String": "127.0.0.1:9",
    }


def test_ports_come_from_the_clients_range_starting_at_an_offset() -> None:
    environ = {"PLUGIN_MIN_PORT": "10000", "PLUGIN_MAX_PORT": "10003"}
    assert handshake.tcp_ports(environ, 2) == [10002, 10003, 10000, 10001]
    assert handshake.tcp_ports({}, 5) == [0]
    assert handshake.tcp_ports({"PLUGIN_MIN_PORT": "9", "PLUGIN_MAX_PORT": "x"}) == [0]


def _tcp_address(provider: ProviderProcess) -> tuple[str, int]:
    fields = provider.handshake_fields()
    assert len(fields) == 6, fields
    assert fields[2] == "tcp", fields
    match = re.fullmatch(r"127\.0\.0\.1:(\d+)", fields[3])
    assert match, fields
    return "127.0.0.1", int(match.group(1))


def test_plaintext_provider_serves_grpc_on_a_loopback_port_in_the_clients_range() -> None:
    environment = provider_environment(None, **TCP)
    with running_provider(environment) as provider:
        host, port = _tcp_address(provider)
        assert 10000 <= port <= 25000
        assert provider.handshake_fields()[5] == ""
        with open_channel(f"{host}:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="plugin"), timeout=10
            )
        assert health.status == health_pb2.HealthCheckResponse.SERVING


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ClientCertificate]:
    directory: Path = tmp_path_factory.mktemp("tcp-certificates")
    return {
        "terraform": make_client_certificate(directory, "terraform"),
        "stranger": make_client_certificate(directory, "stranger"),
    }


@pytest.fixture(scope="module")
def tcp_tls_provider(certificates: dict[str, ClientCertificate]) -> Iterator[ProviderProcess]:
    with running_provider(provider_environment(certificates["terraform"], **TCP)) as provider:
        provider.handshake()
        yield provider


def test_tls_over_tcp_answers_terraforms_certificate_with_http2(
    tcp_tls_provider: ProviderProcess, certificates: dict[str, ClientCertificate]
) -> None:
    host, port = _tcp_address(tcp_tls_provider)
    context = client_tls_context(
        tcp_tls_provider.server_certificate_der, certificates["terraform"]
    )
    answer = raw_tls_exchange(f"{host}:{port}", context, "tcp")
    # An HTTP/2 server's first frame is SETTINGS (type 0x4 in the frame header's 4th byte).
    assert len(answer) >= 9 and answer[3] == 0x04, answer[:16]


def test_tls_over_tcp_refuses_another_certificate_and_plaintext(
    tcp_tls_provider: ProviderProcess, certificates: dict[str, ClientCertificate]
) -> None:
    host, port = _tcp_address(tcp_tls_provider)
    context = client_tls_context(
        tcp_tls_provider.server_certificate_der, certificates["stranger"]
    )
    try:
        answer = raw_tls_exchange(f"{host}:{port}", context, "tcp")
    except (OSError, ConnectionError):
        answer = b""
    assert answer == b""
    # A plaintext HTTP/2 preface gets no HTTP/2 answer from the TLS listener.
    with socket.create_connection((host, port), timeout=10) as raw:
        raw.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(9))
        try:
            reply = raw.recv(100)
        except OSError:
            reply = b""
    assert not (len(reply) >= 9 and reply[3] == 0x04), reply


def _two_ports_the_first_taken() -> tuple[socket.socket, int]:
    for _ in range(50):
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if hasattr(socket, "SO_REUSEPORT"):
            # As another provider's gRPC server would: sharing is then possible, and refused.
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", taken + 1))
            except OSError:
                holder.close()
                continue
        return holder, taken
    raise AssertionError("no two adjacent free ports")


@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "tls"])
def test_a_port_another_process_listens_on_is_skipped_not_shared(
    tls: bool, certificates: dict[str, ClientCertificate]
) -> None:
    holder, taken = _two_ports_the_first_taken()
    with holder:
        environment = provider_environment(
            certificates["terraform"] if tls else None,
            PLUGIN_MIN_PORT=str(taken), PLUGIN_MAX_PORT=str(taken + 1), **TCP,
        )
        with running_provider(environment) as provider:
            assert _tcp_address(provider) == ("127.0.0.1", taken + 1), provider.stderr()


@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "tls"])
def test_a_range_of_only_taken_ports_is_an_error_not_a_shared_port(
    tls: bool, certificates: dict[str, ClientCertificate]
) -> None:
    holder, taken = _two_ports_the_first_taken()
    with holder:
        environment = provider_environment(
            certificates["terraform"] if tls else None,
            PLUGIN_MIN_PORT=str(taken), PLUGIN_MAX_PORT=str(taken), **TCP,
        )
        with running_provider(environment) as provider:
            assert provider.wait(20) != 0
            assert not provider.stdout_lines, provider.stdout_lines
