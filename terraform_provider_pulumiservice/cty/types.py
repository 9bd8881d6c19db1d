"""cty types: immutable, hashable, compared by structure, with cty's JSON type notation."""

from __future__ import annotations

import json
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from terraform_provider_pulumiservice.cty.errors import CtyError


class CtyType:
    """Base of every cty type. Subclasses are frozen dataclasses."""

    __slots__ = ()

    def friendly_name(self) -> str:
        """The type in Terraform's type-constraint syntax, for messages."""
        raise NotImplementedError


PrimitiveName = Literal["string", "number", "bool"]


@dataclass(frozen=True, slots=True)
class Primitive(CtyType):
    name: PrimitiveName

    def friendly_name(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.name.upper()


@dataclass(frozen=True, slots=True)
class Dynamic(CtyType):
    """cty.DynamicPseudoType: a slot whose value carries its own type."""

    def friendly_name(self) -> str:
        return "any"

    def __repr__(self) -> str:
        return "DYNAMIC"


STRING = Primitive("string")
NUMBER = Primitive("number")
BOOL = Primitive("bool")
DYNAMIC = Dynamic()


@dataclass(frozen=True, slots=True)
class List(CtyType):
    element: CtyType

    def __post_init__(self) -> None:
        _require_type(self.element)

    def friendly_name(self) -> str:
        return f"list({self.element.friendly_name()})"


@dataclass(frozen=True, slots=True)
class Set(CtyType):
    element: CtyType

    def __post_init__(self) -> None:
        _require_type(self.element)

    def friendly_name(self) -> str:
        return f"set({self.element.friendly_name()})"


@dataclass(frozen=True, slots=True)
class Map(CtyType):
    element: CtyType

    def __post_init__(self) -> None:
        _require_type(self.element)

    def friendly_name(self) -> str:
        return f"map({self.element.friendly_name()})"


class AttributeTypes(Mapping[str, CtyType]):
    """An immutable, hashable name -> type mapping that iterates in sorted name order."""

    __slots__ = ("_items", "_index", "_hash")

    def __init__(self, source: Mapping[str, CtyType] | Iterable[tuple[str, CtyType]] = ()) -> None:
        pairs = source.items() if isinstance(source, Mapping) else source
        index: dict[str, CtyType] = {}
        for name, attribute_type in pairs:
            if not isinstance(name, str):
                raise TypeError(f"object attribute names are strings, not {type(name).__name__}")
            _require_type(attribute_type)
            index[name] = attribute_type
        self._items = tuple(sorted(index.items()))
        self._index = dict(self._items)
        self._hash = hash(self._items)

    def __getitem__(self, name: str) -> CtyType:
        return self._index[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    # The dict views are much faster than Mapping's generic ones; codecs iterate these a lot.
    def keys(self) -> KeysView[str]:
        return self._index.keys()

    def values(self) -> ValuesView[CtyType]:
        return self._index.values()

    def items(self) -> ItemsView[str, CtyType]:
        return self._index.items()

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AttributeTypes):
            return self._hash == other._hash and self._items == other._items
        if isinstance(other, Mapping):
            return self._index == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self._index)


@dataclass(frozen=True, slots=True)
class Object(CtyType):
    """An object type. `optional` names attributes a type constraint lets callers omit."""

    attributes: Mapping[str, CtyType]
    optional: frozenset[str] = field(default=frozenset())

    def __post_init__(self) -> None:
        if not isinstance(self.attributes, AttributeTypes):
            object.__setattr__(self, "attributes", AttributeTypes(self.attributes))
        if not isinstance(self.optional, frozenset):
            object.__setattr__(self, "optional", frozenset(self.optional))
        for name in self.optional:
            if name not in self.attributes:
                raise TypeError(f"optional attribute {name!r} is not an attribute of the object")

    def friendly_name(self) -> str:
        parts = []
        for name, attribute_type in self.attributes.items():
            rendered = attribute_type.friendly_name()
            if name in self.optional:
                rendered = f"optional({rendered})"
            parts.append(f"{name}={rendered}")
        return "object({" + ", ".join(parts) + "})"


@dataclass(frozen=True, slots=True)
class Tuple(CtyType):
    elements: tuple[CtyType, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.elements, tuple):
            object.__setattr__(self, "elements", tuple(self.elements))
        for element in self.elements:
            _require_type(element)

    def friendly_name(self) -> str:
        return "tuple([" + ", ".join(e.friendly_name() for e in self.elements) + "])"


def _require_type(candidate: object) -> None:
    if not isinstance(candidate, CtyType):
        raise TypeError(f"expected a CtyType, got {type(candidate).__name__}")


_PRIMITIVES_BY_NAME: dict[str, CtyType] = {
    "string": STRING,
    "number": NUMBER,
    "bool": BOOL,
    "dynamic": DYNAMIC,
}
_COLLECTIONS_BY_NAME: dict[str, type[List] | type[Set] | type[Map]] = {
    "list": List,
    "set": Set,
    "map": Map,
}


def type_to_json(t: CtyType) -> Any:
    """cty's JSON notation: "string", ["list", T], ["object", {...}(, [optional...])], ..."""
    if isinstance(t, Primitive):
        return t.name
    if isinstance(t, Dynamic):
        return "dynamic"
    if isinstance(t, List):
        return ["list", type_to_json(t.element)]
    if isinstance(t, Set):
        return ["set", type_to_json(t.element)]
    if isinstance(t, Map):
        return ["map", type_to_json(t.element)]
    if isinstance(t, Object):
        attributes = {name: type_to_json(a) for name, a in t.attributes.items()}
        if t.optional:
            return ["object", attributes, sorted(t.optional)]
        return ["object", attributes]
    if isinstance(t, Tuple):
        return ["tuple", [type_to_json(e) for e in t.elements]]
    raise TypeError(f"not a cty type: {t!r}")


def type_from_json(obj: Any) -> CtyType:
    """Parse cty's JSON type notation (already decoded from JSON text)."""
    try:
        return _type_from_json(obj)
    except RecursionError:
        raise CtyError("type is nested too deeply") from None


def _type_from_json(obj: Any) -> CtyType:
    if isinstance(obj, str):
        primitive = _PRIMITIVES_BY_NAME.get(obj)
        if primitive is None:
            raise CtyError(f"invalid type name {obj!r}")
        return primitive
    if not isinstance(obj, list) or not obj or not isinstance(obj[0], str):
        raise CtyError(f"invalid type specification {_preview(obj)}")
    kind = obj[0]
    collection = _COLLECTIONS_BY_NAME.get(kind)
    if collection is not None:
        if len(obj) != 2:
            raise CtyError(f"{kind} type needs exactly one element type")
        return collection(_type_from_json(obj[1]))
    if kind == "tuple":
        if len(obj) != 2 or not isinstance(obj[1], list):
            raise CtyError("tuple type needs a list of element types")
        return Tuple(tuple(_type_from_json(e) for e in obj[1]))
    if kind == "object":
        if len(obj) not in (2, 3) or not isinstance(obj[1], dict):
            raise CtyError("object type needs an attribute-type object")
        attributes = {}
        for name, attribute_json in obj[1].items():
            if not isinstance(name, str):
                raise CtyError("object attribute names must be strings")
            attributes[name] = _type_from_json(attribute_json)
        optional: frozenset[str] = frozenset()
        if len(obj) == 3:
            names = obj[2]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise CtyError("object optional attributes must be a list of names")
            unknown = [n for n in names if n not in attributes]
            if unknown:
                raise CtyError(f"optional attribute {unknown[0]!r} is not an attribute")
            optional = frozenset(names)
        return Object(attributes, optional)
    raise CtyError(f"invalid type kind {kind!r}")


def _preview(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 60 else text[:57] + "..."


# Go's encoding/json escapes these even inside strings; cty's type JSON goes through it.
_GO_JSON_EXTRA_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def go_json_dumps(obj: Any) -> str:
    """Compact JSON with sorted keys, escaped as Go's encoding/json does."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text.translate(_GO_JSON_EXTRA_ESCAPES)


@lru_cache(maxsize=1024)
def type_json_bytes(t: CtyType) -> bytes:
    """The compact type JSON cty writes (schemas, dynamic-value wrappers)."""
    try:
        return go_json_dumps(type_to_json(t)).encode("utf-8")
    except UnicodeEncodeError:
        raise CtyError("object attribute name is not valid Unicode text") from None


@lru_cache(maxsize=1024)
def type_from_json_bytes(data: bytes) -> CtyType:
    """Parse type JSON text, as found in schemas and dynamic-value wrappers."""
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise CtyError(f"invalid type JSON: {error}") from None
    return type_from_json(obj)
