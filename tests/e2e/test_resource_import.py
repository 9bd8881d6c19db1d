"""Importing agent tasks: `terraform import`, `import {}` blocks and -generate-config-out."""

from __future__ import annotations

import httpx

from tests.e2e.harness import EmulatorHandle, TerraformRunner
from tests.e2e.test_resource_lifecycle import BASIC, PROVIDER, api_calls, creates, task_config


def make_task(emulator: EmulatorHandle, content: str = "Audit IAM policies") -> str:
    response = httpx.post(
        f"{emulator.url}/api/preview/agents/acme/tasks",
        headers={"Authorization": f"token {emulator.token}"},
        json={"message": {"type": "user_message", "content": content}},
    )
    response.raise_for_status()
    task_id: str = response.json()["taskId"]
    return task_id


def test_terraform_import_then_config_values_are_adopted_without_replacement(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    task_id = make_task(emulator)
    tf.write({"main.tf": task_config(BASIC.replace('"read-only"', '"default"'))})
    result = tf.run("import", "pulumiservice_api_agents_task.t", f"acme/{task_id}")
    assert "Import successful" in result.stdout
    emulator.clear_requests()
    plan = tf.plan()
    # message was not returned by the API; taking it from config is not a replacement.
    assert "must be replaced" not in plan.stdout
    tf.apply()
    assert creates(emulator) == []
    assert "No changes." in tf.plan().stdout


def test_import_block_with_generated_config_plans_cleanly(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    task_id = make_task(emulator)
    emulator.clear_requests()
    tf.write(
        {
            "main.tf": PROVIDER
            + f"""
import {{
  to = pulumiservice_api_agents_task.imported
  id = "acme/{task_id}"
}}
"""
        }
    )
    result = tf.plan("-generate-config-out=generated.tf")
    generated = (tf.workdir / "generated.tf").read_text()
    assert "org_name" in generated and task_id in generated, result.stdout
    plan = tf.plan()
    assert "1 to import, 0 to add, 0 to change, 0 to destroy" in plan.stdout, plan.stdout
    tf.apply()
    assert creates(emulator) == []
    assert "No changes." in tf.plan().stdout


def test_bad_import_ids_are_explained(tf: TerraformRunner, emulator: EmulatorHandle) -> None:
    tf.write({"main.tf": task_config(BASIC)})
    result = tf.run("import", "pulumiservice_api_agents_task.t", "no-slash", check=False)
    assert result.returncode != 0
    assert "Expected `<org_name>/<task_id>`" in result.stderr + result.stdout
    result = tf.run("import", "pulumiservice_api_agents_task.t", "acme/missing", check=False)
    assert result.returncode != 0
    assert "has no agent task 'missing'" in result.stderr + result.stdout
    assert all(r["method"] == "GET" for r in api_calls(emulator))
