"""Plan-time validation: each mistake is reported at its attribute, and no API call is made."""

from __future__ import annotations

import pytest

from tests.e2e.harness import EmulatorHandle, TerraformRunner
from tests.e2e.test_resource_lifecycle import task_config

CASES = {
    "approval_mode": ('approval_mode = "sometimes"', "must be one of: manual, auto, balanced"),
    "permission_mode": ('permission_mode = "admin"', "must be one of: default, read-only"),
    "tool_execution_mode": ('tool_execution_mode = "laptop"', "must be one of: cloud, cli, worker"),
    "source": ('source = "fax"', "must be one of: api, console, cli, slack, schedule"),
    "empty_message": ('message = "  "', "`message` must not be empty"),
    "cli_empty_name": (
        'cli_integrations = [{ catalog_id = "aws", name = "" }]',
        "`cli_integrations[0].name` must not be empty",
    ),
    "enabled_empty_id": (
        'enabled_integrations = ["datadog", ""]',
        "`enabled_integrations[1]` must not be empty",
    ),
    "entity_missing_project": (
        'context_entities = [{ type = "stack", name = "dev" }]',
        "A `stack` entity needs `project`",
    ),
    "entity_type": (
        'context_entities = [{ type = "planet", name = "mars" }]',
        "must be one of: stack, repository, pull_request, policy_issue",
    ),
    "name_too_long": (f'name = "{"x" * 300}"', "between 1 and 255 characters"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_input_is_a_diagnostic_at_the_attribute(
    case: str, tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    line, expected = CASES[case]
    attribute = line.split(" ", 1)[0]
    body = '  org_name = "acme"\n  ' + line + "\n"
    if not line.startswith("message"):
        body += '  message = "do something"\n'
    tf.write({"main.tf": task_config(body)})
    result = tf.plan(check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert expected in " ".join(output.split())
    # Terraform shows the offending line when the diagnostic carries the attribute path.
    assert f"{attribute} =" in output.split("Error:", 1)[1]
    assert "Traceback" not in output
    assert emulator.requests() == []


def test_unknown_values_are_not_validation_errors(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write(
        {
            "main.tf": task_config("""
  org_name      = "acme"
  message       = terraform_data.mode.output
  approval_mode = terraform_data.mode.output == "x" ? "auto" : "manual"
""")
            + """
resource "terraform_data" "mode" {
  input = "later"
}
"""
        }
    )
    result = tf.plan()
    assert "2 to add" in result.stdout


def test_api_rejections_are_readable(tf: TerraformRunner, emulator: EmulatorHandle) -> None:
    tf.write(
        {
            "main.tf": task_config("""
  org_name         = "acme"
  message          = "Check the Azure subscription"
  cli_integrations = [{ catalog_id = "azure", name = "prod" }]
""")
        }
    )
    result = tf.apply(check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "Could not create the agent task" in output
    assert "HTTP 400" in " ".join(output.split()) and "azure" in output
    assert "Traceback" not in output


def test_a_bad_token_is_readable(tf: TerraformRunner, emulator: EmulatorHandle) -> None:
    tf.write({"main.tf": task_config('  org_name = "acme"\n  message = "hi"\n')})
    tf.env["PULUMI_ACCESS_TOKEN"] = "not-the-right-token"
    result = tf.apply(check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "HTTP 401" in " ".join(output.split())
    assert "not-the-right-token" not in output


def test_a_missing_token_names_both_ways_to_set_it(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": task_config('  org_name = "acme"\n  message = "hi"\n')})
    del tf.env["PULUMI_ACCESS_TOKEN"]
    result = tf.plan(check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "access_token" in output and "PULUMI_ACCESS_TOKEN" in output


def test_a_missing_message_is_an_error_at_message(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": task_config('  org_name = "acme"\n')})
    result = tf.plan(check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "`message` is required" in " ".join(output.split())
    assert emulator.requests() == []


def test_a_cli_integration_without_name_is_refused_by_the_typed_schema(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write(
        {
            "main.tf": task_config(
                '  org_name = "acme"\n  message = "hi"\n'
                '  cli_integrations = [{ catalog_id = "aws" }]\n'
            )
        }
    )
    result = tf.plan(check=False)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1
    assert 'attribute "name" is required' in output
    assert emulator.requests() == []
