"""`pulumiservice_api_agents_task` through its whole life, driven by the real terraform binary.

Each test asserts on what Terraform shows and stores and on what the emulator was asked.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import EmulatorHandle, TerraformRunner

TASKS_PATH = "/api/preview/agents/acme/tasks"

PROVIDER = """
terraform {
  required_providers {
    pulumiservice = { source = "pulumi/pulumiservice" }
  }
}
provider "pulumiservice" {}
"""


def task_config(body: str, name: str = "t") -> str:
    return PROVIDER + f'resource "pulumiservice_api_agents_task" "{name}" {{\n{body}\n}}\n'


BASIC = """
  org_name        = "acme"
  message         = "Upgrade the staging stack"
  approval_mode   = "manual"
  permission_mode = "read-only"
"""


def api_calls(emulator: EmulatorHandle, method: str | None = None) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if method is None or r["method"] == method]


def creates(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    return [r for r in api_calls(emulator, "POST") if r["path"] == TASKS_PATH]


def resource_values(tf: TerraformRunner, address: str = "pulumiservice_api_agents_task.t") -> Any:
    resources = tf.state_json()["values"]["root_module"]["resources"]
    return next(r["values"] for r in resources if r["address"] == address)


def own_warnings(output: str) -> list[str]:
    """Warnings other than Terraform's own dev_overrides notice."""
    return [
        line
        for line in output.splitlines()
        if line.startswith("Warning:") and "development overrides" not in line
    ]


def test_create_posts_once_then_plans_no_changes(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": task_config(BASIC)})
    tf.apply()
    posts = creates(emulator)
    assert len(posts) == 1
    body = posts[0]["body"]
    assert body["approvalMode"] == "manual" and body["permissionMode"] == "read-only"
    assert body["message"]["content"] == "Upgrade the staging stack"
    assert body["message"]["type"] == "user_message" and body["message"]["timestamp"]
    assert set(body) == {"message", "approvalMode", "permissionMode"}
    values = resource_values(tf)
    assert values["id"] == f"acme/{values['task_id']}"
    assert values["status"] in ("running", "idle") and values["created_at"]
    assert values["created_by"]["github_login"]
    assert "email" not in values["created_by"]
    # State keeps what the user wrote: no type or timestamp added.
    assert values["message"] == "Upgrade the staging stack"

    plan = tf.plan("-detailed-exitcode", check=False)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "No changes." in plan.stdout
    assert own_warnings(plan.stdout + plan.stderr) == []
    assert len(creates(emulator)) == 1


def test_plain_string_message_and_integration_lists(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write(
        {
            "main.tf": task_config("""
  org_name             = "acme"
  message              = "Find unused stacks"
  cli_integrations     = [{ catalog_id = "aws", name = "default" }]
  enabled_integrations = []
""")
        }
    )
    tf.apply()
    body = creates(emulator)[0]["body"]
    assert body["message"]["content"] == "Find unused stacks"
    assert body["cliIntegrations"] == [{"catalogId": "aws", "name": "default"}]
    assert body["enabledIntegrations"] == []
    assert resource_values(tf)["message"] == "Find unused stacks"
    assert "No changes." in tf.plan().stdout


def test_update_in_place_patches_without_post(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": task_config(BASIC)})
    tf.apply()
    task_id = resource_values(tf)["task_id"]
    emulator.clear_requests()
    tf.write(
        {
            "main.tf": task_config(
                BASIC.replace('"manual"', '"auto"')
                + """
  name      = "Staging upgrade"
  is_shared = true
"""
            )
        }
    )
    plan = tf.plan()
    assert "update in-place" in plan.stdout and "forces replacement" not in plan.stdout
    tf.apply()
    patches = api_calls(emulator, "PATCH")
    assert len(patches) == 1
    assert patches[0]["body"] == {
        "approvalMode": "auto",
        "name": "Staging upgrade",
        "isShared": True,
    }
    assert creates(emulator) == []
    values = resource_values(tf)
    assert values["task_id"] == task_id and values["approval_mode"] == "auto"
    assert values["is_shared"] is True and values["shared_at"]
    assert "No changes." in tf.plan().stdout


def test_create_only_change_replaces_and_cancels_the_running_task(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": task_config(BASIC)})
    tf.apply()
    old_id = resource_values(tf)["task_id"]
    emulator.set_status("acme", old_id, "running")
    emulator.clear_requests()
    tf.write({"main.tf": task_config(BASIC.replace("staging", "production"))})
    plan = tf.plan("-out=replace.tfplan")
    assert "must be replaced" in plan.stdout
    assert "1 to add, 0 to change, 1 to destroy" in plan.stdout
    change = tf.plan_json("replace.tfplan")["resource_changes"][0]["change"]
    assert change["replace_paths"] == [["message"]]
    tf.run("apply", "-input=false", "replace.tfplan")
    assert len(creates(emulator)) == 1
    cancels = [r for r in api_calls(emulator, "POST") if r["path"].endswith("/cancel")]
    assert [c["path"] for c in cancels] == [f"{TASKS_PATH}/{old_id}/cancel"]
    assert cancels[0]["body"] == {"force": True}
    assert resource_values(tf)["task_id"] != old_id


def test_task_deleted_outside_terraform_is_planned_for_creation(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": task_config(BASIC)})
    tf.apply()
    emulator.delete_task("acme", resource_values(tf)["task_id"])
    plan = tf.plan("-detailed-exitcode", check=False)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "will be created" in plan.stdout
    assert "1 to add, 0 to change, 0 to destroy" in plan.stdout


def test_destroy_cancels_a_running_task_and_skips_an_idle_one(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": task_config(BASIC, "a") + task_config(BASIC, "b").replace(PROVIDER, "")})
    tf.apply()
    running = resource_values(tf, "pulumiservice_api_agents_task.a")["task_id"]
    idle = resource_values(tf, "pulumiservice_api_agents_task.b")["task_id"]
    emulator.set_status("acme", running, "running")
    emulator.set_status("acme", idle, "idle")
    emulator.clear_requests()
    tf.destroy()
    cancels = [r["path"] for r in api_calls(emulator, "POST") if r["path"].endswith("/cancel")]
    assert cancels == [f"{TASKS_PATH}/{running}/cancel"]
    assert tf.state_json().get("values") is None
    # Pulumi Cloud keeps the history: both tasks still exist.
    assert {t["task"]["id"] for t in emulator.tasks()} >= {running, idle}


def test_adopting_an_existing_task_by_task_id(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": task_config(BASIC)})
    tf.apply()
    task_id = resource_values(tf)["task_id"]
    tf.run("state", "rm", "pulumiservice_api_agents_task.t")
    emulator.clear_requests()
    tf.write({"main.tf": task_config(BASIC + f'  task_id = "{task_id}"\n')})
    result = tf.apply()
    assert creates(emulator) == []
    assert "Create-only inputs were not sent" in result.stdout + result.stderr
    assert resource_values(tf)["task_id"] == task_id


def test_name_and_sharing_set_at_creation_are_applied(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": task_config(BASIC + '  name = "Staging upgrade"\n  is_shared = true\n')})
    tf.apply()
    assert len(creates(emulator)) == 1
    patches = api_calls(emulator, "PATCH")
    assert [p["body"] for p in patches] == [{"name": "Staging upgrade", "isShared": True}]
    task = next(t["task"] for t in emulator.tasks())
    assert task["name"] == "Staging upgrade" and task["isShared"] is True
    assert "No changes." in tf.plan().stdout
