"""The provider block against bad settings and a misbehaving API, through the real terraform."""

from __future__ import annotations

import time

from tests.e2e.harness import EmulatorHandle, TerraformRunner
from tests.support.hostile_api import Exchange, HostileApi, Wire, response_bytes

REQUIRED = """
terraform {
  required_providers {
    pulumiservice = { source = "pulumi/pulumiservice" }
  }
}
"""

TASK = """
resource "pulumiservice_api_agents_task" "t" {
  org_name = "acme"
  message  = "Check my stacks"
}
"""

PASSWORD = "hunter2-e2e-secret"


def provider_block(**settings: str) -> str:
    lines = "".join(f'  {name} = "{value}"\n' for name, value in settings.items())
    return REQUIRED + 'provider "pulumiservice" {\n' + lines + "}\n"


def flat(text: str) -> str:
    return " ".join(text.split())


def test_an_api_url_with_credentials_is_an_error_on_api_url_that_never_repeats_the_password(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": provider_block(api_url=f"https://user:{PASSWORD}@api.example.com") + TASK})
    result = tf.plan(check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "must not contain a user name or password" in flat(output)
    # Terraform quotes the offending line of the configuration (which the user wrote); apart from
    # that quotation the password appears nowhere, in particular not in the diagnostic text.
    error = output.split("Error:", 1)[1]
    assert "api_url =" in error
    outside_quote = [line for line in output.splitlines() if "api_url =" not in line]
    assert not any(PASSWORD in line for line in outside_quote), output
    assert emulator.requests() == []


def test_a_bad_backend_url_in_the_environment_names_the_variable_and_hides_the_password(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.env["PULUMI_BACKEND_URL"] = f"https://user:{PASSWORD}@api.example.com/?x=1"
    tf.write({"main.tf": provider_block() + TASK})
    result = tf.plan(check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "PULUMI_BACKEND_URL environment variable" in flat(output)
    assert PASSWORD not in output


def test_a_malformed_timeout_is_an_error_on_its_attribute(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": provider_block(request_timeout="soon") + TASK})
    result = tf.plan(check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert 'expected a duration such as "45s"' in flat(output)
    assert "request_timeout =" in output.split("Error:", 1)[1]
    assert emulator.requests() == []


def test_a_listing_that_never_ends_fails_the_plan_within_the_operation_timeout(
    tf: TerraformRunner,
) -> None:
    def endless(exchange: Exchange, wire: Wire) -> None:
        token = f"n{time.monotonic_ns()}"
        wire.send(response_bytes(200, {"tasks": [], "continuationToken": token}))
        wire.pause(0.01)

    with HostileApi(endless, max_seconds=60) as api:
        config = provider_block(api_url=api.url, operation_timeout="3s") + (
            'data "pulumiservice_api_agents_tasks" "all" {\n  org_name = "acme"\n}\n'
        )
        tf.write({"main.tf": config})
        started = time.monotonic()
        result = tf.plan(check=False)
        elapsed = time.monotonic() - started
    output = flat(result.stdout + result.stderr)
    assert result.returncode == 1, output
    assert "operation timeout of 3s" in output
    assert "Traceback" not in output
    assert elapsed < 60
