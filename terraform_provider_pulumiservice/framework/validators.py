"""Attribute validators. They only ever see known, non-null values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

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
        if value not in self.allowed:
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
