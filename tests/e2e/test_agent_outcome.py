"""`wait_for_completion`, `final_message` and the events data source, with the emulator's
scripted agent and the real terraform.

The emulator's agent runs each task through a script (user message, task name, assistant
messages, a tool call, a final answer quoting the prompt, then idle) spread over its
`idle_after` seconds; a `[emulator: outcome=..., pace=...]` marker in the prompt changes one
task's ending or pace.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any

import httpx

from tests.e2e.harness import EmulatorHandle, TerraformRunner
from tests.e2e.test_resource_lifecycle import PROVIDER, creates, resource_values

STREAM_SUFFIX = "/events/stream"


def waiting_task(message: str, extra: str = "", name: str = "t") -> str:
    return f"""
resource "pulumiservice_api_agents_task" "{name}" {{
  org_name            = "acme"
  message             = "{message}"
  approval_mode       = "auto"
  wait_for_completion = true
{extra}
}}
"""


def event_requests(emulator: EmulatorHandle) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if "/events" in r["path"]]


def expected_answer(prompt: str) -> str:
    return f'(emulated agent) Done: "{prompt}". I ran pulumi_preview on the stack'


def test_apply_waits_for_the_run_and_final_message_holds_the_agents_answer(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write(
        {
            "main.tf": PROVIDER
            + waiting_task("Review the dev stack for drift")
            + 'output "answer" { value = pulumiservice_api_agents_task.t.final_message }\n'
        }
    )
    tf.apply()
    assert tf.output("answer").startswith(expected_answer("Review the dev stack for drift"))
    values = resource_values(tf)
    assert values["status"] == "idle"
    assert len(creates(emulator)) == 1
    assert any(r["path"].endswith(STREAM_SUFFIX) for r in event_requests(emulator))
    # Refresh reads the answer again from the events: still no changes.
    assert "No changes." in tf.plan().stdout


def test_a_stream_dropped_mid_run_still_gives_one_post_and_the_right_answer(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    emulator.add_faults(
        [{"action": "drop_stream", "after_events": 2, "path_regex": "/events/stream$", "times": 1}]
    )
    tf.write({"main.tf": PROVIDER + waiting_task("Count the stacks [emulator: pace=0.3]")})
    tf.apply()
    assert len(creates(emulator)) == 1
    streams = [r for r in event_requests(emulator) if r["path"].endswith(STREAM_SUFFIX)]
    assert len(streams) >= 2
    assert resource_values(tf)["final_message"].startswith(
        expected_answer("Count the stacks [emulator: pace=0.3]")
    )


def _tainted_task(tf: TerraformRunner) -> dict[str, Any]:
    state = json.loads((tf.workdir / "terraform.tfstate").read_text())
    instance: dict[str, Any] = state["resources"][0]["instances"][0]
    assert instance["attributes"]["task_id"]
    assert instance.get("status") == "tainted"
    return instance


def test_an_agent_error_fails_the_apply_with_the_agents_message_and_keeps_the_task(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": PROVIDER + waiting_task("Fix the build [emulator: outcome=error]")})
    result = tf.apply(check=False)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1
    assert "The agent's run failed" in output
    assert "could not finish" in output and "Fix the build" in output
    assert "terraform untaint" in output
    _tainted_task(tf)
    assert len(creates(emulator)) == 1


def test_a_cancelled_run_fails_the_apply_and_keeps_the_task(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": PROVIDER + waiting_task("Tidy up [emulator: outcome=cancelled]")})
    result = tf.apply(check=False)
    assert result.returncode == 1
    assert "The agent's run was cancelled" in result.stdout + result.stderr
    _tainted_task(tf)


def test_a_run_waiting_for_approval_says_what_it_waits_for_and_where_to_answer(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    config = waiting_task("Upgrade the dev stack").replace('"auto"', '"manual"')
    tf.write({"main.tf": PROVIDER + config})
    result = tf.apply(check=False)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1
    assert "The agent is waiting for an approval" in output
    assert "pulumi_preview" in output
    assert "Pulumi Cloud" in output and 'approval_mode = "auto"' in output
    _tainted_task(tf)


def test_the_create_timeout_ends_the_wait_with_an_error_naming_it(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    extra = '  timeouts {\n    create = "3s"\n  }\n'
    tf.write({"main.tf": PROVIDER + waiting_task("Slow work [emulator: pace=30]", extra)})
    started = time.monotonic()
    result = tf.apply(check=False)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1
    assert time.monotonic() - started < 60
    assert "Timed out waiting for the agent" in output and "3s" in output
    instance = _tainted_task(tf)
    task_id = instance["attributes"]["task_id"]
    assert any(
        t["task"]["id"] == task_id and t["task"]["status"] == "running" for t in emulator.tasks()
    )


def test_an_invalid_create_timeout_is_a_diagnostic_at_timeouts_create(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    extra = '  timeouts {\n    create = "soon"\n  }\n'
    tf.write({"main.tf": PROVIDER + waiting_task("x", extra)})
    result = tf.plan(check=False)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1
    assert "`timeouts.create` must be a positive duration" in output
    assert emulator.requests() == []


def test_without_wait_for_completion_nothing_reads_events(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write(
        {
            "main.tf": PROVIDER
            + 'resource "pulumiservice_api_agents_task" "t" {\n'
            + '  org_name = "acme"\n  message = "no waiting"\n}\n'
        }
    )
    tf.apply()
    tf.plan()
    assert event_requests(emulator) == []
    assert resource_values(tf)["final_message"] is None


def test_the_events_data_source_returns_every_event_of_a_run_across_pages_in_order(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    emulator.configure(idle_after=0)
    headers = {"Authorization": f"token {emulator.token}"}
    base = f"{emulator.url}/api/preview/agents/acme/tasks"
    task_id = httpx.post(
        base,
        json={
            "message": {"type": "user_message", "content": "first question"},
            "approvalMode": "auto",
        },
        headers=headers,
    ).json()["taskId"]
    for number in range(60):
        httpx.post(
            f"{base}/{task_id}",
            json={
                "event": {
                    "type": "user_message",
                    "content": f"follow-up {number}",
                    "timestamp": "2026-12-01T00:00:00Z",
                }
            },
            headers=headers,
        ).raise_for_status()
    listed: list[dict[str, Any]] = []
    token = None
    while True:
        params = {"pageSize": "100", **({"continuationToken": token} if token else {})}
        page = httpx.get(f"{base}/{task_id}/events", params=params, headers=headers).json()
        listed += page["events"]
        token = page.get("continuationToken")
        if not token:
            break
    assert len(listed) > 100
    tf.write(
        {
            "main.tf": PROVIDER
            + f"""
data "pulumiservice_api_agents_task_events" "run" {{
  org_name = "acme"
  task_id  = "{task_id}"
}}
output "ids" {{ value = [for e in data.pulumiservice_api_agents_task_events.run.events : e.id] }}
output "finals" {{
  value = [
    for e in data.pulumiservice_api_agents_task_events.run.events : e.content if e.is_final == true
  ]
}}
"""
        }
    )
    tf.apply()
    assert tf.output("ids") == [event["id"] for event in listed]
    assert tf.output("finals")[-1].startswith(expected_answer("follow-up 59"))


def test_ctrl_c_while_waiting_exits_within_seconds_with_the_task_in_state_still_running(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write({"main.tf": PROVIDER + waiting_task("Long job [emulator: pace=60]")})
    process = subprocess.Popen(
        tf.command_line(["apply", "-auto-approve"]),
        cwd=tf.workdir,
        env=tf.full_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(r["path"].endswith(STREAM_SUFFIX) for r in event_requests(emulator)):
            assert time.monotonic() < deadline, "terraform never started waiting"
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            time.sleep(0.2)
        interrupted = time.monotonic()
        os.kill(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        elapsed = time.monotonic() - interrupted
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert elapsed < 5, output
    assert "Stopped waiting for the agent" in " ".join(output.split()) or "nterrupt" in output
    state = json.loads((tf.workdir / "terraform.tfstate").read_text())
    task_id = state["resources"][0]["instances"][0]["attributes"]["task_id"]
    assert [t["task"]["status"] for t in emulator.tasks() if t["task"]["id"] == task_id] == [
        "running"
    ]
    assert not [r for r in emulator.requests() if r["path"].endswith("/cancel")]


def test_twenty_waiting_tasks_at_parallelism_ten_each_get_their_own_answer(
    tf: TerraformRunner, emulator: EmulatorHandle
) -> None:
    tf.write(
        {
            "main.tf": PROVIDER
            + """
resource "pulumiservice_api_agents_task" "many" {
  count               = 20
  org_name            = "acme"
  message             = "question ${count.index}"
  approval_mode       = "auto"
  wait_for_completion = true
}
output "answers" { value = pulumiservice_api_agents_task.many[*].final_message }
"""
        }
    )
    tf.apply("-parallelism=10")
    answers = tf.output("answers")
    assert len(answers) == 20
    for index, answer in enumerate(answers):
        assert answer.startswith(expected_answer(f"question {index}")), answer
    assert len(creates(emulator)) == 20
