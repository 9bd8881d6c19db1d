"""The emulator's control plane: fault injection, the request log, configuration, task control."""

from __future__ import annotations

import http.client
import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from terraform_provider_pulumiservice.emulator.server import EmulatorServer
from tests.support.emulator import running_emulator

TOKEN = "emulator-token"
TASKS = "/api/preview/agents/acme/tasks"
PROMPT = {"message": {"type": "user_message", "content": "Check my stacks"}}


@pytest.fixture()
def server() -> Iterator[EmulatorServer]:
    with running_emulator(idle_after=30.0) as srv:
        yield srv


@pytest.fixture()
def api(server: EmulatorServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"token {TOKEN}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10, verify=False) as client:
        yield client


@pytest.fixture()
def control(server: EmulatorServer) -> Iterator[httpx.Client]:
    """No Authorization header: the control endpoints need none."""
    with httpx.Client(base_url=server.url, timeout=10, verify=False) as client:
        yield client


def stored_tasks(control: httpx.Client) -> list[dict[str, Any]]:
    response = control.get("/_emulator/tasks")
    assert response.status_code == 200
    return list(response.json()["tasks"])


def logged(control: httpx.Client) -> list[dict[str, Any]]:
    response = control.get("/_emulator/requests")
    assert response.status_code == 200
    return list(response.json()["requests"])


def add_faults(control: httpx.Client, *rules: dict[str, Any]) -> None:
    response = control.post("/_emulator/faults", json={"rules": list(rules)})
    assert response.status_code == 200, response.text


# --- faults ---------------------------------------------------------------------------------------


def test_status_fault_answers_without_acting(api: httpx.Client, control: httpx.Client) -> None:
    add_faults(
        control,
        {"method": "POST", "path_regex": "/tasks$", "action": "status", "status": 429,
         "retry_after": "1", "times": 1},
    )  # fmt: skip
    response = api.post(TASKS, json=PROMPT)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/json"
    assert uuid.UUID(response.headers["x-pulumi-request-id"])
    assert response.json()["code"] == 429
    assert stored_tasks(control) == []

    assert api.post(TASKS, json=PROMPT).status_code == 201  # times: 1 is spent
    assert len(stored_tasks(control)) == 1
    assert [entry["status"] for entry in logged(control)] == [429, 201]


def test_status_fault_without_retry_after_sends_no_header(
    api: httpx.Client, control: httpx.Client
) -> None:
    add_faults(control, {"method": None, "path_regex": None, "action": "status", "status": 503})
    response = api.get(TASKS)
    assert response.status_code == 503 and "retry-after" not in response.headers


def test_drop_before_closes_without_creating(api: httpx.Client, control: httpx.Client) -> None:
    add_faults(control, {"method": "POST", "action": "drop_before", "times": 1})
    with pytest.raises(httpx.TransportError):
        api.post(TASKS, json=PROMPT)
    assert stored_tasks(control) == []
    entry = logged(control)[0]
    assert entry["status"] is None and entry["method"] == "POST"
    assert api.post(TASKS, json=PROMPT).status_code == 201


def test_drop_after_creates_then_closes(api: httpx.Client, control: httpx.Client) -> None:
    add_faults(control, {"method": "POST", "path_regex": "/tasks$", "action": "drop_after"})
    with pytest.raises(httpx.TransportError):
        api.post(TASKS, json=PROMPT)
    tasks = stored_tasks(control)
    assert len(tasks) == 1 and tasks[0]["org"] == "acme"
    assert logged(control)[0]["status"] is None
    # Reads are untouched by a POST-only rule and see the created task.
    assert [t["id"] for t in api.get(TASKS).json()["tasks"]] == [tasks[0]["task"]["id"]]


def test_delay_fault_slows_the_request_then_serves_it(
    api: httpx.Client, control: httpx.Client
) -> None:
    add_faults(control, {"method": "GET", "action": "delay", "delay_ms": 500, "times": 1})
    started = time.monotonic()
    assert api.get(TASKS).status_code == 200
    assert time.monotonic() - started >= 0.5
    started = time.monotonic()
    assert api.get(TASKS).status_code == 200
    assert time.monotonic() - started < 0.4


def test_rules_match_method_and_path(api: httpx.Client, control: httpx.Client) -> None:
    add_faults(
        control, {"method": "GET", "path_regex": "/events$", "action": "status", "status": 500}
    )
    task_id = api.post(TASKS, json=PROMPT).json()["taskId"]
    assert api.get(f"{TASKS}/{task_id}").status_code == 200
    assert api.get(f"{TASKS}/{task_id}/events").status_code == 500
    assert api.get(f"{TASKS}/{task_id}/events").status_code == 500  # times: null persists
    assert control.delete("/_emulator/faults").status_code == 204
    assert api.get(f"{TASKS}/{task_id}/events").status_code == 200


def test_matching_rules_fire_in_order(api: httpx.Client, control: httpx.Client) -> None:
    add_faults(
        control,
        {"action": "delay", "delay_ms": 200, "times": 2},
        {"action": "status", "status": 500, "times": 1},
        {"action": "status", "status": 502, "times": 1},
    )
    started = time.monotonic()
    assert api.get(TASKS).status_code == 500
    assert api.get(TASKS).status_code == 502
    assert time.monotonic() - started >= 0.4
    assert api.get(TASKS).status_code == 200
    assert control.get("/_emulator/faults").json()["rules"] == []


def test_faults_do_not_touch_control_endpoints(api: httpx.Client, control: httpx.Client) -> None:
    add_faults(control, {"action": "status", "status": 500})
    assert control.get("/_emulator/tasks").status_code == 200
    assert api.get(TASKS).status_code == 500


@pytest.mark.parametrize(
    "rules",
    [
        [{"action": "explode"}],
        [{"action": "status", "status": 99}],
        [{"action": "delay", "delay_ms": -1}],
        [{"action": "status", "status": 500, "times": 0}],
        [{"action": "status", "status": 500, "path_regex": "("}],
        [{"action": "status", "status": 500, "method": 5}],
        "not a list",
    ],
)
def test_invalid_fault_rules_are_rejected(control: httpx.Client, rules: Any) -> None:
    response = control.post("/_emulator/faults", json={"rules": rules})
    assert response.status_code == 400 and response.json()["code"] == 400
    assert control.get("/_emulator/faults").json()["rules"] == []


# --- request log ----------------------------------------------------------------------------------


def test_request_log_records_api_requests_with_the_token_redacted(
    api: httpx.Client, control: httpx.Client
) -> None:
    api.post(TASKS, json=PROMPT)
    api.get(TASKS, params={"pageSize": "5", "sortBy": "name"})
    api.get(TASKS, headers={"Authorization": "token wrong"})
    entries = logged(control)
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", TASKS, 201),
        ("GET", TASKS, 200),
        ("GET", TASKS, 401),
    ]
    assert entries[0]["body"] == PROMPT and entries[0]["query"] == {}
    assert entries[1]["body"] is None
    assert entries[1]["query"] == {"pageSize": "5", "sortBy": "name"}
    for entry in entries:
        assert entry["headers"]["authorization"] == "<redacted>"
        assert all(name == name.lower() for name in entry["headers"])
        assert isinstance(entry["time"], float)
    assert entries[0]["headers"]["content-type"] == "application/json"
    assert entries[0]["time"] <= entries[1]["time"] <= time.time()
    serialized = json.dumps(entries)
    assert TOKEN not in serialized and "wrong" not in serialized


def test_request_log_excludes_control_calls_and_can_be_cleared(
    api: httpx.Client, control: httpx.Client
) -> None:
    api.get(TASKS)
    control.get("/_emulator/tasks")
    assert [e["path"] for e in logged(control)] == [TASKS]
    assert control.delete("/_emulator/requests").status_code == 204
    assert logged(control) == []


# --- configuration --------------------------------------------------------------------------------


def test_config_replaces_tokens(api: httpx.Client, control: httpx.Client) -> None:
    assert control.post("/_emulator/config", json={"tokens": ["fresh"]}).status_code == 200
    assert api.get(TASKS).status_code == 401
    assert api.get(TASKS, headers={"Authorization": "token fresh"}).status_code == 200


def test_config_changes_connected_cli_integrations(
    api: httpx.Client, control: httpx.Client
) -> None:
    body = {**PROMPT, "cliIntegrations": [{"catalogId": "azure", "name": "prod"}]}
    assert api.post(TASKS, json=body).status_code == 400
    control.post("/_emulator/config", json={"cli_integrations": [["Azure", "prod"]]})
    assert api.post(TASKS, json=body).status_code == 201
    aws = {**PROMPT, "cliIntegrations": [{"catalogId": "aws", "name": "default"}]}
    assert api.post(TASKS, json=aws).status_code == 400


def test_config_latency_and_idle_after(api: httpx.Client, control: httpx.Client) -> None:
    response = control.post("/_emulator/config", json={"latency_ms": 200, "idle_after": 0.0})
    assert response.json()["latency_ms"] == 200 and response.json()["idle_after"] == 0.0
    started = time.monotonic()
    task_id = api.post(TASKS, json=PROMPT).json()["taskId"]
    assert time.monotonic() - started >= 0.2
    assert api.get(f"{TASKS}/{task_id}").json()["status"] == "idle"


@pytest.mark.parametrize(
    "settings",
    [
        {"latency_ms": -5},
        {"idle_after": "soon"},
        {"tokens": "one"},
        {"tokens": [""]},
        {"cli_integrations": [["aws"]]},
        [1, 2],
    ],
)
def test_invalid_config_is_rejected_whole(control: httpx.Client, settings: Any) -> None:
    before = control.get("/_emulator/config").json()
    assert control.post("/_emulator/config", json=settings).status_code == 400
    assert control.get("/_emulator/config").json() == before


# --- task control ---------------------------------------------------------------------------------


def test_control_lists_tasks_of_every_org(api: httpx.Client, control: httpx.Client) -> None:
    first = api.post(TASKS, json=PROMPT).json()["taskId"]
    second = api.post("/api/preview/agents/globex/tasks", json=PROMPT).json()["taskId"]
    tasks = stored_tasks(control)
    assert [(t["org"], t["task"]["id"]) for t in tasks] == [("acme", first), ("globex", second)]
    assert tasks[0]["task"] == api.get(f"{TASKS}/{first}").json() | {
        "lastHeartbeat": tasks[0]["task"]["lastHeartbeat"],
        "tokensUsed": tasks[0]["task"]["tokensUsed"],
        "contextUsedTokens": tasks[0]["task"]["contextUsedTokens"],
        "runtimePhase": tasks[0]["task"]["runtimePhase"],
    }


def test_control_delete_removes_a_task(api: httpx.Client, control: httpx.Client) -> None:
    task_id = api.post(TASKS, json=PROMPT).json()["taskId"]
    response = control.delete(f"/_emulator/tasks/acme/{task_id}")
    assert response.status_code == 204 and response.content == b""
    assert api.get(f"{TASKS}/{task_id}").status_code == 404
    assert api.get(f"{TASKS}/{task_id}/events").status_code == 404
    assert control.delete(f"/_emulator/tasks/acme/{task_id}").status_code == 404


def test_control_forces_status(api: httpx.Client, control: httpx.Client) -> None:
    task_id = api.post(TASKS, json=PROMPT).json()["taskId"]
    status_url = f"/_emulator/tasks/acme/{task_id}/status"
    response = control.post(status_url, json={"status": "idle"})
    assert response.status_code == 200 and response.json()["status"] == "idle"
    assert api.get(f"{TASKS}/{task_id}").json()["status"] == "idle"
    event = {"event": {"type": "user_message", "content": "again"}}
    assert api.post(f"{TASKS}/{task_id}", json=event).status_code == 202

    control.post("/_emulator/config", json={"idle_after": 0.0})
    control.post(status_url, json={"status": "running"})
    # Forced running holds even though idle_after has long passed.
    assert api.get(f"{TASKS}/{task_id}").json()["status"] == "running"
    assert api.post(f"{TASKS}/{task_id}", json=event).status_code == 409
    assert api.post(f"{TASKS}/{task_id}/cancel", json={"force": True}).status_code == 204
    assert api.get(f"{TASKS}/{task_id}").json()["status"] == "idle"

    assert control.post(status_url, json={"status": "asleep"}).status_code == 400
    assert (
        control.post("/_emulator/tasks/acme/nope/status", json={"status": "idle"}).status_code
        == 404
    )


def test_control_responses_are_json_with_request_ids(control: httpx.Client) -> None:
    for response in (
        control.get("/_emulator/tasks"),
        control.get("/_emulator/requests"),
        control.get("/_emulator/nothing-here"),
        control.post("/_emulator/faults", content=b"{broken"),
    ):
        assert response.headers["content-type"] == "application/json"
        assert uuid.UUID(response.headers["x-pulumi-request-id"])
        assert int(response.headers["content-length"]) == len(response.content)
    assert control.get("/_emulator/nothing-here").status_code == 404


def test_keep_alive_connection_serves_many_requests(server: EmulatorServer) -> None:
    request = (
        f"GET {TASKS} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token {TOKEN}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        for _ in range(5):
            sock.sendall(request)
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert response.status == 200
            assert json.loads(response.read()) == {"tasks": []}
            assert not response.will_close


def test_chunked_request_bodies_are_read(api: httpx.Client, control: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        encoded = json.dumps(PROMPT).encode()
        yield encoded[:10]
        yield encoded[10:]

    response = api.post(TASKS, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 201
    assert logged(control)[-1]["body"] == PROMPT


def test_malformed_chunked_framing_is_a_400(server: EmulatorServer) -> None:
    request = (
        f"POST {TASKS} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token {TOKEN}\r\n"
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 400
        assert json.loads(response.read())["code"] == 400


def test_no_content_responses_have_no_body_framing(api: httpx.Client) -> None:
    task_id = api.post(TASKS, json=PROMPT).json()["taskId"]
    response = api.post(f"{TASKS}/{task_id}/cancel", json={"force": True})
    assert response.status_code == 204 and response.content == b""
    assert "content-length" not in response.headers
    assert uuid.UUID(response.headers["x-pulumi-request-id"])
    assert api.get(TASKS).status_code == 200  # the connection is still usable
