"""cty types: structural equality, JSON notation round trips, and malformed type JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terraform_provider_pulumiservice.cty import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    CtyError,
    CtyType,
    List,
    Map,
    Object,
    Set,
    Tuple,
    type_from_json,
    type_from_json_bytes,
    type_json_bytes,
    type_to_json,
)

attribute_names = st.text(min_size=1, max_size=6)


def cty_types(max_leaves: int = 6, allow_dynamic: bool = True) -> st.SearchStrategy[CtyType]:
    """Random cty types, nested a few levels deep (shared with the value round-trip tests)."""
    leaves = [STRING, NUMBER, BOOL, DYNAMIC] if allow_dynamic else [STRING, NUMBER, BOOL]

    def extend(children: st.SearchStrategy[CtyType]) -> st.SearchStrategy[CtyType]:
        return st.one_of(
            st.builds(List, children),
            st.builds(Set, children),
            st.builds(Map, children),
            st.builds(Tuple, st.lists(children, max_size=3).map(tuple)),
            st.dictionaries(attribute_names, children, max_size=3).map(Object),
        )

    return st.recursive(st.sampled_from(leaves), extend, max_leaves=max_leaves)


@st.composite
def objects_with_optional_attributes(draw: st.DrawFn) -> Object:
    attributes = draw(st.dictionaries(attribute_names, cty_types(3), min_size=1, max_size=4))
    optional = draw(st.sets(st.sampled_from(sorted(attributes))))
    return Object(attributes, frozenset(optional))


ALL_KINDS: list[tuple[CtyType, Any]] = [
    (STRING, "string"),
    (NUMBER, "number"),
    (BOOL, "bool"),
    (DYNAMIC, "dynamic"),
    (List(STRING), ["list", "string"]),
    (Set(NUMBER), ["set", "number"]),
    (Map(BOOL), ["map", "bool"]),
    (Tuple((STRING, DYNAMIC)), ["tuple", ["string", "dynamic"]]),
    (Tuple(()), ["tuple", []]),
    (Object({}), ["object", {}]),
    (Object({"b": NUMBER, "a": STRING}), ["object", {"a": "string", "b": "number"}]),
    (
        Object({"b": NUMBER, "a": List(STRING)}, frozenset({"b", "a"})),
        ["object", {"a": ["list", "string"], "b": "number"}, ["a", "b"]],
    ),
]


@pytest.mark.parametrize(("cty_type", "json_form"), ALL_KINDS)
def test_type_json_round_trips_for_every_kind(cty_type: CtyType, json_form: Any) -> None:
    assert type_to_json(cty_type) == json_form
    assert type_from_json(json_form) == cty_type
    assert type_from_json_bytes(type_json_bytes(cty_type)) == cty_type


def test_type_json_bytes_are_compact_with_sorted_keys() -> None:
    object_type = Object({"b": Tuple((STRING,)), "a": NUMBER})
    expected = b'["object",{"a":"number","b":["tuple",["string"]]}]'
    assert type_json_bytes(object_type) == expected
    with_optional = Object({"z": STRING, "y": BOOL}, frozenset({"z", "y"}))
    assert type_json_bytes(with_optional) == b'["object",{"y":"bool","z":"string"},["y","z"]]'


def test_type_json_bytes_escape_like_go() -> None:
    # Go's encoding/json escapes <, > and & and leaves other non-ASCII text as UTF-8.
    object_type = Object({"a<b>&c": STRING, "é": NUMBER})
    expected = '["object",{"a\\u003cb\\u003e\\u0026c":"string","é":"number"}]'.encode()
    assert type_json_bytes(object_type) == expected
    assert type_from_json_bytes(expected) == object_type


def test_types_compare_and_hash_by_structure() -> None:
    first = Object({"a": List(STRING), "b": Map(DYNAMIC)})
    second = Object({"b": Map(DYNAMIC), "a": List(STRING)})
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second, Object({"a": List(STRING)})}) == 2
    list_type: CtyType = List(STRING)
    assert list_type != Set(STRING)
    assert Object({"a": STRING}) != Object({"a": STRING}, frozenset({"a"}))
    # A list of element types is accepted at run time and stored as a tuple.
    assert Tuple([STRING]) == Tuple((STRING,))  # type: ignore[arg-type]


def test_object_attributes_iterate_sorted_and_are_read_only() -> None:
    object_type = Object({"zeta": STRING, "alpha": NUMBER, "mid": BOOL})
    assert list(object_type.attributes) == ["alpha", "mid", "zeta"]
    assert object_type.attributes["mid"] == BOOL
    assert object_type.attributes == {"alpha": NUMBER, "mid": BOOL, "zeta": STRING}
    with pytest.raises(TypeError):
        object_type.attributes["new"] = STRING  # type: ignore[index]


def test_constructing_invalid_types_fails() -> None:
    with pytest.raises(TypeError):
        List("string")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Object({"a": STRING}, frozenset({"b"}))


def test_friendly_names_use_terraform_syntax() -> None:
    object_type = Object({"a": List(STRING), "b": DYNAMIC}, frozenset({"b"}))
    assert object_type.friendly_name() == "object({a=list(string), b=optional(any)})"
    assert Tuple((NUMBER, Map(BOOL))).friendly_name() == "tuple([number, map(bool)])"


@pytest.mark.parametrize(
    "malformed",
    [
        "str",
        "",
        None,
        1,
        [],
        ["list"],
        ["list", "string", "extra"],
        ["lists", "string"],
        ["map", "nope"],
        ["tuple", "string"],
        ["tuple", ["string"], 1],
        ["object", ["a"]],
        ["object", {"a": "string"}, "a"],
        ["object", {"a": "string"}, ["b"]],
        ["object", {"a": "string"}, [1]],
        ["object", {"a": "string"}, ["a"], []],
        ["object", {"a": ["set"]}],
        [1, "string"],
        {"list": "string"},
    ],
)
def test_malformed_type_json_is_a_cty_error(malformed: Any) -> None:
    with pytest.raises(CtyError):
        type_from_json(malformed)


@pytest.mark.parametrize(
    "malformed", [b"", b"[", b'"string', b"\xff", b'"string" x', b"[" * 100_000 + b"]" * 100_000]
)
def test_malformed_type_json_text_is_a_cty_error(malformed: bytes) -> None:
    with pytest.raises(CtyError):
        type_from_json_bytes(malformed)


@settings(derandomize=True, deadline=None)
@given(cty_types(max_leaves=10))
def test_random_types_round_trip_through_json(cty_type: CtyType) -> None:
    assert type_from_json(type_to_json(cty_type)) == cty_type
    text = type_json_bytes(cty_type)
    assert type_from_json_bytes(text) == cty_type
    assert json.loads(text) == type_to_json(cty_type)


@settings(derandomize=True, deadline=None)
@given(objects_with_optional_attributes())
def test_objects_with_optional_attributes_round_trip(object_type: Object) -> None:
    assert type_from_json_bytes(type_json_bytes(object_type)) == object_type
    form = type_to_json(object_type)
    assert (len(form) == 3) == bool(object_type.optional)


@settings(derandomize=True, deadline=None)
@given(
    st.recursive(
        st.none() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_arbitrary_json_is_a_type_or_a_cty_error(candidate: Any) -> None:
    try:
        parsed = type_from_json(candidate)
    except CtyError:
        return
    assert type_from_json(type_to_json(parsed)) == parsed
