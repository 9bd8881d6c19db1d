"""The real Terraform binary starts, uses and stops the provider (dev_overrides, AutoMTLS)."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_plugin_harness import REPO_ROOT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH"),
    pytest.mark.skipif(
        not (REPO_ROOT / "terraform_provider_pulumiservice/protocol/servicer.py").exists(),
        reason="the real ProviderServicer is not written yet",
    ),
]

CONFIGURATION = """\
terraform {
  required_providers {
    pulumiservice = { source = "pulumi/pulumiservice" }
  }
}

provider "pulumiservice" {}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("terraform")
    plugin_dir = root / "bin"
    plugin_dir.mkdir()
    launcher = plugin_dir / "terraform-provider-pulumiservice"
    launcher.write_text(
        f'#!/bin/sh\nexec {sys.executable} -m terraform_provider_pulumiservice "$@"\n'
    )
    launcher.chmod(0o755)
    cli_config = root / "cli.tfrc"
    cli_config.write_text(
        "provider_installation {\n"
        f'  dev_overrides {{ "pulumi/pulumiservice" = "{plugin_dir}" }}\n'
        "  direct {}\n"
        "}\n"
    )
    config_dir = root / "config"
    config_dir.mkdir()
    (config_dir / "main.tf").write_text(CONFIGURATION)
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("TF_", "PLUGIN_"))
    }
    environment.update(
        TF_CLI_CONFIG_FILE=str(cli_config),
        TF_IN_AUTOMATION="1",
        CHECKPOINT_DISABLE="1",
        TF_LOG="trace",
    )
    return config_dir, environment


def run_terraform(
    workspace: tuple[Path, dict[str, str]], *args: str
) -> subprocess.CompletedProcess[str]:
    config_dir, environment = workspace
    return subprocess.run(
        ["terraform", *args],
        cwd=config_dir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def log_time(line: str) -> datetime.datetime:
    return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")


def assert_provider_processes_exited_gracefully(log: str) -> None:
    assert "plugin failed to exit gracefully" not in log
    lines = log.splitlines()
    closes = [log_time(line) for line in lines if "GRPCProvider.v6: Close" in line]
    exits = [log_time(line) for line in lines if "provider: plugin process exited" in line]
    assert exits, "no provider process was started"
    assert len(closes) == len(exits)
    for closed, exited in zip(closes, exits, strict=True):
        # Terraform would SIGKILL after 2 s; we are gone long before.
        assert (exited - closed).total_seconds() < 1.0


def test_providers_schema_json(workspace: tuple[Path, dict[str, str]]) -> None:
    result = run_terraform(workspace, "providers", "schema", "-json")
    assert result.returncode == 0, result.stderr[-3000:]
    schemas = json.loads(result.stdout)["provider_schemas"]
    assert "registry.terraform.io/pulumi/pulumiservice" in schemas
    assert_provider_processes_exited_gracefully(result.stderr)


def test_validate(workspace: tuple[Path, dict[str, str]]) -> None:
    result = run_terraform(workspace, "validate", "-no-color")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "The configuration is valid" in result.stdout
    assert_provider_processes_exited_gracefully(result.stderr)
    # AutoMTLS was in use: our handshake carried a certificate.
    assert "tls=true" in result.stderr
