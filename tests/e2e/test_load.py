"""Load: 200 tasks at -parallelism=20 through create, update in place and destroy."""

from __future__ import annotations

import re
from collections import Counter

from terraform_provider_pulumiservice.emulator.model import generated_task_name
from tests.e2e.harness import EmulatorHandle, TerraformRunner

ORG = "load-org"
COUNT = 200
PARALLELISM = "-parallelism=20"
TASK_PATH = re.compile(rf"^/api/preview/agents/{ORG}/tasks/([^/]+)$")
CREATE_PATH = f"/api/preview/agents/{ORG}/tasks"


def load_config(approval_mode: str) -> str:
    return (
        'terraform {\n  required_providers {\n'
        '    pulumiservice = { source = "pulumi/pulumiservice" }\n  }\n}\n\n'
        'resource "pulumiservice_api_agents_task" "load" {\n'
        f"  count         = {COUNT}\n"
        f'  org_name      = "{ORG}"\n'
        f'  approval_mode = "{approval_mode}"\n'
        '  message       = "load task ${count.index}"\n'
        "}\n"
    )


def state_by_index(tf: TerraformRunner) -> dict[int, str]:
    resources = tf.state_json()["values"]["root_module"]["resources"]
    return {r["index"]: r["values"]["task_id"] for r in resources}


def test_two_hundred_tasks_create_update_and_destroy(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": load_config("manual")})
    tf.apply(PARALLELISM)

    by_index = state_by_index(tf)
    tasks = {entry["task"]["id"]: entry["task"] for entry in emulator.tasks()}
    assert len(tasks) == COUNT and sorted(by_index) == list(range(COUNT))
    assert set(by_index.values()) == set(tasks)
    for index, task_id in by_index.items():
        assert tasks[task_id]["name"] == generated_task_name(f"load task {index}")
        assert tasks[task_id]["approvalMode"] == "manual"
    creates = [r for r in emulator.requests() if r["method"] == "POST" and r["path"] == CREATE_PATH]
    assert len(creates) == COUNT
    assert sorted(r["body"]["message"]["content"] for r in creates) == sorted(
        f"load task {i}" for i in range(COUNT))

    emulator.clear_requests()
    tf.write({"main.tf": load_config("auto")})
    tf.apply(PARALLELISM)
    patches = Counter(
        match[1]
        for r in emulator.requests()
        if r["method"] == "PATCH" and r["status"] == 200
        and (match := TASK_PATH.match(r["path"])) is not None
    )
    assert patches == Counter({task_id: 1 for task_id in by_index.values()})
    assert not [r for r in emulator.requests() if r["path"] == CREATE_PATH]
    tasks_after = [entry["task"] for entry in emulator.tasks()]
    assert len(tasks_after) == COUNT
    assert all(task["approvalMode"] == "auto" for task in tasks_after)
    assert state_by_index(tf) == by_index

    tf.destroy(PARALLELISM)
    assert tf.state_json().get("values") is None
