"""The emulator's scripted agent: a task's run, its pace and outcomes, the approval stop, and how
its events are served (pages, the SSE stream with Last-Event-ID, keep-alives, a dropped stream).

The clock is hand-advanced, so every step of a run happens exactly when the test says.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from terraform_provider_pulumiservice.emulator.agent import TOOL_NAME, parse_knobs
from terraform_provider_pulumiservice.emulator.server import EmulatorServer
from tests.support.emulator import (
    FakeClock,
    assert_matches_schema,
    client_for,
    running_emulator,
    sse_frames,
)

TASKS = "/api/preview/agents/acme/tasks"
START = 1_800_000_000.0
SUCCESS_TYPES = [
    "user_message",
    "set_task_name",
    "assistant_message",
    "assistant_message",
    "exec_tool_call",
    "tool_response",
    "assistant_message",
]


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture()
def server(clock: FakeClock) -> Iterator[EmulatorServer]:
    with running_emulator(
        idle_after=2.0, clock=clock, stream_max_seconds=1.5, stream_keepalive_seconds=0.2
    ) as srv:
        yield srv


@pytest.fixture()
def api(server: EmulatorServer) -> Iterator[httpx.Client]:
    with client_for(server.url) as client:
        yield client


def create(api: httpx.Client, content: str = "Review drift in prod", **extra: Any) -> str:
    body = {"message": {"type": "user_message", "content": content}, **extra}
    response = api.post(TASKS, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["taskId"])


def events(api: httpx.Client, task_id: str, page_size: int = 100) -> list[dict[str, Any]]:
    collected: list[dict[str, Any]] = []
    params: dict[str, Any] = {"pageSize": page_size}
    while True:
        response = api.get(f"{TASKS}/{task_id}/events", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert_matches_schema(body, "ListAgentTaskEventsResponse")
        collected.extend(body["events"])
        if "continuationToken" not in body:
            return collected
        params["continuationToken"] = body["continuationToken"]


def kinds(task_events: list[dict[str, Any]]) -> list[str]:
    return [str(event["eventBody"]["type"]) for event in task_events]


def status(api: httpx.Client, task_id: str) -> str:
    return str(api.get(f"{TASKS}/{task_id}").json()["status"])


def respond(api: httpx.Client, task_id: str, event: dict[str, Any]) -> httpx.Response:
    return api.post(f"{TASKS}/{task_id}", json={"event": event})


def seconds(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


# --- the run --------------------------------------------------------------------------------------


def test_a_run_goes_from_the_prompt_through_a_tool_call_to_a_final_answer_then_idle(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api, "Review drift in prod", approvalMode="auto")
    clock.advance(2)
    run = events(api, task_id)
    assert kinds(run) == SUCCESS_TYPES
    assert status(api, task_id) == "idle"
    bodies = [event["eventBody"] for event in run]
    assert bodies[1]["name"] == "Review drift in prod"
    announced = bodies[3]["tool_calls"][0]
    assert announced["name"] == TOOL_NAME
    assert bodies[4]["tool_call_id"] == bodies[5]["tool_call_id"] == announced["id"]
    assert bodies[5]["is_error"] is False
    assert [b.get("is_final") for b in bodies if b["type"] == "assistant_message"] == [
        False,
        False,
        True,
    ]
    assert '"Review drift in prod"' in bodies[-1]["content"]
    assert [event["type"] for event in run] == ["userInput"] + ["agentResponse"] * 6
    for event in run:
        assert_matches_schema(event, "AgentConsoleEvent")
    assert len({event["id"] for event in run}) == len(run)


def test_final_answers_quote_their_prompt_so_tasks_can_be_told_apart(
    api: httpx.Client, clock: FakeClock
) -> None:
    first = create(api, "check staging", approvalMode="auto")
    second = create(api, "check   production\nplease", approvalMode="auto")
    clock.advance(2)
    assert '"check staging"' in events(api, first)[-1]["eventBody"]["content"]
    assert '"check production please"' in events(api, second)[-1]["eventBody"]["content"]


def test_by_default_the_steps_are_spread_over_idle_after(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api, approvalMode="auto")  # 6 steps over idle_after = 2 s
    assert kinds(events(api, task_id)) == ["user_message"]
    clock.advance(2 / 6)
    assert kinds(events(api, task_id)) == SUCCESS_TYPES[:2]
    clock.advance(1.9 - 2 / 6)
    assert len(events(api, task_id)) == 6 and status(api, task_id) == "running"
    clock.now = START + 2
    run = events(api, task_id)
    assert kinds(run) == SUCCESS_TYPES and status(api, task_id) == "idle"
    # Each event is stamped with the time its step was due, not the time it was read.
    stamps = [seconds(event["eventBody"]["timestamp"]) for event in run]
    assert stamps == pytest.approx([START + step * 2 / 6 for step in range(7)], abs=0.002)


def test_agent_pace_sets_the_seconds_per_step_and_the_run_lasts_that_long(
    server: EmulatorServer, api: httpx.Client, clock: FakeClock
) -> None:
    server.configure({"agent_pace": 1.0})
    task_id = create(api, approvalMode="auto")
    clock.advance(5.9)  # far past idle_after: the pace decides
    assert len(events(api, task_id)) == 6 and status(api, task_id) == "running"
    clock.advance(0.1)
    assert kinds(events(api, task_id)) == SUCCESS_TYPES and status(api, task_id) == "idle"


def test_idle_after_zero_produces_the_whole_run_at_once(
    server: EmulatorServer, api: httpx.Client
) -> None:
    server.configure({"idle_after": 0})
    task_id = create(api, approvalMode="auto")
    assert status(api, task_id) == "idle"
    assert kinds(events(api, task_id)) == SUCCESS_TYPES


def test_the_error_outcome_ends_with_the_agents_error_message_then_idle(
    server: EmulatorServer, api: httpx.Client, clock: FakeClock
) -> None:
    server.configure({"agent_outcome": "error"})
    task_id = create(api, "fix the bucket", approvalMode="auto")
    clock.advance(2)
    run = events(api, task_id)
    assert kinds(run) == [*SUCCESS_TYPES[:-1], "error"]
    assert run[-2]["eventBody"]["is_error"] is True
    assert '"fix the bucket"' in run[-1]["eventBody"]["message"]
    assert not any(event["eventBody"].get("is_final") for event in run)
    assert status(api, task_id) == "idle"


def test_the_cancelled_outcome_ends_with_a_cancelled_event(
    server: EmulatorServer, api: httpx.Client, clock: FakeClock
) -> None:
    server.configure({"agent_outcome": "cancelled"})
    task_id = create(api, approvalMode="auto")
    clock.advance(2)
    run = events(api, task_id)
    assert kinds(run) == ["user_message", "set_task_name", "assistant_message", "cancelled"]
    assert run[-1]["eventBody"]["operation_was_running"] is True
    assert status(api, task_id) == "idle"


def test_a_prompt_marker_sets_outcome_and_pace_for_its_task_only(
    api: httpx.Client, clock: FakeClock
) -> None:
    marked = create(api, "deploy [emulator: outcome=error, pace=0.1]", approvalMode="auto")
    plain = create(api, "deploy", approvalMode="auto")
    clock.advance(0.6)
    assert kinds(events(api, marked))[-1] == "error" and status(api, marked) == "idle"
    assert status(api, plain) == "running"
    clock.advance(1.4)
    assert kinds(events(api, plain)) == SUCCESS_TYPES


def test_prompt_markers_ignore_what_they_do_not_understand() -> None:
    assert parse_knobs("no marker").outcome is None
    knobs = parse_knobs("[emulator: outcome=explode pace=-1 colour=red]")
    assert knobs.outcome is None and knobs.pace is None
    knobs = parse_knobs("[Emulator:pace=2 outcome=cancelled]")
    assert knobs.outcome == "cancelled" and knobs.pace == 2.0


# --- approvals ------------------------------------------------------------------------------------


def test_manual_approval_stops_the_run_at_an_approval_request_and_the_task_turns_idle(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api)  # the emulator's organizations default to approval_mode manual
    clock.advance(2)
    run = events(api, task_id)
    assert kinds(run) == [*SUCCESS_TYPES[:4], "user_approval_request", "awaiting_approvals"]
    request = run[-2]["eventBody"]
    assert request["approval_type"] == "tool_permission"
    assert request["context"]["tool_name"] == TOOL_NAME
    assert request["context"]["tool_call_id"] == run[3]["eventBody"]["tool_calls"][0]["id"]
    assert status(api, task_id) == "idle"
    clock.advance(60)
    assert len(events(api, task_id)) == len(run)  # it waits for as long as it takes


def test_approving_resumes_the_run_to_its_final_answer(api: httpx.Client, clock: FakeClock) -> None:
    task_id = create(api, "upgrade node")
    clock.advance(2)
    request_id = events(api, task_id)[-2]["eventBody"]["id"]
    confirmation = {"type": "user_confirmation", "approval_request_id": request_id, "ok": True}
    assert respond(api, task_id, confirmation).status_code == 202
    assert status(api, task_id) == "running"
    clock.advance(2)
    run = events(api, task_id)
    assert kinds(run)[-4:] == ["user_confirmation", "exec_tool_call", "tool_response"] + [
        "assistant_message"
    ]
    assert run[-1]["eventBody"]["is_final"] is True
    assert '"upgrade node"' in run[-1]["eventBody"]["content"]
    assert status(api, task_id) == "idle"


def test_rejecting_ends_the_run_with_a_final_answer_that_skips_the_tool(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api)
    clock.advance(2)
    request_id = events(api, task_id)[-2]["eventBody"]["id"]
    rejection = {"type": "user_confirmation", "approval_request_id": request_id, "ok": False}
    assert respond(api, task_id, rejection).status_code == 202
    clock.advance(2)
    last = events(api, task_id)[-1]["eventBody"]
    assert last["type"] == "assistant_message" and last["is_final"] is True
    assert "did not run" in last["content"]


def test_a_message_while_awaiting_approval_is_answered_with_awaiting_approvals(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api)
    clock.advance(2)
    request_id = events(api, task_id)[-2]["eventBody"]["id"]
    assert respond(api, task_id, {"type": "user_message", "content": "hurry"}).status_code == 202
    clock.advance(2)
    assert kinds(events(api, task_id))[-2:] == ["user_message", "awaiting_approvals"]
    # The request is still open: approving it now resumes the run.
    confirmation = {"type": "user_confirmation", "approval_request_id": request_id, "ok": True}
    assert respond(api, task_id, confirmation).status_code == 202
    clock.advance(2)
    assert events(api, task_id)[-1]["eventBody"]["is_final"] is True


def test_plan_mode_asks_to_approve_the_plan_whatever_the_approval_mode(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api, "plan the migration", approvalMode="auto", planMode=True)
    clock.advance(2)
    request = events(api, task_id)[-2]["eventBody"]
    assert request["type"] == "user_approval_request"
    assert request["approval_type"] == "plan_exit"
    assert "plan the migration" in request["context"]["plan_description"]


def test_the_default_approval_mode_applies_to_tasks_that_set_none(
    server: EmulatorServer, api: httpx.Client, clock: FakeClock
) -> None:
    server.configure({"default_approval_mode": "balanced"})
    task_id = create(api)
    assert api.get(f"{TASKS}/{task_id}").json()["approvalMode"] == "balanced"
    clock.advance(2)
    assert kinds(events(api, task_id)) == SUCCESS_TYPES  # the tool is regular: auto-approved


# --- stopping a run -------------------------------------------------------------------------------


def test_cancelling_mid_run_drops_the_steps_not_yet_due(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api, approvalMode="auto")
    clock.advance(0.7)  # two steps out
    assert api.post(f"{TASKS}/{task_id}/cancel", json={"force": True}).status_code == 204
    clock.advance(5)
    assert kinds(events(api, task_id)) == [*SUCCESS_TYPES[:3], "cancelled"]


def test_forcing_a_task_idle_mid_run_ends_its_run(
    server: EmulatorServer, api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api, approvalMode="auto")
    clock.advance(0.4)
    server.store.force_status("acme", task_id, "idle")
    clock.advance(5)
    assert kinds(events(api, task_id)) == SUCCESS_TYPES[:2]


# --- pages and the stream -------------------------------------------------------------------------


def test_events_pages_hold_every_event_once_in_order(api: httpx.Client, clock: FakeClock) -> None:
    task_id = create(api, approvalMode="auto")
    clock.advance(2)
    everything = events(api, task_id)
    for page_size in (1, 2, 3, 7):
        assert events(api, task_id, page_size) == everything


def test_the_stream_sends_each_event_as_an_id_and_data_frame_and_ends_when_idle(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api, approvalMode="auto")
    clock.advance(2)
    started = time.monotonic()
    response = api.get(f"{TASKS}/{task_id}/events/stream")
    assert time.monotonic() - started < 1.0  # ended because the task is idle, not by the bound
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["transfer-encoding"] == "chunked"
    frames = [frame for frame in sse_frames(response.text) if "comment" not in frame]
    assert [frame["data"] for frame in frames] == events(api, task_id)
    assert [frame["id"] for frame in frames] == [frame["data"]["id"] for frame in frames]


def test_the_stream_delivers_events_as_the_run_produces_them(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api, approvalMode="auto")
    received: list[dict[str, Any]] = []

    def listen() -> None:
        with client_for(str(api.base_url)) as client:
            received.extend(sse_frames(client.get(f"{TASKS}/{task_id}/events/stream").text))

    listener = threading.Thread(target=listen)
    listener.start()
    for step in range(1, 7):
        time.sleep(0.1)
        clock.now = START + 2 * step / 6
    listener.join(5)
    assert not listener.is_alive()
    data = [frame["data"] for frame in received if "data" in frame]
    assert kinds(data) == SUCCESS_TYPES


def test_the_stream_replays_strictly_after_the_last_event_id(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api, approvalMode="auto")
    clock.advance(2)
    everything = events(api, task_id)
    response = api.get(
        f"{TASKS}/{task_id}/events/stream", headers={"Last-Event-ID": everything[2]["id"]}
    )
    replayed = [frame["data"] for frame in sse_frames(response.text) if "data" in frame]
    assert replayed == everything[3:]


def test_a_last_event_id_of_another_task_is_a_400(api: httpx.Client, clock: FakeClock) -> None:
    task_id = create(api)
    other = create(api)
    other_event = events(api, other)[0]["id"]
    response = api.get(f"{TASKS}/{task_id}/events/stream", headers={"Last-Event-ID": other_event})
    assert response.status_code == 400 and other_event in response.json()["message"]


def test_a_quiet_stream_sends_keep_alive_comments(api: httpx.Client) -> None:
    task_id = create(api)  # the clock stands still: nothing new happens for 1.5 s
    frames = sse_frames(api.get(f"{TASKS}/{task_id}/events/stream").text)
    assert [frame for frame in frames if "data" in frame][0]["data"]["type"] == "userInput"
    comments = [frame for frame in frames if "comment" in frame]
    assert len(comments) >= 4 and {frame["comment"] for frame in comments} == {"keep-alive"}


def test_the_drop_stream_fault_cuts_the_stream_after_n_events_and_a_reconnect_resumes(
    server: EmulatorServer, api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api, approvalMode="auto")
    clock.advance(2)
    server.faults.add(
        [{"action": "drop_stream", "path_regex": "/events/stream$", "after_events": 3}]
    )
    text = ""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        api.stream("GET", f"{TASKS}/{task_id}/events/stream") as response,
    ):
        for chunk in response.iter_text():
            text += chunk
    first = [frame for frame in sse_frames(text) if "data" in frame]
    assert len(first) == 3
    # The rule fires on every stream until cleared; with times=1 a reconnect would be served.
    server.faults.clear()
    resumed = api.get(
        f"{TASKS}/{task_id}/events/stream", headers={"Last-Event-ID": first[-1]["id"]}
    )
    rest = [frame for frame in sse_frames(resumed.text) if "data" in frame]
    assert [frame["data"] for frame in first + rest] == events(api, task_id)


def test_a_drop_stream_rule_with_times_is_spent_by_the_streams_it_cut(
    server: EmulatorServer, api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api, approvalMode="auto")
    clock.advance(2)
    server.faults.add([{"action": "drop_stream", "after_events": 0, "times": 1}])
    with pytest.raises(httpx.RemoteProtocolError):
        api.get(f"{TASKS}/{task_id}/events/stream")
    assert len(sse_frames(api.get(f"{TASKS}/{task_id}/events/stream").text)) == 7


# --- settings -------------------------------------------------------------------------------------


def test_agent_settings_are_reported_and_changed_through_config(server: EmulatorServer) -> None:
    settings = {
        "agent_pace": 0.5,
        "agent_outcome": "cancelled",
        "default_approval_mode": "auto",
        "stream_keepalive_seconds": 3,
        "stream_max_seconds": 60,
    }
    server.configure(settings)
    assert server.config_snapshot().items() >= settings.items()
    server.configure({"agent_pace": None})
    assert server.config_snapshot()["agent_pace"] is None


@pytest.mark.parametrize(
    "settings",
    [
        {"agent_pace": 0},
        {"agent_pace": "fast"},
        {"agent_outcome": "maybe"},
        {"default_approval_mode": "never"},
        {"stream_keepalive_seconds": 0},
        {"stream_max_seconds": True},
        {"agent_outcome": "error", "agent_pace": -1},
    ],
)
def test_bad_agent_settings_are_rejected_whole(
    server: EmulatorServer, settings: dict[str, Any]
) -> None:
    before = server.config_snapshot()
    with pytest.raises(ValueError):
        server.configure(settings)
    assert server.config_snapshot() == before


def test_a_run_goes_on_after_the_emulator_restarts_on_the_same_database(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = str(tmp_path / "tasks.sqlite")
    with EmulatorServer(db_path=db, clock=clock) as first, client_for(first.url) as client:
        task_id = create(client, "survive a restart", approvalMode="auto")
        clock.advance(0.7)
        assert len(events(client, task_id)) == 3
    clock.advance(2)
    with EmulatorServer(db_path=db, clock=clock) as second, client_for(second.url) as client:
        run = events(client, task_id)
        assert kinds(run) == SUCCESS_TYPES and status(client, task_id) == "idle"
        assert '"survive a restart"' in run[-1]["eventBody"]["content"]


def test_a_pace_marker_also_paces_the_tasks_later_turns(
    api: httpx.Client, clock: FakeClock
) -> None:
    task_id = create(api, "slowly [emulator: pace=5]", approvalMode="auto")
    clock.advance(30)
    assert status(api, task_id) == "idle"
    assert respond(api, task_id, {"type": "user_message", "content": "more"}).status_code == 202
    clock.advance(4.9)
    assert status(api, task_id) == "running"
    clock.advance(0.1)
    assert status(api, task_id) == "idle"
    assert '"more"' in events(api, task_id)[-1]["eventBody"]["content"]
