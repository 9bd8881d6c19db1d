"""Attribute validators.

The validation pass (`protocol.validate`) hands a validator only values that are neither null
nor unknown; a validator of a collection (`Each`) must itself skip elements that are unknown or
null, because a list can be known while some of its elements are not. Unknown is never an error:
Terraform validates again once the value is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from terraform_provider_pulumiservice.cty import Unknown
from terraform_provider_pulumiservice.durations import parse_duration
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.path import AttributePath


class Validator(Protocol):
    @property
    def description(self) -> str: ...

    def validate(self, value: Any, path: AttributePath, diagnostics: Diagnostics) -> None: ...


@dataclass(frozen=True)
class OneOf:
    """The string must be one of a fixed set of values."""

    allowed: tuple[str, ...]

    @property
    def description(self) -> str:
        return "One of " + ", ".join(f"`{value}`" for value in self.allowed) + "."

    def validate(self, value: Any, path: AttributePath, diagnostics: Diagnostics) -> None:
        if isinstance(value, str) and value not in self.allowed:
            diagnostics.error(
                "Invalid attribute value",
                f'`{path}` must be one of: {", ".join(self.allowed)}; got "{value}".',
                path,
            )


@dataclass(frozen=True)
class LengthBetween:
    """A string whose length, after trimming whitespace, lies within bounds."""

    minimum: int
    maximum: int

    @property
    def description(self) -> str:
        return f"Between {self.minimum} and {self.maximum} characters."

    def validate(self, value: Any, path: AttributePath, diagnostics: Diagnostics) -> None:
        if isinstance(value, str) and not self.minimum <= len(value.strip()) <= self.maximum:
            diagnostics.error(
                "Invalid attribute value",
                f"`{path}` must be between {self.minimum} and {self.maximum} characters long "
                "(ignoring surrounding whitespace).",
                path,
            )


@dataclass(frozen=True)
class NotBlank:
    """A string that is not empty or only whitespace."""

    @property
    def description(self) -> str:
        return "Not empty."

    def validate(self, value: Any, path: AttributePath, diagnostics: Diagnostics) -> None:
        if isinstance(value, str) and not value.strip():
            diagnostics.error("Invalid attribute value", f"`{path}` must not be empty.", path)


@dataclass(frozen=True)
class MaxBytes:
    """A string whose UTF-8 encoding is at most `limit` bytes.

    Terraform passes a resource's whole state in one gRPC message, which it caps; a value close
    to that cap would be accepted once and then break every later plan.
    """

    limit: int
    reason: str

    @property
    def description(self) -> str:
        return f"At most {self.limit:,} bytes."

    def validate(self, value: Any, path: AttributePath, diagnostics: Diagnostics) -> None:
        if isinstance(value, str):
            size = len(value.encode("utf-8", "surrogatepass"))
            if size > self.limit:
                diagnostics.error(
                    "Value too large",
                    f"`{path}` is {size:,} bytes; the limit is {self.limit:,} bytes "
                    f"({self.reason}).",
                    path,
                )


@dataclass(frozen=True)
class Duration:
    """A Go duration string such as `"30m"` or `"1h30m"`, at least `minimum` seconds."""

    minimum: float = 1.0

    @property
    def description(self) -> str:
        return f'A duration such as `"30m"`, `"1h"` or `"90s"` (at least {self.minimum:g}s).'

    def validate(self, value: Any, path: AttributePath, diagnostics: Diagnostics) -> None:
        if not isinstance(value, str):
            return
        try:
            seconds = parse_duration(value)
        except ValueError as error:
            diagnostics.error(
                "Invalid duration", f"`{path}` must be a positive duration: {error}", path
            )
            return
        if seconds < self.minimum:
            diagnostics.error(
                "Invalid duration",
                f"`{path}` must be at least {self.minimum:g}s; got {value.strip()!r}.",
                path,
            )


@dataclass(frozen=True)
class Each:
    """Applies `validator` to every known, non-null element of a list."""

    validator: Validator

    @property
    def description(self) -> str:
        return f"Each element: {self.validator.description}"

    def validate(self, value: Any, path: AttributePath, diagnostics: Diagnostics) -> None:
        if not isinstance(value, list):
            return
        for index, element in enumerate(value):
            if element is None:
                diagnostics.error(
                    "Invalid list element", f"`{path}` must not hold null.", path.index(index)
                )
            elif not isinstance(element, Unknown):
                self.validator.validate(element, path.index(index), diagnostics)
