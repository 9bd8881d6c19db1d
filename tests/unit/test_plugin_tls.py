"""Automatic mutual TLS as Terraform sets it up: only Terraform's own certificate gets in."""

from __future__ import annotations

import datetime
import errno
import socket
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from terraform_provider_pulumiservice._proto import tfplugin6_pb2
from terraform_provider_pulumiservice.plugin import tls
from tests.unit.test_plugin_harness import (
    SCHEMA_VERSION_MARKER,
    ClientCertificate,
    ProviderProcess,
    TlsForwarder,
    client_tls_context,
    make_client_certificate,
    open_channel,
    provider_environment,
    provider_stub,
    raw_tls_exchange,
    running_provider,
)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ClientCertificate]:
    directory = tmp_path_factory.mktemp("certificates")
    return {
        "terraform": make_client_certificate(directory, "terraform"),
        "stranger": make_client_certificate(directory, "stranger"),
    }


@pytest.fixture(scope="module")
def tls_provider(certificates: dict[str, ClientCertificate]) -> Iterator[ProviderProcess]:
    with running_provider(provider_environment(certificates["terraform"])) as provider:
        provider.handshake()
        yield provider


def test_handshake_line_carries_an_unpadded_base64_der_certificate_for_localhost(
    tls_provider: ProviderProcess,
) -> None:
    fields = tls_provider.handshake_fields()
    assert len(fields) == 6
    assert fields[:3] == ["1", "6", "unix"]
    assert fields[4] == "grpc"
    assert fields[5] and not fields[5].endswith("=")
    certificate = x509.load_der_x509_certificate(tls_provider.server_certificate_der)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [attribute.value for attribute in common_names] == ["localhost"]
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    key_usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert key_usage.digital_signature and key_usage.key_cert_sign
    assert isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime.days <= 31


def refusal_of(socket_path: str, context: ssl.SSLContext) -> str | None:
    """Why the server refused us, or None if it answered HTTP/2."""
    try:
        answer = raw_tls_exchange(socket_path, context)
    except (ssl.SSLError, ConnectionError) as error:
        return repr(error)
    # TLS 1.3 lets the client finish its handshake before the server has checked the client
    # certificate; a refusal then shows up as a closed connection instead of an answer.
    return None if answer else "closed without an answer"


def test_client_without_certificate_is_refused(tls_provider: ProviderProcess) -> None:
    context = client_tls_context(tls_provider.server_certificate_der, None)
    assert refusal_of(tls_provider.socket_path, context) is not None


def test_client_with_another_p521_certificate_is_refused(
    tls_provider: ProviderProcess, certificates: dict[str, ClientCertificate]
) -> None:
    context = client_tls_context(tls_provider.server_certificate_der, certificates["stranger"])
    assert refusal_of(tls_provider.socket_path, context) is not None


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_older_than_1_2_is_refused(
    tls_provider: ProviderProcess, certificates: dict[str, ClientCertificate]
) -> None:
    context = client_tls_context(tls_provider.server_certificate_der, certificates["terraform"])
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    assert refusal_of(tls_provider.socket_path, context) is not None


def test_terraforms_certificate_is_accepted(
    tls_provider: ProviderProcess, certificates: dict[str, ClientCertificate]
) -> None:
    # The control for the refusals above: same exchange, the right certificate.
    context = client_tls_context(tls_provider.server_certificate_der, certificates["terraform"])
    assert refusal_of(tls_provider.socket_path, context) is None


def test_terraforms_certificate_is_served_http2_over_alpn_h2(
    tls_provider: ProviderProcess, certificates: dict[str, ClientCertificate]
) -> None:
    context = client_tls_context(tls_provider.server_certificate_der, certificates["terraform"])
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.settimeout(10)
        raw.connect(tls_provider.socket_path)
        with context.wrap_socket(raw, server_hostname="localhost") as connection:
            assert connection.selected_alpn_protocol() == "h2"
            assert connection.version() in ("TLSv1.2", "TLSv1.3")
    answer = raw_tls_exchange(tls_provider.socket_path, context)
    # The server's first HTTP/2 frame is SETTINGS (frame type 4 in the 4th byte).
    assert len(answer) >= 9 and answer[3] == 4


def test_grpc_calls_through_mutual_tls(
    tls_provider: ProviderProcess,
    certificates: dict[str, ClientCertificate],
    tmp_path: Path,
) -> None:
    context = client_tls_context(tls_provider.server_certificate_der, certificates["terraform"])
    forward_path = tmp_path / "forward.sock"
    with (
        TlsForwarder(forward_path, tls_provider.socket_path, context),
        open_channel(f"unix:{forward_path}") as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="plugin"), timeout=10
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        schema = provider_stub(channel).GetProviderSchema(
            tfplugin6_pb2.GetProviderSchema.Request(), timeout=10
        )
        assert schema.provider.version == SCHEMA_VERSION_MARKER
        # Larger than any single buffer on the way: exercises the proxy's flow control.
        payload = bytes(range(256)) * (24 * 1024 * 4)
        echoed = provider_stub(channel).ReadResource(
            tfplugin6_pb2.ReadResource.Request(private=payload), timeout=30
        )
        assert echoed.private == payload


def test_plaintext_grpc_socket_behind_the_tls_front_is_private(
    tls_provider: ProviderProcess,
) -> None:
    socket_dir = Path(tls_provider.socket_path).parent
    assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
    private_socket = socket_dir / "grpc.sock"
    assert private_socket.exists()
    # Another local user can reach neither socket: the directory is not traversable for them.
    probe = (
        "import os, socket, sys\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "results = []\n"
        "for path in sys.argv[1:]:\n"
        "    s = socket.socket(socket.AF_UNIX)\n"
        "    try:\n"
        "        s.connect(path); results.append('connected')\n"
        "    except OSError as e:\n"
        "        results.append(str(e.errno))\n"
        "print(','.join(results))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(private_socket), tls_provider.socket_path],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{errno.EACCES},{errno.EACCES}"


def test_plaintext_client_is_not_served_on_the_tls_socket(tls_provider: ProviderProcess) -> None:
    with open_channel(f"unix:{tls_provider.socket_path}") as channel, pytest.raises(grpc.RpcError):
        provider_stub(channel).GetProviderSchema(
            tfplugin6_pb2.GetProviderSchema.Request(), timeout=3
        )


def test_server_identity_is_fresh_per_process() -> None:
    first = tls.generate_server_identity()
    second = tls.generate_server_identity()
    assert first.certificate_der != second.certificate_der
    assert first.private_key_pem != second.private_key_pem


def test_server_context_requires_a_client_certificate(tmp_path: Path) -> None:
    identity = tls.generate_server_identity()
    client = make_client_certificate(tmp_path)
    context = tls.server_ssl_context(identity, client.certificate_pem, str(tmp_path))
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    # Only the given certificate is trusted; no system roots were loaded.
    assert len(context.get_ca_certs()) == 1
    # The private key was never written to disk.
    assert list(tmp_path.glob("identity-*")) == []


def test_identity_made_in_a_forked_child_arrives_whole() -> None:
    collect = tls.generate_server_identity_in_background()
    identity = collect()
    certificate = x509.load_der_x509_certificate(identity.certificate_der)
    assert certificate == x509.load_pem_x509_certificate(identity.certificate_pem)
    # The key in the PEM is the one the certificate was issued for.
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(identity.private_key_pem, password=None)
    assert key.public_key() == certificate.public_key()


@pytest.mark.parametrize("payload", [b"", b"\x00\x00\x00\x05abc", b"\x00\x00\x00\x01a" * 4])
def test_a_garbled_identity_from_the_child_is_rejected(payload: bytes) -> None:
    assert tls._unpack_identity(payload) is None


def test_server_certificate_is_canonical_der_signed_by_its_own_key() -> None:
    from cryptography.hazmat.primitives import serialization

    identity = tls.generate_server_identity()
    certificate = x509.load_der_x509_certificate(identity.certificate_der)
    # Re-encoding gives the same bytes: the hand-made DER is the canonical encoding.
    assert certificate.public_bytes(serialization.Encoding.DER) == identity.certificate_der
    certificate.verify_directly_issued_by(certificate)
    assert certificate.issuer == certificate.subject
    assert certificate.version == x509.Version.v3
    # RFC 5280: a positive serial of at most 20 octets.
    assert 0 < certificate.serial_number < 2**159
    identifier = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert identifier == x509.SubjectKeyIdentifier.from_public_key(certificate.public_key())
    organisations = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [attribute.value for attribute in organisations] == ["terraform-provider-pulumiservice"]
    key = serialization.load_pem_private_key(identity.private_key_pem, password=None)
    assert identity.private_key_pem == key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=datetime.UTC),
         b"\x17\x0d491231235959Z"),
        (datetime.datetime(2050, 1, 1, tzinfo=datetime.UTC), b"\x18\x0f20500101000000Z"),
    ],
)
def test_certificate_times_switch_to_generalized_time_in_2050(
    moment: datetime.datetime, expected: bytes
) -> None:
    assert tls._der_time(moment) == expected
