"""The per-process TLS identity and server context for go-plugin's automatic mutual TLS.

Terraform sends its own (ECDSA P-521, self-signed) client certificate in PLUGIN_CLIENT_CERT and
trusts exactly the certificate we print in the handshake line. We answer with a fresh key and
self-signed certificate per process, and accept only clients that present Terraform's certificate.
``cryptography`` is imported inside the functions: plaintext runs never pay for it.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
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

    The certificate and the PKCS #8 key are DER-encoded here rather than with ``cryptography``'s
    x509 builder and serialization modules: importing those costs more CPU than the rest of the
    identity on every provider start. ``cryptography`` makes the key and the signature only.
    """
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.hashes import SHA1, SHA256, Hash

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_numbers()
    point = b"\x04" + public.x.to_bytes(32, "big") + public.y.to_bytes(32, "big")
    # subjectKeyIdentifier: SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2, method 1).
    # cryptography's hash and os.urandom rather than hashlib and secrets: the provider process
    # itself then imports neither at start-up.
    key_identifier = Hash(SHA1())
    key_identifier.update(point)
    now = datetime.datetime.now(datetime.UTC)
    tbs = _tbs_certificate(
        # A positive serial of at most 20 octets (RFC 5280 4.1.2.2), random like go-plugin's.
        serial=int.from_bytes(os.urandom(20), "big") >> 1 | 1 << 158,
        not_before=now - CLOCK_SKEW_ALLOWANCE,
        not_after=now + CERTIFICATE_LIFETIME,
        public_point=point,
        key_identifier=key_identifier.finalize(),
    )
    signature = key.sign(tbs, ec.ECDSA(SHA256()))
    certificate_der = _der_sequence(
        tbs, _ECDSA_WITH_SHA256, _der(_BIT_STRING, b"\x00" + signature)
    )
    private_value = key.private_numbers().private_value.to_bytes(32, "big")
    # PKCS #8 PrivateKeyInfo holding an RFC 5915 ECPrivateKey (with its public key).
    private_key_der = _der_sequence(
        _der_integer(0),
        _der_sequence(_OID_EC_PUBLIC_KEY, _OID_PRIME256V1),
        _der(_OCTET_STRING, _der_sequence(
            _der_integer(1),
            _der(_OCTET_STRING, private_value),
            _der(0xA1, _der(_BIT_STRING, b"\x00" + point)),
        )),
    )
    return ServerIdentity(
        certificate_der=certificate_der,
        certificate_pem=_pem("CERTIFICATE", certificate_der),
        private_key_pem=_pem("PRIVATE KEY", private_key_der),
    )


# --- DER (X.690) for the one certificate shape we issue ------------------------------------------

_BOOLEAN, _INTEGER, _BIT_STRING, _OCTET_STRING = 0x01, 0x02, 0x03, 0x04
_UTF8_STRING, _SEQUENCE, _SET = 0x0C, 0x30, 0x31
_UTC_TIME, _GENERALIZED_TIME = 0x17, 0x18


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes((tag, length)) + content
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(octets))) + octets + content


def _der_sequence(*items: bytes) -> bytes:
    return _der(_SEQUENCE, b"".join(items))


def _der_integer(value: int) -> bytes:
    # Non-negative only; one leading zero octet keeps the high bit from reading as a sign.
    return _der(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _der_oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    encoded = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        encoded.extend(reversed(chunk))
    return _der(0x06, bytes(encoded))


def _der_time(moment: datetime.datetime) -> bytes:
    # RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; always UTC, seconds.
    moment = moment.astimezone(datetime.UTC)
    if moment.year < 2050:
        return _der(_UTC_TIME, moment.strftime("%y%m%d%H%M%SZ").encode())
    return _der(_GENERALIZED_TIME, moment.strftime("%Y%m%d%H%M%SZ").encode())


def _extension(oid: bytes, value: bytes, *, critical: bool) -> bytes:
    flag = _der(_BOOLEAN, b"\xff") if critical else b""
    return _der_sequence(oid, flag, _der(_OCTET_STRING, value))


_ECDSA_WITH_SHA256 = _der_sequence(_der_oid("1.2.840.10045.4.3.2"))
_OID_EC_PUBLIC_KEY = _der_oid("1.2.840.10045.2.1")
_OID_PRIME256V1 = _der_oid("1.2.840.10045.3.1.7")
_NAME = _der_sequence(
    _der(_SET, _der_sequence(
        _der_oid("2.5.4.10"), _der(_UTF8_STRING, b"terraform-provider-pulumiservice"))),
    _der(_SET, _der_sequence(_der_oid("2.5.4.3"), _der(_UTF8_STRING, SERVER_NAME.encode()))),
)
_FIXED_EXTENSIONS = (
    # basicConstraints: CA, no path length limit.
    _extension(_der_oid("2.5.29.19"), _der_sequence(_der(_BOOLEAN, b"\xff")), critical=True),
    # keyUsage: digitalSignature (bit 0) and keyCertSign (bit 5); 2 unused trailing bits.
    _extension(_der_oid("2.5.29.15"), _der(_BIT_STRING, b"\x02\x84"), critical=True),
    # extKeyUsage: serverAuth, clientAuth.
    _extension(
        _der_oid("2.5.29.37"),
        _der_sequence(_der_oid("1.3.6.1.5.5.7.3.1"), _der_oid("1.3.6.1.5.5.7.3.2")),
        critical=False,
    ),
    # subjectAltName: dNSName [2] IMPLICIT IA5String.
    _extension(_der_oid("2.5.29.17"), _der_sequence(_der(0x82, SERVER_NAME.encode())),
               critical=False),
)


def _tbs_certificate(
    *, serial: int, not_before: datetime.datetime, not_after: datetime.datetime,
    public_point: bytes, key_identifier: bytes,
) -> bytes:
    public_key_info = _der_sequence(
        _der_sequence(_OID_EC_PUBLIC_KEY, _OID_PRIME256V1),
        _der(_BIT_STRING, b"\x00" + public_point),
    )
    key_identifier_extension = _extension(
        _der_oid("2.5.29.14"), _der(_OCTET_STRING, key_identifier), critical=False
    )
    return _der_sequence(
        _der(0xA0, _der_integer(2)),  # version v3
        _der_integer(serial),
        _ECDSA_WITH_SHA256,
        _NAME,  # issuer: self-signed
        _der_sequence(_der_time(not_before), _der_time(not_after)),
        _NAME,  # subject
        public_key_info,
        _der(0xA3, _der_sequence(*_FIXED_EXTENSIONS, key_identifier_extension)),
    )


def _pem(label: str, der: bytes) -> bytes:
    text = base64.b64encode(der).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    pem = f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"
    return pem.encode()


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
    import secrets

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
