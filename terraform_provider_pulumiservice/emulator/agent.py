"""The emulator's scripted agent: what a run says, step by step. Pure: no clock, no storage.

A run is a list of steps; each step is a list of AgentBackendEvent bodies (without `timestamp`,
which the store stamps with the step's due time). The store spreads the steps over the run's
length (`idle_after`, or `pace` seconds per step) and turns the task idle when the last one is due.

The first run of a task (after its prompt P) is::

    set_task_name                        the generated name
    assistant_message  is_final=false    "Looking into: P"
    assistant_message  is_final=false    announces the `pulumi_preview` tool call (tool_calls=[...])
    [user_approval_request + awaiting_approvals   when the task must wait for approval: the run
                                                  stops here; a user_confirmation resumes it]
    exec_tool_call                       pulumi_preview
    tool_response                        its result (is_error=true for the error outcome)
    assistant_message  is_final=true     "Done: P ..."  (outcome success)
  | error              message           the agent's failure, quoting P (outcome error)

The `cancelled` outcome ends after the first assistant message with a `cancelled` event.
A prompt may carry per-task knobs in a marker, e.g. `[emulator: outcome=error, pace=0.2]`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

OUTCOMES = ("success", "error", "cancelled")
TOOL_NAME = "pulumi_preview"
MODEL_NAME = "emulated-model"
REPLY_OUTPUT_TOKENS = 96

Step = list[dict[str, Any]]

_MARKER = re.compile(r"\[emulator:(?P<settings>[^\]]*)\]", re.IGNORECASE)


@dataclass(frozen=True)
class Knobs:
    """Per-task overrides read from a prompt marker; None means "the emulator's setting"."""

    outcome: str | None = None
    pace: float | None = None


def parse_knobs(prompt: str) -> Knobs:
    """`[emulator: outcome=error, pace=0.5]` anywhere in the prompt; unknown or bad values ignored.

    The marker is a test hook, not API input, so a malformed one is ignored rather than rejected:
    the real service would accept the same prompt.
    """
    outcome: str | None = None
    pace: float | None = None
    for match in _MARKER.finditer(prompt):
        for item in re.split(r"[,\s]+", match["settings"].strip()):
            key, _, value = item.partition("=")
            key, value = key.strip().lower(), value.strip()
            if key == "outcome" and value in OUTCOMES:
                outcome = value
            elif key == "pace":
                try:
                    seconds = float(value)
                except ValueError:
                    continue
                if 0 < seconds < 86_400:
                    pace = seconds
    return Knobs(outcome, pace)


def _quote(prompt: str) -> str:
    return " ".join(prompt.split())


def _token_usage(input_tokens: int) -> dict[str, Any]:
    return {MODEL_NAME: {"input_tokens": input_tokens, "output_tokens": REPLY_OUTPUT_TOKENS}}


def _assistant(content: str, is_final: bool, input_tokens: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "assistant_message",
        "content": content,
        "is_final": is_final,
        "token_usage": _token_usage(input_tokens),
        **extra,
    }


def final_answer(prompt: str) -> str:
    """The final assistant message of a successful run: quotes the prompt so runs differ."""
    return (
        f'(emulated agent) Done: "{_quote(prompt)}". I ran {TOOL_NAME} on the stack: '
        "no changes are needed."
    )


def failure_message(prompt: str) -> str:
    return (
        f'(emulated agent) I could not finish "{_quote(prompt)}": {TOOL_NAME} failed '
        "because the stack could not be reached."
    )


@dataclass
class Script:
    """A run's steps, and what follows an approval request (empty when none is asked for)."""

    steps: list[Step]
    approval: dict[str, Any] | None = None  # {"id", "tool_name", "approved": [...], "rejected"}


def first_run(
    prompt: str,
    task_name: str,
    outcome: str,
    needs_approval: bool,
    plan_mode: bool,
    input_tokens: int,
) -> Script:
    """The script of a task's first run (see the module docstring)."""
    call_id = f"call-{uuid.uuid4().hex[:12]}"
    quoted = _quote(prompt)
    steps: list[Step] = [
        [{"type": "set_task_name", "name": task_name}],
        [_assistant(f"(emulated agent) Looking into: {quoted}", False, input_tokens)],
    ]
    if outcome == "cancelled":
        steps.append([{"type": "cancelled", "operation_was_running": True}])
        return Script(steps)
    tool_call = {"id": call_id, "name": TOOL_NAME, "args": {"stack": {"name": "dev"}}}
    steps.append(
        [
            _assistant(
                f"(emulated agent) I'll run {TOOL_NAME} to see what would change.",
                False,
                input_tokens,
                tool_calls=[tool_call],
            )
        ]
    )
    rest = _tool_steps(prompt, call_id, outcome, input_tokens)
    if not (needs_approval or plan_mode):
        return Script(steps + rest)
    approval_id = str(uuid.uuid4())
    request: dict[str, Any] = {
        "type": "user_approval_request",
        "id": approval_id,
        "source": "agent",
        "buttons": ["Approve", "Reject"],
    }
    if plan_mode:
        plan = f"1. Run {TOOL_NAME} on the dev stack.\n2. Report what would change for: {quoted}"
        request |= {
            "message": "Approve the plan to leave plan mode?",
            "approval_type": "plan_exit",
            "context": {"plan_description": plan},
        }
    else:
        request |= {
            "message": f"Allow the agent to run {TOOL_NAME}?",
            "approval_type": "tool_permission",
            "sensitivity": "regular",
            "context": {"tool_call_id": call_id, "tool_name": TOOL_NAME},
        }
    steps.append([request, {"type": "awaiting_approvals"}])
    rejected: list[Step] = [
        [_assistant(f"(emulated agent) Understood: I did not run {TOOL_NAME}.", True, input_tokens)]
    ]
    approval = {"id": approval_id, "tool_name": TOOL_NAME, "approved": rest, "rejected": rejected}
    return Script(steps, approval)


def _tool_steps(prompt: str, call_id: str, outcome: str, input_tokens: int) -> list[Step]:
    failed = outcome == "error"
    result = (
        {"error": "the stack could not be reached"}
        if failed
        else {"summary": "Resources: 4 unchanged", "changes": {"unchanged": 4}}
    )
    steps: list[Step] = [
        [{"type": "exec_tool_call", "tool_call_id": call_id, "name": TOOL_NAME}],
        [
            {
                "type": "tool_response",
                "tool_call_id": call_id,
                "name": TOOL_NAME,
                "content": result,
                "is_error": failed,
            }
        ],
    ]
    if failed:
        steps.append([{"type": "error", "message": failure_message(prompt)}])
    else:
        steps.append([_assistant(final_answer(prompt), True, input_tokens)])
    return steps


def reply_run(prompt: str, input_tokens: int) -> Script:
    """A later turn (a follow-up message): one final answer to it."""
    return Script([[_assistant(final_answer(prompt), True, input_tokens)]])


def awaiting_run() -> Script:
    """What the agent answers to a message while it waits for an approval."""
    return Script([[{"type": "awaiting_approvals"}]])
