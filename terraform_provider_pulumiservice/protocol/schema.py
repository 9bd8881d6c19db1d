"""GetProviderSchema and GetMetadata."""

from __future__ import annotations

from terraform_provider_pulumiservice._proto import tfplugin6_pb2 as pb
from terraform_provider_pulumiservice.protocol.convert import schema_to_proto
from terraform_provider_pulumiservice.provider import DATA_SOURCES, PROVIDER_SCHEMA, RESOURCES

# Terraform may then fetch the schema once per command instead of once per provider process.
SERVER_CAPABILITIES = pb.ServerCapabilities(get_provider_schema_optional=True)


def get_provider_schema(_: pb.GetProviderSchema.Request) -> pb.GetProviderSchema.Response:
    return pb.GetProviderSchema.Response(
        provider=schema_to_proto(PROVIDER_SCHEMA),
        resource_schemas={name: schema_to_proto(r.schema) for name, r in RESOURCES.items()},
        data_source_schemas={name: schema_to_proto(d.schema) for name, d in DATA_SOURCES.items()},
        server_capabilities=SERVER_CAPABILITIES,
    )


def get_metadata(_: pb.GetMetadata.Request) -> pb.GetMetadata.Response:
    return pb.GetMetadata.Response(
        server_capabilities=SERVER_CAPABILITIES,
        resources=[pb.GetMetadata.ResourceMetadata(type_name=name) for name in RESOURCES],
        data_sources=[pb.GetMetadata.DataSourceMetadata(type_name=name) for name in DATA_SOURCES],
    )
