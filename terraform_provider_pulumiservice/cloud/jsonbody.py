"""Decoding API bodies strictly: JSON only, no NaN or Infinity, bounded nesting.

Pure (no I/O, no httpx). The client turns :class:`BodyError` into InvalidResponseError with the
operation, status, request id and URL.
"""

from __future__ import annotations

import json
from typing import Any

# Far deeper than any API object, far shallower than the interpreter's recursion limit.
MAX_DEPTH = 64


class BodyError(ValueError):
    """The body is not usable JSON; ``problem`` says why, as a clause for a message."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _refuse_constant(name: str) -> Any:
    raise BodyError(f"it contains {name}, which is not valid JSON")


def _too_deep(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than ``limit`` (iteratively, so depth costs no stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(content: bytes) -> Any:
    """The JSON value in ``content``; BodyError if it is empty, not UTF-8, not JSON, contains
    NaN/Infinity, or is nested deeper than MAX_DEPTH."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BodyError("the body is not UTF-8 text") from None
    if not text.strip():
        raise BodyError("the body is empty")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except BodyError:
        raise
    except RecursionError:
        raise BodyError(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:
        raise BodyError(f"the body is not valid JSON ({error})") from None
    if _too_deep(value, MAX_DEPTH):
        raise BodyError(f"the JSON is nested more than {MAX_DEPTH} levels deep")
    return value


def loads_or_none(content: bytes) -> Any:
    """Like :func:`loads`, but None for anything unusable (for error bodies, where the text is
    shown instead)."""
    try:
        return loads(content)
    except BodyError:
        return None


def type_name(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
