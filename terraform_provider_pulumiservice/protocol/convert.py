"""Conversions between tfplugin6 protobuf messages and the provider's own types.

Everything that knows the shape of a protobuf message lives here, so operations work on plain
values, schemas, paths and diagnostics.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from terraform_provider_pulumiservice._proto import tfplugin6_pb2 as pb
from terraform_provider_pulumiservice.cty import (
    CtyError,
    CtyType,
    decode_json,
    decode_msgpack,
    encode_msgpack,
    type_json_bytes,
)
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostic, Diagnostics, Severity
from terraform_provider_pulumiservice.framework.path import (
    AttributePath,
    AttributeStep,
    IndexStep,
    KeyStep,
)
from terraform_provider_pulumiservice.framework.schema import Attribute, Nesting, Schema

_NULL_MSGPACK = b"\xc0"


class ValueDecodeError(Exception):
    """A DynamicValue from Terraform could not be decoded; carries a diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.summary)
        self.diagnostic = diagnostic


def path_from_cty(steps: Iterable[str | int]) -> AttributePath:
    path = AttributePath()
    for index, step in enumerate(steps):
        if isinstance(step, int):
            path = path.index(step)
        elif index == 0:
            path = path.attribute(step)
        else:
            # cty paths do not say whether a string step is an attribute or a map key; the
            # schemas here only nest attributes under objects, so treat it as an attribute.
            path = path.attribute(step)
    return path


def decode_value(value: pb.DynamicValue, type_: CtyType, what: str) -> Any:
    """Decodes a DynamicValue, raising ValueDecodeError with a diagnostic naming the problem."""
    try:
        if value.msgpack:
            return decode_msgpack(value.msgpack, type_)
        if value.json:
            return decode_json(value.json, type_)
        return None
    except CtyError as error:
        raise ValueDecodeError(
            Diagnostic(
                Severity.ERROR,
                f"Invalid {what} received from Terraform",
                f"The {what} could not be decoded: {error.message}",
                path_from_cty(error.path) if error.path else None,
            )
        ) from error


def encode_value(value: Any, type_: CtyType) -> pb.DynamicValue:
    if value is None:
        return pb.DynamicValue(msgpack=_NULL_MSGPACK)
    return pb.DynamicValue(msgpack=encode_msgpack(value, type_))


def path_to_proto(path: AttributePath) -> pb.AttributePath:
    steps = []
    for step in path.steps:
        if isinstance(step, AttributeStep):
            steps.append(pb.AttributePath.Step(attribute_name=step.name))
        elif isinstance(step, IndexStep):
            steps.append(pb.AttributePath.Step(element_key_int=step.index))
        elif isinstance(step, KeyStep):
            steps.append(pb.AttributePath.Step(element_key_string=step.key))
    return pb.AttributePath(steps=steps)


def diagnostics_to_proto(diagnostics: Diagnostics) -> list[pb.Diagnostic]:
    converted = []
    for diagnostic in diagnostics:
        message = pb.Diagnostic(
            severity=(
                pb.Diagnostic.ERROR
                if diagnostic.severity is Severity.ERROR
                else pb.Diagnostic.WARNING
            ),
            summary=diagnostic.summary,
            detail=diagnostic.detail,
        )
        if diagnostic.path is not None and diagnostic.path.steps:
            message.attribute.CopyFrom(path_to_proto(diagnostic.path))
        converted.append(message)
    return converted


def _attribute_to_proto(name: str, attribute: Attribute) -> pb.Schema.Attribute:
    message = pb.Schema.Attribute(
        name=name,
        description=attribute.description,
        description_kind=pb.MARKDOWN,
        required=attribute.required,
        optional=attribute.optional,
        computed=attribute.computed,
        sensitive=attribute.sensitive,
    )
    if attribute.nested is None:
        message.type = type_json_bytes(attribute.type)
    else:
        message.nested_type.CopyFrom(
            pb.Schema.Object(
                attributes=[
                    _attribute_to_proto(member, nested)
                    for member, nested in sorted(attribute.nested.attributes.items())
                ],
                nesting=(
                    pb.Schema.Object.LIST
                    if attribute.nested.nesting is Nesting.LIST
                    else pb.Schema.Object.SINGLE
                ),
            )
        )
    return message


def schema_to_proto(schema: Schema) -> pb.Schema:
    return pb.Schema(
        version=schema.version,
        block=pb.Schema.Block(
            attributes=[
                _attribute_to_proto(name, attribute)
                for name, attribute in sorted(schema.attributes.items())
            ],
            block_types=[
                pb.Schema.NestedBlock(
                    type_name=name,
                    block=pb.Schema.Block(
                        attributes=[
                            _attribute_to_proto(member, attribute)
                            for member, attribute in sorted(block.attributes.items())
                        ],
                        description=block.description,
                        description_kind=pb.MARKDOWN,
                    ),
                    nesting=pb.Schema.NestedBlock.SINGLE,
                )
                for name, block in sorted(schema.blocks.items())
            ],
            description=schema.description,
            description_kind=pb.MARKDOWN,
        ),
    )


def private_from_bytes(data: bytes) -> dict[str, Any]:
    if not data:
        return {}
    try:
        decoded = json.loads(data)
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def private_to_bytes(private: dict[str, Any]) -> bytes:
    return json.dumps(private, sort_keys=True).encode() if private else b""
