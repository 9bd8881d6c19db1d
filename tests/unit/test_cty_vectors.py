"""Every byte-exact vector in tests/data/cty-msgpack-vectors.json, both directions."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from terraform_provider_pulumiservice.cty import (
    CtyError,
    Refinements,
    TypedValue,
    Unknown,
    decode_msgpack,
    encode_msgpack,
    type_from_json,
)

VECTORS_FILE = Path(__file__).resolve().parents[1] / "data" / "cty-msgpack-vectors.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["vectors"]


def vector_number(text: str) -> int | Decimal:
    """The model's form of a vector's `$number` text, parsed independently of the codec."""
    if text in ("Infinity", "-Infinity"):
        return Decimal(text)
    if "." not in text:
        return int(text)
    return Decimal(text)


def vector_value(form: Any) -> Any:
    """Convert the vectors' JSON value form ($unknown / $number / $dynamic) to the model."""
    if isinstance(form, dict):
        if "$unknown" in form:
            found = form.get("refinements", {})
            refinements = Refinements(
                nullness=found.get("nullness"),
                string_prefix=found.get("string_prefix"),
                number_lower_bound=_vector_bound(found.get("number_lower_bound")),
                number_upper_bound=_vector_bound(found.get("number_upper_bound")),
                length_lower_bound=found.get("length_lower_bound"),
                length_upper_bound=found.get("length_upper_bound"),
            )
            return Unknown(refinements)
        if "$number" in form:
            return vector_number(form["$number"])
        if "$dynamic" in form:
            inner = form["$dynamic"]
            return TypedValue(type_from_json(inner["type"]), vector_value(inner["value"]))
        return {key: vector_value(item) for key, item in form.items()}
    if isinstance(form, list):
        return [vector_value(item) for item in form]
    return form


def _vector_bound(bound: Any) -> tuple[int | Decimal, bool] | None:
    if bound is None:
        return None
    return vector_number(bound[0]["$number"]), bound[1]


def assert_same_value(actual: Any, expected: Any, where: str = "value") -> None:
    """Equality that also insists on the model's Python types (int vs Decimal vs bool)."""
    assert type(actual) is type(expected), f"{where}: {actual!r} is not {expected!r}"
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys(), where
        for key in expected:
            assert_same_value(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_same_value(a, e, f"{where}[{index}]")
    elif isinstance(expected, TypedValue):
        assert actual.type == expected.type, where
        assert_same_value(actual.value, expected.value, f"{where}.value")
    else:
        assert actual == expected, where


def _vector_id(vector: dict[str, Any]) -> str:
    return str(vector["name"])


def test_the_vectors_file_is_complete() -> None:
    assert len(VECTORS) == 70
    assert {v["direction"] for v in VECTORS} == {"both"}


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_decoding_a_vector_gives_its_value(vector: dict[str, Any]) -> None:
    cty_type = type_from_json(vector["type"])
    decoded = decode_msgpack(bytes.fromhex(vector["msgpack_hex"]), cty_type)
    assert_same_value(decoded, vector_value(vector["value"]))


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_encoding_a_vector_value_gives_its_exact_bytes(vector: dict[str, Any]) -> None:
    cty_type = type_from_json(vector["type"])
    encoded = encode_msgpack(vector_value(vector["value"]), cty_type)
    assert encoded.hex() == vector["msgpack_hex"]


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_every_truncation_of_a_vector_is_a_cty_error(vector: dict[str, Any]) -> None:
    cty_type = type_from_json(vector["type"])
    data = bytes.fromhex(vector["msgpack_hex"])
    # msgpack is self-delimiting, so no proper prefix is a whole value.
    for length in range(len(data)):
        with pytest.raises(CtyError):
            decode_msgpack(data[:length], cty_type)


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_trailing_bytes_after_a_vector_are_a_cty_error(vector: dict[str, Any]) -> None:
    cty_type = type_from_json(vector["type"])
    with pytest.raises(CtyError, match="malformed msgpack"):
        decode_msgpack(bytes.fromhex(vector["msgpack_hex"]) + b"\xc0", cty_type)
