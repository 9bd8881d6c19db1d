"""Fault injection end to end: real terraform, the provider, and an emulator that misbehaves.

Every test checks the promise that matters to a user: the apply ends where it should, and each
task the provider created is either in state or named in an error, never silently orphaned or
duplicated.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import EmulatorHandle, TerraformRunner

ORG = "fault-org"
TASK_PATH = rf"^/api/preview/agents/{ORG}/tasks/[^/]+$"
CREATE_PATH = rf"^/api/preview/agents/{ORG}/tasks$"
RESOURCE_TYPE = "pulumiservice_api_agents_task"


def tasks_config(count: int = 1, approval_mode: str | None = None) -> str:
    mode = f'  approval_mode = "{approval_mode}"\n' if approval_mode else ""
    return (
        'terraform {\n  required_providers {\n'
        '    pulumiservice = { source = "pulumi/pulumiservice" }\n  }\n}\n\n'
        f'resource "{RESOURCE_TYPE}" "task" {{\n'
        f"  count    = {count}\n"
        f'  org_name = "{ORG}"\n'
        '  message  = "fault test ${count.index}"\n'
        f"{mode}"
        "}\n"
    )


def state_resources(tf: TerraformRunner) -> list[dict[str, Any]]:
    """Task resources in state, from `terraform show -json` (empty when there is no state)."""
    values = tf.state_json().get("values") or {}
    resources = values.get("root_module", {}).get("resources", [])
    return [r for r in resources if r["type"] == RESOURCE_TYPE]


def state_task_ids(tf: TerraformRunner) -> set[str]:
    return {r["values"]["task_id"] for r in state_resources(tf)}


def emulator_task_ids(emulator: EmulatorHandle) -> set[str]:
    return {entry["task"]["id"] for entry in emulator.tasks() if entry["org"] == ORG}


def api_requests(emulator: EmulatorHandle, method: str | None = None) -> list[dict[str, Any]]:
    return [
        r for r in emulator.requests()
        if r["path"].startswith("/api/") and (method is None or r["method"] == method)
    ]


def assert_waits_after_throttle(requests: list[dict[str, Any]], at_least: float) -> int:
    """Each 429 is followed by a retry of the same request no sooner than `at_least` seconds."""
    checked = 0
    for index, entry in enumerate(requests):
        if entry["status"] != 429:
            continue
        retry = next(
            (r for r in requests[index + 1:]
             if r["method"] == entry["method"] and r["path"] == entry["path"]),
            None,
        )
        assert retry is not None, f"no retry after the 429 on {entry['method']} {entry['path']}"
        waited = retry["time"] - entry["time"]
        assert waited >= at_least, f"{entry['method']} retried after {waited:.2f}s, not {at_least}"
        checked += 1
    return checked


def create_requests(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    return [r for r in api_requests(emulator, "POST") if re.match(CREATE_PATH, r["path"])]


def plan_is_clean(tf: TerraformRunner) -> bool:
    return tf.plan("-detailed-exitcode", check=False).returncode == 0


# --- throttling and transient failures -----------------------------------------------------------


def test_throttled_create_read_and_update_honour_retry_after(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": tasks_config(approval_mode="manual")})
    emulator.add_faults([
        {"method": "POST", "path_regex": CREATE_PATH, "action": "status", "status": 429,
         "retry_after": "1", "times": 1},
        {"method": "GET", "path_regex": TASK_PATH, "action": "status", "status": 429,
         "retry_after": "1", "times": 1},
    ])
    tf.apply()
    created = api_requests(emulator)
    assert [r["method"] for r in created if r["status"] == 429] == ["POST", "GET"]
    assert assert_waits_after_throttle(created, at_least=0.95) == 2
    assert len(create_requests(emulator)) == 2
    assert len(emulator_task_ids(emulator)) == 1

    emulator.clear_requests()
    emulator.add_faults([
        {"method": "PATCH", "path_regex": TASK_PATH, "action": "status", "status": 429,
         "retry_after": "1", "times": 1},
    ])
    tf.write({"main.tf": tasks_config(approval_mode="auto")})
    tf.apply()
    updated = api_requests(emulator)
    assert [r["status"] for r in updated if r["method"] == "PATCH"] == [429, 200]
    assert assert_waits_after_throttle(updated, at_least=0.95) == 1
    tasks = [entry["task"] for entry in emulator.tasks()]
    assert len(tasks) == 1 and tasks[0]["approvalMode"] == "auto"
    assert state_task_ids(tf) == {tasks[0]["id"]}


def test_server_errors_dropped_connections_and_delays_are_retried(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": tasks_config(approval_mode="manual")})
    emulator.add_faults([
        {"method": "GET", "path_regex": TASK_PATH, "action": "status", "status": 503, "times": 2},
    ])
    tf.apply()
    assert [r["status"] for r in api_requests(emulator, "GET")] == [503, 503, 200]

    # A refresh through a dropped connection and a slow answer.
    emulator.clear_requests()
    emulator.add_faults([
        {"method": "GET", "path_regex": TASK_PATH, "action": "drop_before", "times": 1},
        {"method": "GET", "path_regex": TASK_PATH, "action": "delay", "delay_ms": 700,
         "times": 1},
    ])
    assert plan_is_clean(tf)
    assert len(api_requests(emulator, "GET")) >= 2

    # An update through 503s and a connection dropped after the server applied the PATCH.
    emulator.clear_requests()
    emulator.add_faults([
        {"method": "PATCH", "path_regex": TASK_PATH, "action": "status", "status": 503,
         "times": 2},
        {"method": "PATCH", "path_regex": TASK_PATH, "action": "drop_after", "times": 1},
    ])
    tf.write({"main.tf": tasks_config(approval_mode="auto")})
    tf.apply()
    assert [r["status"] for r in api_requests(emulator, "PATCH")][:2] == [503, 503]
    assert len(api_requests(emulator, "PATCH")) == 4
    tasks = [entry["task"] for entry in emulator.tasks()]
    assert len(tasks) == 1 and tasks[0]["approvalMode"] == "auto"
    assert plan_is_clean(tf)


# --- ambiguous creates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "task_exists"),
    [
        pytest.param({"action": "drop_after"}, True, id="connection-dropped-after-create"),
        pytest.param({"action": "status", "status": 500}, False, id="server-error"),
    ],
)
def test_ambiguous_create_failure_is_reported_and_not_retried(
    tf: TerraformRunner, emulator: EmulatorHandle, fault: dict[str, Any], task_exists: bool
) -> None:
    tf.write({"main.tf": tasks_config()})
    emulator.add_faults([{"method": "POST", "path_regex": CREATE_PATH, "times": 1, **fault}])
    result = tf.apply(check=False)
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())
    assert "may have succeeded" in output
    assert "did not retry" in output
    assert f"terraform import <resource address> {ORG}/<taskID>" in output
    assert len(create_requests(emulator)) == 1
    assert len(emulator_task_ids(emulator)) == (1 if task_exists else 0)
    assert state_resources(tf) == []


# --- a created task that cannot be read back -----------------------------------------------------


@pytest.mark.parametrize(
    "read_fault",
    [
        # More 500s than the client's attempts (5); Retry-After 0 keeps the retries instant.
        pytest.param({"action": "status", "status": 500, "retry_after": "0", "times": 6},
                     id="read-back-keeps-failing"),
        pytest.param({"action": "status", "status": 404, "times": 1}, id="read-back-404"),
    ],
)
def test_task_that_cannot_be_read_back_is_kept_tainted_and_replaced(
    tf: TerraformRunner, emulator: EmulatorHandle, read_fault: dict[str, Any]
) -> None:
    tf.write({"main.tf": tasks_config()})
    emulator.add_faults([{"method": "GET", "path_regex": TASK_PATH, **read_fault}])
    result = tf.apply(check=False)
    assert result.returncode != 0
    assert "could not be read back" in result.stdout + result.stderr
    (first_id,) = emulator_task_ids(emulator)
    (resource,) = state_resources(tf)
    assert resource["values"]["task_id"] == first_id
    assert resource["values"]["id"] == f"{ORG}/{first_id}"
    assert resource.get("tainted") is True

    emulator.clear_faults()
    tf.apply()
    (replacement,) = state_resources(tf)
    assert not replacement.get("tainted")
    second_id = replacement["values"]["task_id"]
    assert second_id != first_id
    # The API cannot delete tasks: the tainted one remains (destroyed = cancelled if running);
    # nothing else was created.
    assert emulator_task_ids(emulator) == {first_id, second_id}
    assert len(create_requests(emulator)) == 2
    assert plan_is_clean(tf)


# --- interruptions -------------------------------------------------------------------------------


def start_apply(tf: TerraformRunner, *extra: str) -> subprocess.Popen[str]:
    """`terraform apply` in its own process group (like a shell job), output captured."""
    return subprocess.Popen(
        tf.command_line(["apply", "-auto-approve", "-input=false", *extra]),
        cwd=tf.workdir,
        env=tf.full_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_posts(emulator: EmulatorHandle, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for r in create_requests(emulator) if r["status"] is not None) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} creates answered within {timeout}s")


def wait_until_answered(emulator: EmulatorHandle, timeout: float = 10.0) -> None:
    """Let requests still inside the emulator finish: a server acts even if the client left."""
    deadline = time.monotonic() + timeout
    while any(r["status"] is None for r in api_requests(emulator)):
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        children.setdefault(int(text.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def is_our_provider(pid: int) -> bool:
    """The provider process itself (PyInstaller executable or `python -m` from source)."""
    try:
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if exe.startswith("terraform-provider-pulumiservice"):
        return True
    return exe.startswith("python") and b"terraform_provider_pulumiservice" in arguments


def converge_and_check(tf: TerraformRunner, emulator: EmulatorHandle, count: int) -> None:
    emulator.configure(latency_ms=0)
    tf.apply()
    in_state = state_task_ids(tf)
    assert len(in_state) == count
    assert in_state <= emulator_task_ids(emulator)
    assert plan_is_clean(tf)


def test_ctrl_c_during_apply_leaves_every_created_task_in_state(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    count = 30
    tf.write({"main.tf": tasks_config(count)})
    emulator.configure(latency_ms=200)
    process = start_apply(tf)
    try:
        wait_for_posts(emulator, 5)
        os.killpg(process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        stdout, stderr = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode != 0, stdout
    wait_until_answered(emulator)
    created = emulator_task_ids(emulator)
    in_state = state_task_ids(tf)
    assert created, "nothing was created before the interrupt"
    assert in_state == created, (
        f"tasks created but not in state: {sorted(created - in_state)}\n{stdout}\n{stderr}"
    )
    # Creates cut short by the interrupt are in state as tainted; the next apply replaces them
    # (the API cannot delete tasks, so the replaced ones stay behind, cancelled).
    tainted = {r["values"]["task_id"] for r in state_resources(tf) if r.get("tainted")}
    converge_and_check(tf, emulator, count)
    assert emulator_task_ids(emulator) - state_task_ids(tf) == tainted


def test_killed_provider_loses_no_acknowledged_task(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    count = 30
    latency = 0.2
    tf.write({"main.tf": tasks_config(count)})
    emulator.configure(latency_ms=int(latency * 1000))
    process = start_apply(tf)
    try:
        wait_for_posts(emulator, 8)
        victims = [pid for pid in descendants(process.pid) if is_our_provider(pid)]
        assert victims, "no provider process found under terraform"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        killed_at = time.time()
        stdout, stderr = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode != 0, stdout

    created = emulator_task_ids(emulator)
    in_state = state_task_ids(tf)
    assert in_state <= created
    # A task is guaranteed to be in state once its read-back answer left the emulator well
    # before the kill: the provider returns right after it, and Terraform keeps what it got.
    read_answered_at: dict[str, float] = {}
    for request in api_requests(emulator, "GET"):
        if request["status"] == 200:
            task_id = request["path"].rsplit("/", 1)[1]
            read_answered_at.setdefault(task_id, request["time"] + latency)
    lost = [
        task_id for task_id in created - in_state
        if read_answered_at.get(task_id, killed_at) < killed_at - 1.0
    ]
    assert not lost, f"acknowledged tasks missing from state: {lost}\n{stderr}"

    converge_and_check(tf, emulator, count)
    # Tasks whose create was in flight at the kill may be orphaned; nothing beyond those.
    orphans = emulator_task_ids(emulator) - state_task_ids(tf)
    assert orphans <= created - in_state
