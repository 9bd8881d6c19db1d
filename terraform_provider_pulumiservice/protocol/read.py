"""ReadResource (refresh) and ReadDataSource."""

from __future__ import annotations

from terraform_provider_pulumiservice._proto import tfplugin6_pb2 as pb
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.protocol.convert import (
    ValueDecodeError,
    decode_value,
    diagnostics_to_proto,
    encode_value,
)
from terraform_provider_pulumiservice.protocol.session import ProviderSession
from terraform_provider_pulumiservice.provider import data_source_named, resource_named


def read_resource(
    session: ProviderSession, request: pb.ReadResource.Request
) -> pb.ReadResource.Response:
    diagnostics = Diagnostics()
    resource = resource_named(request.type_name, diagnostics)
    if resource is None:
        return pb.ReadResource.Response(diagnostics=diagnostics_to_proto(diagnostics))
    type_ = resource.schema.cty_type
    try:
        current = decode_value(request.current_state, type_, "current state")
    except ValueDecodeError as error:
        diagnostics.append(error.diagnostic)
        return pb.ReadResource.Response(diagnostics=diagnostics_to_proto(diagnostics))
    new_state = current
    if current is not None:
        client = session.client(diagnostics)
        if client is not None:
            new_state = resource.read(client, current, diagnostics)
    return pb.ReadResource.Response(
        new_state=encode_value(new_state, type_),
        private=request.private,
        diagnostics=diagnostics_to_proto(diagnostics),
    )


def read_data_source(
    session: ProviderSession, request: pb.ReadDataSource.Request
) -> pb.ReadDataSource.Response:
    diagnostics = Diagnostics()
    data_source = data_source_named(request.type_name, diagnostics)
    if data_source is None:
        return pb.ReadDataSource.Response(diagnostics=diagnostics_to_proto(diagnostics))
    type_ = data_source.schema.cty_type
    try:
        config = decode_value(request.config, type_, "configuration")
    except ValueDecodeError as error:
        diagnostics.append(error.diagnostic)
        return pb.ReadDataSource.Response(diagnostics=diagnostics_to_proto(diagnostics))
    state = None
    client = session.client(diagnostics)
    if client is not None and config is not None:
        state = data_source.read(client, config, diagnostics)
    return pb.ReadDataSource.Response(
        state=encode_value(state, type_), diagnostics=diagnostics_to_proto(diagnostics)
    )
