"""ValidateProviderConfig, ValidateResourceConfig and ValidateDataResourceConfig.

Runs every attribute's validators on known values only: unknown values during plan are never
errors. No API call is ever made here.
"""

from __future__ import annotations

from typing import Any

from terraform_provider_pulumiservice._proto import tfplugin6_pb2 as pb
from terraform_provider_pulumiservice.cty import Unknown
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.path import AttributePath
from terraform_provider_pulumiservice.framework.schema import Schema
from terraform_provider_pulumiservice.protocol.convert import (
    ValueDecodeError,
    decode_value,
    diagnostics_to_proto,
)
from terraform_provider_pulumiservice.provider import DATA_SOURCES, PROVIDER_SCHEMA, RESOURCES


def validate_attributes(schema: Schema, config: dict[str, Any], diagnostics: Diagnostics) -> None:
    for name, attribute in schema.attributes.items():
        value = config.get(name)
        if value is None or isinstance(value, Unknown):
            continue
        path = AttributePath.root(name)
        for validator in attribute.validators:
            validator.validate(value, path, diagnostics)


def _decode_config(schema: Schema, value: pb.DynamicValue, diagnostics: Diagnostics) -> Any:
    try:
        config = decode_value(value, schema.cty_type, "configuration")
    except ValueDecodeError as error:
        diagnostics.append(error.diagnostic)
        return None
    return config


def validate_provider_config(
    request: pb.ValidateProviderConfig.Request,
) -> pb.ValidateProviderConfig.Response:
    diagnostics = Diagnostics()
    config = _decode_config(PROVIDER_SCHEMA, request.config, diagnostics)
    if isinstance(config, dict):
        validate_attributes(PROVIDER_SCHEMA, config, diagnostics)
    return pb.ValidateProviderConfig.Response(diagnostics=diagnostics_to_proto(diagnostics))


def validate_resource_config(
    request: pb.ValidateResourceConfig.Request,
) -> pb.ValidateResourceConfig.Response:
    diagnostics = Diagnostics()
    resource = RESOURCES.get(request.type_name)
    if resource is None:
        diagnostics.error("Unknown resource type", f"This provider has no {request.type_name!r}.")
    else:
        config = _decode_config(resource.schema, request.config, diagnostics)
        if isinstance(config, dict):
            validate_attributes(resource.schema, config, diagnostics)
            resource.validate_config(config, diagnostics)
    return pb.ValidateResourceConfig.Response(diagnostics=diagnostics_to_proto(diagnostics))


def validate_data_resource_config(
    request: pb.ValidateDataResourceConfig.Request,
) -> pb.ValidateDataResourceConfig.Response:
    diagnostics = Diagnostics()
    data_source = DATA_SOURCES.get(request.type_name)
    if data_source is None:
        diagnostics.error("Unknown data source", f"This provider has no {request.type_name!r}.")
    else:
        config = _decode_config(data_source.schema, request.config, diagnostics)
        if isinstance(config, dict):
            validate_attributes(data_source.schema, config, diagnostics)
            data_source.validate_config(config, diagnostics)
    return pb.ValidateDataResourceConfig.Response(diagnostics=diagnostics_to_proto(diagnostics))
