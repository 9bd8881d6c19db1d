"""Request validation and wire-format helpers for the emulated agent-task API.

Everything here is pure: it turns request JSON into typed parameters (or raises `ApiError`) and
formats values the way Pulumi Cloud does. The store and the HTTP layer build on it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DEFAULT_TOKEN = "emulator-token"
DEFAULT_CLI_INTEGRATIONS: tuple[tuple[str, str], ...] = (("aws", "default"), ("gcp", "default"))

APPROVAL_MODES = ("manual", "auto", "balanced")
PERMISSION_MODES = ("default", "read-only")
TASK_SOURCES = ("api", "console", "cli", "slack", "schedule", "github", "code-review")
TOOL_EXECUTION_MODES = ("cloud", "cli", "worker")
TASK_TYPES = ("sync", "async")
SORT_FIELDS = ("lastEvent", "created", "status", "name", "tokensUsed")
SORT_DIRECTIONS = ("asc", "desc")
ENTITY_TYPES = ("stack", "repository", "pull_request", "policy_issue")
USER_EVENT_TYPES = (
    "user_message",
    "user_confirmation",
    "user_cancel",
    "exec_tool_call",
    "tool_result",
)

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_NAME_LENGTH = 255
# The real service names a task after its first message; about this many characters survive.
GENERATED_NAME_LENGTH = 60


class ApiError(Exception):
    """An error answered as `{"code": status, "message": ...}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"code": self.status, "message": self.message}


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def rfc3339(timestamp: float) -> str:
    """UTC RFC 3339 with millisecond precision, e.g. `2026-05-01T12:00:00.123Z`."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def user_for_token(token: str) -> dict[str, str]:
    """The UserInfo the emulator attributes to a token: stable across restarts, never the token."""
    digest = hashlib.sha256(token.encode()).hexdigest()[:8]
    login = "emulator-user" if token == DEFAULT_TOKEN else f"emulator-user-{digest}"
    return {
        "name": "Emulator User" if token == DEFAULT_TOKEN else f"Emulator User {digest}",
        "githubLogin": login,
        "avatarUrl": f"https://avatars.example.com/{login}.png",
    }


def generated_task_name(content: str) -> str:
    """A task name from its first message: whitespace collapsed, cut to about 60 characters."""
    collapsed = " ".join(content.split())
    if len(collapsed) <= GENERATED_NAME_LENGTH:
        return collapsed
    return collapsed[:GENERATED_NAME_LENGTH].rstrip()


def normalise_cli_integrations(pairs: Iterable[Iterable[str]]) -> frozenset[tuple[str, str]]:
    """The connected (catalogId, name) set; catalogId compares case-insensitively."""
    normalised: set[tuple[str, str]] = set()
    for pair in pairs:
        items = list(pair)
        if len(items) != 2 or not all(isinstance(item, str) and item for item in items):
            raise ValueError(f"a CLI integration is [catalogId, name], got {items!r}")
        normalised.add((items[0].lower(), items[1]))
    return frozenset(normalised)


# --- small typed readers for request JSON ---------------------------------------------------------


def _optional_enum(body: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise bad_request(f"invalid {key} {value!r}: must be one of {', '.join(allowed)}")
    return value


def _optional_bool(body: Mapping[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise bad_request(f"{key} must be a boolean")
    return value


def _optional_string(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string")
    return value


def _optional_list(body: Mapping[str, Any], key: str) -> list[Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise bad_request(f"{key} must be an array")
    return value


def _require_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"{what} must be a JSON object")
    return value


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


# --- entities -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntityDiff:
    add: tuple[dict[str, Any], ...] = ()
    remove: tuple[dict[str, Any], ...] = ()

    def apply(self, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Entities after removing `remove` and appending the new members of `add`."""
        kept = [entity for entity in entities if entity not in self.remove]
        for entity in self.add:
            if entity not in kept:
                kept.append(entity)
        return kept


def _parse_entity_diff(event: Mapping[str, Any]) -> EntityDiff:
    raw = event.get("entity_diff")
    if raw is None:
        return EntityDiff()
    diff = _require_object(raw, "entity_diff")
    parts: dict[str, tuple[dict[str, Any], ...]] = {}
    for key in ("add", "remove"):
        entries = _optional_list(diff, key) or []
        for entry in entries:
            entity = _require_object(entry, f"entity_diff.{key} entry")
            if entity.get("type") not in ENTITY_TYPES:
                allowed = ", ".join(ENTITY_TYPES)
                raise bad_request(
                    f"entity type must be one of {allowed}, got {entity.get('type')!r}"
                )
        parts[key] = tuple(entries)
    return EntityDiff(add=parts["add"], remove=parts["remove"])


# --- create ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateTaskParams:
    message: dict[str, Any]
    content: str
    entity_diff: EntityDiff
    approval_mode: str | None
    permission_mode: str | None
    plan_mode: bool | None
    role: str | None
    source: str | None
    tool_execution_mode: str | None


def parse_create_request(
    body: Any, connected_cli_integrations: frozenset[tuple[str, str]]
) -> CreateTaskParams:
    """Validate a CreateAgentTaskRequest. Unknown fields are ignored, as the real API does."""
    request = _require_object(body, "request body")
    raw_message = request.get("message")
    if raw_message is None:
        raise bad_request("prompt is required: message is missing")
    message = dict(_require_object(raw_message, "message"))
    if message.get("type") != "user_message":
        raise bad_request('message.type must be "user_message"')
    content = message.get("content")
    if not _non_empty_string(content):
        raise bad_request("prompt is required: message.content must be a non-empty string")
    assert isinstance(content, str)
    if message.get("timestamp") is not None and not isinstance(message["timestamp"], str):
        raise bad_request("message.timestamp must be a date-time string")
    entity_diff = _parse_entity_diff(message)

    cli_integrations = _optional_list(request, "cliIntegrations")
    for entry in cli_integrations or []:
        ref = _require_object(entry, "cliIntegrations entry")
        catalog_id, name = ref.get("catalogId"), ref.get("name")
        if not _non_empty_string(catalog_id):
            raise bad_request("cliIntegrations entry is missing catalogId")
        if not _non_empty_string(name):
            raise bad_request("cliIntegrations entry is missing name")
        assert isinstance(catalog_id, str) and isinstance(name, str)
        if (catalog_id.lower(), name) not in connected_cli_integrations:
            raise bad_request(
                f"CLI integration {catalog_id}/{name} is not connected for this organization"
            )
    for entry in _optional_list(request, "enabledIntegrations") or []:
        ref = _require_object(entry, "enabledIntegrations entry")
        if not _non_empty_string(ref.get("id")):
            raise bad_request("enabledIntegrations entry is missing id")

    return CreateTaskParams(
        message=message,
        content=content,
        entity_diff=entity_diff,
        approval_mode=_optional_enum(request, "approvalMode", APPROVAL_MODES),
        permission_mode=_optional_enum(request, "permissionMode", PERMISSION_MODES),
        plan_mode=_optional_bool(request, "planMode"),
        role=_optional_string(request, "role"),
        source=_optional_enum(request, "source", TASK_SOURCES),
        tool_execution_mode=_optional_enum(request, "toolExecutionMode", TOOL_EXECUTION_MODES),
    )


# --- update ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateTaskParams:
    """UpdateTaskRequest; None means "no change" for every field."""

    name: str | None
    is_shared: bool | None
    approval_mode: str | None
    permission_mode: str | None


def parse_update_request(body: Any) -> UpdateTaskParams:
    request = _require_object(body, "request body")
    name = _optional_string(request, "name")
    if name is not None:
        name = name.strip()
        if not 1 <= len(name) <= MAX_NAME_LENGTH:
            raise bad_request(
                f"name must be between 1 and {MAX_NAME_LENGTH} characters after trimming whitespace"
            )
    return UpdateTaskParams(
        name=name,
        is_shared=_optional_bool(request, "isShared"),
        approval_mode=_optional_enum(request, "approvalMode", APPROVAL_MODES),
        permission_mode=_optional_enum(request, "permissionMode", PERMISSION_MODES),
    )


# --- respond and cancel ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RespondParams:
    event: dict[str, Any]
    entity_diff: EntityDiff

    @property
    def event_type(self) -> str:
        return str(self.event["type"])


def parse_respond_request(body: Any) -> RespondParams:
    request = _require_object(body, "request body")
    if request.get("event") is None:
        raise bad_request("event field is required")
    event = dict(_require_object(request["event"], "event"))
    event_type = event.get("type")
    if event_type not in USER_EVENT_TYPES:
        raise bad_request(f"event.type must be one of {', '.join(USER_EVENT_TYPES)}")
    if event_type == "user_message" and not _non_empty_string(event.get("content")):
        raise bad_request("event.content must be a non-empty string")
    if event_type == "user_confirmation" and (
        not isinstance(event.get("approval_request_id"), str)
        or not isinstance(event.get("ok"), bool)
    ):
        raise bad_request("user_confirmation needs approval_request_id and ok")
    if event_type == "exec_tool_call" and not (
        isinstance(event.get("name"), str) and isinstance(event.get("tool_call_id"), str)
    ):
        raise bad_request("exec_tool_call needs name and tool_call_id")
    if event_type == "tool_result" and not isinstance(event.get("tool_results"), list):
        raise bad_request("tool_result needs tool_results")
    if event.get("timestamp") is not None and not isinstance(event["timestamp"], str):
        raise bad_request("event.timestamp must be a date-time string")
    return RespondParams(event=event, entity_diff=_parse_entity_diff(event))


def parse_cancel_request(body: Any) -> None:
    """CancelAgentTaskRequest: only `{"force": true}` is supported."""
    request = _require_object(body, "request body")
    if request.get("force") is not True:
        raise bad_request(
            "force must be true (graceful cancel not yet supported via this endpoint)"
        )


# --- listing and continuation tokens --------------------------------------------------------------


def parse_page_size(query: Mapping[str, str]) -> int:
    raw = query.get("pageSize")
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise bad_request("pageSize must be an integer") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise bad_request(f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    return size


def _query_enum(query: Mapping[str, str], key: str, allowed: tuple[str, ...]) -> str | None:
    raw = query.get(key)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise bad_request(f"invalid {key} {raw!r}: must be one of {', '.join(allowed)}")
    return raw


@dataclass(frozen=True)
class ListTasksQuery:
    page_size: int
    sort_by: str
    descending: bool
    task_type: str | None
    # The sort key and row sequence of the last task on the previous page.
    after: tuple[Any, int] | None


def encode_token(payload: Mapping[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad_request("invalid continuationToken") from None
    if not isinstance(payload, dict):
        raise bad_request("invalid continuationToken")
    return payload


def parse_list_query(query: Mapping[str, str]) -> ListTasksQuery:
    page_size = parse_page_size(query)
    sort_by = _query_enum(query, "sortBy", SORT_FIELDS) or "lastEvent"
    direction = _query_enum(query, "sortDirection", SORT_DIRECTIONS) or "desc"
    task_type = _query_enum(query, "taskType", TASK_TYPES)
    after: tuple[Any, int] | None = None
    token = query.get("continuationToken")
    if token:
        payload = decode_token(token)
        # A token only makes sense with the ordering it was issued for.
        if payload.get("sortBy") != sort_by or payload.get("direction") != direction:
            raise bad_request("continuationToken does not match sortBy/sortDirection")
        key, seq = payload.get("key"), payload.get("seq")
        if not isinstance(seq, int) or not isinstance(key, int | float | str):
            raise bad_request("invalid continuationToken")
        after = (key, seq)
    return ListTasksQuery(page_size, sort_by, direction == "desc", task_type, after)


def list_token(query: ListTasksQuery, key: Any, seq: int) -> str:
    direction = "desc" if query.descending else "asc"
    return encode_token({"sortBy": query.sort_by, "direction": direction, "key": key, "seq": seq})


@dataclass(frozen=True)
class ListEventsQuery:
    page_size: int
    after_seq: int


def parse_events_query(query: Mapping[str, str]) -> ListEventsQuery:
    page_size = parse_page_size(query)
    after_seq = 0
    token = query.get("continuationToken")
    if token:
        seq = decode_token(token).get("event")
        if not isinstance(seq, int):
            raise bad_request("invalid continuationToken")
        after_seq = seq
    return ListEventsQuery(page_size, after_seq)


def events_token(seq: int) -> str:
    return encode_token({"event": seq})
