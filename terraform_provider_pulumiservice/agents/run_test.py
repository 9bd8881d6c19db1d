"""How a run ends, read from its events (terraform_provider_pulumiservice.agents.run)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terraform_provider_pulumiservice.agents.run import (
    EVENT_ATTRIBUTES,
    RunEnd,
    RunEndKind,
    RunWatcher,
    describe_event,
    event_attributes,
    final_message,
)


def agent(kind: str, **fields: Any) -> dict[str, Any]:
    body = {"type": kind, "timestamp": "2026-12-01T11:00:00.000Z", **fields}
    return {"id": f"e-{kind}", "isSynthetic": False, "type": "agentResponse", "eventBody": body}


def user(kind: str, **fields: Any) -> dict[str, Any]:
    body = {"type": kind, "timestamp": "2026-12-01T11:00:00.000Z", **fields}
    return {"id": f"u-{kind}", "isSynthetic": False, "type": "userInput", "eventBody": body}


def say(content: str, final: bool) -> dict[str, Any]:
    return agent("assistant_message", content=content, is_final=final, token_usage={})


PROMPT = user("user_message", content="Review drift")
CALL = agent(
    "assistant_message",
    content="running a preview",
    is_final=False,
    token_usage={},
    tool_calls=[{"id": "c1", "name": "pulumi_preview", "args": {}}],
)
REQUEST = agent(
    "user_approval_request",
    id="ap-1",
    message="Allow the agent to run pulumi_preview?",
    approval_type="tool_permission",
    source="agent",
    context={"tool_call_id": "c1", "tool_name": "pulumi_preview"},
)


REQUEST_TEXT = "Allow the agent to run pulumi_preview? (tool: pulumi_preview)"


def watch(events: list[dict[str, Any]]) -> tuple[RunWatcher, list[RunEnd | None]]:
    watcher = RunWatcher()
    return watcher, [watcher.observe(event) for event in events]


# --- final_message --------------------------------------------------------------------------------


def test_the_final_message_is_the_last_final_assistant_message() -> None:
    events = [PROMPT, say("thinking", False), say("first answer", True), say("later", False)]
    assert final_message(events) == "first answer"
    assert final_message([*events, say("second answer", True)]) == "second answer"


def test_there_is_no_final_message_without_a_final_assistant_message() -> None:
    assert final_message([]) is None
    assert final_message([PROMPT, say("thinking", False), agent("error", message="x")]) is None


def test_odd_events_never_count_as_a_final_message() -> None:
    odd: list[Any] = [
        None,
        "text",
        {"eventBody": "nope"},
        agent("assistant_message", content=7, is_final=True),
        agent("assistant_message", content="not final", is_final="true"),
        user("user_message", content="a user is never final", is_final=True),
    ]
    assert final_message(odd) is None


# --- the watcher ----------------------------------------------------------------------------------


def test_a_run_that_goes_idle_succeeded_with_its_final_message() -> None:
    watcher, endings = watch([PROMPT, CALL, say("all good", True)])
    assert endings == [None, None, None]
    end = watcher.finish("idle")
    assert end == RunEnd(RunEndKind.SUCCEEDED, "the agent finished", "all good")


def test_a_run_that_goes_idle_without_an_answer_succeeded_with_none() -> None:
    watcher, _ = watch([PROMPT, say("thinking", False)])
    end = watcher.finish("idle")
    assert end.kind is RunEndKind.SUCCEEDED and end.final_message is None
    assert "without a final message" in end.detail


def test_an_error_event_ends_the_run_at_once_with_the_agents_message() -> None:
    watcher, endings = watch([PROMPT, CALL, agent("error", message="the stack is gone")])
    assert endings[:2] == [None, None]
    assert endings[2] == RunEnd(RunEndKind.FAILED, "the stack is gone", None)
    assert watcher.finish("idle") == endings[2]  # the event decided it
    assert watcher.observe(say("late", True)) == endings[2]


def test_an_error_without_a_message_still_fails_with_a_readable_detail() -> None:
    _, endings = watch([agent("error", message=None)])
    assert endings[0] is not None and endings[0].kind is RunEndKind.FAILED
    assert "without a message" in endings[0].detail


def test_a_cancelled_event_ends_the_run_as_cancelled() -> None:
    cancelled = agent("cancelled", operation_was_running=True)
    _, endings = watch([PROMPT, say("answer", True), cancelled])
    assert endings[-1] == RunEnd(RunEndKind.CANCELLED, "the task was cancelled", "answer")


def test_awaiting_approvals_ends_the_run_saying_what_it_waits_for() -> None:
    _, endings = watch([PROMPT, CALL, REQUEST, agent("awaiting_approvals")])
    assert endings[:3] == [None, None, None]  # the request alone may still be auto-approved
    end = endings[3]
    assert end is not None and end.kind is RunEndKind.AWAITING_APPROVAL
    assert end.detail == REQUEST_TEXT
    assert end.approval_request_id == "ap-1"


def test_an_unanswered_approval_request_ends_the_run_when_the_task_stops() -> None:
    watcher, _ = watch([PROMPT, CALL, REQUEST])
    end = watcher.finish("idle")
    assert end.kind is RunEndKind.AWAITING_APPROVAL and "pulumi_preview" in end.detail


def test_a_plan_approval_quotes_the_plan() -> None:
    plan_request = agent(
        "user_approval_request",
        id="ap-2",
        message="Approve the plan?",
        approval_type="plan_exit",
        context={"plan_description": "1. preview\n2. report"},
    )
    watcher, _ = watch([PROMPT, plan_request])
    assert watcher.finish("idle").detail == "Approve the plan? Plan: 1. preview\n2. report"


def test_awaiting_approvals_without_a_request_still_says_it_waits() -> None:
    _, endings = watch([agent("awaiting_approvals")])
    assert endings[0] is not None
    assert endings[0].kind is RunEndKind.AWAITING_APPROVAL
    assert endings[0].detail == "the agent is waiting for an approval"
    assert endings[0].approval_request_id is None


def test_an_approval_request_followed_by_more_work_was_approved() -> None:
    tool = agent("exec_tool_call", tool_call_id="c1", name="pulumi_preview")
    watcher, _ = watch([PROMPT, CALL, REQUEST, tool, say("done", True)])
    assert watcher.finish("idle") == RunEnd(RunEndKind.SUCCEEDED, "the agent finished", "done")


def test_a_user_confirmation_answers_the_open_request() -> None:
    confirm = user("user_confirmation", approval_request_id="ap-1", ok=True)
    watcher, _ = watch([PROMPT, CALL, REQUEST, confirm])
    assert watcher.finish("idle").kind is RunEndKind.SUCCEEDED


def test_finish_refuses_a_task_that_is_still_running() -> None:
    with pytest.raises(ValueError, match="still running"):
        RunWatcher().finish("running")


def test_an_unknown_stopped_status_is_a_failure_naming_it() -> None:
    end = RunWatcher().finish("exploded")
    assert end.kind is RunEndKind.FAILED and "'exploded'" in end.detail


def test_the_watcher_counts_events_and_keeps_the_answer_so_far() -> None:
    watcher, _ = watch([PROMPT, say("one", True), say("two", False)])
    assert watcher.events_seen == 3 and watcher.final_message == "one" and watcher.ended is None


# --- describe_event -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (PROMPT, "user: Review drift"),
        (say("hello\nthere", False), "assistant: hello there"),
        (say("done", True), "assistant (final): done"),
        (CALL, "assistant: running a preview [calls pulumi_preview]"),
        (agent("set_task_name", name="Drift review"), "task name set: Drift review"),
        (agent("exec_tool_call", name="preview", tool_call_id="c"), "tool call: preview"),
        (agent("tool_response", name="preview", is_error=True), "tool response: preview (error)"),
        (agent("error", message="boom"), "error: boom"),
        (agent("warning", message="slow"), "warning: slow"),
        (agent("cancelled"), "cancelled"),
        (REQUEST, f"approval requested: {REQUEST_TEXT}"),
        (agent("awaiting_approvals"), "awaiting approvals"),
        (user("user_confirmation", ok=False), "user rejected an approval request"),
        (agent("context_compression_event", status="done"), "context compression: done"),
        (agent("brand_new_kind"), "brand new kind"),
        ({"nothing": True}, "event of an unknown shape"),
    ],
)  # fmt: skip
def test_each_event_is_described_in_one_short_line(event: dict[str, Any], line: str) -> None:
    assert describe_event(event) == line


def test_long_assistant_messages_are_cut_to_about_120_characters() -> None:
    line = describe_event(say("word " * 100, False))
    assert line.startswith("assistant: word word") and line.endswith("…")
    assert len(line) <= len("assistant: ") + 120


# --- event_attributes -----------------------------------------------------------------------------


def test_an_assistant_message_flattens_to_typed_attributes() -> None:
    event = say("the answer", True)
    attributes = event_attributes(event)
    assert attributes == {
        "id": "e-assistant_message",
        "type": "agentResponse",
        "event_type": "assistant_message",
        "timestamp": "2026-12-01T11:00:00.000Z",
        "content": "the answer",
        "message": None,
        "is_final": True,
        "json": attributes["json"],
    }
    assert json.loads(attributes["json"]) == event


def test_attributes_that_do_not_apply_are_null() -> None:
    error = event_attributes(agent("error", message="boom"))
    assert error["content"] is None and error["is_final"] is None and error["message"] == "boom"
    prompt = event_attributes(PROMPT)
    assert prompt["type"] == "userInput" and prompt["content"] == "Review drift"
    assert prompt["is_final"] is None


def test_mistyped_fields_read_as_null() -> None:
    event = {"id": 5, "type": ["x"], "eventBody": {"type": 3, "content": {}, "timestamp": 1}}
    attributes = event_attributes(event)
    assert set(attributes) == set(EVENT_ATTRIBUTES)
    assert {k: v for k, v in attributes.items() if k != "json"} == dict.fromkeys(
        EVENT_ATTRIBUTES[:-1]
    )


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
_EVENTS = st.dictionaries(
    st.sampled_from(["id", "type", "eventBody", "isSynthetic"]),
    _JSON | st.dictionaries(st.sampled_from(["type", "content", "is_final", "message"]), _JSON),
)


@given(st.lists(_EVENTS | _JSON, max_size=8))
def test_no_event_body_makes_any_of_it_raise(events: list[Any]) -> None:
    watcher = RunWatcher()
    for event in events:
        watcher.observe(event)
        assert isinstance(describe_event(event), str)
        if isinstance(event, dict):
            assert set(event_attributes(event)) == set(EVENT_ATTRIBUTES)
    final_message(events)
    assert isinstance(watcher.finish("idle"), RunEnd)
