"""cty values <-> msgpack, byte-for-byte as go-cty's cty/msgpack package writes them.

Decoding unpacks the whole buffer with msgpack's C unpacker, then walks the result by type.
Encoding builds plain Python objects in cty's order and packs them in one call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgpack

from terraform_provider_pulumiservice.cty.errors import CtyError
from terraform_provider_pulumiservice.cty.numbers import (
    Number,
    normalize_number,
    number_to_msgpack_object,
    parse_number_text,
)
from terraform_provider_pulumiservice.cty.types import (
    CtyType,
    Dynamic,
    List,
    Map,
    Object,
    Primitive,
    Set,
    Tuple,
    type_from_json_bytes,
    type_json_bytes,
)
from terraform_provider_pulumiservice.cty.values import UNKNOWN, Refinements, TypedValue, Unknown

# cty's extension codes: 0 = unknown, 12 = unknown with a refinements map payload.
UNKNOWN_EXT_CODE = 0
REFINED_UNKNOWN_EXT_CODE = 12

_NULLNESS = 1
_STRING_PREFIX = 2
_NUMBER_LOWER_BOUND = 3
_NUMBER_UPPER_BOUND = 4
_LENGTH_LOWER_BOUND = 5
_LENGTH_UPPER_BOUND = 6

_PLAIN_UNKNOWN = msgpack.ExtType(UNKNOWN_EXT_CODE, b"\x00")
_EXT_TYPES = (msgpack.ExtType, msgpack.Timestamp)


# --- decoding -----------------------------------------------------------------------------------


def decode_msgpack(data: bytes, t: CtyType) -> Any:
    """Decode DynamicValue.msgpack bytes under type `t` into the Python value model.

    Raises CtyError (with the path to the offending value) for any malformed input.
    """
    _require_cty_type(t)
    try:
        raw = msgpack.unpackb(
            data, raw=False, strict_map_key=True, object_pairs_hook=_unique_keys_dict
        )
    except _DuplicateKeyError as error:
        raise CtyError(f"msgpack map repeats key {error.key!r}") from None
    except Exception as error:  # any unpacker failure means malformed input, whatever its class
        raise CtyError(f"malformed msgpack: {_describe(error)}") from None
    try:
        return _decode(raw, t)
    except RecursionError:
        raise CtyError("value is nested too deeply") from None


def _require_cty_type(t: object) -> None:
    if not isinstance(t, CtyType):
        raise TypeError(f"expected a CtyType, got {type(t).__name__}")


class _DuplicateKeyError(Exception):
    def __init__(self, key: object) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys_dict(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[Any] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return result


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _decode(raw: Any, t: CtyType) -> Any:
    if raw is None:
        return None
    if isinstance(raw, _EXT_TYPES):
        return _decode_unknown(raw)
    return _DECODERS[type(t)](raw, t)


def _decode_primitive(raw: Any, t: CtyType) -> Any:
    assert isinstance(t, Primitive)
    raw_type = type(raw)
    if t.name == "string":
        if raw_type is str:
            return raw
    elif t.name == "number":
        return _decode_number(raw)
    elif raw_type is bool:
        return raw
    raise CtyError(f"expected {t.name}, got {_msgpack_kind(raw)}")


def _decode_number(raw: Any) -> Number:
    raw_type = type(raw)
    if raw_type is int:
        return int(raw)
    if raw_type is float:
        return normalize_number(raw)
    if raw_type is str:
        return parse_number_text(raw)
    raise CtyError(f"expected number, got {_msgpack_kind(raw)}")


def _decode_sequence(raw: Any, t: CtyType) -> list[Any]:
    assert isinstance(t, List | Set)
    if type(raw) is not list:
        raise CtyError(f"expected {t.friendly_name()}, got {_msgpack_kind(raw)}")
    element_type = t.element
    result = []
    index = 0
    try:
        for index, item in enumerate(raw):  # noqa: B007 - index is read by the error path
            result.append(_decode(item, element_type))
    except CtyError as error:
        raise error.prefixed(index) from None
    return result


def _decode_tuple(raw: Any, t: CtyType) -> list[Any]:
    assert isinstance(t, Tuple)
    if type(raw) is not list:
        raise CtyError(f"expected a tuple, got {_msgpack_kind(raw)}")
    if len(raw) != len(t.elements):
        raise CtyError(f"expected a tuple of {len(t.elements)} elements, got {len(raw)}")
    result = []
    index = 0
    try:
        for index, (item, element_type) in enumerate(zip(raw, t.elements, strict=True)):  # noqa: B007
            result.append(_decode(item, element_type))
    except CtyError as error:
        raise error.prefixed(index) from None
    return result


def _decode_map(raw: Any, t: CtyType) -> dict[str, Any]:
    assert isinstance(t, Map)
    if type(raw) is not dict:
        raise CtyError(f"expected {t.friendly_name()}, got {_msgpack_kind(raw)}")
    for key in raw:
        if type(key) is not str:
            raise CtyError(f"map keys must be strings, got {_msgpack_kind(key)}")
    element_type = t.element
    result = {}
    key = ""
    try:
        for key, item in raw.items():  # noqa: B007
            result[key] = _decode(item, element_type)
    except CtyError as error:
        raise error.prefixed(key) from None
    return result


def _decode_object(raw: Any, t: CtyType) -> dict[str, Any]:
    assert isinstance(t, Object)
    if type(raw) is not dict:
        raise CtyError(f"expected an object, got {_msgpack_kind(raw)}")
    attributes = t.attributes
    if len(raw) != len(attributes) or not all(name in raw for name in attributes):
        for name in attributes:
            if name not in raw:
                raise CtyError(f'missing attribute "{name}"')
        for key in raw:
            if key not in attributes:
                raise CtyError(f"unsupported attribute {_quote_key(key)}")
    result = {}
    name = ""
    try:
        for name, attribute_type in attributes.items():  # noqa: B007
            result[name] = _decode(raw[name], attribute_type)
    except CtyError as error:
        raise error.prefixed(name) from None
    return result


def _quote_key(key: object) -> str:
    return f'"{key}"' if isinstance(key, str) else repr(key)


def _decode_dynamic(raw: Any, t: CtyType) -> Any:
    if type(raw) is not list or len(raw) != 2 or type(raw[0]) not in (bytes, str):
        raise CtyError(
            f"expected a [type, value] pair for a dynamic value, got {_msgpack_kind(raw)}"
        )
    type_json = raw[0] if type(raw[0]) is bytes else raw[0].encode("utf-8")
    concrete_type = type_from_json_bytes(type_json)
    value = _decode(raw[1], concrete_type)
    if isinstance(concrete_type, Dynamic):
        return value
    return TypedValue(concrete_type, value)


_DECODERS: dict[type[CtyType], Callable[[Any, CtyType], Any]] = {
    Primitive: _decode_primitive,
    Dynamic: _decode_dynamic,
    List: _decode_sequence,
    Set: _decode_sequence,
    Map: _decode_map,
    Object: _decode_object,
    Tuple: _decode_tuple,
}


def _decode_unknown(ext: Any) -> Unknown:
    if not isinstance(ext, msgpack.ExtType) or ext.code != REFINED_UNKNOWN_EXT_CODE:
        return UNKNOWN
    try:
        payload = msgpack.unpackb(ext.data, raw=False, strict_map_key=False)
    except Exception as error:  # a malformed payload is malformed input, whatever the class
        raise CtyError(f"malformed unknown-value refinements: {_describe(error)}") from None
    if type(payload) is not dict:
        raise CtyError("unknown-value refinements must be a msgpack map")
    found: dict[str, Any] = {}
    for key, item in payload.items():
        if type(key) is not int:
            raise CtyError("unknown-value refinement keys must be integers")
        if key == _NULLNESS:
            found["nullness"] = _refinement(item, bool, "nullness")
        elif key == _STRING_PREFIX:
            found["string_prefix"] = _refinement(item, str, "string prefix")
        elif key == _NUMBER_LOWER_BOUND:
            found["number_lower_bound"] = _number_bound(item)
        elif key == _NUMBER_UPPER_BOUND:
            found["number_upper_bound"] = _number_bound(item)
        elif key == _LENGTH_LOWER_BOUND:
            found["length_lower_bound"] = _length_bound(item)
        elif key == _LENGTH_UPPER_BOUND:
            found["length_upper_bound"] = _length_bound(item)
        # Other keys are refinements newer than this codec; cty ignores them too.
    return Unknown(Refinements(**found))


def _refinement(item: Any, expected: type, what: str) -> Any:
    if type(item) is not expected:
        raise CtyError(f"unknown-value {what} refinement has the wrong type")
    return item


def _number_bound(item: Any) -> tuple[Number, bool]:
    if type(item) is not list or len(item) != 2 or type(item[1]) is not bool:
        raise CtyError("unknown-value number bound must be a [number, inclusive] pair")
    return _decode_number(item[0]), item[1]


def _length_bound(item: Any) -> int:
    if type(item) is not int or item < 0:
        raise CtyError("unknown-value length bound must be a non-negative integer")
    return int(item)


def _msgpack_kind(raw: Any) -> str:
    if raw is None:
        return "nil"
    return {
        bool: "bool",
        int: "integer",
        float: "float",
        str: "string",
        bytes: "binary",
        list: "array",
        dict: "map",
    }.get(type(raw), type(raw).__name__)


# --- encoding -----------------------------------------------------------------------------------


def encode_msgpack(value: Any, t: CtyType) -> bytes:
    """Encode a model value of type `t` exactly as cty would. Raises CtyError if it does not fit."""
    packable = to_msgpack_object(value, t)
    try:
        return bytes(msgpack.packb(packable, use_bin_type=True))
    except UnicodeEncodeError:
        raise CtyError("string is not valid Unicode text") from None


def to_msgpack_object(value: Any, t: CtyType) -> Any:
    """The Python structure whose msgpack encoding is cty's; validates `value` against `t`."""
    _require_cty_type(t)
    try:
        return _encode(value, t)
    except RecursionError:
        raise CtyError("value is nested too deeply") from None


def _encode(value: Any, t: CtyType) -> Any:
    if value is None:
        return None
    if isinstance(value, Unknown):
        return _encode_unknown(value)
    return _ENCODERS[type(t)](value, t)


def _encode_primitive(value: Any, t: CtyType) -> Any:
    assert isinstance(t, Primitive)
    if t.name == "string":
        if isinstance(value, str):
            return value
    elif t.name == "number":
        return number_to_msgpack_object(normalize_number(value))
    elif isinstance(value, bool):
        return value
    raise CtyError(f"expected {t.name}, got {type(value).__name__}")


def _encode_sequence(value: Any, t: CtyType) -> list[Any]:
    assert isinstance(t, List | Set)
    sets_allowed = isinstance(t, Set)
    if not (
        isinstance(value, list | tuple) or (sets_allowed and isinstance(value, set | frozenset))
    ):
        raise CtyError(f"expected a list for {t.friendly_name()}, got {type(value).__name__}")
    element_type = t.element
    result = []
    index = 0
    try:
        for index, item in enumerate(value):  # noqa: B007
            result.append(_encode(item, element_type))
    except CtyError as error:
        raise error.prefixed(index) from None
    return result


def _encode_tuple(value: Any, t: CtyType) -> list[Any]:
    assert isinstance(t, Tuple)
    if not isinstance(value, list | tuple) or len(value) != len(t.elements):
        raise CtyError(f"expected a list of {len(t.elements)} elements for {t.friendly_name()}")
    result = []
    index = 0
    try:
        for index, (item, element_type) in enumerate(zip(value, t.elements, strict=True)):  # noqa: B007
            result.append(_encode(item, element_type))
    except CtyError as error:
        raise error.prefixed(index) from None
    return result


def _encode_map(value: Any, t: CtyType) -> dict[str, Any]:
    assert isinstance(t, Map)
    if not isinstance(value, Mapping):
        raise CtyError(f"expected a dict for {t.friendly_name()}, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise CtyError(f"map keys must be strings, got {type(key).__name__}")
    element_type = t.element
    result = {}
    key = ""
    try:
        for key in sorted(value):
            result[key] = _encode(value[key], element_type)
    except CtyError as error:
        raise error.prefixed(key) from None
    return result


def _encode_object(value: Any, t: CtyType) -> dict[str, Any]:
    assert isinstance(t, Object)
    if not isinstance(value, Mapping):
        raise CtyError(f"expected a dict for an object, got {type(value).__name__}")
    attributes = t.attributes
    if len(value) != len(attributes) or not all(name in value for name in attributes):
        for name in attributes:
            if name not in value:
                raise CtyError(f'missing attribute "{name}"')
        for key in value:
            if key not in attributes:
                raise CtyError(f"unsupported attribute {_quote_key(key)}")
    result = {}
    name = ""
    try:
        for name, attribute_type in attributes.items():  # noqa: B007 - attributes iterate sorted
            result[name] = _encode(value[name], attribute_type)
    except CtyError as error:
        raise error.prefixed(name) from None
    return result


def _encode_dynamic(value: Any, t: CtyType) -> Any:
    if not isinstance(value, TypedValue):
        raise CtyError(
            f"a dynamic value must be a TypedValue, None or Unknown, got {type(value).__name__}"
        )
    if isinstance(value.type, Dynamic):
        return _encode(value.value, value.type)
    return [type_json_bytes(value.type), _encode(value.value, value.type)]


_ENCODERS: dict[type[CtyType], Callable[[Any, CtyType], Any]] = {
    Primitive: _encode_primitive,
    Dynamic: _encode_dynamic,
    List: _encode_sequence,
    Set: _encode_sequence,
    Map: _encode_map,
    Object: _encode_object,
    Tuple: _encode_tuple,
}


def _encode_unknown(value: Unknown) -> msgpack.ExtType:
    refinements = value.refinements
    if refinements is None:
        return _PLAIN_UNKNOWN
    payload: dict[int, Any] = {}
    if refinements.nullness is not None:
        payload[_NULLNESS] = bool(refinements.nullness)
    if refinements.string_prefix is not None:
        payload[_STRING_PREFIX] = str(refinements.string_prefix)
    if refinements.number_lower_bound is not None:
        payload[_NUMBER_LOWER_BOUND] = _encode_number_bound(refinements.number_lower_bound)
    if refinements.number_upper_bound is not None:
        payload[_NUMBER_UPPER_BOUND] = _encode_number_bound(refinements.number_upper_bound)
    if refinements.length_lower_bound is not None:
        payload[_LENGTH_LOWER_BOUND] = _encode_length_bound(refinements.length_lower_bound)
    if refinements.length_upper_bound is not None:
        payload[_LENGTH_UPPER_BOUND] = _encode_length_bound(refinements.length_upper_bound)
    try:
        packed = msgpack.packb(payload, use_bin_type=True)
    except UnicodeEncodeError:
        raise CtyError("string prefix refinement is not valid Unicode text") from None
    return msgpack.ExtType(REFINED_UNKNOWN_EXT_CODE, packed)


def _encode_number_bound(bound: Any) -> list[Any]:
    if not isinstance(bound, tuple | list) or len(bound) != 2 or not isinstance(bound[1], bool):
        raise CtyError("a number bound refinement is a (number, inclusive) pair")
    return [number_to_msgpack_object(normalize_number(bound[0])), bound[1]]


def _encode_length_bound(bound: Any) -> int:
    if isinstance(bound, bool) or not isinstance(bound, int) or not 0 <= bound < 2**64:
        raise CtyError("a length bound refinement is a non-negative 64-bit integer")
    return bound
