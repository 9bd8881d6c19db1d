"""A local HTTPS provider registry and network mirror, a throwaway CA and throwaway GnuPG keys.

Test fixtures only: the CA, the server certificate and the keys are made per test session in
temporary directories and are never shipped. The registry speaks provider registry protocol v1
(service discovery, `versions`, `download/{os}/{arch}`); anything else under the server's root
directory is served as a static file, which is all a provider network mirror needs.
"""

from __future__ import annotations

import datetime
import hashlib
import http.server
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# --- a throwaway certificate authority -----------------------------------------------------


@dataclass(frozen=True)
class ScratchCertificates:
    ca_file: Path  # PEM; give it to Terraform as SSL_CERT_FILE
    cert_file: Path  # the server's certificate for localhost and 127.0.0.1
    key_file: Path


def make_test_certificates(directory: Path) -> ScratchCertificates:
    """A CA and a server certificate it signed for `localhost` and 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tfps test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    certificates = ScratchCertificates(
        directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    )
    certificates.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    certificates.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    certificates.key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificates


# --- throwaway GnuPG keys -------------------------------------------------------------------


@dataclass
class GnuPG:
    """A private GNUPGHOME with keys made for one test session."""

    home: Path
    fingerprints: list[str] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        environment = dict(os.environ)
        environment["GNUPGHOME"] = str(self.home)
        environment.update(extra)
        return environment

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        gpg = shutil.which("gpg")
        assert gpg, "gpg is not on PATH"
        result = subprocess.run(
            [gpg, "--batch", *args], env=self.env(), capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=120,
        )
        assert result.returncode == 0, f"gpg {' '.join(args)} failed:\n{result.stderr}"
        return result

    def generate_key(self, name: str) -> str:
        """A new RSA signing key without passphrase; returns its fingerprint."""
        self.run("--passphrase", "", "--quick-generate-key", f"{name} <{name}@example.invalid>",
                 "rsa2048", "sign", "1d")
        listing = self.run("--with-colons", "--list-secret-keys", f"{name}@example.invalid")
        fingerprints = [
            line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr:")
        ]
        assert fingerprints, listing.stdout
        self.fingerprints.append(fingerprints[0])
        return fingerprints[0]

    def armored_public_key(self, fingerprint: str) -> str:
        return self.run("--armor", "--export", fingerprint).stdout

    def stop(self) -> None:
        """Stop the gpg-agent this home started (it would outlive the test otherwise)."""
        gpgconf = shutil.which("gpgconf")
        if gpgconf:
            subprocess.run(
                [gpgconf, "--kill", "gpg-agent"], env=self.env(), capture_output=True,
                stdin=subprocess.DEVNULL, timeout=30, check=False,
            )


@contextmanager
def gnupg_home() -> Iterator[GnuPG]:
    # A short path: gpg-agent's socket lives in the home and unix socket paths are short.
    home = Path(tempfile.mkdtemp(prefix="tfps-gpg-"))
    home.chmod(0o700)
    gnupg = GnuPG(home)
    try:
        yield gnupg
    finally:
        gnupg.stop()
        shutil.rmtree(home, ignore_errors=True)


# --- the HTTPS server -----------------------------------------------------------------------


@dataclass
class RegistryProvider:
    """One provider version the registry offers, from a release directory."""

    namespace: str
    type: str
    version: str
    release_dir: Path  # holds <name>_<version>_<os>_<arch>.zip, SHA256SUMS, .sig
    protocols: list[str]
    public_key_armor: str
    key_id: str
    # file name -> the name actually served for it (to serve a tampered zip)
    substitutes: dict[str, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"terraform-provider-{self.type}_{self.version}"

    def platforms(self) -> list[tuple[str, str]]:
        found = []
        for archive in sorted(self.release_dir.glob(f"{self.prefix}_*_*.zip")):
            platform = archive.name.removeprefix(self.prefix + "_").removesuffix(".zip")
            os_name, arch = platform.split("_")
            found.append((os_name, arch))
        return found


class HttpsServer:
    """A threaded HTTPS server on 127.0.0.1 for `localhost:<port>`; static files from `root`,
    plus the registry protocol's JSON documents for the providers added to it."""

    def __init__(self, root: Path, certificates: ScratchCertificates) -> None:
        self.root = root
        self.providers: dict[tuple[str, str], RegistryProvider] = {}
        self.requests: list[str] = []
        handler = self._handler_class()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificates.cert_file, certificates.key_file)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        """The registry host name as Terraform writes it in a source address."""
        return f"localhost:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def start(self) -> HttpsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def add_provider(self, provider: RegistryProvider) -> None:
        self.providers[(provider.namespace, provider.type)] = provider

    # The registry protocol ------------------------------------------------------------------

    def _document(self, path: str) -> Any:
        if path == "/.well-known/terraform.json":
            return {"providers.v1": "/v1/providers/"}
        parts = path.strip("/").split("/")
        if len(parts) < 5 or parts[:2] != ["v1", "providers"]:
            return None
        provider = self.providers.get((parts[2], parts[3]))
        if provider is None:
            return None
        if parts[4:] == ["versions"]:
            return {
                "versions": [
                    {
                        "version": provider.version,
                        "protocols": provider.protocols,
                        "platforms": [{"os": o, "arch": a} for o, a in provider.platforms()],
                    }
                ]
            }
        if len(parts) == 8 and parts[4] == provider.version and parts[5] == "download":
            os_name, arch = parts[6], parts[7]
            filename = f"{provider.prefix}_{os_name}_{arch}.zip"
            archive = provider.release_dir / filename
            if not archive.exists():
                return None
            base = f"{self.url}/files/{provider.namespace}/{provider.type}"
            return {
                "protocols": provider.protocols,
                "os": os_name,
                "arch": arch,
                "filename": filename,
                "download_url": f"{base}/{filename}",
                "shasums_url": f"{base}/{provider.prefix}_SHA256SUMS",
                "shasums_signature_url": f"{base}/{provider.prefix}_SHA256SUMS.sig",
                "shasum": hashlib.sha256(archive.read_bytes()).hexdigest(),
                "signing_keys": {
                    "gpg_public_keys": [
                        {
                            "key_id": provider.key_id,
                            "ascii_armor": provider.public_key_armor,
                            "trust_signature": "",
                            "source": "tfps tests",
                            "source_url": None,
                        }
                    ]
                },
            }
        return None

    def _file(self, path: str) -> Path | None:
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[0] == "files":
            provider = self.providers.get((parts[1], parts[2]))
            if provider is None:
                return None
            name = provider.substitutes.get(parts[3], parts[3])
            candidate = provider.release_dir / name
            return candidate if candidate.is_file() else None
        candidate = (self.root / path.lstrip("/")).resolve()
        if self.root.resolve() not in candidate.parents or not candidate.is_file():
            return None
        return candidate

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?", 1)[0]
                server.requests.append(path)
                document = server._document(path)
                if document is not None:
                    self._send(200, json.dumps(document).encode(), "application/json")
                    return
                found = server._file(path)
                if found is None:
                    self._send(404, b'{"errors":["not found"]}', "application/json")
                    return
                content_type = (
                    "application/json" if found.suffix == ".json" else "application/octet-stream"
                )
                self._send(200, found.read_bytes(), content_type)

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


@contextmanager
def https_server(root: Path, certificates: ScratchCertificates) -> Iterator[HttpsServer]:
    server = HttpsServer(root, certificates).start()
    try:
        yield server
    finally:
        server.stop()


def key_id_of(fingerprint: str) -> str:
    """The long key id (last 16 hex digits of the fingerprint), as registries list it."""
    return fingerprint[-16:].upper()


def tfrc_without_mirrors(path: Path, extra: str = "") -> Path:
    """A CLI configuration with no provider_installation override (plain registry installs)."""
    path.write_text(f"# tfps registry test\n{extra}")
    return path

