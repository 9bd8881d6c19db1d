"""Between attribute values and the API's JSON, derived from the field table in `fields`."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from terraform_provider_pulumiservice.agents.fields import (
    REPORTED_FIELDS,
    TASK_FIELDS,
    TaskField,
)
from terraform_provider_pulumiservice.cty import BOOL, NUMBER, STRING
from terraform_provider_pulumiservice.cty import is_wholly_known as _is_wholly_known


def resource_id(org_name: str, task_id: str) -> str:
    return f"{org_name}/{task_id}"


def parse_import_id(import_id: str) -> tuple[str, str] | None:
    org, sep, task = import_id.partition("/")
    if not sep or not org or not task or "/" in task:
        return None
    return org, task


def identity_mismatch(task: Mapping[str, Any], task_id: str) -> str | None:
    """Why a task object is not the task that was asked for, or None when nothing says so.

    The id asked for is the task's identity; a body without `id` is still taken as that task
    (the id is never read from it), but one naming another task is not.
    """
    reported = task.get("id")
    if reported is None or reported == task_id:
        return None
    return f"asked for task {task_id!r}, the response describes task {reported!r}"


def value_from_api(raw: Any, field: TaskField) -> Any:
    """A task-object value as the attribute's value; a value of the wrong type becomes null."""
    if raw is None:
        return None
    if field.from_api is not None:
        return field.from_api(raw)
    type_ = field.cty_type
    if type_ == STRING:
        return raw if isinstance(raw, str) else None
    if type_ == BOOL:
        return raw if isinstance(raw, bool) else None
    if type_ == NUMBER:
        if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
            return None
        if isinstance(raw, float) and (raw != raw or raw in (float("inf"), float("-inf"))):
            return None
        return raw if isinstance(raw, int) else Decimal(str(raw))
    return None


def attributes_from_task(task: Mapping[str, Any]) -> dict[str, Any]:
    """Every attribute the task object reports (absent, null or mistyped fields become null)."""
    return {
        field.attribute: value_from_api(task.get(field.api_name or ""), field)
        for field in REPORTED_FIELDS
    }


def _request_value(field: TaskField, value: Any) -> Any:
    return field.to_api(value) if field.to_api is not None else value


def _put(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = body
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _settled(value: Any) -> bool:
    return value is not None and _is_wholly_known(value)


def create_body(values: Mapping[str, Any], now: datetime.datetime) -> dict[str, Any]:
    """The POST body: only the inputs that are set, at their places in the API's JSON.

    null and `[]` differ: a null list leaves its key out (the organization's default), an empty
    list is sent empty (none).
    """
    body: dict[str, Any] = {}
    for field in TASK_FIELDS:
        value = values.get(field.attribute)
        if field.sent_on_create and _settled(value):
            assert field.request_path is not None
            _put(body, field.request_path, _request_value(field, value))
    message = body.get("message")
    if isinstance(message, dict):
        message["type"] = "user_message"
        message["timestamp"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return body


def patch_body(planned: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body: the updatable inputs that are set and differ from `current`."""
    body: dict[str, Any] = {}
    for field in TASK_FIELDS:
        value = planned.get(field.attribute)
        if not field.patchable or not _settled(value) or value == current.get(field.attribute):
            continue
        assert field.request_path is not None
        _put(body, field.request_path, _request_value(field, value))
    return body


def unknowns_to_null(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: (None if not _is_wholly_known(v) else v) for name, v in values.items()}


def merge_known(planned: Mapping[str, Any], reported: Mapping[str, Any]) -> dict[str, Any]:
    """Known planned values stand (Terraform requires it); unknown ones come from the API."""
    merged = dict(planned)
    for name, value in merged.items():
        if not _is_wholly_known(value):
            merged[name] = reported.get(name)
    return merged
