"""The go-plugin TCP transport (what Windows uses), forced on Linux with TFPS_PLUGIN_TRANSPORT."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.harness import EmulatorHandle, TerraformRunner, one_task_config

CONFIG = one_task_config("over_tcp", "tcp-org", "served over TCP on the loopback interface")


def test_terraform_applies_and_destroys_through_a_loopback_tcp_provider_with_mutual_tls(
    tf: TerraformRunner, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    log = tmp_path / "terraform.log"
    tf.env.update(
        {"TFPS_PLUGIN_TRANSPORT": "tcp", "TF_LOG_PROVIDER": "DEBUG", "TF_LOG_PATH": str(log)}
    )
    tf.write({"main.tf": CONFIG})
    tf.apply()
    task_id = tf.output("task_id")
    assert task_id in {entry["task"]["id"] for entry in emulator.tasks()}
    tf.destroy()

    text = log.read_text()
    # Terraform connected to what each handshake line announced; the provider logs that address
    # (network, address, and whether TLS is on) at debug level when it starts serving.
    serving = [line for line in text.splitlines() if "plugin serving" in line]
    assert len(serving) >= 4, "expected a provider start per plan/apply/destroy step"
    for line in serving:
        assert "network=tcp" in line, line
        assert re.search(r"address=127\.0\.0\.1:\d+", line), line
        assert "tls=true" in line, line


def test_an_unknown_transport_is_refused_with_a_message_naming_the_variable(
    tf: TerraformRunner, tmp_path: Path
) -> None:
    log = tmp_path / "terraform.log"
    tf.env.update({"TFPS_PLUGIN_TRANSPORT": "quic", "TF_LOG": "DEBUG", "TF_LOG_PATH": str(log)})
    tf.write({"main.tf": CONFIG})
    result = tf.plan(check=False)
    assert result.returncode != 0
    # Terraform logs what a provider that exits before its handshake wrote to stderr.
    assert "TFPS_PLUGIN_TRANSPORT='quic' is not a plugin transport" in log.read_text()
