"""The one exception the cty layer raises for malformed types and values."""

from __future__ import annotations

import json
from collections.abc import Sequence

PathStep = str | int


def format_path(path: Sequence[PathStep]) -> str:
    """Render a path the way Terraform users read it: `.attr`, `[0]`, `["key"]`."""
    parts: list[str] = []
    for step in path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif not isinstance(step, str):
            parts.append(f"[{step!r}]")
        elif step.isidentifier():
            parts.append(f".{step}")
        else:
            parts.append(f"[{json.dumps(step, ensure_ascii=False)}]")
    return "".join(parts)


class CtyError(Exception):
    """A type or value that does not fit cty's rules.

    `path` locates the offending value: attribute names (str) and element keys (str for map keys,
    int for list/set/tuple indexes). An empty path means the value as a whole.
    """

    def __init__(self, message: str, path: Sequence[PathStep] = ()) -> None:
        self.message = message
        self.path: tuple[PathStep, ...] = tuple(path)
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.path:
            return self.message
        return f"{format_path(self.path)}: {self.message}"

    def prefixed(self, step: PathStep) -> CtyError:
        """Record that the error happened inside `step` of an enclosing value (re-raise it)."""
        self.path = (step, *self.path)
        self.args = (str(self),)
        return self
