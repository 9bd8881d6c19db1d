"""The emulator as a program: `python -m terraform_provider_pulumiservice.emulator`."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from terraform_provider_pulumiservice.emulator.__main__ import build_parser

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"^pulumi-cloud-emulator listening on (http://127\.0\.0\.1:\d+)$")
TASKS = "/api/preview/agents/acme/tasks"


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "terraform_provider_pulumiservice.emulator", "--port", "0", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().rstrip("\n")
    match = LISTENING.match(line)
    if match is None:
        process.kill()
        pytest.fail(f"unexpected first line {line!r}; stderr: {process.communicate()[1]}")
    return process, match.group(1)


def _terminate(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()


def test_program_serves_until_sigterm(tmp_path: Path) -> None:
    ready_file = tmp_path / "ready"
    db = tmp_path / "state.db"
    process, url = _start("--ready-file", str(ready_file), "--db", str(db), "--idle-after", "0")
    try:
        assert ready_file.read_text().strip() == url
        headers = {"Authorization": "token emulator-token"}
        prompt = {"message": {"type": "user_message", "content": "hello"}}
        with httpx.Client(base_url=url, headers=headers, verify=False, timeout=10) as client:
            created = client.post(TASKS, json=prompt)
            assert created.status_code == 201
            task = client.get(f"{TASKS}/{created.json()['taskId']}").json()
            assert task["status"] == "idle"  # --idle-after 0
    finally:
        assert _terminate(process) == 0
    assert process.stdout is not None and process.stdout.read() == ""  # exactly one line

    # The same database file brings the task back in a new process.
    process, url = _start("--db", str(db))
    try:
        listed = httpx.get(url + TASKS, headers=headers, verify=False).json()["tasks"]
        assert [t["id"] for t in listed] == [created.json()["taskId"]]
    finally:
        assert _terminate(process) == 0


def test_program_takes_tokens_and_cli_integrations() -> None:
    process, url = _start("--token", "alpha", "--token", "beta", "--cli-integration", "azure/prod")
    try:
        body = {
            "message": {"type": "user_message", "content": "hello"},
            "cliIntegrations": [{"catalogId": "azure", "name": "prod"}],
        }
        with httpx.Client(base_url=url, verify=False, timeout=10) as client:
            assert (
                client.get(TASKS, headers={"Authorization": "token emulator-token"}).status_code
                == 401
            )
            created = client.post(TASKS, json=body, headers={"Authorization": "token beta"})
            assert created.status_code == 201
            aws = {**body, "cliIntegrations": [{"catalogId": "aws", "name": "default"}]}
            assert (
                client.post(TASKS, json=aws, headers={"Authorization": "token alpha"}).status_code
                == 400
            )
    finally:
        assert _terminate(process) == 0


def test_parser_rejects_a_malformed_cli_integration() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--cli-integration", "aws"])
    args = build_parser().parse_args(["--cli-integration", "aws/team/a"])
    assert args.cli_integrations == [("aws", "team/a")]


def test_program_takes_the_scripted_agents_settings() -> None:
    process, url = _start(
        "--agent-pace",
        "0.05",
        "--agent-outcome",
        "error",
        "--default-approval-mode",
        "auto",
        "--stream-keepalive",
        "0.5",
        "--stream-max-seconds",
        "30",
    )
    try:
        config = httpx.get(url + "/_emulator/config").json()
        assert config["agent_pace"] == 0.05 and config["agent_outcome"] == "error"
        assert config["default_approval_mode"] == "auto"
        assert config["stream_keepalive_seconds"] == 0.5 and config["stream_max_seconds"] == 30
        headers = {"Authorization": "token emulator-token"}
        prompt = {"message": {"type": "user_message", "content": "hello"}}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            task_id = client.post(TASKS, json=prompt).json()["taskId"]
            # Six steps at 0.05 s: the stream follows the run to its error, then ends.
            streamed = client.get(f"{TASKS}/{task_id}/events/stream").text
            assert '"type": "error"' in streamed
            assert client.get(f"{TASKS}/{task_id}").json()["status"] == "idle"
    finally:
        assert _terminate(process) == 0


@pytest.mark.parametrize(
    "flags",
    [["--agent-pace", "0"], ["--agent-outcome", "maybe"], ["--stream-keepalive", "soon"]],
)
def test_parser_rejects_bad_agent_settings(flags: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(flags)
