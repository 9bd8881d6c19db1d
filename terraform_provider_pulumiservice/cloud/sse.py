"""A Server-Sent Events parser (the WHATWG "event stream" format), pure and incremental.

Feed it bytes as they arrive; it returns the events completed so far. It follows the format's
rules: lines end in CRLF, LF or CR (also when a CRLF is split across chunks); a leading BOM is
dropped; ``data:`` lines are joined with "\\n"; ``event:`` sets the type (default "message");
``id:`` sets the last event id, which persists across events (an id containing NUL is ignored);
``retry:`` with only digits sets the reconnection delay; a line starting with ``:`` is a comment
(servers send them as keep-alives); unknown fields are ignored; a blank line dispatches the event,
unless no data was given. An event not ended by a blank line when the stream ends is discarded.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SseEvent:
    data: str
    event: str = "message"
    # The last event id in force when this event was dispatched ("" if none was ever set).
    id: str = ""
    # True when this frame carried its own id: line (so reconnecting may resume after it).
    has_own_id: bool = False


class SseParser:
    """Incremental parser; one per connection (``last_event_id`` and ``retry_ms`` carry over)."""

    # A line longer than this (no newline in sight) is a misbehaving server, not an event.
    MAX_LINE_BYTES = 16 * 1024 * 1024

    def __init__(self, last_event_id: str = "") -> None:
        self.last_event_id = last_event_id
        self.retry_ms: int | None = None
        self.comments = 0
        self._pending = b""
        self._skip_lf = False
        self._at_start = True
        self._data: list[str] = []
        self._event = ""
        self._own_id = False

    @property
    def has_partial_event(self) -> bool:
        """True when the bytes so far end inside an event (a line or data not yet dispatched):
        a stream ending here was cut off."""
        return bool(self._pending.strip(b"\xef\xbb\xbf")) or bool(self._data)

    def feed(self, chunk: bytes) -> list[SseEvent]:
        events: list[SseEvent] = []
        if not chunk:
            return events
        if self._skip_lf:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        buffer = self._pending + chunk
        if self._at_start:
            if len(buffer) < 3 and b"\xef\xbb\xbf".startswith(buffer):
                self._pending = buffer
                return events
            self._at_start = False
            if buffer.startswith(b"\xef\xbb\xbf"):
                buffer = buffer[3:]
        start = 0
        length = len(buffer)
        # Next CR and LF positions, searched again only once passed (linear in the buffer).
        cr = lf = -2
        while start < length:
            if -1 < cr < start or cr == -2:
                cr = buffer.find(b"\r", start)
            if -1 < lf < start or lf == -2:
                lf = buffer.find(b"\n", start)
            ends = [i for i in (cr, lf) if i >= 0]
            if not ends:
                break
            end = min(ends)
            line = buffer[start:end]
            if buffer[end : end + 1] == b"\r":
                if end + 1 < length:
                    start = end + 2 if buffer[end + 1 : end + 2] == b"\n" else end + 1
                else:
                    start = end + 1
                    self._skip_lf = True  # a CRLF may be split across chunks
            else:
                start = end + 1
            event = self._line(line.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        self._pending = buffer[start:]
        if len(self._pending) > self.MAX_LINE_BYTES:
            raise ValueError(
                f"the event stream sent a line longer than {self.MAX_LINE_BYTES} bytes"
            )
        return events

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
                self._own_id = True
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        data, event, own_id = self._data, self._event, self._own_id
        self._data, self._event, self._own_id = [], "", False
        if not data:
            return None
        return SseEvent(
            data="\n".join(data),
            event=event or "message",
            id=self.last_event_id,
            has_own_id=own_id,
        )
