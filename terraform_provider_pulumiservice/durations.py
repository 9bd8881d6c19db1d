"""Go duration strings ("45s", "5m", "1m30s"), as Terraform users write timeouts.

Standard library only: the provider settings (`cloud.settings`), the `Duration` validator and
the resource's `timeouts` block all read durations with these two functions.
"""

from __future__ import annotations

import re

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string such as "45s", "5m", "1m30s" or "1.5h".

    Negative and unit-less values (other than "0") are refused with a ValueError saying why.
    """
    value = text.strip()
    if value == "0":
        return 0.0
    example = 'a duration such as "45s", "5m" or "1m30s"'
    if not value or value.startswith(("-", "+")):
        raise ValueError(f"expected {example}; got {text!r}.")
    position, total = 0, 0.0
    while position < len(value):
        match = _DURATION_PART.match(value, position)
        if match is None:
            raise ValueError(f"expected {example} (units ns, us, ms, s, m, h); got {text!r}.")
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    return total


def format_duration(seconds: float) -> str:
    """A short Go-style rendering for messages: 30s, 2m0s, 1m30s, 0.5s."""
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)}m{rest:g}s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)}h{int(minutes)}m{rest:g}s"
