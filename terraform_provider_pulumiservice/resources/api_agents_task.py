"""`pulumiservice_api_agents_task`: one Pulumi Neo agent task.

Create POSTs the first user message and reads the task back; the API has no DELETE, so destroy
cancels a running task and forgets it. Plan behaviour (what replaces, what stays known) is
declared on the attributes below, not coded into the operations.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from terraform_provider_pulumiservice.cty import (
    BOOL,
    DYNAMIC,
    STRING,
    List,
    Map,
    Object,
    TypedValue,
    Unknown,
    is_wholly_known,
    typed_value_to_plain,
)
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.path import AttributePath
from terraform_provider_pulumiservice.framework.planmodifiers import (
    RequiresReplace,
    UseStateForUnknown,
)
from terraform_provider_pulumiservice.framework.resource import Resource, State
from terraform_provider_pulumiservice.framework.schema import Attribute, Schema
from terraform_provider_pulumiservice.framework.validators import LengthBetween, OneOf, Validator
from terraform_provider_pulumiservice.resources.agents_task_model import (
    APPROVAL_MODES,
    FIELD_BY_ATTRIBUTE,
    PERMISSION_MODES,
    SOURCES,
    TOOL_EXECUTION_MODES,
    attributes_from_task,
    parse_import_id,
    task_id_of,
)

if TYPE_CHECKING:
    from terraform_provider_pulumiservice.cloud.client import CloudClient

TYPE_NAME = "pulumiservice_api_agents_task"

# Inputs the API only accepts when the task is created.
CREATE_ONLY_INPUTS = (
    "message",
    "plan_mode",
    "source",
    "tool_execution_mode",
    "cli_integrations",
    "enabled_integrations",
)
# Inputs PATCH /tasks/{taskID} changes in place, with their API names.
UPDATABLE_INPUTS = {
    "approval_mode": "approvalMode",
    "permission_mode": "permissionMode",
    "is_shared": "isShared",
    "name": "name",
}


@dataclass(frozen=True)
class MessageValidator:
    """`message` is a string, or an object with a non-empty `content` and type `user_message`."""

    @property
    def description(self) -> str:
        return "A string, or an object with a non-empty `content`."

    def validate(self, value: Any, path: AttributePath, diagnostics: Diagnostics) -> None:
        if not isinstance(value, TypedValue):
            return
        if value.type == STRING:
            if isinstance(value.value, str) and not value.value.strip():
                diagnostics.error("Invalid message", "`message` must not be empty.", path)
            return
        if not isinstance(value.type, Object | Map) or not isinstance(value.value, dict):
            diagnostics.error(
                "Invalid message",
                '`message` must be a string or an object such as `{ content = "..." }`.',
                path,
            )
            return
        fields = value.value
        content = fields.get("content")
        # Key steps (not attribute steps) let Terraform find the line inside an object literal.
        content_path = path.key("content")
        if isinstance(content, Unknown):
            pass
        elif not isinstance(content, str) or not content.strip():
            diagnostics.error(
                "Invalid message",
                "`message.content` is required and must be a non-empty string: the instruction "
                "for the agent.",
                content_path,
            )
        message_type = fields.get("type")
        if (
            message_type is not None
            and not isinstance(message_type, Unknown)
            and (message_type != "user_message")
        ):
            type_path = path.key("type")
            diagnostics.error(
                "Invalid message type",
                f'`message.type` must be "user_message" (the first event of a task); got '
                f'"{message_type}".',
                type_path,
            )


@dataclass(frozen=True)
class IntegrationListValidator:
    """Entries of `cli_integrations` / `enabled_integrations`."""

    required_keys: tuple[str, ...]
    bare_string_key: str | None = None

    @property
    def description(self) -> str:
        keys = ", ".join(f"`{k}`" for k in self.required_keys)
        return f"Each entry is an object with {keys}."

    def validate(self, value: Any, path: AttributePath, diagnostics: Diagnostics) -> None:
        if not isinstance(value, list):
            return
        for index, entry in enumerate(value):
            entry_path = path.index(index)
            if isinstance(entry, Unknown) or entry is None:
                if entry is None:
                    diagnostics.error(
                        "Invalid integration entry", "Entries must not be null.", entry_path
                    )
                continue
            if not isinstance(entry, TypedValue) or isinstance(entry.value, Unknown):
                continue
            if entry.type == STRING and self.bare_string_key is not None:
                if not entry.value:
                    diagnostics.error(
                        "Invalid integration entry",
                        "An integration id must not be empty.",
                        entry_path,
                    )
                continue
            if not isinstance(entry.type, Object | Map) or not isinstance(entry.value, dict):
                shape = "{ " + ", ".join(f'{k} = "..."' for k in self.required_keys) + " }"
                diagnostics.error(
                    "Invalid integration entry",
                    f"Each entry must be an object like `{shape}`.",
                    entry_path,
                )
                continue
            for key in self.required_keys:
                item = entry.value.get(key)
                key_path = entry_path.key(key)
                if isinstance(item, Unknown):
                    continue
                if not isinstance(item, str) or not item:
                    diagnostics.error(
                        "Invalid integration entry",
                        f"`{key}` is required in every entry of `{path}`.",
                        key_path if key in entry.value else entry_path,
                    )


def _output(attribute: str, *, stable: bool) -> Attribute:
    field = FIELD_BY_ATTRIBUTE[attribute]
    return Attribute(
        field.type,
        field.description,
        computed=True,
        plan_modifiers=(UseStateForUnknown(),) if stable else (),
    )


def _create_only_setting(
    attribute: str, description: str, validators: tuple[Validator, ...] = ()
) -> Attribute:
    """A setting sent only at creation that the API also reports back (so it is computed too)."""
    return Attribute(
        FIELD_BY_ATTRIBUTE[attribute].type,
        description,
        optional=True,
        computed=True,
        plan_modifiers=(UseStateForUnknown(), RequiresReplace()),
        validators=validators,
    )


SCHEMA = Schema(
    description=(
        "An agent task in Pulumi Cloud (Pulumi Neo): the agent is asked to do something in an "
        "organization. Creating the resource starts the task with `message`. Changing "
        "`approval_mode`, `permission_mode`, `is_shared` or `name` updates the task in place; "
        "changing any other input starts a new task. Pulumi Cloud has no way to delete a task: "
        "destroying the resource cancels the task if it is running and removes it from state, "
        "while Pulumi Cloud keeps its history. A `removed` block forgets the task without "
        "cancelling it."
    ),
    attributes={
        "id": Attribute(
            STRING,
            "`<org_name>/<task_id>`.",
            computed=True,
            plan_modifiers=(UseStateForUnknown(),),
        ),
        "org_name": Attribute(
            STRING,
            "The Pulumi Cloud organization the task belongs to.",
            required=True,
            plan_modifiers=(RequiresReplace(),),
        ),
        "message": Attribute(
            DYNAMIC,
            "The first user message: a string (the instruction), or an object with `content` "
            "(required), and optionally `type` (must be `user_message`; the default), "
            "`timestamp` (RFC 3339; defaults to the time of creation) and `commands`. Changing "
            "it starts a new task. Not returned by the API: kept as written.",
            optional=True,
            plan_modifiers=(RequiresReplace(),),
            validators=(MessageValidator(),),
        ),
        "approval_mode": Attribute(
            STRING,
            "Approval mode: `manual`, `auto` or `balanced`. Defaults to the organization's "
            "default. Updated in place.",
            optional=True,
            computed=True,
            plan_modifiers=(UseStateForUnknown(),),
            validators=(OneOf(APPROVAL_MODES),),
        ),
        "permission_mode": Attribute(
            STRING,
            "Permission scope: `default` (the creating user's permissions) or `read-only`. "
            "Updated in place.",
            optional=True,
            computed=True,
            plan_modifiers=(UseStateForUnknown(),),
            validators=(OneOf(PERMISSION_MODES),),
        ),
        "plan_mode": _create_only_setting(
            "plan_mode", "Whether the task runs in plan mode. Changing it starts a new task."
        ),
        "source": _create_only_setting(
            "source",
            "What started the task: `api` (default), `console`, `cli`, `slack`, `schedule`, "
            "`github` or `code-review`. Changing it starts a new task.",
            (OneOf(SOURCES),),
        ),
        "tool_execution_mode": _create_only_setting(
            "tool_execution_mode",
            "Where the agent's tools run: `cloud` (default), `cli` or `worker`. Changing it "
            "starts a new task.",
            (OneOf(TOOL_EXECUTION_MODES),),
        ),
        "cli_integrations": Attribute(
            List(DYNAMIC),
            'CLI integrations to enable, as objects `{ catalogId = "aws", name = "default" }`. '
            "Null enables every CLI integration connected to the organization; `[]` enables "
            "none. Changing it starts a new task. Not returned by the API: kept as written.",
            optional=True,
            plan_modifiers=(RequiresReplace(),),
            validators=(IntegrationListValidator(("catalogId", "name")),),
        ),
        "enabled_integrations": Attribute(
            List(DYNAMIC),
            'Integrations whose credentials the task may use, as objects `{ id = "datadog" }` '
            "(a bare string is taken as the id). Null inherits every integration enabled for the "
            "organization; `[]` enables none. Changing it starts a new task. Not returned by the "
            "API: kept as written.",
            optional=True,
            plan_modifiers=(RequiresReplace(),),
            validators=(IntegrationListValidator(("id",), bare_string_key="id"),),
        ),
        "task_id": Attribute(
            STRING,
            "The task's identifier. Computed when omitted; when set, the resource adopts that "
            "existing task instead of creating one (create-only inputs are then not sent).",
            optional=True,
            computed=True,
            plan_modifiers=(UseStateForUnknown(), RequiresReplace()),
        ),
        "is_shared": Attribute(
            BOOL,
            "Whether the task is shared with the organization's members. Updated in place.",
            optional=True,
            computed=True,
            plan_modifiers=(UseStateForUnknown(),),
        ),
        "name": Attribute(
            STRING,
            "Display name of the task (1 to 255 characters). Generated from the first message "
            "unless set. Updated in place.",
            optional=True,
            computed=True,
            plan_modifiers=(UseStateForUnknown(),),
            validators=(LengthBetween(1, 255),),
        ),
        "created_at": _output("created_at", stable=True),
        "created_by": _output("created_by", stable=True),
        "task_type": _output("task_type", stable=True),
        "async_trigger_type": _output("async_trigger_type", stable=True),
        "source_automation_id": _output("source_automation_id", stable=True),
        "entities": _output("entities", stable=False),
        "shared_at": _output("shared_at", stable=False),
        "status": _output("status", stable=False),
        "tokens_used": _output("tokens_used", stable=False),
        "context_compaction_threshold_percent": _output(
            "context_compaction_threshold_percent", stable=False
        ),
        "context_used_tokens": _output("context_used_tokens", stable=False),
        "context_window_tokens": _output("context_window_tokens", stable=False),
        "last_heartbeat": _output("last_heartbeat", stable=False),
        "runtime_phase": _output("runtime_phase", stable=False),
    },
)

# Attributes whose state value is what the user wrote, because the API does not return them.
KEPT_FROM_STATE = ("org_name", "message", "cli_integrations", "enabled_integrations")


def create_request_body(planned: Mapping[str, Any], now: datetime.datetime) -> dict[str, Any]:
    """The POST body: only the inputs that are set, in the API's camelCase."""
    body: dict[str, Any] = {}
    message = planned.get("message")
    if isinstance(message, TypedValue) and message.value is not None:
        plain = typed_value_to_plain(message)
        event = {"content": plain} if isinstance(plain, str) else dict(plain)
        event = {k: v for k, v in event.items() if v is not None}
        event.setdefault("type", "user_message")
        event.setdefault("timestamp", now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        body["message"] = event
    for attribute, api_name in (
        ("approval_mode", "approvalMode"),
        ("permission_mode", "permissionMode"),
        ("plan_mode", "planMode"),
        ("source", "source"),
        ("tool_execution_mode", "toolExecutionMode"),
    ):
        value = planned.get(attribute)
        if value is not None and not isinstance(value, Unknown):
            body[api_name] = value
    cli = planned.get("cli_integrations")
    if isinstance(cli, list):
        body["cliIntegrations"] = [typed_value_to_plain(entry) for entry in cli]
    enabled = planned.get("enabled_integrations")
    if isinstance(enabled, list):
        entries = [typed_value_to_plain(entry) for entry in enabled]
        body["enabledIntegrations"] = [
            {"id": entry} if isinstance(entry, str) else entry for entry in entries
        ]
    return body


def merge_planned_with_task(planned: State, task: Mapping[str, Any]) -> State:
    """Known planned values stand (Terraform requires it); unknown ones come from the API."""
    from_api = attributes_from_task(task)
    state = dict(planned)
    for name, value in state.items():
        if not is_wholly_known(value):
            state[name] = from_api.get(name)
    state["id"] = task_id_of(state["org_name"], from_api["task_id"])
    return state


def refresh_from_task(state: State, task: Mapping[str, Any]) -> State:
    """Refresh: everything the API returns is taken from it; the rest is kept."""
    refreshed = dict(state)
    refreshed.update(attributes_from_task(task))
    refreshed["id"] = task_id_of(state["org_name"], refreshed["task_id"])
    return refreshed


def nulled_unknowns(state: State) -> State:
    return {name: (None if not is_wholly_known(value) else value) for name, value in state.items()}


class AgentsTaskResource(Resource):
    type_name = TYPE_NAME
    schema = SCHEMA

    def create(self, client: CloudClient, planned: State, diagnostics: Diagnostics) -> State | None:
        from terraform_provider_pulumiservice.cloud.errors import CloudError, NotFoundError

        org = planned["org_name"]
        adopted_id = planned.get("task_id")
        if isinstance(adopted_id, str):
            return self._adopt(client, planned, adopted_id, diagnostics)
        body = create_request_body(planned, datetime.datetime.now(datetime.UTC))
        try:
            task_id = client.create_task(org, body)
        except CloudError as error:
            diagnostics.error("Could not create the agent task", str(error))
            return None
        created = nulled_unknowns({**planned, "task_id": task_id, "id": task_id_of(org, task_id)})
        try:
            task = client.get_task(org, task_id)
        except NotFoundError as error:
            diagnostics.error(
                "The created agent task could not be read back",
                f"Pulumi Cloud created task {task_id} but then answered 404 when reading it: "
                f"{error}. The task is recorded in state (tainted); the next apply replaces it.",
            )
            return created
        except CloudError as error:
            diagnostics.error(
                "The created agent task could not be read back",
                f"Task {task_id} was created, but reading it failed: {error}. It is recorded "
                "in state as tainted so it is not lost; run `terraform apply` again.",
            )
            return created
        # `name` and `is_shared` are not create inputs: a configured value is set right after.
        patch = self._patch_body(planned, attributes_from_task(task))
        if patch:
            try:
                task = client.update_task(org, task_id, patch) or task
            except CloudError as error:
                diagnostics.error(
                    "The created agent task could not be renamed or shared",
                    f"Task {task_id} was created, but setting {', '.join(sorted(patch))} failed: "
                    f"{error}. It is recorded in state as tainted so it is not lost.",
                )
                return created
        return merge_planned_with_task(planned, task)

    def _adopt(
        self, client: CloudClient, planned: State, task_id: str, diagnostics: Diagnostics
    ) -> State | None:
        from terraform_provider_pulumiservice.cloud.errors import CloudError, NotFoundError

        org = planned["org_name"]
        try:
            task = client.get_task(org, task_id)
        except NotFoundError:
            diagnostics.error(
                "Agent task not found",
                f"`task_id` names task {task_id!r}, which does not exist in organization {org!r}.",
                AttributePath.root("task_id"),
            )
            return None
        except CloudError as error:
            diagnostics.error(
                "Could not read the agent task to adopt", str(error), AttributePath.root("task_id")
            )
            return None
        ignored = [name for name in CREATE_ONLY_INPUTS if planned.get(name) is not None]
        if ignored:
            diagnostics.warning(
                "Create-only inputs were not sent",
                f"The resource adopted the existing task {task_id}, so "
                f"{', '.join('`' + n + '`' for n in ignored)} were not sent to Pulumi Cloud; "
                "they only apply when Terraform creates a task.",
            )
        patch = self._patch_body(planned, attributes_from_task(task))
        if patch:
            try:
                task = client.update_task(org, task_id, patch)
            except CloudError as error:
                diagnostics.error("Could not update the adopted agent task", str(error))
                return nulled_unknowns(
                    {**planned, "task_id": task_id, "id": task_id_of(org, task_id)}
                )
        return merge_planned_with_task(planned, task)

    @staticmethod
    def _patch_body(planned: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for attribute, api_name in UPDATABLE_INPUTS.items():
            value = planned.get(attribute)
            if value is None or isinstance(value, Unknown):
                continue
            if value != current.get(attribute):
                body[api_name] = value
        return body

    def read(self, client: CloudClient, state: State, diagnostics: Diagnostics) -> State | None:
        from terraform_provider_pulumiservice.cloud.errors import CloudError, NotFoundError

        org, task_id = state.get("org_name"), state.get("task_id")
        if not isinstance(org, str) or not isinstance(task_id, str):
            return state
        try:
            task = client.get_task(org, task_id)
        except NotFoundError:
            return None
        except CloudError as error:
            diagnostics.error("Could not read the agent task", str(error))
            return state
        return refresh_from_task(state, task)

    def update(
        self, client: CloudClient, prior: State, planned: State, diagnostics: Diagnostics
    ) -> State:
        from terraform_provider_pulumiservice.cloud.errors import CloudError

        org, task_id = prior["org_name"], prior["task_id"]
        if not isinstance(org, str) or not isinstance(task_id, str):
            diagnostics.error(
                "Cannot update an agent task without its id",
                "The prior state has no `org_name` or `task_id`; remove the resource from state "
                "and import the task (`terraform import ... <org_name>/<task_id>`).",
            )
            return prior
        patch = self._patch_body(planned, prior)
        try:
            task = (
                client.update_task(org, task_id, patch) if patch else client.get_task(org, task_id)
            )
        except CloudError as error:
            diagnostics.error("Could not update the agent task", str(error))
            return prior
        if not task:  # a PATCH answered without a body: read the task instead
            try:
                task = client.get_task(org, task_id)
            except CloudError as error:
                diagnostics.warning("Could not read the updated agent task", str(error))
                return nulled_unknowns(planned)
        return merge_planned_with_task(planned, task)

    def delete(self, client: CloudClient, prior: State, diagnostics: Diagnostics) -> None:
        from terraform_provider_pulumiservice.cloud.errors import (
            ApiError,
            CloudError,
            NotFoundError,
        )

        org, task_id = prior["org_name"], prior.get("task_id")
        if not isinstance(org, str) or not isinstance(task_id, str):
            return
        try:
            task = client.get_task(org, task_id)
        except NotFoundError:
            return
        except CloudError as error:
            diagnostics.error("Could not read the agent task before destroying it", str(error))
            return
        if task.get("status") != "running":
            return
        try:
            client.cancel_task(org, task_id)
        except ApiError as error:
            if error.status in (404, 409):
                diagnostics.warning(
                    "The agent task was not cancelled",
                    f"Cancelling task {task_id} answered {error.status}: {error.message}. It is "
                    "removed from state.",
                )
                return
            diagnostics.error("Could not cancel the agent task", str(error))
        except CloudError as error:
            diagnostics.error("Could not cancel the agent task", str(error))

    def import_state(
        self, client: CloudClient, import_id: str, diagnostics: Diagnostics
    ) -> State | None:
        from terraform_provider_pulumiservice.cloud.errors import CloudError, NotFoundError

        parsed = parse_import_id(import_id)
        if parsed is None:
            diagnostics.error(
                "Invalid import ID",
                f"Expected `<org_name>/<task_id>`, got {import_id!r}; for example "
                "`terraform import pulumiservice_api_agents_task.example my-org/7d9f...`.",
            )
            return None
        org, task_id = parsed
        try:
            task = client.get_task(org, task_id)
        except NotFoundError:
            diagnostics.error(
                "Cannot import a task that does not exist",
                f"Organization {org!r} has no agent task {task_id!r}.",
            )
            return None
        except CloudError as error:
            diagnostics.error("Could not read the agent task to import", str(error))
            return None
        state: State = {name: None for name in SCHEMA.attributes}
        state["org_name"] = org
        return refresh_from_task(state, task)
