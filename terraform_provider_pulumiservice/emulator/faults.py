"""Fault injection and the request log, both driven through the `/_emulator` control endpoints."""

from __future__ import annotations

import collections
import re
import threading
from dataclasses import dataclass
from typing import Any

# drop_stream: an event stream (GET …/events/stream) sends `after_events` events, then the
# connection is cut without ending the chunked body, as a network failure would.
FAULT_ACTIONS = ("status", "drop_before", "drop_after", "delay", "drop_stream")
# Actions after which no later rule gets a say about the same request.
_TERMINAL_ACTIONS = ("status", "drop_before")
REDACTED = "<redacted>"
# Bounds memory for long-running emulators; far above what any test or demo produces.
MAX_LOGGED_REQUESTS = 200_000


@dataclass
class FaultRule:
    method: str | None
    path_pattern: re.Pattern[str] | None
    action: str
    status: int
    retry_after: str | None
    delay_ms: int
    remaining: int | None  # None: fires until the rules are cleared
    after_events: int = 0

    @classmethod
    def from_json(cls, raw: Any) -> FaultRule:
        """Parse one rule of `POST /_emulator/faults`; raises ValueError when it is malformed."""
        if not isinstance(raw, dict):
            raise ValueError("each rule must be a JSON object")
        action = raw.get("action")
        if action not in FAULT_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(FAULT_ACTIONS)}")
        method = raw.get("method")
        if method is not None and not isinstance(method, str):
            raise ValueError("method must be a string or null")
        path_regex = raw.get("path_regex")
        if path_regex is not None and not isinstance(path_regex, str):
            raise ValueError("path_regex must be a string or null")
        try:
            pattern = re.compile(path_regex) if path_regex is not None else None
        except re.error as error:
            raise ValueError(f"invalid path_regex: {error}") from None
        status = raw.get("status", 500 if action == "status" else 0)
        if action == "status" and (
            not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599
        ):
            raise ValueError("status must be an HTTP status code")
        retry_after = raw.get("retry_after")
        if retry_after is not None and not isinstance(retry_after, str | int):
            raise ValueError("retry_after must be a header value string")
        delay_ms = raw.get("delay_ms", 0)
        if not isinstance(delay_ms, int) or isinstance(delay_ms, bool) or delay_ms < 0:
            raise ValueError("delay_ms must be a non-negative integer")
        after_events = raw.get("after_events", 0)
        if not isinstance(after_events, int) or isinstance(after_events, bool) or after_events < 0:
            raise ValueError("after_events must be a non-negative integer")
        times = raw.get("times")
        if times is not None and (
            not isinstance(times, int) or isinstance(times, bool) or times < 1
        ):
            raise ValueError("times must be a positive integer or null")
        return cls(
            method=method.upper() if method else None,
            path_pattern=pattern,
            action=action,
            status=int(status or 0),
            retry_after=None if retry_after is None else str(retry_after),
            delay_ms=delay_ms,
            remaining=times,
            after_events=after_events,
        )

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self.path_pattern is None or self.path_pattern.search(path) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path_regex": self.path_pattern.pattern if self.path_pattern else None,
            "action": self.action,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
            "times": self.remaining,
            "after_events": self.after_events,
        }


class FaultBook:
    """The active fault rules, consulted once per API request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, raw_rules: Any) -> None:
        if not isinstance(raw_rules, list):
            raise ValueError("rules must be an array")
        parsed = [FaultRule.from_json(raw) for raw in raw_rules]
        with self._lock:
            self._rules.extend(parsed)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_json() for rule in self._rules]

    def fire(self, method: str, path: str) -> list[FaultRule]:
        """The rules that fire for this request, in order, each with one use spent.

        Firing stops at the first rule that answers or drops the request instead of serving it.
        """
        fired: list[FaultRule] = []
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(method, path):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                fired.append(rule)
                if rule.action in _TERMINAL_ACTIONS:
                    break
        return fired


class RequestLog:
    """API requests as the control endpoint reports them; entries are completed when answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=MAX_LOGGED_REQUESTS
        )

    def record(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        headers: dict[str, str],
        when: float,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": query,
            "body": body,
            "status": None,
            "headers": {
                name: REDACTED if name == "authorization" else value
                for name, value in headers.items()
            },
            "time": when,
        }
        with self._lock:
            self._entries.append(entry)
        return entry

    def set_status(self, entry: dict[str, Any], status: int) -> None:
        with self._lock:
            entry["status"] = status

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
