"""How an agent run ends, read from its events: pure domain logic, no I/O.

An event is an AgentConsoleEvent as the API sends it: `{"id", "type": "userInput" |
"agentResponse", "isSynthetic", "eventBody": {"type", "timestamp", ...}}`. Bodies come from a
service that grows new event kinds, so nothing here raises on an unexpected shape: a missing or
mistyped field reads as absent.

How a run ends (`RunWatcher`):

- an `error` event: FAILED, with the agent's message (errors always end the agent's turn);
- a `cancelled` event: CANCELLED;
- `awaiting_approvals`, or a `user_approval_request` still unanswered when the task stopped
  running: AWAITING_APPROVAL, saying what the agent waits for (the request's message, the tool or
  the plan). A request alone does not end the watch at once: in `auto` and `balanced` modes the
  service may approve it by itself and the run goes on;
- the task is no longer running and none of the above: SUCCEEDED, with the final message (the
  content of the last `assistant_message` whose `is_final` is true; None when there is none).

A new user turn (`user_message` or `user_confirmation`) starts over: an earlier error, cancel or
approval request no longer decides the ending.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

DESCRIPTION_LIMIT = 120


class RunEndKind(Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    AWAITING_APPROVAL = "awaiting_approval"


@dataclass(frozen=True)
class RunEnd:
    """How a run ended.

    `detail` is the agent's own text where it gave one (the error message, what an approval
    request asks), else a short explanation; `final_message` is the run's answer so far.
    `approval_request_id` identifies the open approval request (AWAITING_APPROVAL only).
    """

    kind: RunEndKind
    detail: str
    final_message: str | None = None
    approval_request_id: str | None = None


# --- reading event fields defensively -------------------------------------------------------------


def _body(event: Any) -> Mapping[str, Any]:
    body = event.get("eventBody") if isinstance(event, Mapping) else None
    return body if isinstance(body, Mapping) else {}


def _text(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) else None


def _flag(mapping: Mapping[str, Any], key: str) -> bool | None:
    value = mapping.get(key)
    return value if isinstance(value, bool) else None


def event_type(event: Any) -> str | None:
    """The body's `type` (`assistant_message`, `error`, ...), None when absent."""
    return _text(_body(event), "type")


def _final_content(event: Any) -> str | None:
    body = _body(event)
    if _text(body, "type") == "assistant_message" and _flag(body, "is_final") is True:
        return _text(body, "content")
    return None


def final_message(events: Iterable[Any]) -> str | None:
    """The content of the last `assistant_message` whose `is_final` is true; None if none."""
    answer: str | None = None
    for event in events:
        content = _final_content(event)
        if content is not None:
            answer = content
    return answer


# --- the watcher ----------------------------------------------------------------------------------


def _approval_detail(body: Mapping[str, Any] | None) -> str:
    if body is None:
        return "the agent is waiting for an approval"
    context = body.get("context")
    context = context if isinstance(context, Mapping) else {}
    parts = [_text(body, "message") or "the agent asks for an approval"]
    tool = _text(context, "tool_name")
    if tool:
        parts.append(f"(tool: {tool})")
    plan = _text(context, "plan_description")
    if plan:
        parts.append(f"Plan: {plan}")
    return " ".join(parts)


class RunWatcher:
    """Follows a run's events, in order, and says when and how the run ended.

    Feed every event to `observe`; it returns the ending as soon as an event decides it (and the
    same ending for any later event). When the event source ends, `finish(task_status)` gives the
    ending. `final_message` is the answer so far.
    """

    def __init__(self) -> None:
        self.final_message: str | None = None
        self.events_seen = 0
        self._ended: RunEnd | None = None
        self._approval: Mapping[str, Any] | None = None  # the open user_approval_request body

    @property
    def ended(self) -> RunEnd | None:
        return self._ended

    def observe(self, event: Any) -> RunEnd | None:
        self.events_seen += 1
        content = _final_content(event)
        if content is not None:
            self.final_message = content
        if self._ended is not None:
            return self._ended
        body = _body(event)
        kind = _text(body, "type")
        if kind in ("user_message", "user_confirmation"):
            self._approval = None  # a new turn
        elif kind == "error":
            message = _text(body, "message") or "the agent reported an error without a message"
            self._ended = RunEnd(RunEndKind.FAILED, message, self.final_message)
        elif kind == "cancelled":
            self._ended = RunEnd(RunEndKind.CANCELLED, "the task was cancelled", self.final_message)
        elif kind == "user_approval_request":
            self._approval = body
        elif kind == "awaiting_approvals":
            self._ended = self._awaiting()
        elif kind in ("exec_tool_call", "tool_response", "assistant_message"):
            # The agent went on working: whatever it asked was approved.
            self._approval = None
        return self._ended

    def _awaiting(self) -> RunEnd:
        request_id = _text(self._approval, "id") if self._approval is not None else None
        return RunEnd(
            RunEndKind.AWAITING_APPROVAL,
            _approval_detail(self._approval),
            self.final_message,
            request_id,
        )

    def finish(self, task_status: str) -> RunEnd:
        """The ending once the event source ended and the task's status is `task_status`.

        Raises ValueError for `running`: the run has not ended (a caller's bug, not the API's).
        """
        if self._ended is not None:
            return self._ended
        if task_status == "running":
            raise ValueError("the run has not ended: the task is still running")
        if self._approval is not None:
            self._ended = self._awaiting()
        elif task_status == "idle":
            detail = (
                "the agent finished"
                if self.final_message is not None
                else "the agent finished without a final message"
            )
            self._ended = RunEnd(RunEndKind.SUCCEEDED, detail, self.final_message)
        else:
            self._ended = RunEnd(
                RunEndKind.FAILED,
                f"the task stopped with status {task_status!r}",
                self.final_message,
            )
        return self._ended


# --- one-line descriptions for the log ------------------------------------------------------------


def _short(text: str | None, limit: int = DESCRIPTION_LIMIT) -> str:
    if not text:
        return ""
    collapsed = " ".join(text.split())
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 1].rstrip() + "…"


def _tool_names(body: Mapping[str, Any]) -> list[str]:
    calls = body.get("tool_calls")
    if not isinstance(calls, list):
        return []
    return [name for call in calls if isinstance(call, Mapping) and (name := _text(call, "name"))]


def describe_event(event: Any) -> str:
    """One short line saying what an event is, for INFO logging."""
    body = _body(event)
    kind = _text(body, "type")
    if kind is None:
        return "event of an unknown shape"
    if kind == "assistant_message":
        line = f"assistant{' (final)' if _flag(body, 'is_final') else ''}: "
        line += _short(_text(body, "content"))
        tools = _tool_names(body)
        return line + (f" [calls {', '.join(tools)}]" if tools else "")
    if kind == "user_message":
        return f"user: {_short(_text(body, 'content'))}"
    if kind == "user_confirmation":
        ok = _flag(body, "ok")
        verdict = "answered" if ok is None else "approved" if ok else "rejected"
        return f"user {verdict} an approval request"
    if kind == "set_task_name":
        return f"task name set: {_short(_text(body, 'name'))}"
    if kind == "exec_tool_call":
        return f"tool call: {_text(body, 'name') or '?'}"
    if kind == "tool_response":
        failed = " (error)" if _flag(body, "is_error") else ""
        return f"tool response: {_text(body, 'name') or '?'}{failed}"
    if kind == "exec_tool_call_progress":
        return f"tool progress: {_short(_text(body, 'status'))}"
    if kind in ("error", "warning"):
        return f"{kind}: {_short(_text(body, 'message'))}"
    if kind == "cancelled":
        return "cancelled"
    if kind == "user_approval_request":
        return f"approval requested: {_short(_approval_detail(body))}"
    if kind == "awaiting_approvals":
        return "awaiting approvals"
    if kind == "context_compression_event":
        return f"context compression: {_text(body, 'status') or '?'}"
    return _short(kind.replace("_", " "))


# --- the data source's flattening -----------------------------------------------------------------

EVENT_ATTRIBUTES = (
    "id",
    "type",
    "event_type",
    "timestamp",
    "content",
    "message",
    "is_final",
    "json",
)


def event_attributes(event: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes of one event in `pulumiservice_api_agents_task_events`.

    `content` is the body's `content` when it is text (messages), `message` the body's `message`
    (errors, warnings, approval requests), `is_final` is set for assistant messages only, and
    `json` is the whole event as the API sent it. Mistyped fields read as null.
    """
    body = _body(event)
    kind = _text(body, "type")
    return {
        "id": _text(event, "id"),
        "type": _text(event, "type"),
        "event_type": kind,
        "timestamp": _text(body, "timestamp"),
        "content": _text(body, "content"),
        "message": _text(body, "message"),
        "is_final": _flag(body, "is_final") if kind == "assistant_message" else None,
        "json": json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=str),
    }
