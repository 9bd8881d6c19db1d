"""msgpack codec: random round trips, number rules, error paths, fuzzed malformed input."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import msgpack
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
    Dynamic,
    List,
    Map,
    Object,
    Primitive,
    Refinements,
    Set,
    Tuple,
    TypedValue,
    Unknown,
    decode_msgpack,
    encode_msgpack,
    infer_typed_value,
    is_known,
    is_wholly_known,
    normalize_number,
    type_from_json,
    typed_value_to_plain,
)
from tests.unit.test_cty_types import cty_types
from tests.unit.test_cty_vectors import VECTORS, assert_same_value

# --- strategies for model values ------------------------------------------------------------------

INT64_EDGES = [0, 1, -1, 127, 128, -32, -33, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64]


def numbers(allow_infinity: bool = True) -> st.SearchStrategy[Any]:
    """Canonical model numbers: ints of any size and exact non-integral Decimals."""
    decimals = st.builds(
        lambda significand, exponent: Decimal(significand).scaleb(exponent, _wide_context()),
        st.integers(-(10**40), 10**40),
        st.integers(-60, 30),
    )
    options = [
        st.integers(-(2**70), 2**70),
        st.sampled_from(INT64_EDGES),
        decimals,
        st.floats(allow_nan=False, allow_infinity=False),
    ]
    if allow_infinity:
        options.append(st.sampled_from([Decimal("Infinity"), Decimal("-Infinity")]))
    return st.one_of(options).map(normalize_number)


def _wide_context() -> Any:
    import decimal

    return decimal.Context(prec=200)


refinements = st.builds(
    Refinements,
    nullness=st.sampled_from([None, False, True]),
    string_prefix=st.none() | st.text(max_size=5),
    number_lower_bound=st.none() | st.tuples(numbers(), st.booleans()),
    number_upper_bound=st.none() | st.tuples(numbers(), st.booleans()),
    length_lower_bound=st.none() | st.integers(0, 2**64 - 1),
    length_upper_bound=st.none() | st.integers(0, 2**64 - 1),
)
CONCRETE_TYPES = cty_types(max_leaves=4, allow_dynamic=False)
unknowns = st.one_of(st.just(UNKNOWN), st.builds(Unknown, refinements))


@functools.cache
def values_of(
    cty_type: CtyType, allow_unknown: bool = True, allow_infinity: bool = True
) -> st.SearchStrategy[Any]:
    """Model values of `cty_type`, with nulls, unknowns (optional) and dynamic-wrapped values."""

    def inner(t: CtyType) -> st.SearchStrategy[Any]:
        return values_of(t, allow_unknown, allow_infinity)

    special: list[st.SearchStrategy[Any]] = [st.none()]
    if allow_unknown:
        special.append(unknowns)
    known: st.SearchStrategy[Any]
    if isinstance(cty_type, Primitive):
        known = {
            "string": st.text(max_size=8),
            "number": numbers(allow_infinity),
            "bool": st.booleans(),
        }[cty_type.name]
    elif isinstance(cty_type, Dynamic):
        known = CONCRETE_TYPES.flatmap(
            lambda concrete: inner(concrete).map(lambda value: TypedValue(concrete, value))
        )
    elif isinstance(cty_type, List | Set):
        known = st.lists(inner(cty_type.element), max_size=3)
    elif isinstance(cty_type, Map):
        known = st.dictionaries(st.text(max_size=4), inner(cty_type.element), max_size=3)
    elif isinstance(cty_type, Tuple):
        known = st.tuples(*(inner(e) for e in cty_type.elements)).map(list)
    else:
        assert isinstance(cty_type, Object)
        known = st.fixed_dictionaries({n: inner(a) for n, a in cty_type.attributes.items()})
    return st.one_of(*special, known, known)


@st.composite
def typed_values(
    draw: st.DrawFn, allow_unknown: bool = True, allow_infinity: bool = True
) -> tuple[CtyType, Any]:
    cty_type = draw(cty_types(max_leaves=6))
    return cty_type, draw(values_of(cty_type, allow_unknown, allow_infinity))


# --- round trips --------------------------------------------------------------------------------


@settings(
    derandomize=True, deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow]
)
@given(typed_values())
def test_random_values_round_trip_through_msgpack(case: tuple[CtyType, Any]) -> None:
    cty_type, value = case
    encoded = encode_msgpack(value, cty_type)
    decoded = decode_msgpack(encoded, cty_type)
    assert_same_value(decoded, value)
    assert encode_msgpack(decoded, cty_type) == encoded


@settings(derandomize=True, deadline=None)
@given(numbers())
def test_numbers_round_trip_exactly(number: Any) -> None:
    decoded = decode_msgpack(encode_msgpack(number, NUMBER), NUMBER)
    assert type(decoded) is type(number)
    assert decoded == number


@settings(derandomize=True, deadline=None)
@given(st.builds(Unknown, refinements))
def test_refined_unknowns_round_trip(unknown: Unknown) -> None:
    for cty_type in (STRING, NUMBER, List(BOOL), DYNAMIC):
        assert decode_msgpack(encode_msgpack(unknown, cty_type), cty_type) == unknown


# --- number encoding rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "expected_hex"),
    [
        (0, "00"),
        (127, "7f"),
        (128, "cc80"),
        (65535, "cdffff"),
        (65536, "ce00010000"),
        (-32, "e0"),
        (-33, "d0df"),
        (-129, "d1ff7f"),
        (2**63 - 1, "cf7fffffffffffffff"),
        (-(2**63), "d38000000000000000"),
        (2**63, "b3" + b"9223372036854775808".hex()),
        (-(2**63) - 1, "b4" + b"-9223372036854775809".hex()),
        (Decimal("0.5"), "cb3fe0000000000000"),
        (Decimal("2.0"), "02"),
        (Decimal("1E+20"), "b5" + b"100000000000000000000".hex()),
        (Decimal("0.1"), "a3" + b"0.1".hex()),
        (Decimal("-12.50"), "cbc029000000000000"),
        (Decimal("1.0000000000000000000000001"), "bb" + b"1.0000000000000000000000001".hex()),
        (1.5, "cb3ff8000000000000"),
        (3.0, "03"),
        (float("-inf"), "cbfff0000000000000"),
    ],
)
def test_numbers_encode_as_cty_does(number: Any, expected_hex: str) -> None:
    assert encode_msgpack(number, NUMBER).hex() == expected_hex


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        (b"\xa4" + b"1e20", 10**20),
        (b"\xa6" + b"1.5e-3", Decimal("0.0015")),
        (b"\xa4" + b"-0.0", 0),
        (b"\xa3" + b"Inf", Decimal("Infinity")),
        (b"\xa4" + b"-inf", Decimal("-Infinity")),
        (b"\xcb" + b"\x3f\xb9\x99\x99\x99\x99\x99\x9a", Decimal(0.1)),
        (b"\xca\x3f\xc0\x00\x00", Decimal("1.5")),
        (b"\xcb\x40\x00\x00\x00\x00\x00\x00\x00", 2),
        (b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 2**64 - 1),
    ],
)
def test_numbers_decode_exactly(encoded: bytes, expected: Any) -> None:
    decoded = decode_msgpack(encoded, NUMBER)
    assert type(decoded) is type(expected)
    assert decoded == expected


@pytest.mark.parametrize(
    "bad",
    [
        b"\xa0",
        b"\xa3abc",
        b"\xa31_0",
        b"\xa3NaN",
        b"\xa5 1.5 ",
        b"\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00",
        b"\xc3",
        b"\xa71e99999",
        b"\x90",
    ],
)
def test_malformed_numbers_are_cty_errors(bad: bytes) -> None:
    with pytest.raises(CtyError):
        decode_msgpack(bad, NUMBER)


@pytest.mark.parametrize("bad", [float("nan"), Decimal("NaN"), True, "1", [1]])
def test_non_numbers_do_not_encode_as_numbers(bad: Any) -> None:
    with pytest.raises(CtyError):
        encode_msgpack(bad, NUMBER)


# --- structural errors carry paths ---------------------------------------------------------------

TASK_TYPE = Object(
    {
        "id": STRING,
        "rules": List(Object({"port": NUMBER})),
        "tags": Map(STRING),
        "extra": DYNAMIC,
    }
)


def _pack(obj: Any) -> bytes:
    return bytes(msgpack.packb(obj, use_bin_type=True))


def test_missing_attribute_is_named() -> None:
    data = _pack({"id": "x", "rules": [], "tags": {}})
    with pytest.raises(CtyError, match='missing attribute "extra"') as caught:
        decode_msgpack(data, TASK_TYPE)
    assert caught.value.path == ()


def test_unexpected_attribute_is_named() -> None:
    data = _pack({"id": "x", "rules": [], "tags": {}, "extra": None, "surprise": 1})
    with pytest.raises(CtyError, match='unsupported attribute "surprise"'):
        decode_msgpack(data, TASK_TYPE)


def test_nested_type_mismatch_reports_its_path() -> None:
    data = _pack({"id": "x", "rules": [{"port": 1}, {"port": "eighty"}], "tags": {}, "extra": None})
    with pytest.raises(CtyError) as caught:
        decode_msgpack(data, TASK_TYPE)
    assert caught.value.path == ("rules", 1, "port")
    assert str(caught.value).startswith(".rules[1].port: invalid number")


def test_map_value_mismatch_reports_the_key() -> None:
    data = _pack({"id": "x", "rules": [], "tags": {"a": "1", "b c": 2}, "extra": None})
    with pytest.raises(CtyError) as caught:
        decode_msgpack(data, TASK_TYPE)
    assert caught.value.path == ("tags", "b c")
    assert str(caught.value).startswith('.tags["b c"]: expected string')


def test_encoding_checks_values_against_the_type() -> None:
    good = {"id": "x", "rules": [{"port": 80}], "tags": {"k": "v"}, "extra": None}
    encode_msgpack(good, TASK_TYPE)
    with pytest.raises(CtyError, match='missing attribute "tags"'):
        encode_msgpack({k: v for k, v in good.items() if k != "tags"}, TASK_TYPE)
    with pytest.raises(CtyError) as caught:
        encode_msgpack({**good, "rules": [{"port": "80"}]}, TASK_TYPE)
    assert caught.value.path == ("rules", 0, "port")
    with pytest.raises(CtyError, match="TypedValue"):
        encode_msgpack({**good, "extra": "bare string"}, TASK_TYPE)
    with pytest.raises(CtyError, match="map keys"):
        encode_msgpack({**good, "tags": {1: "v"}}, TASK_TYPE)


def test_map_and_object_keys_are_written_sorted() -> None:
    value = {"b": "2", "a": "1", "é": "3", "Z": "0"}
    encoded = encode_msgpack(value, Map(STRING))
    assert list(msgpack.unpackb(encoded)) == ["Z", "a", "b", "é"]
    object_type = Object({"b": STRING, "a": STRING})
    assert encode_msgpack({"b": "2", "a": "1"}, object_type) == bytes.fromhex("82a161a131a162a132")


@pytest.mark.parametrize(
    ("data", "cty_type"),
    [
        (b"\x81\x01\xa1x", Map(STRING)),  # integer map key
        (b"\x81\xc4\x01a\xa1x", Map(STRING)),  # binary map key
        (b"\x81\xc4\x01a\xa1x", Object({"a": STRING})),
        (b"\x82\xa1a\x01\xa1a\x02", Map(NUMBER)),  # repeated key
        (b"\xc4\x05hello", STRING),  # bin is not a string
        (b"\xa2\xff\xfe", STRING),  # invalid UTF-8
        (b"\x91\xa1x", Tuple((STRING, STRING))),
        (b"\x92\xa1x\xa1y", Tuple((STRING,))),
        (b"\x01", BOOL),
        (b"\x80", List(STRING)),
        (b"\x90", Map(STRING)),
        (b"\xa1x", DYNAMIC),  # dynamic without its wrapper
        (b"\x91\xc4\x08\x22string\x22", DYNAMIC),
        (b"\x92\xc4\x04nope\xa1x", DYNAMIC),  # wrapper type JSON is not JSON
        (b"\x92\xc4\x06\x22list\x22\xa1x", DYNAMIC),  # not a type
        (b"\x92\xc4\x0a[\x22list\x22]\x90", DYNAMIC),
        (b"\x92\x01\xa1x", DYNAMIC),
        (b"\x92\xc4\x08\x22number\x22\xa1x", DYNAMIC),  # value does not match wrapper type
        (b"\xd5\x0c\x01\x02", STRING),  # refinements payload is not a map
        (b"\xd5\x0c\x81\xa1", STRING),  # truncated refinements payload
        (b"\xc7\x03\x0c\x81\xa1x\xc3", STRING),  # refinement key is a string
        (b"\xd5\x0c\x81\x01\x01", STRING),  # nullness is not a bool
        (b"\xd5\x0c\x81\x02\x01", STRING),  # prefix is not a string
        (b"\xd5\x0c\x81\x03\x01", NUMBER),  # bound is not a pair
        (b"\xd6\x0c\x81\x03\x92\xa1x\xc3", NUMBER),  # bound is not a number
        (b"\xd5\x0c\x81\x05\xff", List(STRING)),  # negative length
        (b"\xd6\xff\x00\x00", STRING),  # timestamp extension with a bad length
        (b"\xc1", STRING),  # reserved byte
        (b"", STRING),
    ],
)
def test_malformed_msgpack_is_a_cty_error(data: bytes, cty_type: CtyType) -> None:
    with pytest.raises(CtyError):
        decode_msgpack(data, cty_type)


def test_any_extension_type_is_an_unknown() -> None:
    for data in (b"\xd4\x00\x00", b"\xd4\x05\x07", b"\xc7\x00\x2a", b"\xd6\xff\x00\x00\x00\x01"):
        assert decode_msgpack(data, STRING) == UNKNOWN
    refined = decode_msgpack(b"\xc7\x05\x0c\x82\x01\xc2\x63\x01", STRING)
    # Refinement keys cty does not know yet (here 99) are skipped.
    assert refined == Unknown(Refinements(nullness=False))


def test_an_empty_refinements_map_is_a_plain_unknown() -> None:
    assert decode_msgpack(b"\xd4\x0c\x80", STRING) == UNKNOWN
    assert encode_msgpack(Unknown(Refinements()), STRING) == b"\xd4\x00\x00"


def test_a_nested_dynamic_wrapper_unwraps() -> None:
    inner = b"\x92\xc4\x08\x22string\x22\xa1x"
    data = b"\x92\xc4\x09\x22dynamic\x22" + inner
    assert decode_msgpack(data, DYNAMIC) == TypedValue(STRING, "x")
    assert encode_msgpack(TypedValue(DYNAMIC, None), DYNAMIC) == b"\xc0"


def test_deeply_nested_input_is_a_cty_error() -> None:
    deep_list_type: CtyType = STRING
    for _ in range(400):
        deep_list_type = List(deep_list_type)
    data = b"\x91" * 400 + b"\xa1x"
    assert decode_msgpack(data, deep_list_type) is not None
    with pytest.raises(CtyError):
        decode_msgpack(b"\x91" * 5000 + b"\xc0", List(STRING))
    wrapper = b"\x92\xc4\x09\x22dynamic\x22"
    with pytest.raises(CtyError):
        decode_msgpack(wrapper * 3000 + b"\xc0", DYNAMIC)


# --- fuzzing: malformed input raises CtyError and nothing else ----------------------------------


def _decode_or_cty_error(data: bytes, cty_type: CtyType) -> None:
    try:
        decoded = decode_msgpack(data, cty_type)
    except CtyError:
        return
    # Whatever decodes must encode again and decode to the same value.
    assert_same_value(decode_msgpack(encode_msgpack(decoded, cty_type), cty_type), decoded)


@settings(derandomize=True, deadline=None, max_examples=300)
@given(st.binary(max_size=40), cty_types())
def test_random_bytes_decode_or_raise_cty_error(data: bytes, cty_type: CtyType) -> None:
    _decode_or_cty_error(data, cty_type)


@st.composite
def mutated_vectors(draw: st.DrawFn) -> tuple[bytes, CtyType]:
    vector = draw(st.sampled_from(VECTORS))
    data = bytearray(bytes.fromhex(vector["msgpack_hex"]))
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        if action == "insert" or position == len(data):
            data.insert(position, draw(st.integers(0, 255)))
        elif action == "replace":
            data[position] = draw(st.integers(0, 255))
        else:
            del data[position]
    return bytes(data), type_from_json(vector["type"])


@settings(derandomize=True, deadline=None, max_examples=400)
@given(mutated_vectors())
def test_mutated_vectors_decode_or_raise_cty_error(case: tuple[bytes, CtyType]) -> None:
    _decode_or_cty_error(*case)


msgpack_structures = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=5)
    | st.binary(max_size=5)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=6)),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.text(max_size=3) | st.integers(0, 3) | st.binary(max_size=2), children, max_size=3
        )
    ),
    max_leaves=10,
)


@settings(derandomize=True, deadline=None, max_examples=400)
@given(msgpack_structures, cty_types())
def test_well_formed_msgpack_of_the_wrong_shape_decodes_or_raises_cty_error(
    structure: Any, cty_type: CtyType
) -> None:
    _decode_or_cty_error(_pack(structure), cty_type)


@settings(derandomize=True, deadline=None, max_examples=200)
@given(st.binary(max_size=20), st.sampled_from([STRING, NUMBER, List(STRING), DYNAMIC]))
def test_random_refinement_payloads_give_an_unknown_or_a_cty_error(
    payload: bytes, cty_type: CtyType
) -> None:
    try:
        decoded = decode_msgpack(_pack(msgpack.ExtType(12, payload)), cty_type)
    except CtyError:
        return
    assert isinstance(decoded, Unknown)


@settings(derandomize=True, deadline=None, max_examples=200)
@given(st.binary(max_size=30) | st.text(max_size=30).map(str.encode), msgpack_structures)
def test_random_dynamic_type_json_decodes_or_raises_cty_error(
    type_json: bytes, structure: Any
) -> None:
    _decode_or_cty_error(_pack([type_json, structure]), DYNAMIC)


# --- value model helpers ------------------------------------------------------------------------


def test_known_and_wholly_known() -> None:
    assert is_known("x") and is_known(None) and is_known([UNKNOWN])
    assert not is_known(UNKNOWN)
    assert not is_known(TypedValue(STRING, UNKNOWN))
    assert not is_wholly_known({"a": [1, {"b": UNKNOWN}]})
    assert not is_wholly_known(TypedValue(List(STRING), [UNKNOWN]))
    assert is_wholly_known({"a": [1, {"b": None}], "c": TypedValue(STRING, "x")})


def test_infer_typed_value_matches_jsondecode() -> None:
    inferred = infer_typed_value({"b": [1, "x", None], "a": {"n": 0.1, "t": True}, "z": None})
    assert inferred.type == Object(
        {
            "a": Object({"n": NUMBER, "t": BOOL}),
            "b": Tuple((NUMBER, STRING, DYNAMIC)),
            "z": DYNAMIC,
        }
    )
    assert_same_value(
        inferred.value,
        {"a": {"n": Decimal("0.1"), "t": True}, "b": [1, "x", None], "z": None},
    )
    assert infer_typed_value(None) == TypedValue(DYNAMIC, None)
    assert infer_typed_value(2.0) == TypedValue(NUMBER, 2)
    with pytest.raises(CtyError):
        infer_typed_value({1: "non-string key"})
    with pytest.raises(CtyError):
        infer_typed_value({"a": object()})


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(derandomize=True, deadline=None)
@given(json_like)
def test_plain_data_survives_inference_and_the_wire(data: Any) -> None:
    typed = infer_typed_value(data)
    wire = decode_msgpack(encode_msgpack(typed, DYNAMIC), DYNAMIC)
    plain = typed_value_to_plain(wire)
    assert plain == data
    assert typed_value_to_plain(typed) == data


def test_plain_conversion_reports_numbers_and_unknowns() -> None:
    value = TypedValue(List(NUMBER), [1, Decimal("0.1"), Decimal("Infinity")])
    plain = typed_value_to_plain(value)
    assert plain == [1, 0.1, float("inf")]
    assert [type(n) for n in plain] == [int, float, float]
    exact = typed_value_to_plain(value, exact_numbers=True)
    assert exact == [1, Decimal("0.1"), Decimal("Infinity")]
    assert typed_value_to_plain(None) is None
    with pytest.raises(CtyError) as caught:
        typed_value_to_plain(TypedValue(Object({"a": List(STRING)}), {"a": ["x", UNKNOWN]}))
    assert caught.value.path == ("a", 1)


def test_dynamic_nested_in_plain_conversion() -> None:
    value = TypedValue(Map(DYNAMIC), {"k": TypedValue(Tuple((BOOL,)), [True]), "n": None})
    assert typed_value_to_plain(value) == {"k": [True], "n": None}
