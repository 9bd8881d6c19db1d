"""cty numbers in Python: exact integers (int) and exact non-integers (Decimal).

cty numbers are arbitrary-precision. The model keeps them exact: an integral value is always an
`int` (any size), anything else a `Decimal` (including +/-Infinity). Decimal arithmetic rounds to
the context precision, so this module only constructs, compares and inspects Decimals, never
computes with them.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from terraform_provider_pulumiservice.cty.errors import CtyError, PathStep

Number = int | Decimal

# Guards against inputs like "1e999999999" that would expand into gigantic integers or texts.
MAX_DECIMAL_EXPONENT = 10_000
MAX_NUMBER_TEXT_LENGTH = 20_000

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
# Python refuses int<->str conversions beyond ~4300 digits; bigger ones go through Decimal.
_SAFE_STR_BITS = 10_000

_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INFINITY_TEXT = re.compile(r"([+-]?)(?:inf|infinity)", re.IGNORECASE)

POSITIVE_INFINITY = Decimal("Infinity")
NEGATIVE_INFINITY = Decimal("-Infinity")


def normalize_number(value: object, path: tuple[PathStep, ...] = ()) -> Number:
    """int / float / Decimal -> the model's canonical int or Decimal (CtyError otherwise)."""
    if isinstance(value, bool):
        raise CtyError("expected a number, got a bool", path)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            raise CtyError("NaN is not a cty number", path)
        if math.isinf(value):
            return POSITIVE_INFINITY if value > 0 else NEGATIVE_INFINITY
        if value.is_integer():
            return int(value)
        return _canonical_decimal(Decimal(value), path)
    if isinstance(value, Decimal):
        return _canonical_decimal(value, path)
    raise CtyError(f"expected a number, got {type(value).__name__}", path)


def _canonical_decimal(value: Decimal, path: tuple[PathStep, ...]) -> Number:
    if value.is_nan():
        raise CtyError("NaN is not a cty number", path)
    if value.is_infinite():
        return POSITIVE_INFINITY if value > 0 else NEGATIVE_INFINITY
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if not any(digits):
        return 0
    if len(digits) + exponent - 1 > MAX_DECIMAL_EXPONENT or exponent < -MAX_DECIMAL_EXPONENT:
        raise CtyError("number is too large or too precise to represent", path)
    if exponent >= 0:
        return int(value)
    # Drop trailing fractional zeros so equal numbers look alike; integral values become int.
    trailing_zeros = 0
    while trailing_zeros < -exponent and digits[len(digits) - 1 - trailing_zeros] == 0:
        trailing_zeros += 1
    if trailing_zeros == -exponent:
        return int(value)
    if trailing_zeros:
        return Decimal((sign, digits[: len(digits) - trailing_zeros], exponent + trailing_zeros))
    return value


def parse_number_text(text: str, path: tuple[PathStep, ...] = ()) -> Number:
    """Parse a number written as text (cty.ParseNumberVal's accepted forms)."""
    if len(text) > MAX_NUMBER_TEXT_LENGTH:
        raise CtyError("number text is too long", path)
    if _NUMBER_TEXT.fullmatch(text):
        try:
            return _canonical_decimal(Decimal(text), path)
        except InvalidOperation:  # pragma: no cover - the regex admits only valid text
            raise CtyError(f"invalid number {text!r}", path) from None
    infinity = _INFINITY_TEXT.fullmatch(text)
    if infinity:
        return NEGATIVE_INFINITY if infinity.group(1) == "-" else POSITIVE_INFINITY
    shown = text if len(text) <= 40 else text[:37] + "..."
    raise CtyError(f"invalid number {shown!r}", path)


def number_text(value: Number) -> str:
    """Plain positional decimal text: no exponent, no '+', no trailing fractional zeros.

    Infinities are written "Infinity" / "-Infinity".
    """
    if isinstance(value, int):
        if value.bit_length() <= _SAFE_STR_BITS:
            return str(value)
        return _decimal_text(Decimal(value))
    if value.is_infinite():
        return "Infinity" if value > 0 else "-Infinity"
    return _decimal_text(value)


def _decimal_text(value: Decimal) -> str:
    sign, digit_tuple, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).lstrip("0") or "0"
    if exponent >= 0:
        text = digits + "0" * exponent if digits != "0" else "0"
    else:
        digits = digits.rjust(-exponent + 1, "0")
        whole, fraction = digits[:exponent], digits[exponent:].rstrip("0")
        text = f"{whole}.{fraction}" if fraction else whole
    if text == "0":
        return "0"
    return "-" + text if sign else text


def is_integral(value: Number) -> bool:
    return isinstance(value, int)


def number_to_msgpack_object(value: Number) -> int | float | str:
    """What cty writes for a number: int within int64, float64 when exact, else its text."""
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return value
        return number_text(value)
    if value.is_infinite():
        return math.inf if value > 0 else -math.inf
    as_float = float(value)
    if math.isfinite(as_float) and Decimal(as_float) == value:
        return as_float
    return number_text(value)
