"""The agent task as Terraform sees it: attribute names, API field names and conversions.

Shared by the `pulumiservice_api_agents_task` resource and both agent-task data sources, so the
mapping between the API's camelCase task object and snake_case attributes lives in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from terraform_provider_pulumiservice.cty import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    CtyType,
    List,
    Object,
    TypedValue,
    infer_typed_value,
    typed_value_to_plain,
)

APPROVAL_MODES = ("manual", "auto", "balanced")
PERMISSION_MODES = ("default", "read-only")
TOOL_EXECUTION_MODES = ("cloud", "cli", "worker")
SOURCES = ("api", "console", "cli", "slack", "schedule", "github", "code-review")
TASK_TYPES = ("sync", "async")


@dataclass(frozen=True)
class TaskField:
    """One attribute that Terraform reads back from the API's task object."""

    attribute: str
    api_name: str
    type: CtyType
    description: str


# Attributes filled from the task object (GET /api/preview/agents/{org}/tasks/{taskID}).
TASK_FIELDS: tuple[TaskField, ...] = (
    TaskField("task_id", "id", STRING, "The task's identifier in Pulumi Cloud."),
    TaskField(
        "name",
        "name",
        STRING,
        "Display name of the task, generated from the first message unless set.",
    ),
    TaskField("status", "status", STRING, "Execution status: `running` or `idle`."),
    TaskField(
        "task_type",
        "taskType",
        STRING,
        "`sync` (started by a user) or `async` (started by automation).",
    ),
    TaskField("created_at", "createdAt", STRING, "When the task was created (RFC 3339)."),
    TaskField(
        "created_by",
        "createdBy",
        DYNAMIC,
        "The user who created the task (`name`, "
        "`githubLogin`, `avatarUrl`, and sometimes `email`).",
    ),
    TaskField(
        "entities",
        "entities",
        List(DYNAMIC),
        "Pulumi entities (stacks, repositories, pull "
        "requests, policy issues) that give the agent context.",
    ),
    TaskField(
        "is_shared", "isShared", BOOL, "Whether the task is shared with the organization's members."
    ),
    TaskField("shared_at", "sharedAt", STRING, "When the task was first shared; null if never."),
    TaskField(
        "approval_mode", "approvalMode", STRING, "Approval mode: `manual`, `auto` or `balanced`."
    ),
    TaskField(
        "permission_mode", "permissionMode", STRING, "Permission scope: `default` or `read-only`."
    ),
    TaskField("plan_mode", "planMode", BOOL, "Whether the task runs in plan mode."),
    TaskField(
        "source",
        "source",
        STRING,
        "What started the task: `api`, `console`, `cli`, "
        "`slack`, `schedule`, `github` or `code-review`.",
    ),
    TaskField(
        "tool_execution_mode",
        "toolExecutionMode",
        STRING,
        "Where the agent's tools run: `cloud`, `cli` or `worker`.",
    ),
    TaskField(
        "tokens_used", "tokensUsed", NUMBER, "Neo tokens consumed by the task (the billed unit)."
    ),
    TaskField(
        "async_trigger_type",
        "asyncTriggerType",
        STRING,
        "For async tasks, what triggered them: `scheduled` or `external_signal`.",
    ),
    TaskField(
        "context_compaction_threshold_percent",
        "contextCompactionThresholdPercent",
        NUMBER,
        "Percentage of the context window at which the agent compacts the conversation.",
    ),
    TaskField(
        "context_used_tokens",
        "contextUsedTokens",
        NUMBER,
        "Model input tokens consumed across the task's model invocations.",
    ),
    TaskField(
        "context_window_tokens",
        "contextWindowTokens",
        NUMBER,
        "Context window size of the task's primary model, in tokens.",
    ),
    TaskField(
        "last_heartbeat",
        "lastHeartbeat",
        STRING,
        "When the task's runtime last reported a heartbeat; null if never.",
    ),
    TaskField(
        "runtime_phase",
        "runtimePhase",
        STRING,
        "Runtime phase: `booting`, `ready` or `running`; null until the runtime checks in.",
    ),
    TaskField(
        "source_automation_id",
        "sourceAutomationID",
        STRING,
        "The automation that started the task, if any.",
    ),
)
FIELD_BY_ATTRIBUTE = {field.attribute: field for field in TASK_FIELDS}


def task_id_of(org_name: str, task_id: str) -> str:
    return f"{org_name}/{task_id}"


def parse_import_id(import_id: str) -> tuple[str, str] | None:
    org, sep, task = import_id.partition("/")
    if not sep or not org or not task or "/" in task:
        return None
    return org, task


def attributes_from_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """The API's task object as attribute values (absent or null fields become null)."""
    values: dict[str, Any] = {}
    for field in TASK_FIELDS:
        values[field.attribute] = value_from_api(task.get(field.api_name), field.type)
    return values


def value_from_api(raw: Any, type_: CtyType) -> Any:
    if raw is None:
        return None
    if type_ == DYNAMIC:
        return infer_typed_value(raw)
    if type_ == NUMBER:
        if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
            return None
        return raw if isinstance(raw, int) else Decimal(str(raw))
    if type_ == List(DYNAMIC):
        if not isinstance(raw, list):
            return None
        return unify_elements([infer_typed_value(item) for item in raw])
    if type_ == STRING:
        return raw if isinstance(raw, str) else None
    if type_ == BOOL:
        return raw if isinstance(raw, bool) else None
    return raw


def unify_elements(elements: list[TypedValue]) -> list[TypedValue]:
    """Give every element of a list(dynamic) one type, as a cty list requires.

    Objects with different attributes are widened to the union of their attributes (missing ones
    null); attributes whose types still differ become dynamic. Anything else that cannot share a
    type is carried as its JSON text.
    """
    if len({element.type for element in elements}) <= 1:
        return elements
    if all(isinstance(element.type, Object) for element in elements):
        attribute_types: dict[str, set[CtyType]] = {}
        for element in elements:
            assert isinstance(element.type, Object)
            for name, attr_type in element.type.attributes.items():
                attribute_types.setdefault(name, set()).add(attr_type)
        widened = {
            name: next(iter(types)) if len(types) == 1 else DYNAMIC
            for name, types in attribute_types.items()
        }
        unified_type = Object(widened)
        result = []
        for element in elements:
            value: dict[str, Any] = {}
            for name, attr_type in widened.items():
                item = element.value.get(name)
                if attr_type == DYNAMIC and item is not None:
                    assert isinstance(element.type, Object)
                    item = TypedValue(element.type.attributes[name], item)
                value[name] = item
            result.append(TypedValue(unified_type, value))
        return result
    import json

    return [
        TypedValue(STRING, json.dumps(typed_value_to_plain(element), sort_keys=True))
        for element in elements
    ]
