"""ValidateProviderConfig, ValidateResourceConfig and ValidateDataResourceConfig.

Runs every attribute's validators (nested members and blocks too) on known values only: unknown
values during plan are never errors. No API call is ever made here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from terraform_provider_pulumiservice._proto import tfplugin6_pb2 as pb
from terraform_provider_pulumiservice.cty import Unknown
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostic, Diagnostics
from terraform_provider_pulumiservice.framework.path import AttributePath
from terraform_provider_pulumiservice.framework.schema import Attribute, Nesting, Schema
from terraform_provider_pulumiservice.protocol.convert import (
    ValueDecodeError,
    decode_value,
    diagnostics_to_proto,
)
from terraform_provider_pulumiservice.provider import (
    PROVIDER_SCHEMA,
    data_source_named,
    resource_named,
)


def validate_attributes(schema: Schema, config: dict[str, Any], diagnostics: Diagnostics) -> None:
    """Every validator of every attribute, nested members and block attributes included."""
    _validate_members(schema.attributes, config, AttributePath(), diagnostics)
    for name, block in schema.blocks.items():
        value = config.get(name)
        if isinstance(value, dict):
            _validate_members(block.attributes, value, AttributePath.root(name), diagnostics)


def _validate_members(
    attributes: Mapping[str, Attribute],
    values: Mapping[str, Any],
    parent: AttributePath,
    diagnostics: Diagnostics,
) -> None:
    for name, attribute in attributes.items():
        value = values.get(name)
        if value is None or isinstance(value, Unknown):
            continue
        path = parent.attribute(name) if parent.steps else AttributePath.root(name)
        for validator in attribute.validators:
            validator.validate(value, path, diagnostics)
        nested = attribute.nested
        if nested is None:
            continue
        if nested.nesting is Nesting.SINGLE:
            if isinstance(value, dict):
                _validate_element(nested.attributes, value, path, diagnostics)
            continue
        if isinstance(value, list):
            for index, element in enumerate(value):
                if isinstance(element, dict):
                    _validate_element(nested.attributes, element, path.index(index), diagnostics)


def _validate_element(
    attributes: Mapping[str, Attribute],
    element: Mapping[str, Any],
    element_path: AttributePath,
    diagnostics: Diagnostics,
) -> None:
    """The members of one nested object. Their diagnostics name the member in the text and
    point at the object: Terraform finds the source line of a list element or an attribute,
    not of a member inside an object expression."""
    found = Diagnostics()
    _validate_members(attributes, element, element_path, found)
    diagnostics.extend(
        Diagnostic(d.severity, d.summary, d.detail, element_path if d.path else None)
        for d in found
    )


def _validate_config(
    schema: Schema,
    value: pb.DynamicValue,
    diagnostics: Diagnostics,
    validate_whole: Callable[[dict[str, Any], Diagnostics], None] | None = None,
) -> None:
    try:
        config = decode_value(value, schema.cty_type, "configuration")
    except ValueDecodeError as error:
        diagnostics.append(error.diagnostic)
        return
    if isinstance(config, dict):
        validate_attributes(schema, config, diagnostics)
        if validate_whole is not None:
            validate_whole(config, diagnostics)


def validate_provider_config(
    request: pb.ValidateProviderConfig.Request,
) -> pb.ValidateProviderConfig.Response:
    diagnostics = Diagnostics()
    _validate_config(PROVIDER_SCHEMA, request.config, diagnostics)
    return pb.ValidateProviderConfig.Response(diagnostics=diagnostics_to_proto(diagnostics))


def validate_resource_config(
    request: pb.ValidateResourceConfig.Request,
) -> pb.ValidateResourceConfig.Response:
    diagnostics = Diagnostics()
    resource = resource_named(request.type_name, diagnostics)
    if resource is not None:
        _validate_config(resource.schema, request.config, diagnostics, resource.validate_config)
    return pb.ValidateResourceConfig.Response(diagnostics=diagnostics_to_proto(diagnostics))


def validate_data_resource_config(
    request: pb.ValidateDataResourceConfig.Request,
) -> pb.ValidateDataResourceConfig.Response:
    diagnostics = Diagnostics()
    data_source = data_source_named(request.type_name, diagnostics)
    if data_source is not None:
        _validate_config(
            data_source.schema, request.config, diagnostics, data_source.validate_config
        )
    return pb.ValidateDataResourceConfig.Response(diagnostics=diagnostics_to_proto(diagnostics))
