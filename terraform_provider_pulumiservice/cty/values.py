"""The Python value model for cty values.

null               -> None
string             -> str
bool               -> bool
number             -> int when integral (any size), else decimal.Decimal (exact, +/-Infinity)
list / set / tuple -> list
map / object       -> dict[str, value] (objects carry every attribute)
unknown            -> Unknown (UNKNOWN when it has no refinements)
dynamic slot       -> TypedValue(type, value) for a concretely typed value (also a typed null or
                      unknown), None for the untyped null, Unknown for a wholly unknown value
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from terraform_provider_pulumiservice.cty.errors import CtyError, PathStep
from terraform_provider_pulumiservice.cty.numbers import Number, normalize_number
from terraform_provider_pulumiservice.cty.types import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    CtyType,
    Dynamic,
    List,
    Map,
    Object,
    Primitive,
    Set,
    Tuple,
)


@dataclass(frozen=True, slots=True)
class Refinements:
    """What is already known about an unknown value (cty's refinement keys in parentheses).

    nullness: False = definitely not null (1). string_prefix: known prefix of a string (2).
    number_lower_bound / number_upper_bound: (bound, inclusive) (3, 4).
    length_lower_bound / length_upper_bound: inclusive collection length bounds (5, 6).
    """

    nullness: bool | None = None
    string_prefix: str | None = None
    number_lower_bound: tuple[Number, bool] | None = None
    number_upper_bound: tuple[Number, bool] | None = None
    length_lower_bound: int | None = None
    length_upper_bound: int | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


@dataclass(frozen=True, slots=True)
class Unknown:
    """A value not known until apply. Empty refinements are stored as None."""

    refinements: Refinements | None = None

    def __post_init__(self) -> None:
        if self.refinements is not None and self.refinements.is_empty():
            object.__setattr__(self, "refinements", None)


UNKNOWN = Unknown()


@dataclass(frozen=True, slots=True)
class TypedValue:
    """A value together with its concrete type, as held by a dynamic slot."""

    type: CtyType
    value: Any


def is_known(value: Any) -> bool:
    """False for an unknown value, including a typed unknown in a dynamic slot."""
    if isinstance(value, TypedValue):
        return not isinstance(value.value, Unknown)
    return not isinstance(value, Unknown)


def is_wholly_known(value: Any) -> bool:
    """True when no unknown appears anywhere inside the value."""
    if isinstance(value, Unknown):
        return False
    if isinstance(value, TypedValue):
        return is_wholly_known(value.value)
    if isinstance(value, dict):
        return all(is_wholly_known(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(is_wholly_known(v) for v in value)
    return True


def infer_typed_value(obj: Any) -> TypedValue:
    """Type JSON-like Python data the way Terraform's jsondecode does.

    dict -> object, list/tuple -> tuple, str -> string, int/float/Decimal -> number,
    bool -> bool, None -> untyped null (TypedValue(DYNAMIC, None)). Nested values are plain model
    values of the inferred type; a nested None sits in a dynamic-typed slot as None.
    """
    inferred_type, value = _infer(obj, ())
    return TypedValue(inferred_type, value)


def _infer(obj: Any, path: tuple[PathStep, ...]) -> tuple[CtyType, Any]:
    if obj is None:
        return DYNAMIC, None
    if isinstance(obj, bool):
        return BOOL, obj
    if isinstance(obj, str):
        return STRING, obj
    if isinstance(obj, int | Decimal):
        return NUMBER, normalize_number(obj, path)
    if isinstance(obj, float):
        if math.isfinite(obj) and not obj.is_integer():
            # JSON text "0.1" arrived as the float nearest 0.1; its shortest repr is what was meant.
            return NUMBER, normalize_number(Decimal(repr(obj)), path)
        return NUMBER, normalize_number(obj, path)
    if isinstance(obj, Mapping):
        attribute_types: dict[str, CtyType] = {}
        values: dict[str, Any] = {}
        for name in sorted(obj, key=_sort_key(path)):
            attribute_types[name], values[name] = _infer(obj[name], (*path, name))
        return Object(attribute_types), values
    if isinstance(obj, list | tuple):
        element_types: list[CtyType] = []
        elements: list[Any] = []
        for index, item in enumerate(obj):
            element_type, element = _infer(item, (*path, index))
            element_types.append(element_type)
            elements.append(element)
        return Tuple(tuple(element_types)), elements
    raise CtyError(f"cannot infer a cty type for {type(obj).__name__}", path)


def _sort_key(path: tuple[PathStep, ...]) -> Any:
    def key(name: object) -> str:
        if not isinstance(name, str):
            raise CtyError("object keys must be strings", path)
        return name

    return key


def typed_value_to_plain(v: TypedValue | None, *, exact_numbers: bool = False) -> Any:
    """The inverse of infer_typed_value: JSON-like Python data (dict/list/str/int/float/bool/None).

    Integers come back as int. Other numbers come back as float (so the result can go straight
    to json.dumps), or as exact Decimal with exact_numbers=True. Unknowns raise CtyError.
    """
    if v is None:
        return None
    if isinstance(v, Unknown):
        raise CtyError("value is not known")
    return _to_plain(v.value, v.type, (), exact_numbers)


def _to_plain(value: Any, t: CtyType, path: tuple[PathStep, ...], exact: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, Unknown):
        raise CtyError("value is not known", path)
    if isinstance(t, Dynamic):
        if not isinstance(value, TypedValue):
            raise CtyError("a dynamic value must be a TypedValue", path)
        return _to_plain(value.value, value.type, path, exact)
    if isinstance(t, Primitive):
        if t is NUMBER or t == NUMBER:
            number = normalize_number(value, path)
            if isinstance(number, int) or exact:
                return number
            return float(number)
        return value
    if isinstance(t, List | Set):
        _require(isinstance(value, list | tuple), "expected a list", path)
        return [_to_plain(item, t.element, (*path, i), exact) for i, item in enumerate(value)]
    if isinstance(t, Tuple):
        _require(
            isinstance(value, list | tuple) and len(value) == len(t.elements),
            f"expected a list of {len(t.elements)} elements",
            path,
        )
        return [
            _to_plain(item, item_type, (*path, i), exact)
            for i, (item, item_type) in enumerate(zip(value, t.elements, strict=True))
        ]
    if isinstance(t, Map):
        _require(isinstance(value, Mapping), "expected a dict", path)
        return {k: _to_plain(item, t.element, (*path, k), exact) for k, item in value.items()}
    if isinstance(t, Object):
        _require(isinstance(value, Mapping), "expected a dict", path)
        return {
            name: _to_plain(value.get(name), attribute_type, (*path, name), exact)
            for name, attribute_type in t.attributes.items()
        }
    raise CtyError(f"unsupported type {t!r}", path)


def _require(condition: bool, message: str, path: tuple[PathStep, ...]) -> None:
    if not condition:
        raise CtyError(message, path)
