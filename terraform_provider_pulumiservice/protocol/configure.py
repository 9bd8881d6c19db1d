"""ConfigureProvider: resolve settings and build the API client."""

from __future__ import annotations

from terraform_provider_pulumiservice._proto import tfplugin6_pb2 as pb
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.protocol.convert import (
    ValueDecodeError,
    decode_value,
    diagnostics_to_proto,
)
from terraform_provider_pulumiservice.protocol.session import ProviderSession
from terraform_provider_pulumiservice.provider import PROVIDER_SCHEMA, configure_client


def configure_provider(
    session: ProviderSession, request: pb.ConfigureProvider.Request
) -> pb.ConfigureProvider.Response:
    diagnostics = Diagnostics()
    try:
        config = decode_value(request.config, PROVIDER_SCHEMA.cty_type, "provider configuration")
    except ValueDecodeError as error:
        diagnostics.append(error.diagnostic)
    else:
        client = configure_client(config or {}, diagnostics)
        if client is not None:
            session.set_client(client)
    return pb.ConfigureProvider.Response(diagnostics=diagnostics_to_proto(diagnostics))
