"""Unit tests of waiting for a run: the ending, the task at the end, one INFO line per event."""

from __future__ import annotations

import logging
import time

import pytest

from terraform_provider_pulumiservice.agents.run import RunEndKind
from terraform_provider_pulumiservice.agents.wait import wait_for_run
from tests.support.fake_cloud import FakeCloud, agent_event


def test_each_event_is_logged_at_info_and_the_run_ends_with_the_final_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cloud = FakeCloud()
    cloud.add_task("t1")
    cloud.events["t1"] = [
        agent_event("e1", "set_task_name", name="Drift review"),
        agent_event("e2", "assistant_message", content="No drift found.", is_final=True),
    ]
    with caplog.at_level(logging.INFO, logger="terraform_provider_pulumiservice.agents"):
        end, task = wait_for_run(cloud.client, "acme", "t1", time.monotonic() + 5)
    assert end.kind is RunEndKind.SUCCEEDED and end.final_message == "No drift found."
    assert task["status"] == "idle"
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(lines) == 2 and all("acme/t1" in line for line in lines)
    assert "No drift found." in lines[1]


def test_an_error_event_ends_the_wait_without_reading_further() -> None:
    cloud = FakeCloud()
    cloud.add_task("t1")
    cloud.events["t1"] = [
        agent_event("e1", "error", message="quota exceeded"),
        agent_event("e2", "assistant_message", content="never read", is_final=True),
    ]
    end, _ = wait_for_run(cloud.client, "acme", "t1", time.monotonic() + 5)
    assert end.kind is RunEndKind.FAILED and "quota exceeded" in end.detail
    assert end.final_message is None
