"""JSON codec (state, RawState.json): round trips, exact form, leniency, malformed input."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terraform_provider_pulumiservice.cty import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    UNKNOWN,
    CtyError,
    CtyType,
    List,
    Map,
    Object,
    Set,
    Tuple,
    TypedValue,
    decode_json,
    encode_json,
)
from tests.unit.test_cty_roundtrip import typed_values
from tests.unit.test_cty_types import cty_types
from tests.unit.test_cty_vectors import assert_same_value

STATE_TYPE = Object(
    {
        "dyn": DYNAMIC,
        "id": STRING,
        "name": STRING,
        "rule": List(Object({"port": NUMBER})),
        "size": NUMBER,
        "tags": Map(STRING),
    }
)
STATE_VALUE = {
    "dyn": TypedValue(
        Object({"a": NUMBER, "b": Tuple((STRING,))}), {"a": Decimal("0.1"), "b": ["x"]}
    ),
    "id": None,
    "name": "alpha",
    "rule": [{"port": 80}],
    "size": 10**20,
    "tags": {"k": "v<&>"},
}
STATE_JSON = (
    b'{"dyn":{"value":{"a":0.1,"b":["x"]},'
    b'"type":["object",{"a":"number","b":["tuple",["string"]]}]},'
    b'"id":null,"name":"alpha","rule":[{"port":80}],"size":100000000000000000000,'
    b'"tags":{"k":"v\\u003c\\u0026\\u003e"}}'
)


def test_state_object_encodes_as_cty_json() -> None:
    assert encode_json(STATE_VALUE, STATE_TYPE) == STATE_JSON


def test_state_object_decodes_exactly() -> None:
    assert_same_value(decode_json(STATE_JSON, STATE_TYPE), STATE_VALUE)
    assert_same_value(decode_json(STATE_JSON.decode(), STATE_TYPE), STATE_VALUE)


@settings(
    derandomize=True, deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow]
)
@given(typed_values(allow_unknown=False, allow_infinity=False))
def test_random_known_values_round_trip_through_json(case: tuple[CtyType, Any]) -> None:
    cty_type, value = case
    encoded = encode_json(value, cty_type)
    json.loads(encoded)  # always standard JSON
    decoded = decode_json(encoded, cty_type)
    assert_same_value(decoded, value)
    assert encode_json(decoded, cty_type) == encoded


def test_dynamic_values_carry_their_type() -> None:
    assert encode_json(TypedValue(STRING, "x"), DYNAMIC) == b'{"value":"x","type":"string"}'
    assert encode_json(TypedValue(STRING, None), DYNAMIC) == b'{"value":null,"type":"string"}'
    assert encode_json(None, DYNAMIC) == b"null"
    assert encode_json(TypedValue(DYNAMIC, None), DYNAMIC) == b"null"
    assert decode_json(b'{"type":"bool","value":true}', DYNAMIC) == TypedValue(BOOL, True)
    assert decode_json(b'{"value":null,"type":"dynamic"}', DYNAMIC) is None
    assert decode_json(b"null", DYNAMIC) is None


def test_unknown_values_cannot_be_written() -> None:
    with pytest.raises(CtyError, match="not known") as caught:
        encode_json({"a": [UNKNOWN]}, Object({"a": List(STRING)}))
    assert caught.value.path == ("a", 0)
    with pytest.raises(CtyError, match="not known"):
        encode_json(TypedValue(STRING, UNKNOWN), DYNAMIC)
    with pytest.raises(CtyError, match="not known"):
        encode_json(UNKNOWN, DYNAMIC)


def test_infinity_cannot_be_written() -> None:
    with pytest.raises(CtyError, match="infinity"):
        encode_json(Decimal("Infinity"), NUMBER)


@pytest.mark.parametrize(
    ("text", "cty_type", "expected"),
    [
        (b"1e20", NUMBER, 10**20),
        (b"0.1", NUMBER, Decimal("0.1")),
        (b"-2.50", NUMBER, Decimal("-2.5")),
        (b"18446744073709551616", NUMBER, 2**64),
        (b'"12.5"', NUMBER, Decimal("12.5")),
        (b'"true"', BOOL, True),
        (b"false", BOOL, False),
        (b"1.50", STRING, "1.5"),
        (b"true", STRING, "true"),
        (b"[1, 2]", Set(NUMBER), [1, 2]),
        (b'{"b": 1}', Object({"a": STRING, "b": NUMBER}), {"a": None, "b": 1}),
    ],
)
def test_decoding_is_as_lenient_as_cty(text: bytes, cty_type: CtyType, expected: Any) -> None:
    assert_same_value(decode_json(text, cty_type), expected)


def test_extra_attributes_fail_unless_ignored() -> None:
    object_type = Object({"a": STRING})
    with pytest.raises(CtyError, match='unsupported attribute "old"'):
        decode_json(b'{"a":"x","old":1}', object_type)
    assert decode_json(b'{"a":"x","old":1}', object_type, ignore_extra_attributes=True) == {
        "a": "x"
    }


def test_nested_errors_report_their_path() -> None:
    with pytest.raises(CtyError) as caught:
        decode_json(b'{"dyn":null,"id":null,"name":"n","rule":[{"port":"x"}]}', STATE_TYPE)
    assert caught.value.path == ("rule", 0, "port")


@pytest.mark.parametrize(
    ("text", "cty_type"),
    [
        (b"", STRING),
        (b"{", STRING),
        (b"NaN", NUMBER),
        (b"Infinity", NUMBER),
        (b"1e99999", NUMBER),
        (b'"abc"', NUMBER),
        (b"1", BOOL),
        (b'"yes"', BOOL),
        (b"[]", STRING),
        (b"{}", List(STRING)),
        (b"[1]", Tuple((NUMBER, NUMBER))),
        (b'{"a":1,"a":2}', Map(NUMBER)),
        (b"\xff", STRING),
        (b'"x"', DYNAMIC),
        (b'{"value":"x"}', DYNAMIC),
        (b'{"value":"x","type":"nope"}', DYNAMIC),
        (b'{"value":"x","type":1}', DYNAMIC),
        (b'{"value":"x","type":"number"}', DYNAMIC),
        (b'{"value":"x","type":"string","extra":1}', DYNAMIC),
        (b"[" * 50_000 + b"]" * 50_000, List(STRING)),
        (b'{"value":' * 5000 + b"null" + b',"type":"dynamic"}' * 5000, DYNAMIC),
    ],
)
def test_malformed_json_is_a_cty_error(text: bytes, cty_type: CtyType) -> None:
    with pytest.raises(CtyError):
        decode_json(text, cty_type)


def test_encoding_checks_values_against_the_type() -> None:
    with pytest.raises(CtyError, match='missing attribute "b"'):
        encode_json({"a": "x"}, Object({"a": STRING, "b": STRING}))
    with pytest.raises(CtyError, match="unsupported attribute"):
        encode_json({"a": "x", "z": 1}, Object({"a": STRING}))
    with pytest.raises(CtyError) as caught:
        encode_json({"k": 1}, Map(STRING))
    assert caught.value.path == ("k",)
    with pytest.raises(CtyError, match="TypedValue"):
        encode_json("bare", DYNAMIC)


json_texts = st.recursive(
    st.sampled_from(["null", "true", "false", "1", "-0.5", "1e400", '"x"', '"1"', "NaN"]),
    lambda children: (
        st.lists(children, max_size=3).map(lambda items: "[" + ",".join(items) + "]")
        | st.dictionaries(st.sampled_from(["a", "b", "value", "type"]), children, max_size=3).map(
            lambda members: "{" + ",".join(f'"{k}":{v}' for k, v in members.items()) + "}"
        )
    ),
    max_leaves=8,
)


@settings(derandomize=True, deadline=None, max_examples=300)
@given(json_texts | st.text(max_size=20), cty_types())
def test_arbitrary_json_decodes_or_raises_cty_error(text: str, cty_type: CtyType) -> None:
    try:
        decoded = decode_json(text.encode(), cty_type)
    except CtyError:
        return
    assert_same_value(decode_json(encode_json(decoded, cty_type), cty_type), decoded)


@settings(derandomize=True, deadline=None, max_examples=200)
@given(st.binary(max_size=30), cty_types())
def test_random_bytes_decode_or_raise_cty_error(data: bytes, cty_type: CtyType) -> None:
    with contextlib.suppress(CtyError):
        decode_json(data, cty_type)
