"""go-plugin handshake: the magic cookie, protocol negotiation and the stdout handshake line.

Standard library only: this runs before anything heavy is imported.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
PROTOCOL_VERSIONS_KEY = "PLUGIN_PROTOCOL_VERSIONS"
CLIENT_CERT_KEY = "PLUGIN_CLIENT_CERT"
SOCKET_DIR_KEY = "PLUGIN_UNIX_SOCKET_DIR"

CORE_PROTOCOL_VERSION = 1
PLUGIN_PROTOCOL_VERSION = 6

NOT_A_COMMAND_MESSAGE = """\
This binary is a plugin for Terraform/OpenTofu; it is not meant to be run directly.
Run terraform (or tofu) init/plan/apply in a configuration that uses the provider
"pulumi/pulumiservice", and Terraform will start this program itself.
To use a locally built copy, point Terraform at it with dev_overrides in a CLI config file
(see README), or run it with --debug and export the TF_REATTACH_PROVIDERS line it prints.
"""

USAGE = """\
usage: terraform-provider-pulumiservice [--debug]

Terraform/OpenTofu provider for Pulumi Cloud agent tasks. Terraform starts this program itself.
  --debug    serve until interrupted and print the TF_REATTACH_PROVIDERS value to export,
             so Terraform attaches to this process (e.g. to run it under a debugger)
"""


class HandshakeError(Exception):
    """The environment does not describe a Terraform client we can serve."""


def has_magic_cookie(environ: Mapping[str, str]) -> bool:
    return environ.get(MAGIC_COOKIE_KEY) == MAGIC_COOKIE_VALUE


def negotiate_protocol_version(environ: Mapping[str, str]) -> int:
    """Pick protocol 6 from the client's offered versions (unset means the client assumes 6)."""
    offered_text = environ.get(PROTOCOL_VERSIONS_KEY, "").strip()
    if not offered_text:
        return PLUGIN_PROTOCOL_VERSION
    offered: list[int] = []
    for item in offered_text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            offered.append(int(item))
        except ValueError:
            raise HandshakeError(
                f"{PROTOCOL_VERSIONS_KEY}={offered_text!r} is not a comma-separated list of "
                "protocol versions"
            ) from None
    if PLUGIN_PROTOCOL_VERSION not in offered:
        listed = ", ".join(str(v) for v in offered) or "none"
        raise HandshakeError(
            f"this provider speaks Terraform plugin protocol {PLUGIN_PROTOCOL_VERSION}, but the "
            f"client offered only: {listed}. Use Terraform >= 1.0 or OpenTofu >= 1.6."
        )
    return PLUGIN_PROTOCOL_VERSION


def encode_certificate(cert_der: bytes) -> str:
    """Standard base64 without padding, as go-plugin decodes it (RawStdEncoding)."""
    return base64.b64encode(cert_der).decode("ascii").rstrip("=")


def handshake_line(socket_path: str, cert_der: bytes | None) -> str:
    """``CORE|APP|unix|<path>|grpc|<cert>``: exactly six fields, the last empty without TLS."""
    if "|" in socket_path or "\n" in socket_path:
        raise HandshakeError(f"socket path {socket_path!r} cannot be sent in a handshake line")
    cert = encode_certificate(cert_der) if cert_der else ""
    fields = [
        str(CORE_PROTOCOL_VERSION),
        str(PLUGIN_PROTOCOL_VERSION),
        "unix",
        socket_path,
        "grpc",
        cert,
    ]
    return "|".join(fields)


def reattach_config(provider_address: str, pid: int, socket_path: str) -> str:
    """The TF_REATTACH_PROVIDERS JSON that makes Terraform use an already running provider."""
    config = {
        provider_address: {
            "Protocol": "grpc",
            "ProtocolVersion": PLUGIN_PROTOCOL_VERSION,
            "Pid": pid,
            "Test": True,
            "Addr": {"Network": "unix", "String": socket_path},
        }
    }
    return json.dumps(config, separators=(",", ":"))
