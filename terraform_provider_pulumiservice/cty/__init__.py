"""cty: Terraform's type system and value codecs (msgpack for the wire, JSON for state).

See `values` for the Python value model every other layer works with.
"""

from terraform_provider_pulumiservice.cty.errors import CtyError, PathStep, format_path
from terraform_provider_pulumiservice.cty.json_codec import decode_json, encode_json
from terraform_provider_pulumiservice.cty.msgpack_codec import (
    decode_msgpack,
    encode_msgpack,
    to_msgpack_object,
)
from terraform_provider_pulumiservice.cty.numbers import (
    NEGATIVE_INFINITY,
    POSITIVE_INFINITY,
    Number,
    normalize_number,
    number_text,
    parse_number_text,
)
from terraform_provider_pulumiservice.cty.types import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    AttributeTypes,
    CtyType,
    Dynamic,
    List,
    Map,
    Object,
    Primitive,
    Set,
    Tuple,
    type_from_json,
    type_from_json_bytes,
    type_json_bytes,
    type_to_json,
)
from terraform_provider_pulumiservice.cty.values import (
    UNKNOWN,
    Refinements,
    TypedValue,
    Unknown,
    infer_typed_value,
    is_known,
    is_wholly_known,
    typed_value_to_plain,
)

__all__ = [
    "BOOL",
    "DYNAMIC",
    "NEGATIVE_INFINITY",
    "NUMBER",
    "POSITIVE_INFINITY",
    "STRING",
    "UNKNOWN",
    "AttributeTypes",
    "CtyError",
    "CtyType",
    "Dynamic",
    "List",
    "Map",
    "Number",
    "Object",
    "PathStep",
    "Primitive",
    "Refinements",
    "Set",
    "Tuple",
    "TypedValue",
    "Unknown",
    "decode_json",
    "decode_msgpack",
    "encode_json",
    "encode_msgpack",
    "format_path",
    "infer_typed_value",
    "is_known",
    "is_wholly_known",
    "normalize_number",
    "number_text",
    "parse_number_text",
    "to_msgpack_object",
    "type_from_json",
    "type_from_json_bytes",
    "type_json_bytes",
    "type_to_json",
    "typed_value_to_plain",
]
