"""Values known only during apply, conditionals, typed variables and `for` expressions.

Terraform checks a provider's plans against the configuration strictly; each test here applies
a configuration whose inputs come from somewhere Terraform resolves late, then checks what
reached the API.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import EmulatorHandle, TerraformRunner
from tests.e2e.test_resource_lifecycle import PROVIDER, creates, resource_values

PATCHES = "PATCH"


def patches(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["method"] == PATCHES]


def _schema_types(node: Any) -> list[Any]:
    """Every `type` in a schema JSON document (attributes, nested attributes, blocks)."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "type":
                found.append(value)
            else:
                found.extend(_schema_types(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_schema_types(item))
    return found


def _mentions_dynamic(type_: Any) -> bool:
    if type_ == "dynamic":
        return True
    if isinstance(type_, list):
        return any(_mentions_dynamic(item) for item in type_)
    if isinstance(type_, dict):
        return any(_mentions_dynamic(item) for item in type_.values())
    return False


def test_no_attribute_of_any_block_is_dynamic_or_contains_it(tf: TerraformRunner) -> None:
    tf.write({"main.tf": PROVIDER})
    schema = tf.schema_json()["provider_schemas"]["registry.terraform.io/pulumi/pulumiservice"]
    types = _schema_types(schema)
    assert len(types) > 40
    assert not [t for t in types if _mentions_dynamic(t)]
    task = schema["resource_schemas"]["pulumiservice_api_agents_task"]
    assert task["version"] == 1
    assert task["block"]["attributes"]["cli_integrations"]["nested_type"]["nesting_mode"] == "list"


def test_a_name_from_another_resource_applies_twice_when_that_input_changes(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    def configuration(label: str) -> str:
        return PROVIDER + f"""
resource "terraform_data" "n" {{
  input = "{label}"
}}
resource "pulumiservice_api_agents_task" "t" {{
  org_name = "acme"
  message  = "Review the staging stack"
  name     = terraform_data.n.output
}}
"""

    tf.write({"main.tf": configuration("first name")})
    tf.apply()
    assert resource_values(tf)["name"] == "first name"
    emulator.clear_requests()
    tf.write({"main.tf": configuration("second name")})
    result = tf.apply(check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "inconsistent final plan" not in output
    assert [p["body"] for p in patches(emulator)] == [{"name": "second name"}]
    assert creates(emulator) == []
    assert resource_values(tf)["name"] == "second name"


def test_message_and_modes_from_typed_variables_conditionals_and_outputs(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write(
        {
            "main.tf": PROVIDER
            + """
variable "msg" {
  type    = object({ content = string })
  default = { content = "Check the prod stack for drift" }
}
variable "strict" {
  type    = bool
  default = true
}
resource "terraform_data" "ask" {
  input = { content = "Summarize yesterday's deployments", mode = "auto" }
}
resource "pulumiservice_api_agents_task" "from_variable" {
  org_name      = "acme"
  message       = var.msg.content
  approval_mode = var.strict ? "manual" : "auto"
}
resource "pulumiservice_api_agents_task" "from_output" {
  org_name      = "acme"
  message       = terraform_data.ask.output.content
  approval_mode = terraform_data.ask.output.mode
  name          = "daily ${terraform_data.ask.output.mode} summary"
}
"""
        }
    )
    result = tf.run("validate")
    assert result.returncode == 0
    tf.apply()
    bodies = {r["body"]["message"]["content"]: r["body"] for r in creates(emulator)}
    assert bodies["Check the prod stack for drift"]["approvalMode"] == "manual"
    assert bodies["Summarize yesterday's deployments"]["approvalMode"] == "auto"
    assert [p["body"] for p in patches(emulator)] == [{"name": "daily auto summary"}]
    assert "No changes." in tf.plan().stdout


def test_integration_lists_wholly_unknown_at_plan_reach_the_body_with_their_final_values(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write(
        {
            "main.tf": PROVIDER
            + """
resource "terraform_data" "x" {
  input = "datadog"
}
locals {
  clouds = { aws = "default", gcp = "default" }
}
resource "pulumiservice_api_agents_task" "t" {
  org_name             = "acme"
  message              = "Which integrations do we use?"
  enabled_integrations = terraform_data.x.output == "" ? [] : [terraform_data.x.output]
  cli_integrations = terraform_data.x.output == "" ? [] : [
    for catalog, name in local.clouds : { catalog_id = catalog, name = name }
  ]
}
resource "pulumiservice_api_agents_task" "none" {
  org_name             = "acme"
  message              = "Nothing enabled"
  enabled_integrations = terraform_data.x.output == "datadog" ? [] : ["other"]
}
"""
        }
    )
    result = tf.apply(check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "invalid plan" not in output
    bodies = {r["body"]["message"]["content"]: r["body"] for r in creates(emulator)}
    assert bodies["Which integrations do we use?"]["enabledIntegrations"] == [{"id": "datadog"}]
    assert bodies["Which integrations do we use?"]["cliIntegrations"] == [
        {"catalogId": "aws", "name": "default"},
        {"catalogId": "gcp", "name": "default"},
    ]
    assert bodies["Nothing enabled"]["enabledIntegrations"] == []
    assert "cliIntegrations" not in bodies["Nothing enabled"]
    assert "No changes." in tf.plan().stdout
