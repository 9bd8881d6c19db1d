"""Waiting for an agent's run to end: the task's events, followed until they decide the ending.

The events come from `CloudClient.watch_events` (the server-sent event stream, reconnecting
and falling back to polling by itself); `agents.run.RunWatcher` decides from them how the run
ended. Each event is logged at INFO, so `TF_LOG=INFO` shows what the agent is doing. Errors of
the client (the deadline, StopProvider, the API) propagate to the caller.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from terraform_provider_pulumiservice.agents.run import RunEnd, RunWatcher, describe_event

if TYPE_CHECKING:
    from terraform_provider_pulumiservice.cloud.client import CloudClient

logger = logging.getLogger(__name__)

# A stream that ends while the task still reads `running` is followed again from its last event;
# this pause keeps a server that ends streams at once from being asked in a tight loop.
_REWATCH_PAUSE_SECONDS = 1.0


def wait_for_run(
    client: CloudClient, org: str, task_id: str, deadline: float
) -> tuple[RunEnd, dict[str, Any]]:
    """How the task's run ended, and the task object as it is then.

    `deadline` is a `time.monotonic()` value; the client raises its DeadlineExceededError when
    it passes, and CancelledError when the provider is stopped.
    """
    watcher = RunWatcher()
    last_event_id: str | None = None
    while True:
        for event in client.watch_events(
            org, task_id, deadline=deadline, after_event_id=last_event_id
        ):
            event_id = event.get("id")
            if isinstance(event_id, str):
                last_event_id = event_id
            logger.info("agent task %s/%s: %s", org, task_id, describe_event(event))
            if watcher.observe(event) is not None:
                break
        task = client.get_task(org, task_id)
        if watcher.ended is not None:
            return watcher.ended, task
        status = task.get("status")
        if status != "running":
            return watcher.finish(status if isinstance(status, str) else "unknown"), task
        # The events ended but the task still runs: follow it on from the last event seen.
        time.sleep(min(_REWATCH_PAUSE_SECONDS, max(0.0, deadline - time.monotonic())))
