"""The per-process TLS identity and server context for go-plugin's automatic mutual TLS.

Terraform sends its own (ECDSA P-521, self-signed) client certificate in PLUGIN_CLIENT_CERT and
trusts exactly the certificate we print in the handshake line. We answer with a fresh key and
self-signed certificate per process, and accept only clients that present Terraform's certificate.
``cryptography`` is imported inside the functions: plaintext runs never pay for it.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import secrets
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass

SERVER_NAME = "localhost"
# Long enough for any single Terraform run; the key never outlives the process anyway.
CERTIFICATE_LIFETIME = datetime.timedelta(days=7)
# Tolerates a clock stepping back a little between generation and the client's check.
CLOCK_SKEW_ALLOWANCE = datetime.timedelta(minutes=5)
ALPN_PROTOCOLS = ["h2"]


@dataclass(frozen=True)
class ServerIdentity:
    certificate_der: bytes
    certificate_pem: bytes
    private_key_pem: bytes


def generate_server_identity() -> ServerIdentity:
    """A new ECDSA P-256 key and a self-signed CA certificate for ``localhost``.

    It is its own root (Go's verifier requires basicConstraints CA for a pool-only root) and is
    valid for both server and client authentication, as go-plugin's own certificates are.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "terraform-provider-pulumiservice"),
            x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW_ALLOWANCE)
        .not_valid_after(now + CERTIFICATE_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    return ServerIdentity(
        certificate_der=certificate.public_bytes(serialization.Encoding.DER),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def generate_server_identity_in_background() -> Callable[[], ServerIdentity]:
    """Start generating the identity in a forked child; returns a function that waits for it.

    Importing ``cryptography`` and making the key takes tens of milliseconds; a child process
    does it on another core while we import gRPC and the provider, which Terraform waits for on
    every provider start. Call this before any thread exists (fork copies only the caller).
    Falls back to generating in-process if forking or the child fails.
    """
    if not hasattr(os, "fork"):
        return generate_server_identity
    read_end, write_end = os.pipe()
    try:
        child = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return generate_server_identity
    if child == 0:  # pragma: no cover - runs in the forked child, measured by the tests
        _generate_into_pipe(read_end, write_end)

    os.close(write_end)

    def collect() -> ServerIdentity:
        try:
            with os.fdopen(read_end, "rb") as pipe:
                payload = pipe.read()
        finally:
            os.waitpid(child, 0)
        identity = _unpack_identity(payload)
        return identity if identity is not None else generate_server_identity()

    return collect


def _generate_into_pipe(read_end: int, write_end: int) -> None:  # pragma: no cover - child
    exit_code = 1
    try:
        os.close(read_end)
        # Terraform treats the plugin as exited only when stdout/stderr close: hold neither.
        null = os.open(os.devnull, os.O_RDWR)
        for descriptor in (0, 1, 2):
            os.dup2(null, descriptor)
        identity = generate_server_identity()
        payload = b"".join(
            struct.pack(">I", len(part)) + part
            for part in (
                identity.certificate_der,
                identity.certificate_pem,
                identity.private_key_pem,
            )
        )
        remaining = memoryview(payload)
        while remaining:
            remaining = remaining[os.write(write_end, remaining) :]
        exit_code = 0
    finally:
        os._exit(exit_code)


def _unpack_identity(payload: bytes) -> ServerIdentity | None:
    parts: list[bytes] = []
    offset = 0
    while offset + 4 <= len(payload) and len(parts) < 3:
        (length,) = struct.unpack_from(">I", payload, offset)
        offset += 4
        parts.append(payload[offset : offset + length])
        offset += length
    if len(parts) != 3 or offset != len(payload) or not all(parts):
        return None
    return ServerIdentity(parts[0], parts[1], parts[2])


def server_ssl_context(
    identity: ServerIdentity, client_certificate_pem: str, private_dir: str
) -> ssl.SSLContext:
    """TLS >= 1.2, ALPN h2, and a client certificate REQUIRED and checked against exactly
    ``client_certificate_pem`` (no system roots are loaded)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=client_certificate_pem)
    context.set_alpn_protocols(ALPN_PROTOCOLS)
    # No session tickets: each process serves one client, resumption buys nothing.
    context.options |= ssl.OP_NO_TICKET
    _load_identity(context, identity, private_dir)
    return context


def _load_identity(context: ssl.SSLContext, identity: ServerIdentity, private_dir: str) -> None:
    """``load_cert_chain`` only reads files. Feed it pipes via /dev/fd so the private key never
    touches a disk; where that is unavailable, fall back to an encrypted key in our 0700 dir."""
    if os.path.isdir("/dev/fd"):
        try:
            _load_identity_through_pipes(context, identity)
            return
        except (OSError, ssl.SSLError):
            pass
    _load_identity_through_encrypted_file(context, identity, private_dir)


def _load_identity_through_pipes(context: ssl.SSLContext, identity: ServerIdentity) -> None:
    descriptors: list[int] = []
    try:
        paths = []
        for content in (identity.certificate_pem, identity.private_key_pem):
            read_end, write_end = os.pipe()
            descriptors.append(read_end)
            try:
                # A PEM is far below the pipe buffer, so this write cannot block.
                os.write(write_end, content)
            finally:
                os.close(write_end)
            paths.append(f"/dev/fd/{read_end}")
        context.load_cert_chain(certfile=paths[0], keyfile=paths[1])
    finally:
        for descriptor in descriptors:
            os.close(descriptor)


def _load_identity_through_encrypted_file(
    context: ssl.SSLContext, identity: ServerIdentity, private_dir: str
) -> None:
    from cryptography.hazmat.primitives import serialization

    password = secrets.token_bytes(32)
    key = serialization.load_pem_private_key(identity.private_key_pem, password=None)
    encrypted_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    path = os.path.join(private_dir, f"identity-{secrets.token_hex(8)}.pem")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(encrypted_key + identity.certificate_pem)
        context.load_cert_chain(certfile=path, password=password)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
