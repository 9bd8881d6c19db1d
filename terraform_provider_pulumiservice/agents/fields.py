"""Every field of an agent task, declared once.

Each `TaskField` says what Terraform calls the attribute, where it sits in the API's request
bodies and in its task object, its type, its description and its direction:

- CREATE_ONLY: sent when the task is created; a change starts a new task.
- UPDATABLE: changed in place with PATCH (sent with the create as well when the API takes it
  there, else patched right after the create).
- COMPUTED: only ever read from the task object.

The resource schema, both data source schemas, the POST and PATCH bodies and the mapping from the
task object to state are all derived from this table (`agents.mapping`, `resources`,
`data_sources`): adding a task field is adding one entry here. Identity (`org_name`, `task_id`,
`id`) is not in the table: it comes from what the provider asked for, never from a response body.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from terraform_provider_pulumiservice.agents.validators import EntityMembers
from terraform_provider_pulumiservice.cty import BOOL, NUMBER, STRING, CtyType, List
from terraform_provider_pulumiservice.framework.planmodifiers import PlanModifier
from terraform_provider_pulumiservice.framework.schema import (
    Attribute,
    NestedAttributes,
    Nesting,
    nested_attribute,
)
from terraform_provider_pulumiservice.framework.validators import (
    Each,
    LengthBetween,
    MaxBytes,
    NotBlank,
    OneOf,
    Validator,
)

APPROVAL_MODES = ("manual", "auto", "balanced")
PERMISSION_MODES = ("default", "read-only")
TOOL_EXECUTION_MODES = ("cloud", "cli", "worker")
SOURCES = ("api", "console", "cli", "slack", "schedule", "github", "code-review")
TASK_TYPES = ("sync", "async")
ENTITY_TYPES = ("stack", "repository", "pull_request", "policy_issue")

# The first message travels in Terraform's gRPC messages several times over (configuration, prior
# state, planned state), each message capped at 256 MiB; 4 MiB keeps every one of them far below.
MESSAGE_MAX_BYTES = 4 * 1024 * 1024


class Direction(enum.Enum):
    CREATE_ONLY = "create-only"
    UPDATABLE = "updatable"
    COMPUTED = "computed"


@dataclass(frozen=True)
class TaskField:
    attribute: str
    # The key in the task object (GET); None when the API never returns the value.
    api_name: str | None
    type: CtyType | NestedAttributes
    description: str
    direction: Direction
    # Where the value goes in the POST/PATCH body, as a key path; None: never sent.
    request_path: tuple[str, ...] | None = None
    # UPDATABLE fields the create request takes too (the others are patched after the create).
    on_create: bool = False
    # COMPUTED fields settled when the task is created (the plan keeps their state value).
    stable: bool = False
    validators: tuple[Validator, ...] = ()
    # Attribute value -> request value, and task-object value -> attribute value, when the
    # default (the value as it is, checked against the type) does not do.
    to_api: Callable[[Any], Any] | None = None
    from_api: Callable[[Any], Any] | None = None

    @property
    def cty_type(self) -> CtyType:
        return self.type.cty_type if isinstance(self.type, NestedAttributes) else self.type

    @property
    def reported(self) -> bool:
        return self.api_name is not None

    @property
    def sent_on_create(self) -> bool:
        if self.request_path is None:
            return False
        return self.direction is Direction.CREATE_ONLY or self.on_create

    @property
    def patchable(self) -> bool:
        return self.direction is Direction.UPDATABLE and self.request_path is not None

    def as_attribute(
        self,
        *,
        optional: bool = False,
        computed: bool = False,
        plan_modifiers: tuple[PlanModifier, ...] = (),
    ) -> Attribute:
        """The field as a schema attribute with these flags, its description and validators."""
        if isinstance(self.type, NestedAttributes):
            return nested_attribute(
                self.type.nesting,
                self.type.attributes,
                self.description,
                optional=optional,
                computed=computed,
                plan_modifiers=plan_modifiers,
                validators=self.validators,
            )
        return Attribute(
            self.type,
            self.description,
            optional=optional,
            computed=computed,
            plan_modifiers=plan_modifiers,
            validators=self.validators,
        )


def _string(description: str) -> Attribute:
    return Attribute(STRING, description, computed=True)


# --- nested shapes -------------------------------------------------------------------------

CREATED_BY = NestedAttributes(
    {
        "name": _string("The user's display name."),
        "github_login": _string("The user's GitHub login."),
        "avatar_url": _string("URL of the user's avatar."),
    }
)

_ENTITY_MEMBERS = {
    "type": "`stack`, `repository`, `pull_request` or `policy_issue`.",
    "name": "Stack name, repository name (also of a pull request's repository) or policy name.",
    "project": "The stack's project (stacks).",
    "org": "The organization the repository belongs to (repositories, pull requests).",
    "forge": "Where the repository is hosted, e.g. `github` (repositories, pull requests).",
    "host": "Host name of a self-hosted forge (repositories, pull requests).",
    "number": "The pull request's number (pull requests).",
    "merged": "Whether the pull request is merged (pull requests).",
    "id": "The policy issue's id (policy issues).",
}
_ENTITY_TYPES: dict[str, CtyType] = {"number": NUMBER, "merged": BOOL}

ENTITY = NestedAttributes(
    {
        name: Attribute(_ENTITY_TYPES.get(name, STRING), description, computed=True)
        for name, description in _ENTITY_MEMBERS.items()
    },
    Nesting.LIST,
)

CONTEXT_ENTITY = NestedAttributes(
    {
        name: (
            Attribute(STRING, description, required=True, validators=(OneOf(ENTITY_TYPES),))
            if name == "type"
            else Attribute(_ENTITY_TYPES.get(name, STRING), description, optional=True)
        )
        for name, description in _ENTITY_MEMBERS.items()
    },
    Nesting.LIST,
)

CLI_INTEGRATION = NestedAttributes(
    {
        "catalog_id": Attribute(
            STRING,
            "The integration's catalog id, e.g. `aws`.",
            required=True,
            validators=(NotBlank(),),
        ),
        "name": Attribute(
            STRING,
            "The name of the connected instance, e.g. `default`.",
            required=True,
            validators=(NotBlank(),),
        ),
    },
    Nesting.LIST,
)


# --- conversions of the nested shapes --------------------------------------------------------


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def created_by_from_api(raw: Any) -> dict[str, Any] | None:
    # The API may include the user's e-mail address; it is deliberately not kept.
    if not isinstance(raw, dict):
        return None
    return {
        "name": _str_or_none(raw.get("name")),
        "github_login": _str_or_none(raw.get("githubLogin")),
        "avatar_url": _str_or_none(raw.get("avatarUrl")),
    }


def entity_from_api(raw: Any) -> dict[str, Any] | None:
    """One API entity as the flat typed object; a pull request's repository fields fold in."""
    if not isinstance(raw, dict):
        return None
    source = dict(raw)
    repo = source.get("repo")
    if isinstance(repo, dict):
        for key in ("name", "org", "forge", "host"):
            source.setdefault(key, repo.get(key))
    number = source.get("number")
    merged = source.get("merged")
    entity: dict[str, Any] = {name: _str_or_none(source.get(name)) for name in _ENTITY_MEMBERS}
    entity["number"] = number if isinstance(number, int) and not isinstance(number, bool) else None
    entity["merged"] = merged if isinstance(merged, bool) else None
    return entity


def entities_from_api(raw: Any) -> list[dict[str, Any]] | None:
    if not isinstance(raw, list):
        return None
    return [entity for entity in map(entity_from_api, raw) if entity is not None]


def entity_to_api(entity: dict[str, Any]) -> dict[str, Any]:
    """The flat typed object as the API's entity of its `type`."""
    kind = entity.get("type")

    def pick(*names: str) -> dict[str, Any]:
        return {name: _plain(entity[name]) for name in names if entity.get(name) is not None}

    if kind == "stack":
        return {"type": kind, **pick("name", "project")}
    if kind == "repository":
        return {"type": kind, **pick("name", "org", "forge", "host")}
    if kind == "pull_request":
        return {
            "type": kind,
            **pick("number", "merged"),
            "repo": pick("name", "org", "forge", "host"),
        }
    return {"type": kind, **pick("id", "name")}


def _plain(value: Any) -> Any:
    # Numbers arrive from Terraform as int or Decimal; a PR number is an integer.
    if isinstance(value, int | bool | str):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


# --- the table ---------------------------------------------------------------------------------

TASK_FIELDS: tuple[TaskField, ...] = (
    TaskField(
        "message",
        None,
        STRING,
        "The instruction for the agent: the task's first user message. Required unless "
        "`task_id` adopts an existing task. Changing it starts a new task. Not returned by the "
        "API: kept as written.",
        Direction.CREATE_ONLY,
        request_path=("message", "content"),
        validators=(
            NotBlank(),
            MaxBytes(MESSAGE_MAX_BYTES, "Terraform passes it in size-capped gRPC messages"),
        ),
    ),
    TaskField(
        "context_entities",
        None,
        CONTEXT_ENTITY,
        "Pulumi entities that give the agent context with the first message (the API's "
        "`entity_diff.add`): stacks (`name`, `project`), repositories (`name`, `org`, optionally "
        "`forge`, `host`), pull requests (`number`, and the repository's `name`, `org`, "
        "optionally `forge`, `host`, `merged`) and policy issues (`id`, optionally `name`). "
        "Changing it starts a new task. Not returned by the API as such: see `entities`.",
        Direction.CREATE_ONLY,
        request_path=("message", "entity_diff", "add"),
        validators=(EntityMembers(),),
        to_api=lambda entities: [entity_to_api(entity) for entity in entities],
    ),
    TaskField(
        "approval_mode",
        "approvalMode",
        STRING,
        "Approval mode: `manual`, `auto` or `balanced`. Defaults to the organization's default. "
        "Updated in place.",
        Direction.UPDATABLE,
        request_path=("approvalMode",),
        on_create=True,
        validators=(OneOf(APPROVAL_MODES),),
    ),
    TaskField(
        "permission_mode",
        "permissionMode",
        STRING,
        "Permission scope: `default` or `read-only`. Updated in place.",
        Direction.UPDATABLE,
        request_path=("permissionMode",),
        on_create=True,
        validators=(OneOf(PERMISSION_MODES),),
    ),
    TaskField(
        "is_shared",
        "isShared",
        BOOL,
        "Whether the task is shared with the organization's members. Updated in place.",
        Direction.UPDATABLE,
        request_path=("isShared",),
    ),
    TaskField(
        "name",
        "name",
        STRING,
        "Display name of the task (1 to 255 characters). Generated from the first message "
        "unless set. Updated in place.",
        Direction.UPDATABLE,
        request_path=("name",),
        validators=(LengthBetween(1, 255),),
    ),
    TaskField(
        "plan_mode",
        "planMode",
        BOOL,
        "Whether the task runs in plan mode (the agent proposes changes without making them). "
        "Changing it starts a new task.",
        Direction.CREATE_ONLY,
        request_path=("planMode",),
    ),
    TaskField(
        "source",
        "source",
        STRING,
        "What started the task: `api` (the default), `console`, `cli`, `slack`, `schedule`, "
        "`github` or `code-review`. Changing it starts a new task.",
        Direction.CREATE_ONLY,
        request_path=("source",),
        validators=(OneOf(SOURCES),),
    ),
    TaskField(
        "tool_execution_mode",
        "toolExecutionMode",
        STRING,
        "Where the agent's tools run: `cloud` (default), `cli` or `worker`. Changing it starts "
        "a new task.",
        Direction.CREATE_ONLY,
        request_path=("toolExecutionMode",),
        validators=(OneOf(TOOL_EXECUTION_MODES),),
    ),
    TaskField(
        "cli_integrations",
        None,
        CLI_INTEGRATION,
        "CLI integrations to enable, by catalog id and instance name. Null enables every CLI "
        "integration connected to the organization; `[]` enables none. Changing it starts a new "
        "task. Not returned by the API: kept as written.",
        Direction.CREATE_ONLY,
        request_path=("cliIntegrations",),
        to_api=lambda entries: [
            {"catalogId": entry["catalog_id"], "name": entry["name"]} for entry in entries
        ],
    ),
    TaskField(
        "enabled_integrations",
        None,
        List(STRING),
        "Ids of the integrations whose credentials the task may use. Null inherits every "
        "integration enabled for the organization; `[]` enables none. Changing it starts a new "
        "task. Not returned by the API: kept as written.",
        Direction.CREATE_ONLY,
        request_path=("enabledIntegrations",),
        validators=(Each(NotBlank()),),
        to_api=lambda ids: [{"id": integration_id} for integration_id in ids],
    ),
    TaskField(
        "created_at",
        "createdAt",
        STRING,
        "When the task was created (RFC 3339).",
        Direction.COMPUTED,
        stable=True,
    ),
    TaskField(
        "created_by",
        "createdBy",
        CREATED_BY,
        "The user who created the task.",
        Direction.COMPUTED,
        stable=True,
        from_api=created_by_from_api,
    ),
    TaskField(
        "task_type",
        "taskType",
        STRING,
        "`sync` (started by a user) or `async` (started by automation).",
        Direction.COMPUTED,
        stable=True,
    ),
    TaskField(
        "async_trigger_type",
        "asyncTriggerType",
        STRING,
        "For async tasks, what triggered them: `scheduled` or `external_signal`.",
        Direction.COMPUTED,
        stable=True,
    ),
    TaskField(
        "source_automation_id",
        "sourceAutomationID",
        STRING,
        "The automation that started the task, if any.",
        Direction.COMPUTED,
        stable=True,
    ),
    TaskField(
        "entities",
        "entities",
        ENTITY,
        "Pulumi entities (stacks, repositories, pull requests, policy issues) in the agent's "
        "context. Members that do not apply to an entity's `type` are null.",
        Direction.COMPUTED,
        from_api=entities_from_api,
    ),
    TaskField(
        "shared_at",
        "sharedAt",
        STRING,
        "When the task was first shared; null if never.",
        Direction.COMPUTED,
    ),
    TaskField(
        "status",
        "status",
        STRING,
        "Execution status: `running` or `idle`.",
        Direction.COMPUTED,
    ),
    TaskField(
        "tokens_used",
        "tokensUsed",
        NUMBER,
        "Neo tokens consumed by the task (the billed unit).",
        Direction.COMPUTED,
    ),
    TaskField(
        "context_compaction_threshold_percent",
        "contextCompactionThresholdPercent",
        NUMBER,
        "Percentage of the context window at which the agent compacts the conversation.",
        Direction.COMPUTED,
    ),
    TaskField(
        "context_used_tokens",
        "contextUsedTokens",
        NUMBER,
        "Model input tokens consumed across the task's model invocations.",
        Direction.COMPUTED,
    ),
    TaskField(
        "context_window_tokens",
        "contextWindowTokens",
        NUMBER,
        "Context window size of the task's primary model, in tokens.",
        Direction.COMPUTED,
    ),
    TaskField(
        "last_heartbeat",
        "lastHeartbeat",
        STRING,
        "When the task's runtime last reported a heartbeat; null if never.",
        Direction.COMPUTED,
    ),
    TaskField(
        "runtime_phase",
        "runtimePhase",
        STRING,
        "Runtime phase: `booting`, `ready` or `running`; null until the runtime checks in.",
        Direction.COMPUTED,
    ),
)
REPORTED_FIELDS = tuple(field for field in TASK_FIELDS if field.reported)
