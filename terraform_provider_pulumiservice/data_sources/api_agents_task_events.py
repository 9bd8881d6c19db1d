"""Data source `pulumiservice_api_agents_task_events`: every event of one agent task, in order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from terraform_provider_pulumiservice.agents.run import event_attributes
from terraform_provider_pulumiservice.cty import BOOL, STRING, List, Object
from terraform_provider_pulumiservice.data_sources.api_agents_task import read_for_task
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.resource import DataSource, State
from terraform_provider_pulumiservice.framework.schema import Attribute, Schema


class EventsClient(Protocol):
    """What the data source needs of the Pulumi Cloud client (`CloudClient` provides it)."""

    def list_events(self, org: str, task_id: str) -> Any:
        """Every event of the task (AgentConsoleEvent objects), oldest first, all pages."""
        ...


# One fixed shape for every event kind: the fields most configurations need are typed, the rest
# is in `json` (decode it with `jsondecode`).
EVENT_TYPE = Object(
    {
        "id": STRING,
        "type": STRING,
        "event_type": STRING,
        "timestamp": STRING,
        "content": STRING,
        "message": STRING,
        "is_final": BOOL,
        "json": STRING,
    }
)

SCHEMA = Schema(
    description="Reads every event of a Pulumi Cloud agent task (Pulumi Neo), oldest first, "
    "across all pages: the user's messages, the agent's messages, tool calls and their results, "
    "approval requests, errors.",
    attributes={
        "id": Attribute(STRING, "`<org_name>/<task_id>`.", computed=True),
        "org_name": Attribute(STRING, "The organization the task belongs to.", required=True),
        "task_id": Attribute(STRING, "The task's identifier.", required=True),
        "events": Attribute(
            List(EVENT_TYPE),
            "The task's events, oldest first. Each has `id`; `type` (`userInput` or "
            "`agentResponse`); `event_type`, the kind of event (`user_message`, "
            "`assistant_message`, `set_task_name`, `exec_tool_call`, `tool_response`, "
            "`user_approval_request`, `error`, ...); `timestamp` (RFC 3339); `content`, the "
            "text of a message (null for other events); `message`, the text of an error, "
            "warning or approval request (null otherwise); `is_final`, for assistant messages "
            "whether it is the agent's final answer (null for other events); and `json`, the "
            "whole event as JSON.",
            computed=True,
        ),
    },
)


class AgentsTaskEventsDataSource(DataSource):
    type_name = "pulumiservice_api_agents_task_events"
    schema = SCHEMA

    def read(self, client: EventsClient, config: State, diagnostics: Diagnostics) -> State | None:
        org, task_id = config["org_name"], config["task_id"]
        raw_events = read_for_task(
            lambda: client.list_events(org, task_id),
            org,
            task_id,
            "the agent task's events",
            diagnostics,
        )
        if raw_events is None and diagnostics.has_errors():
            return None
        events = []
        skipped = 0
        for event in raw_events if isinstance(raw_events, list) else ():
            if isinstance(event, Mapping):
                events.append(event_attributes(event))
            else:
                skipped += 1
        if not isinstance(raw_events, list):
            diagnostics.warning(
                "Unexpected answer listing the agent task's events",
                f"Pulumi Cloud answered {type(raw_events).__name__} instead of a list of events "
                f"for task {task_id!r}; `events` is empty.",
            )
        elif skipped:
            diagnostics.warning(
                "Some agent task events were skipped",
                f"{skipped} of the {len(raw_events)} events Pulumi Cloud returned for task "
                f"{task_id!r} are not JSON objects and are not in `events`.",
            )
        return {**config, "id": f"{org}/{task_id}", "events": events}
