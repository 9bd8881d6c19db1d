"""State written by v0.1.0 (schema version 0) keeps working after the move to schema version 1.

tests/data/v0_1_0_state holds a state that the v0.1.0 build wrote, and the configuration that
wrote it. The test re-creates its tasks in a fresh emulator (same inputs), points the state at
them, rewrites the configuration to the version-1 form and expects Terraform to plan nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness import REPO_ROOT, EmulatorHandle, TerraformRunner
from tests.e2e.test_resource_lifecycle import PROVIDER, creates

FIXTURE = REPO_ROOT / "tests" / "data" / "v0_1_0_state"

# The fixture's configuration (main.tf.v0) in the version-1 form.
V1_CONFIG = PROVIDER + """
resource "pulumiservice_api_agents_task" "string_message" {
  org_name             = "acme"
  message              = "Review the staging stack for drift"
  approval_mode        = "auto"
  permission_mode      = "read-only"
  name                 = "drift review"
  enabled_integrations = ["datadog", "pagerduty"]
  cli_integrations     = [{ catalog_id = "aws", name = "default" }]
}

resource "pulumiservice_api_agents_task" "object_message" {
  org_name             = "acme"
  message              = "Upgrade Node to 22 and open a PR"
  approval_mode        = "balanced"
  enabled_integrations = ["github"]
  cli_integrations     = []
  is_shared            = true
}

resource "pulumiservice_api_agents_task" "minimal" {
  org_name = "acme"
  message  = "List the stacks"
}
"""


def _recreate(emulator: EmulatorHandle, attributes: dict[str, Any]) -> str:
    """A task in the emulator like the one the fixture's state describes; returns its id."""
    message = attributes["message"]["value"]
    content = message if isinstance(message, str) else message["content"]
    body: dict[str, Any] = {
        "message": {"type": "user_message", "content": content},
        "approvalMode": attributes["approval_mode"],
        "permissionMode": attributes["permission_mode"],
    }
    response = httpx.post(
        f"{emulator.url}/api/preview/agents/acme/tasks",
        json=body,
        headers={"Authorization": f"token {emulator.token}"},
    )
    response.raise_for_status()
    task_id: str = response.json()["taskId"]
    patch = {"name": attributes["name"], "isShared": attributes["is_shared"]}
    httpx.patch(
        f"{emulator.url}/api/preview/agents/acme/tasks/{task_id}",
        json=patch,
        headers={"Authorization": f"token {emulator.token}"},
    ).raise_for_status()
    return task_id


def _v0_state_for(emulator: EmulatorHandle) -> str:
    text = (FIXTURE / "terraform.tfstate").read_text()
    state = json.loads(text)
    for resource in state["resources"]:
        instance = resource["instances"][0]
        assert instance["schema_version"] == 0
        old_id = instance["attributes"]["task_id"]
        text = text.replace(old_id, _recreate(emulator, instance["attributes"]))
    return text


def test_a_v0_state_plans_no_changes_with_the_config_rewritten_to_v1(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": V1_CONFIG, "terraform.tfstate": _v0_state_for(emulator)})
    emulator.clear_requests()
    plan = tf.plan("-detailed-exitcode", check=False)
    output = plan.stdout + plan.stderr
    assert plan.returncode == 0, output
    assert "No changes." in plan.stdout
    assert "must be replaced" not in output

    tf.apply()
    assert creates(emulator) == []
    upgraded = json.loads(Path(tf.workdir, "terraform.tfstate").read_text())
    for resource in upgraded["resources"]:
        instance = resource["instances"][0]
        assert instance["schema_version"] == 1
        attributes = instance["attributes"]
        assert isinstance(attributes["message"], str)
        assert set(attributes["created_by"]) == {"name", "github_login", "avatar_url"}
    by_name = {r["name"]: r["instances"][0]["attributes"] for r in upgraded["resources"]}
    assert by_name["string_message"]["enabled_integrations"] == ["datadog", "pagerduty"]
    assert by_name["string_message"]["cli_integrations"] == [
        {"catalog_id": "aws", "name": "default"}
    ]
