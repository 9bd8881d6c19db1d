"""The `pulumiservice_api_agents_task_events` data source, against a fake client."""

from __future__ import annotations

import json
from typing import Any

import pytest

from terraform_provider_pulumiservice.cloud.errors import CloudError, NotFoundError
from terraform_provider_pulumiservice.cty import (
    DYNAMIC,
    CtyType,
    List,
    Map,
    Object,
    Set,
    Tuple,
    decode_msgpack,
    encode_msgpack,
)
from terraform_provider_pulumiservice.data_sources.api_agents_task_events import (
    SCHEMA,
    AgentsTaskEventsDataSource,
)
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics, Severity
from terraform_provider_pulumiservice.framework.path import AttributePath

CONFIG = {"id": None, "org_name": "acme", "task_id": "t-1", "events": None}
PROMPT = {
    "id": "e1",
    "isSynthetic": False,
    "type": "userInput",
    "eventBody": {"type": "user_message", "timestamp": "2026-12-01T11:00:00.000Z", "content": "hi"},
}
ANSWER = {
    "id": "e2",
    "isSynthetic": False,
    "type": "agentResponse",
    "eventBody": {
        "type": "assistant_message",
        "timestamp": "2026-12-01T11:00:01.000Z",
        "content": "hello",
        "is_final": True,
        "token_usage": {},
    },
}
ERROR = {
    "id": "e3",
    "isSynthetic": False,
    "type": "agentResponse",
    "eventBody": {"type": "error", "timestamp": "2026-12-01T11:00:02.000Z", "message": "boom"},
}


class TaskNotFound(NotFoundError):
    """A 404 as the client raises it, without depending on the error's constructor."""

    def __init__(self) -> None:
        CloudError.__init__(self, "GET /api/preview/agents/acme/tasks/t-1/events: 404 not found")


class FakeClient:
    """Answers list_events with a fixed value or raises a fixed error; records the calls."""

    def __init__(self, answer: Any = None, error: Exception | None = None) -> None:
        self.answer, self.error = answer, error
        self.calls: list[tuple[str, str]] = []

    def list_events(self, org: str, task_id: str) -> Any:
        self.calls.append((org, task_id))
        if self.error is not None:
            raise self.error
        return self.answer


def read(client: FakeClient) -> tuple[dict[str, Any] | None, Diagnostics]:
    diagnostics = Diagnostics()
    source = AgentsTaskEventsDataSource()
    state = source.read(client, dict(CONFIG), diagnostics)
    return state, diagnostics


def _types(t: CtyType) -> list[CtyType]:
    found = [t]
    if isinstance(t, List | Set | Map):
        found += _types(t.element)
    elif isinstance(t, Object):
        for inner in t.attributes.values():
            found += _types(inner)
    elif isinstance(t, Tuple):
        for inner in t.elements:
            found += _types(inner)
    return found


def test_the_schema_is_typed_all_the_way_down() -> None:
    assert DYNAMIC not in _types(SCHEMA.cty_type)
    events = SCHEMA.attributes["events"]
    assert events.computed and not events.optional
    assert isinstance(events.type, List) and isinstance(events.type.element, Object)
    assert {"id", "type", "event_type", "timestamp", "content", "is_final", "json"} <= set(
        events.type.element.attributes
    )
    assert SCHEMA.attributes["org_name"].required and SCHEMA.attributes["task_id"].required


def test_every_event_is_read_in_order_with_its_typed_attributes() -> None:
    client = FakeClient([PROMPT, ANSWER, ERROR])
    state, diagnostics = read(client)
    assert not diagnostics and client.calls == [("acme", "t-1")]
    assert state is not None and state["id"] == "acme/t-1"
    events = state["events"]
    assert [e["id"] for e in events] == ["e1", "e2", "e3"]
    assert [e["type"] for e in events] == ["userInput", "agentResponse", "agentResponse"]
    assert [e["event_type"] for e in events] == ["user_message", "assistant_message", "error"]
    assert [e["content"] for e in events] == ["hi", "hello", None]
    assert [e["is_final"] for e in events] == [None, True, None]
    assert events[2]["message"] == "boom"
    assert [json.loads(e["json"]) for e in events] == [PROMPT, ANSWER, ERROR]
    # The state fits the schema's type exactly (what Terraform will decode).
    assert decode_msgpack(encode_msgpack(state, SCHEMA.cty_type), SCHEMA.cty_type) == state


def test_a_task_without_events_has_an_empty_list() -> None:
    state, diagnostics = read(FakeClient([]))
    assert not diagnostics and state is not None and state["events"] == []


def test_a_missing_task_is_an_error_on_task_id() -> None:
    state, diagnostics = read(FakeClient(error=TaskNotFound()))
    assert state is None
    [diagnostic] = diagnostics
    assert diagnostic.severity is Severity.ERROR and diagnostic.path == AttributePath.root(
        "task_id"
    )
    assert "'t-1'" in diagnostic.detail and "'acme'" in diagnostic.detail


def test_an_api_failure_is_an_error_carrying_its_message() -> None:
    state, diagnostics = read(FakeClient(error=CloudError("connection refused by http://x")))
    assert state is None
    [diagnostic] = diagnostics
    assert diagnostic.severity is Severity.ERROR and "connection refused" in diagnostic.detail


def test_events_that_are_not_objects_are_skipped_with_a_warning() -> None:
    state, diagnostics = read(FakeClient([PROMPT, "junk", 7, None, ANSWER]))
    assert state is not None and [e["id"] for e in state["events"]] == ["e1", "e2"]
    [diagnostic] = diagnostics
    assert diagnostic.severity is Severity.WARNING and "3 of the 5" in diagnostic.detail


@pytest.mark.parametrize("answer", [None, {"events": []}, "text"])
def test_an_answer_that_is_not_a_list_gives_no_events_and_a_warning(answer: Any) -> None:
    state, diagnostics = read(FakeClient(answer))
    assert state is not None and state["events"] == []
    assert [d.severity for d in diagnostics] == [Severity.WARNING]


def test_odd_event_bodies_become_nulls_not_tracebacks() -> None:
    odd = {"id": "e9", "type": "agentResponse", "eventBody": {"type": 5, "is_final": "yes"}}
    state, diagnostics = read(FakeClient([odd, {"id": None}]))
    assert not diagnostics and state is not None
    first, second = state["events"]
    assert first["id"] == "e9" and first["event_type"] is None and first["is_final"] is None
    assert second["id"] is None and json.loads(second["json"]) == {"id": None}
    encode_msgpack(state, SCHEMA.cty_type)
