"""An in-memory stand-in for `CloudClient`, for unit tests of resources and data sources.

It records every call, keeps tasks in a dict and can be told to fail a given call, to answer a
PATCH without a body, or to describe another task than the one asked for.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from terraform_provider_pulumiservice.cloud.errors import CloudError, NotFoundError


def not_found(method: str, path: str) -> NotFoundError:
    return NotFoundError(
        status=404, message="not found", request_id="req-1", method=method, path=path
    )


def sample_task(task_id: str, **fields: Any) -> dict[str, Any]:
    """A task object as the API returns it, with every field the resource reads."""
    task: dict[str, Any] = {
        "id": task_id,
        "name": "a task",
        "status": "running",
        "approvalMode": "manual",
        "permissionMode": "default",
        "isShared": False,
        "planMode": False,
        "source": "api",
        "toolExecutionMode": "cloud",
        "taskType": "sync",
        "createdAt": "2026-12-01T00:00:00Z",
        "createdBy": {
            "name": "Ann",
            "githubLogin": "ann",
            "avatarUrl": "https://a/x.png",
            "email": "ann@example.com",
        },
        "entities": [],
        "tokensUsed": 1,
    }
    task.update(fields)
    return task


@dataclass
class FakeCloud:
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    # call name ("create", "get", "update", "cancel", "list", "list_events") -> error to raise
    failures: dict[str, Exception] = field(default_factory=dict)
    patch_replies_without_body: bool = False
    # task id -> the body a GET answers instead of the stored task
    get_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def client(self) -> Any:
        """This fake where a `CloudClient` is expected (it has the methods resources call)."""
        return self

    def _fail(self, call: str) -> None:
        error = self.failures.get(call)
        if error is not None:
            raise error

    def add_task(self, task_id: str, **fields: Any) -> dict[str, Any]:
        task = sample_task(task_id, **fields)
        self.tasks[task_id] = task
        return task

    def create_task(self, org: str, body: dict[str, Any]) -> str:
        self.calls.append(("create", org, body))
        self._fail("create")
        task_id = f"t{next(self._ids)}"
        content = body.get("message", {}).get("content", "")
        self.add_task(
            task_id,
            name=content[:40] or "untitled",
            **{
                k: v
                for k, v in body.items()
                if k
                in ("approvalMode", "permissionMode", "planMode", "source", "toolExecutionMode")
            },
        )
        return task_id

    def get_task(self, org: str, task_id: str) -> dict[str, Any]:
        self.calls.append(("get", org, task_id))
        self._fail("get")
        if task_id in self.get_overrides:
            return dict(self.get_overrides[task_id])
        if task_id not in self.tasks:
            raise not_found("GET", f"/api/preview/agents/{org}/tasks/{task_id}")
        return dict(self.tasks[task_id])

    def update_task(self, org: str, task_id: str, body: dict[str, Any]) -> dict[str, Any] | None:
        self.calls.append(("update", org, (task_id, body)))
        self._fail("update")
        if task_id not in self.tasks:
            raise not_found("PATCH", f"/api/preview/agents/{org}/tasks/{task_id}")
        self.tasks[task_id].update(body)
        return None if self.patch_replies_without_body else dict(self.tasks[task_id])

    def cancel_task(self, org: str, task_id: str) -> None:
        self.calls.append(("cancel", org, task_id))
        self._fail("cancel")
        self.tasks[task_id]["status"] = "idle"

    def list_tasks(self, org: str, task_type: str | None = None) -> list[dict[str, Any]]:
        self.calls.append(("list", org, task_type))
        self._fail("list")
        return [dict(task) for task in self.tasks.values()]

    def list_events(self, org: str, task_id: str) -> list[dict[str, Any]]:
        self.calls.append(("list_events", org, task_id))
        self._fail("list_events")
        return list(self.events.get(task_id, []))

    def watch_events(
        self,
        org: str,
        task_id: str,
        *,
        deadline: float,
        after_event_id: str | None = None,
        idle_timeout: float = 60.0,
    ) -> Iterator[dict[str, Any]]:
        """The stored events after `after_event_id`; the task is idle once they are out."""
        self.calls.append(("watch", org, task_id))
        self._fail("watch")
        events = self.events.get(task_id, [])
        ids = [event.get("id") for event in events]
        start = ids.index(after_event_id) + 1 if after_event_id in ids else 0
        yield from events[start:]
        if task_id in self.tasks:
            self.tasks[task_id]["status"] = "idle"

    def call_names(self) -> list[str]:
        return [name for name, _, _ in self.calls]


def agent_event(event_id: str, body_type: str, **body: Any) -> dict[str, Any]:
    """An AgentConsoleEvent as the API sends it."""
    console_type = "userInput" if body_type.startswith("user_") else "agentResponse"
    return {"id": event_id, "type": console_type, "eventBody": {"type": body_type, **body}}


def transport_failure(text: str = "connection refused") -> CloudError:
    return CloudError(f"Could not reach Pulumi Cloud: {text}.")
