"""The Pulumi Cloud emulator's agent-task API, exercised over real HTTP with httpx.

Most tests drive the emulator with a hand-advanced clock so task lifecycles are deterministic; one
test uses the real clock to show a task turning idle on its own. Every success body is validated
against the OpenAPI extract's response schema.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]  # no stubs in the dev deps
import pytest

from terraform_provider_pulumiservice.emulator.server import EmulatorServer
from tests.support.emulator import (
    TASK_PROPERTIES,
    TOKEN,
    FakeClock,
    assert_matches_schema,
    client_for,
    running_emulator,
)

TASKS = "/api/preview/agents/acme/tasks"


def assert_valid_task(task: dict[str, Any]) -> None:
    assert_matches_schema(task, "AgentTask")
    assert set(task) <= TASK_PROPERTIES, set(task) - TASK_PROPERTIES
    assert None not in task.values(), "optional properties without a value must be omitted"


def test_schema_helper_rejects_what_the_spec_rejects() -> None:
    body: dict[str, Any] = {"type": "user_message", "timestamp": "2026-01-01T00:00:00.000Z"}
    good = {"id": "e1", "isSynthetic": False, "type": "userInput", "eventBody": body}
    with pytest.raises(jsonschema.ValidationError):  # a user_message needs content
        assert_matches_schema(good, "AgentConsoleEvent")
    body["content"] = "hi"
    assert_matches_schema(good, "AgentConsoleEvent")
    with pytest.raises(jsonschema.ValidationError):
        assert_matches_schema({**good, "type": "mystery"}, "AgentConsoleEvent")
    with pytest.raises(jsonschema.ValidationError):
        assert_matches_schema({"taskId": 7}, "CreateAgentTaskResponse")


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def server(clock: FakeClock) -> Iterator[EmulatorServer]:
    with running_emulator(idle_after=2.0, clock=clock, stream_max_seconds=1.5) as srv:
        yield srv


@pytest.fixture()
def api(server: EmulatorServer) -> Iterator[httpx.Client]:
    with client_for(server.url) as client:
        yield client


def prompt(content: str = "Check my stacks for drift", **extra: Any) -> dict[str, Any]:
    return {"message": {"type": "user_message", "content": content}, **extra}


def create(api: httpx.Client, org_path: str = TASKS, **body: Any) -> str:
    response = api.post(org_path, json=body or prompt())
    assert response.status_code == 201, response.text
    assert_matches_schema(response.json(), "CreateAgentTaskResponse")
    return str(response.json()["taskId"])


def get_task(api: httpx.Client, task_id: str) -> dict[str, Any]:
    response = api.get(f"{TASKS}/{task_id}")
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    assert_valid_task(task)
    return task


def assert_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status and isinstance(body["message"], str) and body["message"]
    assert response.headers["content-type"] == "application/json"


# --- create and get -------------------------------------------------------------------------------


def test_create_then_get_returns_a_running_task_with_defaults(api: httpx.Client) -> None:
    response = api.post(TASKS, json=prompt("Check my stacks for drift"))
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert uuid.UUID(response.headers["x-pulumi-request-id"])
    task_id = response.json()["taskId"]
    assert uuid.UUID(task_id)

    task = get_task(api, task_id)
    assert task["id"] == task_id
    assert task["name"] == "Check my stacks for drift"
    assert task["status"] == "running"
    assert task["runtimePhase"] == "booting"
    assert task["taskType"] == "sync"
    assert task["isShared"] is False and "sharedAt" not in task
    assert task["entities"] == [] and task["planMode"] is False
    assert task["approvalMode"] == "manual" and task["permissionMode"] == "default"
    assert task["source"] == "api" and task["toolExecutionMode"] == "cloud"
    assert "role" not in task
    assert task["contextWindowTokens"] == 200_000
    assert task["contextCompactionThresholdPercent"] == 80
    assert task["tokensUsed"] > 0 and task["contextUsedTokens"] > 0
    assert task["createdBy"] == {
        "name": "Emulator User",
        "githubLogin": "emulator-user",
        "avatarUrl": "https://avatars.example.com/emulator-user.png",
    }
    created = datetime.fromisoformat(task["createdAt"])
    assert created.tzinfo is not None and created.utcoffset() == UTC.utcoffset(None)
    assert created.timestamp() == pytest.approx(1_800_000_000.0)
    assert task["lastHeartbeat"] == task["createdAt"]


def test_create_honours_every_option_and_ignores_unknown_fields(api: httpx.Client) -> None:
    entity = {"type": "stack", "name": "prod", "project": "web"}
    message = {"type": "user_message", "content": "Fix prod", "entity_diff": {"add": [entity]}}
    task_id = create(
        api,
        message=message,
        approvalMode="auto",
        permissionMode="read-only",
        planMode=True,
        role="role-123",
        source="cli",
        toolExecutionMode="worker",
        cliIntegrations=[{"catalogId": "AWS", "name": "default"}],
        enabledIntegrations=[{"id": "honeycomb"}],
        somethingNew={"ignored": True},
    )
    task = get_task(api, task_id)
    assert task["approvalMode"] == "auto"
    assert task["permissionMode"] == "read-only"
    assert task["planMode"] is True
    assert task["role"] == "role-123"
    assert task["source"] == "cli"
    assert task["toolExecutionMode"] == "worker"
    assert task["entities"] == [entity]


def test_generated_name_is_the_start_of_the_first_message(api: httpx.Client) -> None:
    content = "Please   review\nevery stack in the organization and report anything that drifted"
    task = get_task(api, create(api, **prompt(content)))
    assert task["name"] == " ".join(content.split())[:60].rstrip()
    assert len(task["name"]) <= 60


def test_empty_cli_and_integration_lists_are_accepted(api: httpx.Client) -> None:
    create(api, **prompt(cliIntegrations=[], enabledIntegrations=[]))


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "message"),
        ({"message": None}, "message"),
        ({"message": "hi"}, "message"),
        ({"message": {"content": "hi"}}, "user_message"),
        ({"message": {"type": "user_confirmation", "content": "hi"}}, "user_message"),
        ({"message": {"type": "user_message"}}, "content"),
        ({"message": {"type": "user_message", "content": ""}}, "content"),
        ({"message": {"type": "user_message", "content": "   "}}, "content"),
        ({"message": {"type": "user_message", "content": 5}}, "content"),
        (prompt(approvalMode="sometimes"), "approvalMode"),
        (prompt(permissionMode="admin"), "permissionMode"),
        (prompt(source="email"), "source"),
        (prompt(toolExecutionMode="laptop"), "toolExecutionMode"),
        (prompt(planMode="yes"), "planMode"),
        (prompt(cliIntegrations=[{"name": "default"}]), "catalogId"),
        (prompt(cliIntegrations=[{"catalogId": "aws"}]), "name"),
        (prompt(cliIntegrations=[{"catalogId": "aws", "name": "prod"}]), "not connected"),
        (prompt(cliIntegrations=[{"catalogId": "azure", "name": "default"}]), "not connected"),
        (prompt(cliIntegrations={"catalogId": "aws"}), "cliIntegrations"),
        (prompt(enabledIntegrations=[{}]), "id"),
        (prompt(enabledIntegrations=[{"id": ""}]), "id"),
        ([prompt()], "object"),
    ],
)
def test_create_rejects_invalid_requests_without_creating(
    api: httpx.Client, body: Any, fragment: str
) -> None:
    response = api.post(TASKS, json=body)
    assert_error(response, 400)
    assert fragment in response.json()["message"]
    assert api.get(TASKS).json()["tasks"] == []


def test_create_rejects_a_body_that_is_not_json(api: httpx.Client) -> None:
    response = api.post(TASKS, content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(response, 400)


# --- authentication and not-found -----------------------------------------------------------------

OPERATIONS: list[tuple[str, str, Any]] = [
    ("GET", TASKS, None),
    ("POST", TASKS, prompt()),
    ("GET", f"{TASKS}/{{id}}", None),
    ("PATCH", f"{TASKS}/{{id}}", {"name": "x"}),
    ("POST", f"{TASKS}/{{id}}", {"event": {"type": "user_message", "content": "hi"}}),
    ("POST", f"{TASKS}/{{id}}/cancel", {"force": True}),
    ("GET", f"{TASKS}/{{id}}/events", None),
    ("GET", f"{TASKS}/{{id}}/events/stream", None),
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
@pytest.mark.parametrize(
    "authorization", [None, "token wrong-token", f"Bearer {TOKEN}", "token", f"{TOKEN}"]
)
def test_every_operation_requires_a_valid_token(
    server: EmulatorServer, method: str, path: str, body: Any, authorization: str | None
) -> None:
    with client_for(server.url) as owner:
        task_id = create(owner)
    headers = {} if authorization is None else {"Authorization": authorization}
    url = server.url + path.format(id=task_id)
    response = httpx.request(method, url, json=body, headers=headers, verify=False)
    assert_error(response, 401)
    assert len(server.store.all_tasks()) == 1


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS[2:])
def test_unknown_task_is_404(api: httpx.Client, method: str, path: str, body: Any) -> None:
    existing = create(api)
    for org_path, task_id in (
        (TASKS, str(uuid.uuid4())),
        ("/api/preview/agents/other/tasks", existing),
    ):
        url = org_path + path.removeprefix(TASKS).format(id=task_id)
        assert_error(api.request(method, url, json=body), 404)


def test_tasks_are_scoped_to_their_organization(api: httpx.Client) -> None:
    create(api)
    other = create(api, "/api/preview/agents/other-org/tasks")
    assert [t["id"] for t in api.get("/api/preview/agents/other-org/tasks").json()["tasks"]] == [
        other
    ]
    assert len(api.get(TASKS).json()["tasks"]) == 1


def test_unknown_route_and_wrong_method(api: httpx.Client) -> None:
    assert_error(api.get("/api/preview/agents/acme/widgets"), 404)
    response = api.delete(TASKS)
    assert_error(response, 405)
    assert "GET" in response.headers["allow"]


# --- update ---------------------------------------------------------------------------------------


def test_patch_updates_fields_and_null_means_no_change(api: httpx.Client, clock: FakeClock) -> None:
    task_id = create(api)
    response = api.patch(
        f"{TASKS}/{task_id}",
        json={
            "name": "  Renamed task  ",
            "approvalMode": "balanced",
            "permissionMode": "read-only",
        },
    )
    assert response.status_code == 200
    task = response.json()
    assert_valid_task(task)
    assert task["name"] == "Renamed task"
    assert task["approvalMode"] == "balanced" and task["permissionMode"] == "read-only"

    unchanged = api.patch(
        f"{TASKS}/{task_id}",
        json={"name": None, "isShared": None, "approvalMode": None, "permissionMode": None},
    ).json()
    assert {k: unchanged[k] for k in ("name", "approvalMode", "permissionMode", "isShared")} == {
        "name": "Renamed task",
        "approvalMode": "balanced",
        "permissionMode": "read-only",
        "isShared": False,
    }
    assert api.patch(f"{TASKS}/{task_id}", json={}).json()["name"] == "Renamed task"
    assert get_task(api, task_id)["name"] == "Renamed task"


def test_sharing_sets_shared_at_only_the_first_time(api: httpx.Client, clock: FakeClock) -> None:
    task_id = create(api)
    clock.advance(10)
    shared = api.patch(f"{TASKS}/{task_id}", json={"isShared": True}).json()
    assert shared["isShared"] is True
    first_shared_at = shared["sharedAt"]
    assert datetime.fromisoformat(first_shared_at).timestamp() == pytest.approx(1_800_000_010.0)
    clock.advance(10)
    unshared = api.patch(f"{TASKS}/{task_id}", json={"isShared": False}).json()
    assert unshared["isShared"] is False and unshared["sharedAt"] == first_shared_at
    again = api.patch(f"{TASKS}/{task_id}", json={"isShared": True}).json()
    assert again["sharedAt"] == first_shared_at


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 256},
        {"name": 5},
        {"isShared": "true"},
        {"approvalMode": "never"},
        {"permissionMode": "root"},
        ["name"],
    ],
)
def test_patch_rejects_invalid_values(api: httpx.Client, body: Any) -> None:
    task_id = create(api)
    before = get_task(api, task_id)
    assert_error(api.patch(f"{TASKS}/{task_id}", json=body), 400)
    after = get_task(api, task_id)
    assert {k: after[k] for k in ("name", "isShared", "approvalMode", "permissionMode")} == {
        k: before[k] for k in ("name", "isShared", "approvalMode", "permissionMode")
    }


def test_patch_accepts_a_255_character_name(api: httpx.Client) -> None:
    task_id = create(api)
    assert api.patch(f"{TASKS}/{task_id}", json={"name": "n" * 255}).json()["name"] == "n" * 255


def test_only_the_creator_may_patch(server: EmulatorServer, api: httpx.Client) -> None:
    server.configure({"tokens": [TOKEN, "someone-else"]})
    task_id = create(api)
    response = api.patch(
        f"{TASKS}/{task_id}", json={"name": "mine"}, headers={"Authorization": "token someone-else"}
    )
    assert_error(response, 404)
    other_view = api.get(f"{TASKS}/{task_id}", headers={"Authorization": "token someone-else"})
    assert other_view.status_code == 200  # still readable by the organization


# --- lifecycle: respond, cancel, status -----------------------------------------------------------


def test_task_turns_idle_idle_after_seconds_after_last_activity(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api)
    clock.advance(1.9)
    assert get_task(api, task_id)["status"] == "running"
    clock.advance(0.2)
    task = get_task(api, task_id)
    assert task["status"] == "idle"
    assert task["runtimePhase"] == "ready"
    assert datetime.fromisoformat(task["lastHeartbeat"]).timestamp() == pytest.approx(
        1_800_000_002.0
    )


def test_runtime_phase_boots_then_runs(api: httpx.Client, clock: FakeClock) -> None:
    task_id = create(api)
    phases = []
    for _ in range(4):
        phases.append(get_task(api, task_id)["runtimePhase"])
        clock.advance(0.5)
    assert phases == ["booting", "ready", "running", "running"]


def test_token_usage_grows_while_running_and_stops_when_idle(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api)
    start = get_task(api, task_id)
    clock.advance(1)
    later = get_task(api, task_id)
    assert later["tokensUsed"] > start["tokensUsed"]
    assert later["contextUsedTokens"] > start["contextUsedTokens"]
    clock.advance(5)
    idle = get_task(api, task_id)
    clock.advance(5)
    assert get_task(api, task_id)["tokensUsed"] == idle["tokensUsed"]


def test_respond_conflicts_while_running_and_restarts_an_idle_task(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api)
    message = {"event": {"type": "user_message", "content": "Also check staging"}}
    assert_error(api.post(f"{TASKS}/{task_id}", json=message), 409)
    clock.advance(3)
    before = get_task(api, task_id)
    assert before["status"] == "idle"

    response = api.post(f"{TASKS}/{task_id}", json=message)
    assert response.status_code == 202 and response.content == b""
    assert uuid.UUID(response.headers["x-pulumi-request-id"])
    after = get_task(api, task_id)
    assert after["status"] == "running" and after["runtimePhase"] == "running"
    assert after["tokensUsed"] > before["tokensUsed"]
    events = api.get(f"{TASKS}/{task_id}/events").json()["events"]
    assert events[-1]["type"] == "userInput"
    assert events[-1]["eventBody"]["content"] == "Also check staging"


def test_respond_applies_entity_changes(api: httpx.Client, clock: FakeClock) -> None:
    stack = {"type": "stack", "name": "prod", "project": "web"}
    repo = {"type": "repository", "name": "infra", "org": "acme"}
    task_id = create(
        api,
        message={"type": "user_message", "content": "hi", "entity_diff": {"add": [stack]}},
    )
    clock.advance(3)
    event = {
        "type": "user_message",
        "content": "swap",
        "entity_diff": {"add": [repo], "remove": [stack]},
    }
    assert api.post(f"{TASKS}/{task_id}", json={"event": event}).status_code == 202
    assert get_task(api, task_id)["entities"] == [repo]


def test_user_cancel_event_on_an_idle_task_keeps_it_idle(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api)
    clock.advance(3)
    response = api.post(f"{TASKS}/{task_id}", json={"event": {"type": "user_cancel"}})
    assert response.status_code == 202
    assert get_task(api, task_id)["status"] == "idle"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"event": None},
        {"event": {"content": "hi"}},
        {"event": {"type": "assistant_message", "content": "hi"}},
        {"event": {"type": "user_message"}},
        {"event": {"type": "user_confirmation", "ok": True}},
        "event",
    ],
)
def test_respond_rejects_invalid_events(api: httpx.Client, clock: FakeClock, body: Any) -> None:
    task_id = create(api)
    clock.advance(3)
    before = api.get(f"{TASKS}/{task_id}/events").json()["events"]
    assert_error(api.post(f"{TASKS}/{task_id}", json=body), 400)
    assert api.get(f"{TASKS}/{task_id}/events").json()["events"] == before


def test_force_cancel_stops_a_running_task(api: httpx.Client, clock: FakeClock) -> None:
    task_id = create(api)
    clock.advance(0.5)
    response = api.post(f"{TASKS}/{task_id}/cancel", json={"force": True})
    assert response.status_code == 204 and response.content == b""
    task = get_task(api, task_id)
    assert task["status"] == "idle"
    tokens = task["tokensUsed"]
    clock.advance(1)
    assert get_task(api, task_id)["tokensUsed"] == tokens
    events = api.get(f"{TASKS}/{task_id}/events").json()["events"]
    assert events[-1]["eventBody"]["type"] == "cancelled"
    assert_error(api.post(f"{TASKS}/{task_id}/cancel", json={"force": True}), 409)


@pytest.mark.parametrize("body", [{"force": False}, {}, None, {"force": "true"}])
def test_cancel_requires_force_true(api: httpx.Client, body: Any) -> None:
    task_id = create(api)
    assert_error(api.post(f"{TASKS}/{task_id}/cancel", json=body), 400)
    assert get_task(api, task_id)["status"] == "running"


def test_status_turns_idle_in_real_time() -> None:
    with EmulatorServer(idle_after=0.3) as srv, client_for(srv.url) as client:
        task_id = create(client)
        assert get_task(client, task_id)["status"] == "running"
        deadline = time.monotonic() + 5
        while get_task(client, task_id)["status"] == "running":
            assert time.monotonic() < deadline, "task never turned idle"
            time.sleep(0.05)
        assert get_task(client, task_id)["runtimePhase"] == "ready"


# --- events and the event stream ------------------------------------------------------------------


def _events_all(api: httpx.Client, task_id: str, page_size: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"pageSize": page_size}
    while True:
        response = api.get(f"{TASKS}/{task_id}/events", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert_matches_schema(body, "ListAgentTaskEventsResponse")
        assert len(body["events"]) <= page_size
        events.extend(body["events"])
        if "continuationToken" not in body:
            return events
        params["continuationToken"] = body["continuationToken"]


def test_events_hold_the_conversation_and_paginate(api: httpx.Client, clock: FakeClock) -> None:
    task_id = create(api, **prompt("first"), approvalMode="auto")
    for text in ("second", "third"):
        clock.advance(3)
        assert (
            api.post(
                f"{TASKS}/{task_id}", json={"event": {"type": "user_message", "content": text}}
            ).status_code
            == 202
        )
    clock.advance(3)
    everything = _events_all(api, task_id, 100)
    # The first run has 7 events (see test_emulator_agent.py), each follow-up a question + answer.
    assert len(everything) == 7 + 2 + 2
    user_inputs = [e["eventBody"]["content"] for e in everything if e["type"] == "userInput"]
    assert user_inputs == ["first", "second", "third"]
    finals = [e["eventBody"]["content"] for e in everything if e["eventBody"].get("is_final")]
    assert len(finals) == 3 and all(text in finals[i] for i, text in enumerate(user_inputs))
    assert len({e["id"] for e in everything}) == len(everything)
    assert _events_all(api, task_id, 1) == everything
    assert _events_all(api, task_id, 4) == everything


@pytest.mark.parametrize("page_size", ["0", "1001", "-1", "ten"])
def test_events_page_size_bounds(api: httpx.Client, page_size: str) -> None:
    task_id = create(api)
    response = api.get(f"{TASKS}/{task_id}/events", params={"pageSize": page_size})
    assert_error(response, 400)


def _read_sse(response: httpx.Response) -> list[dict[str, Any]]:
    events = []
    for frame in response.text.split("\n\n"):
        data = [line[len("data: ") :] for line in frame.splitlines() if line.startswith("data: ")]
        if data:
            events.append(json.loads("\n".join(data)))
    return events


def test_event_stream_sends_existing_events_and_ends(api: httpx.Client, clock: FakeClock) -> None:
    task_id = create(api)
    clock.advance(3)  # idle: the stream has nothing to wait for
    started = time.monotonic()
    response = api.get(f"{TASKS}/{task_id}/events/stream")
    assert time.monotonic() - started < 1.0  # well before the 1.5 s bound
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert uuid.UUID(response.headers["x-pulumi-request-id"])
    streamed = _read_sse(response)
    for event in streamed:
        assert_matches_schema(event, "AgentConsoleEvent")
    assert streamed == api.get(f"{TASKS}/{task_id}/events").json()["events"]


def test_event_stream_of_a_running_task_is_bounded(api: httpx.Client) -> None:
    task_id = create(api)  # the fake clock never moves, so the task runs forever
    started = time.monotonic()
    response = api.get(f"{TASKS}/{task_id}/events/stream")
    elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 5
    assert [e["eventBody"]["type"] for e in _read_sse(response)] == ["user_message"]


def test_event_stream_delivers_new_events_until_the_task_stops(api: httpx.Client) -> None:
    task_id = create(api)
    result: dict[str, Any] = {}

    def listen() -> None:
        with client_for(str(api.base_url)) as client:
            result["events"] = _read_sse(client.get(f"{TASKS}/{task_id}/events/stream"))

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.15)
    assert api.post(f"{TASKS}/{task_id}/cancel", json={"force": True}).status_code == 204
    listener.join(5)
    assert [e["eventBody"]["type"] for e in result["events"]] == ["user_message", "cancelled"]


# --- listing --------------------------------------------------------------------------------------


def _list_all(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    pages = 0
    while True:
        response = api.get(TASKS, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert_matches_schema(body, "ListAgentTasksResponse")
        for task in body["tasks"]:
            assert_valid_task(task)
        tasks.extend(body["tasks"])
        pages += 1
        assert pages < 1000
        if "continuationToken" not in body:
            return tasks
        params["continuationToken"] = body["continuationToken"]


def test_list_paginates_with_continuation_tokens(api: httpx.Client, clock: FakeClock) -> None:
    created = []
    for index in range(25):
        created.append(create(api, **prompt(f"task {index}")))
        clock.advance(1)
    first = api.get(TASKS, params={"pageSize": 10}).json()
    assert len(first["tasks"]) == 10 and "continuationToken" in first
    everything = _list_all(api, pageSize=10)
    assert len(everything) == 25
    assert [t["id"] for t in everything] == list(reversed(created))  # lastEvent, newest first
    assert [t["id"] for t in _list_all(api, pageSize=1000)] == [t["id"] for t in everything]
    last_page = api.get(
        TASKS, params={"pageSize": 10, "continuationToken": first["continuationToken"]}
    ).json()
    assert [t["id"] for t in last_page["tasks"]] == [t["id"] for t in everything[10:20]]


def test_list_default_page_size_is_100(api: httpx.Client) -> None:
    for index in range(101):
        create(api, **prompt(f"task {index}"))
    body = api.get(TASKS).json()
    assert len(body["tasks"]) == 100 and "continuationToken" in body
    rest = api.get(TASKS, params={"continuationToken": body["continuationToken"]}).json()
    assert len(rest["tasks"]) == 1 and "continuationToken" not in rest


@pytest.mark.parametrize(
    "params",
    [
        {"pageSize": "0"},
        {"pageSize": "1001"},
        {"pageSize": "many"},
        {"sortBy": "size"},
        {"sortDirection": "up"},
        {"taskType": "batch"},
        {"continuationToken": "not-a-token!"},
        {"continuationToken": "bm90IGpzb24"},
    ],
)
def test_list_rejects_bad_parameters(api: httpx.Client, params: dict[str, str]) -> None:
    create(api)
    assert_error(api.get(TASKS, params=params), 400)


def test_list_token_must_match_its_sort_order(api: httpx.Client) -> None:
    for _ in range(3):
        create(api)
    token = api.get(TASKS, params={"pageSize": 1}).json()["continuationToken"]
    response = api.get(TASKS, params={"continuationToken": token, "sortBy": "name"})
    assert_error(response, 400)


def test_list_sorting(api: httpx.Client, clock: FakeClock) -> None:
    ids = {}
    for name in ("bravo", "alpha", "charlie"):
        ids[name] = create(api, **prompt(name))
        clock.advance(1)
    clock.advance(5)  # all idle now
    assert (
        api.post(
            f"{TASKS}/{ids['alpha']}", json={"event": {"type": "user_message", "content": "more"}}
        ).status_code
        == 202
    )

    def order(**params: str) -> list[str]:
        return [t["name"] for t in _list_all(api, **params)]

    assert order(sortBy="created", sortDirection="asc") == ["bravo", "alpha", "charlie"]
    assert order(sortBy="created") == ["charlie", "alpha", "bravo"]
    assert order(sortBy="name", sortDirection="asc") == ["alpha", "bravo", "charlie"]
    assert order(sortBy="name", sortDirection="desc") == ["charlie", "bravo", "alpha"]
    assert order() == ["alpha", "charlie", "bravo"]  # lastEvent desc is the default
    assert order(sortBy="status", sortDirection="asc")[0] == "alpha"  # running before idle
    assert order(sortBy="status", sortDirection="desc")[-1] == "alpha"
    assert order(sortBy="tokensUsed")[0] == "alpha"  # two conversations' worth of tokens
    assert order(sortBy="name", sortDirection="asc", pageSize="1") == ["alpha", "bravo", "charlie"]


def test_list_filters_by_task_type(api: httpx.Client) -> None:
    create(api)
    assert len(api.get(TASKS, params={"taskType": "sync"}).json()["tasks"]) == 1
    assert api.get(TASKS, params={"taskType": "async"}).json()["tasks"] == []


# --- persistence and concurrency ------------------------------------------------------------------


def test_state_survives_a_restart_with_a_db_file(tmp_path: Path, clock: FakeClock) -> None:
    db = str(tmp_path / "emulator.db")
    with EmulatorServer(db_path=db, clock=clock) as first, client_for(first.url) as client:
        task_id = create(client, **prompt("persist me", approvalMode="auto"))
        client.patch(f"{TASKS}/{task_id}", json={"name": "kept", "isShared": True})
        clock.advance(3)
        before = get_task(client, task_id)
        events_before = client.get(f"{TASKS}/{task_id}/events").json()
    with EmulatorServer(db_path=db, clock=clock) as second, client_for(second.url) as client:
        assert get_task(client, task_id) == before
        assert client.get(f"{TASKS}/{task_id}/events").json() == events_before
        assert [t["id"] for t in client.get(TASKS).json()["tasks"]] == [task_id]


def test_in_memory_state_is_private_to_each_server(clock: FakeClock) -> None:
    with EmulatorServer(clock=clock) as first, client_for(first.url) as c:
        create(c)
    with EmulatorServer(clock=clock) as second, client_for(second.url) as c:
        assert c.get(TASKS).json()["tasks"] == []


def test_concurrent_creates_all_succeed(server: EmulatorServer) -> None:
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
    with client_for(server.url, limits=limits) as client:
        with ThreadPoolExecutor(max_workers=20) as pool:
            ids = list(pool.map(lambda n: create(client, **prompt(f"load {n}")), range(200)))
        assert len(set(ids)) == 200
        listed = _list_all(client, pageSize=1000)
    assert {t["id"] for t in listed} == set(ids)
