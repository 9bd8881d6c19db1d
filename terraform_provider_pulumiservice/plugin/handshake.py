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
# Ours, not go-plugin's: "tcp" forces a loopback TCP listener where unix sockets would work.
TRANSPORT_KEY = "TFPS_PLUGIN_TRANSPORT"
TRANSPORTS = ("unix", "tcp")
# go-plugin's TCP listeners are on loopback only, on a port in [PLUGIN_MIN_PORT, PLUGIN_MAX_PORT].
TCP_HOST = "127.0.0.1"
MIN_PORT_KEY = "PLUGIN_MIN_PORT"
MAX_PORT_KEY = "PLUGIN_MAX_PORT"

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


def choose_transport(environ: Mapping[str, str], os_name: str) -> str:
    """``unix`` (a socket in a private directory) or ``tcp`` (127.0.0.1 and a free port), as
    go-plugin chooses: tcp where unix sockets are unavailable (Windows), unless TRANSPORT_KEY
    names one."""
    wanted = environ.get(TRANSPORT_KEY, "").strip().lower()
    if not wanted:
        return "tcp" if os_name == "nt" else "unix"
    if wanted not in TRANSPORTS:
        raise HandshakeError(
            f"{TRANSPORT_KEY}={wanted!r} is not a plugin transport; use one of: "
            + ", ".join(TRANSPORTS)
        )
    if wanted == "unix" and os_name == "nt":
        raise HandshakeError(f"{TRANSPORT_KEY}=unix is not available on Windows; use tcp")
    return wanted


def tcp_ports(environ: Mapping[str, str], start: int = 0) -> list[int]:
    """Ports to try for a TCP listener: the client's [PLUGIN_MIN_PORT, PLUGIN_MAX_PORT] range,
    beginning at ``start`` (an offset, so providers started together rarely collide), or [0]
    (any free port) when the range is unset or unusable."""
    try:
        low = int(environ.get(MIN_PORT_KEY, ""))
        high = int(environ.get(MAX_PORT_KEY, ""))
    except ValueError:
        return [0]
    if not 0 < low <= high <= 65535:
        return [0]
    ports = list(range(low, high + 1))
    offset = start % len(ports)
    return ports[offset:] + ports[:offset]


def encode_certificate(cert_der: bytes) -> str:
    """Standard base64 without padding, as go-plugin decodes it (RawStdEncoding)."""
    return base64.b64encode(cert_der).decode("ascii").rstrip("=")


def handshake_line(address: str, cert_der: bytes | None, network: str = "unix") -> str:
    """``CORE|APP|<network>|<address>|grpc|<cert>``: exactly six fields, the last empty without
    TLS. The address is a socket path (unix) or ``127.0.0.1:PORT`` (tcp)."""
    if network not in TRANSPORTS:
        raise HandshakeError(f"network {network!r} is not one of: " + ", ".join(TRANSPORTS))
    if "|" in address or "\n" in address:
        raise HandshakeError(f"address {address!r} cannot be sent in a handshake line")
    cert = encode_certificate(cert_der) if cert_der else ""
    fields = [
        str(CORE_PROTOCOL_VERSION),
        str(PLUGIN_PROTOCOL_VERSION),
        network,
        address,
        "grpc",
        cert,
    ]
    return "|".join(fields)


def reattach_config(
    provider_address: str, pid: int, socket_path: str, network: str = "unix"
) -> str:
    """The TF_REATTACH_PROVIDERS JSON that makes Terraform use an already running provider."""
    config = {
        provider_address: {
            "Protocol": "grpc",
            "ProtocolVersion": PLUGIN_PROTOCOL_VERSION,
            "Pid": pid,
            "Test": True,
            "Addr": {"Network": network, "String": socket_path},
        }
    }
    return json.dumps(config, separators=(",", ":"))
