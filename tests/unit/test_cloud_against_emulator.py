"""CloudClient over real HTTP against the in-process Pulumi Cloud emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from terraform_provider_pulumiservice.cloud import (
    AmbiguousCreateError,
    ApiError,
    ClientSettings,
    CloudClient,
    NotFoundError,
)
from terraform_provider_pulumiservice.emulator.server import EmulatorServer

TOKEN = "emulator-token"


@pytest.fixture()
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer(host="127.0.0.1", port=0, tokens=(TOKEN,), idle_after=2.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def control(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    # An explicit transport keeps any proxy settings in the environment out of the way.
    with httpx.Client(base_url=emulator.url, transport=httpx.HTTPTransport()) as client:
        yield client


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(
    emulator: EmulatorServer, sleeps: Sleeps | None = None, token: str = TOKEN
) -> CloudClient:
    return CloudClient(
        ClientSettings(base_url=emulator.url, token=token, user_agent="tf-test/0.0.1"),
        transport=httpx.HTTPTransport(),
        sleep=sleeps if sleeps is not None else Sleeps(),
    )


def create_body(prompt: str = "Check my stacks") -> dict[str, Any]:
    return {"message": {"type": "user_message", "content": prompt}}


def api_requests(control: httpx.Client, method: str | None = None) -> list[dict[str, Any]]:
    logged: list[dict[str, Any]] = control.get("/_emulator/requests").json()["requests"]
    return [entry for entry in logged if method is None or entry["method"] == method]


def emulator_tasks(control: httpx.Client) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = control.get("/_emulator/tasks").json()["tasks"]
    return tasks


def add_fault(control: httpx.Client, **rule: Any) -> None:
    control.post("/_emulator/faults", json={"rules": [rule]}).raise_for_status()


def test_task_lifecycle(emulator: EmulatorServer, control: httpx.Client) -> None:
    with make_client(emulator) as client:
        task_id = client.create_task("acme", create_body())
        task = client.get_task("acme", task_id)
        assert task["id"] == task_id
        updated = client.update_task("acme", task_id, {"name": "renamed", "isShared": True})
        assert updated is not None and updated["name"] == "renamed"
        assert client.get_task("acme", task_id)["name"] == "renamed"
        listed = client.list_tasks("acme")
        assert [entry["id"] for entry in listed] == [task_id]
        client.cancel_task("acme", task_id)
        assert client.get_task("acme", task_id)["status"] == "idle"

    logged = api_requests(control)
    assert {entry["headers"]["authorization"] for entry in logged} == {"<redacted>"}
    assert {entry["headers"]["accept"] for entry in logged} == {"application/vnd.pulumi+8"}
    assert {entry["headers"]["user-agent"] for entry in logged} == {"tf-test/0.0.1"}
    cancels = [entry for entry in logged if entry["path"].endswith("/cancel")]
    assert [entry["body"] for entry in cancels] == [{"force": True}]


def test_list_pages_through_every_task(emulator: EmulatorServer, control: httpx.Client) -> None:
    with make_client(emulator) as client:
        created = {client.create_task("acme", create_body(f"task {i}")) for i in range(5)}
        client.create_task("other-org", create_body())
        listed = client.list_tasks("acme", page_size=2)
    assert {entry["id"] for entry in listed} == created
    list_calls = [entry for entry in api_requests(control, "GET") if entry["query"]]
    assert len(list_calls) == 3
    assert all(entry["query"]["pageSize"] == "2" for entry in list_calls)


def test_throttled_create_honours_retry_after_and_creates_once(
    emulator: EmulatorServer, control: httpx.Client
) -> None:
    add_fault(control, method="POST", action="status", status=429, retry_after="1", times=1)
    sleeps = Sleeps()
    with make_client(emulator, sleeps) as client:
        task_id = client.create_task("acme", create_body())
    assert sleeps == [1.0]
    assert [entry["status"] for entry in api_requests(control, "POST")] == [429, 201]
    assert [entry["task"]["id"] for entry in emulator_tasks(control)] == [task_id]


def test_server_error_on_get_is_retried(emulator: EmulatorServer, control: httpx.Client) -> None:
    with make_client(emulator) as client:
        task_id = client.create_task("acme", create_body())
        add_fault(control, method="GET", action="status", status=503, times=2)
        assert client.get_task("acme", task_id)["id"] == task_id
    assert [entry["status"] for entry in api_requests(control, "GET")] == [503, 503, 200]


@pytest.mark.parametrize(("action", "tasks_left"), [("drop_after", 1), ("drop_before", 0)])
def test_dropped_create_is_ambiguous_and_never_duplicated(
    emulator: EmulatorServer, control: httpx.Client, action: str, tasks_left: int
) -> None:
    add_fault(control, method="POST", action=action, times=1)
    with make_client(emulator) as client, pytest.raises(AmbiguousCreateError) as caught:
        client.create_task("acme", create_body())
    assert "terraform import" in str(caught.value)
    assert len(api_requests(control, "POST")) == 1
    assert len(emulator_tasks(control)) == tasks_left


def test_server_error_on_create_is_not_retried(
    emulator: EmulatorServer, control: httpx.Client
) -> None:
    add_fault(control, method="POST", action="status", status=500, times=1)
    with make_client(emulator) as client, pytest.raises(AmbiguousCreateError) as caught:
        client.create_task("acme", create_body())
    assert caught.value.status == 500
    assert caught.value.request_id
    assert len(api_requests(control, "POST")) == 1


def test_deleted_task_reads_as_not_found(emulator: EmulatorServer, control: httpx.Client) -> None:
    with make_client(emulator) as client:
        task_id = client.create_task("acme", create_body())
        control.delete(f"/_emulator/tasks/acme/{task_id}").raise_for_status()
        with pytest.raises(NotFoundError) as caught:
            client.get_task("acme", task_id)
    assert caught.value.request_id


def test_rejected_create_carries_the_api_message(emulator: EmulatorServer) -> None:
    with make_client(emulator) as client, pytest.raises(ApiError) as caught:
        client.create_task("acme", {})
    assert caught.value.status == 400
    assert "prompt is required" in caught.value.message


def test_wrong_token_is_refused_without_leaking_it(emulator: EmulatorServer) -> None:
    wrong = "wrong-token-value-123"
    with make_client(emulator, token=wrong) as client, pytest.raises(ApiError) as caught:
        client.get_task("acme", "anything")
    assert caught.value.status in (401, 403)
    assert wrong not in str(caught.value)
    assert wrong not in repr(caught.value)
