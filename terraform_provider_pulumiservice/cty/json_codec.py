"""cty values <-> Terraform's JSON value form (state files, RawState.json), as go-cty's cty/json.

Numbers are JSON numbers written exactly; a value in a dynamic slot is written
{"value": <value>, "type": <type JSON>}; unknowns cannot be written. Decoding is as lenient as
cty's: numbers and bools may arrive as strings (and vice versa), an object may omit attributes
(they decode as null).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from terraform_provider_pulumiservice.cty.errors import CtyError
from terraform_provider_pulumiservice.cty.numbers import (
    normalize_number,
    number_text,
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
    go_json_dumps,
    type_from_json,
    type_json_bytes,
)
from terraform_provider_pulumiservice.cty.values import TypedValue, Unknown

# --- decoding -----------------------------------------------------------------------------------


class _JSONNumber:
    """A JSON number token, kept apart from JSON strings so conversions can tell them apart."""

    __slots__ = ("value",)

    def __init__(self, text: str) -> None:
        self.value = parse_number_text(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKeyError("a JSON object repeats a key")
    return result


def decode_json(data: bytes | str, t: CtyType, *, ignore_extra_attributes: bool = False) -> Any:
    """Decode Terraform's JSON value form under type `t` into the Python value model.

    ignore_extra_attributes drops object attributes the type does not have (state written by an
    older schema) instead of failing. Raises CtyError for anything malformed.
    """
    if not isinstance(t, CtyType):
        raise TypeError(f"expected a CtyType, got {type(t).__name__}")
    try:
        raw = json.loads(
            data,
            parse_int=_JSONNumber,
            parse_float=_JSONNumber,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys_dict,
        )
    except CtyError:
        raise
    except Exception as error:  # any parser failure means malformed input, whatever its class
        raise CtyError(f"malformed JSON: {error}") from None
    try:
        return _JSONDecoder(ignore_extra_attributes).decode(raw, t)
    except RecursionError:
        raise CtyError("value is nested too deeply") from None


class _JSONDecoder:
    def __init__(self, ignore_extra_attributes: bool) -> None:
        self.ignore_extra_attributes = ignore_extra_attributes
        self.by_type: dict[type[CtyType], Callable[[Any, Any], Any]] = {
            Primitive: self.primitive,
            Dynamic: self.dynamic,
            List: self.sequence,
            Set: self.sequence,
            Tuple: self.tuple,
            Map: self.map,
            Object: self.object,
        }

    def decode(self, raw: Any, t: CtyType) -> Any:
        if raw is None:
            return None
        return self.by_type[type(t)](raw, t)

    def primitive(self, raw: Any, t: Primitive) -> Any:
        if t.name == "string":
            if isinstance(raw, str):
                return raw
            if isinstance(raw, bool):
                return "true" if raw else "false"
            if isinstance(raw, _JSONNumber):
                return number_text(raw.value)
        elif t.name == "number":
            if isinstance(raw, _JSONNumber):
                return raw.value
            if isinstance(raw, str):
                return parse_number_text(raw)
        else:
            if isinstance(raw, bool):
                return raw
            if raw in ("true", "false"):
                return raw == "true"
        raise CtyError(f"expected {t.name}, got {_json_kind(raw)}")

    def sequence(self, raw: Any, t: List | Set) -> list[Any]:
        if not isinstance(raw, list):
            raise CtyError(f"expected {t.friendly_name()}, got {_json_kind(raw)}")
        result = []
        index = 0
        try:
            for index, item in enumerate(raw):  # noqa: B007 - index is read by the error path
                result.append(self.decode(item, t.element))
        except CtyError as error:
            raise error.prefixed(index) from None
        return result

    def tuple(self, raw: Any, t: Tuple) -> list[Any]:
        if not isinstance(raw, list):
            raise CtyError(f"expected a tuple, got {_json_kind(raw)}")
        if len(raw) != len(t.elements):
            raise CtyError(f"expected a tuple of {len(t.elements)} elements, got {len(raw)}")
        result = []
        index = 0
        try:
            for index, (item, element_type) in enumerate(zip(raw, t.elements, strict=True)):  # noqa: B007
                result.append(self.decode(item, element_type))
        except CtyError as error:
            raise error.prefixed(index) from None
        return result

    def map(self, raw: Any, t: Map) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise CtyError(f"expected {t.friendly_name()}, got {_json_kind(raw)}")
        result = {}
        key = ""
        try:
            for key, item in raw.items():  # noqa: B007
                result[key] = self.decode(item, t.element)
        except CtyError as error:
            raise error.prefixed(key) from None
        return result

    def object(self, raw: Any, t: Object) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise CtyError(f"expected an object, got {_json_kind(raw)}")
        attributes = t.attributes
        if not self.ignore_extra_attributes:
            for key in raw:
                if key not in attributes:
                    raise CtyError(f'unsupported attribute "{key}"')
        result = {}
        name = ""
        try:
            for name, attribute_type in attributes.items():  # noqa: B007
                result[name] = self.decode(raw.get(name), attribute_type)
        except CtyError as error:
            raise error.prefixed(name) from None
        return result

    def dynamic(self, raw: Any, t: Dynamic) -> Any:
        if not isinstance(raw, dict) or set(raw) != {"value", "type"}:
            raise CtyError('a dynamic value must be a {"value": ..., "type": ...} object')
        concrete_type = type_from_json(_plain_type_json(raw["type"]))
        value = self.decode(raw["value"], concrete_type)
        if isinstance(concrete_type, Dynamic):
            return value
        return TypedValue(concrete_type, value)


def _plain_type_json(raw: Any) -> Any:
    """Type JSON as parsed here may hold number tokens; type_from_json must reject, not crash."""
    if isinstance(raw, _JSONNumber):
        return float("nan")
    if isinstance(raw, list):
        return [_plain_type_json(item) for item in raw]
    if isinstance(raw, dict):
        return {key: _plain_type_json(item) for key, item in raw.items()}
    return raw


def _json_kind(raw: Any) -> str:
    if isinstance(raw, bool):
        return "bool"
    if isinstance(raw, _JSONNumber):
        return "number"
    if isinstance(raw, str):
        return "string"
    if isinstance(raw, list):
        return "array"
    if isinstance(raw, dict):
        return "object"
    return type(raw).__name__


# --- encoding -----------------------------------------------------------------------------------


def encode_json(value: Any, t: CtyType) -> bytes:
    """Encode a wholly known model value of type `t` as cty's JSON (compact, keys sorted)."""
    if not isinstance(t, CtyType):
        raise TypeError(f"expected a CtyType, got {type(t).__name__}")
    parts: list[str] = []
    try:
        _encode(value, t, parts)
        return "".join(parts).encode("utf-8")
    except RecursionError:
        raise CtyError("value is nested too deeply") from None
    except UnicodeEncodeError:
        raise CtyError("string is not valid Unicode text") from None


def _encode(value: Any, t: CtyType, out: list[str]) -> None:
    if isinstance(value, Unknown):
        raise CtyError("value is not known; JSON cannot represent unknown values")
    if isinstance(t, Dynamic):
        _encode_dynamic(value, out)
        return
    if value is None:
        out.append("null")
        return
    if isinstance(t, Primitive):
        _encode_primitive(value, t, out)
    elif isinstance(t, List | Set):
        sets_allowed = isinstance(t, Set)
        if not (
            isinstance(value, list | tuple) or (sets_allowed and isinstance(value, set | frozenset))
        ):
            raise CtyError(f"expected a list for {t.friendly_name()}, got {type(value).__name__}")
        _encode_items([(item, t.element) for item in value], out)
    elif isinstance(t, Tuple):
        if not isinstance(value, list | tuple) or len(value) != len(t.elements):
            raise CtyError(f"expected a list of {len(t.elements)} elements for {t.friendly_name()}")
        _encode_items(list(zip(value, t.elements, strict=True)), out)
    elif isinstance(t, Map):
        if not isinstance(value, Mapping):
            raise CtyError(f"expected a dict for {t.friendly_name()}, got {type(value).__name__}")
        for key in value:
            if not isinstance(key, str):
                raise CtyError(f"map keys must be strings, got {type(key).__name__}")
        _encode_members([(key, value[key], t.element) for key in sorted(value)], out)
    elif isinstance(t, Object):
        if not isinstance(value, Mapping):
            raise CtyError(f"expected a dict for an object, got {type(value).__name__}")
        for key in value:
            if key not in t.attributes:
                raise CtyError(f"unsupported attribute {key!r}")
        for name in t.attributes:
            if name not in value:
                raise CtyError(f'missing attribute "{name}"')
        _encode_members([(n, value[n], at) for n, at in t.attributes.items()], out)
    else:  # pragma: no cover - every CtyType subclass is handled above
        raise CtyError(f"unsupported type {t!r}")


def _encode_primitive(value: Any, t: Primitive, out: list[str]) -> None:
    if t.name == "string":
        if isinstance(value, str):
            out.append(go_json_dumps(value))
            return
    elif t.name == "number":
        number = normalize_number(value)
        if isinstance(number, Decimal) and number.is_infinite():
            raise CtyError("infinity cannot be written as a JSON number")
        out.append(number_text(number))
        return
    elif isinstance(value, bool):
        out.append("true" if value else "false")
        return
    raise CtyError(f"expected {t.name}, got {type(value).__name__}")


def _encode_items(items: list[tuple[Any, CtyType]], out: list[str]) -> None:
    out.append("[")
    index = 0
    try:
        for index, (item, item_type) in enumerate(items):
            if index:
                out.append(",")
            _encode(item, item_type, out)
    except CtyError as error:
        raise error.prefixed(index) from None
    out.append("]")


def _encode_members(members: list[tuple[str, Any, CtyType]], out: list[str]) -> None:
    out.append("{")
    key = ""
    try:
        for position, (key, item, item_type) in enumerate(members):
            if position:
                out.append(",")
            out.append(go_json_dumps(key))
            out.append(":")
            _encode(item, item_type, out)
    except CtyError as error:
        raise error.prefixed(key) from None
    out.append("}")


def _encode_dynamic(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
        return
    if not isinstance(value, TypedValue):
        raise CtyError(
            f"a dynamic value must be a TypedValue, None or Unknown, got {type(value).__name__}"
        )
    if isinstance(value.type, Dynamic):
        _encode(value.value, value.type, out)
        return
    if isinstance(value.value, Unknown):
        raise CtyError("value is not known; JSON cannot represent unknown values")
    out.append('{"value":')
    _encode(value.value, value.type, out)
    out.append(',"type":')
    out.append(type_json_bytes(value.type).decode("utf-8"))
    out.append("}")
