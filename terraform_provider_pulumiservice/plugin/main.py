"""The provider program (console script and `python -m terraform_provider_pulumiservice`).

Terraform starts the provider several times per command, so everything heavy (gRPC, protobuf,
the provider itself, TLS) is imported only after the cheap checks have passed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from terraform_provider_pulumiservice.plugin import handshake


def main(
    argv: Sequence[str] | None = None,
    *,
    servicer_factory: Callable[[], Any] | None = None,
) -> int:
    """Run the provider. Returns an exit code for argument/handshake errors; once serving, it
    ends the process itself (``os._exit``) so a stuck RPC thread cannot delay the exit.

    ``servicer_factory`` replaces the real ``ProviderServicer`` (tests inject a stand-in).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = False
    for argument in arguments:
        if argument in ("-h", "--help"):
            sys.stdout.write(handshake.USAGE)
            return 0
        if argument == "--version":
            from terraform_provider_pulumiservice._version import VERSION

            sys.stdout.write(f"terraform-provider-pulumiservice {VERSION}\n")
            return 0
        if argument in ("--debug", "-debug"):
            debug = True
            continue
        sys.stderr.write(f"unknown argument {argument!r}\n\n{handshake.USAGE}")
        return 2

    if not debug:
        # Before anything slow: a Ctrl-C during startup must not kill a Terraform-run provider.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if not handshake.has_magic_cookie(os.environ):
            sys.stderr.write(handshake.NOT_A_COMMAND_MESSAGE)
            return 1
        try:
            handshake.negotiate_protocol_version(os.environ)
            handshake.choose_transport(os.environ, os.name)
        except handshake.HandshakeError as error:
            sys.stderr.write(f"terraform-provider-pulumiservice: {error}\n")
            return 1

    identity_source = None
    if not debug and os.environ.get(handshake.CLIENT_CERT_KEY, "").strip():
        from terraform_provider_pulumiservice.plugin.tls import (
            generate_server_identity_in_background,
        )

        # Overlaps key generation with the imports below (Terraform waits for every start).
        identity_source = generate_server_identity_in_background()

    import logging

    from terraform_provider_pulumiservice.plugin import logging as plugin_logging

    plugin_logging.install()
    try:
        if servicer_factory is None:
            from terraform_provider_pulumiservice.protocol.servicer import ProviderServicer

            servicer_factory = ProviderServicer
        from terraform_provider_pulumiservice.plugin.server import serve

        exit_code = serve(servicer_factory(), debug=debug, identity_source=identity_source)
    except Exception:
        logging.getLogger(__name__).exception("the provider failed")
        exit_code = 1
    _flush_standard_streams()
    os._exit(exit_code)


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


if __name__ == "__main__":
    sys.exit(main())
