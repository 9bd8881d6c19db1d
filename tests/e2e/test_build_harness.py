"""The e2e harness itself: terraform wiring, failure messages, emulator control."""

from __future__ import annotations

import pytest

from tests.e2e.harness import EmulatorHandle, TerraformFailed, TerraformRunner, one_task_config

CONFIG = one_task_config("t", "harness-org", "check the harness")


def test_no_color_goes_after_the_command_words(tf: TerraformRunner) -> None:
    line = tf.command_line(["providers", "schema", "-json"])
    assert line[1:] == ["providers", "schema", "-no-color", "-json"]
    apply = tf.command_line(["apply", "-auto-approve"])
    assert apply[1:] == ["apply", "-no-color", "-auto-approve"]
    assert tf.command_line(["-version"])[1:] == ["-version"]


def test_failures_carry_terraform_output(tf: TerraformRunner) -> None:
    tf.write({"main.tf": 'resource "pulumiservice_api_agents_task" "x" {\n'})
    with pytest.raises(TerraformFailed) as failure:
        tf.plan()
    message = str(failure.value)
    assert "exited 1" in message and "--- stderr ---" in message
    assert "Unclosed configuration block" in message or "Argument or block" in message


def test_init_works_offline_and_apply_reaches_the_emulator(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": CONFIG})
    tf.init()
    tf.apply()
    task_id = tf.output("task_id")
    stored = emulator.tasks()
    assert [(entry["org"], entry["task"]["id"]) for entry in stored] == [("harness-org", task_id)]
    posts = [r for r in emulator.requests() if r["method"] == "POST"]
    assert posts and posts[0]["headers"]["authorization"] == "<redacted>"
    emulator.clear_requests()
    assert emulator.requests() == []
    state = tf.state_json()
    resources = state["values"]["root_module"]["resources"]
    assert resources[0]["values"]["task_id"] == task_id
