"""`pulumiservice_api_agents_task`: one Pulumi Neo agent task.

Create POSTs the first user message and reads the task back; the API has no DELETE, so destroy
cancels a running task and forgets it. Plan behaviour (what replaces, what stays known) is
declared on the attributes, which are derived from the field table in `agents.fields`; the
operations below only talk to the API.

Identity is what the provider asked for: the task id comes from the create response, from a
configured `task_id`, or from prior state, never from the body of a later response.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from terraform_provider_pulumiservice.agents.fields import (
    TASK_FIELDS,
    Direction,
    TaskField,
)
from terraform_provider_pulumiservice.agents.mapping import (
    attributes_from_task,
    create_body,
    identity_mismatch,
    merge_known,
    parse_import_id,
    patch_body,
    resource_id,
    unknowns_to_null,
)
from terraform_provider_pulumiservice.agents.run import RunEnd, RunEndKind, final_message
from terraform_provider_pulumiservice.agents.state_v0 import upgrade_v0_attributes
from terraform_provider_pulumiservice.agents.wait import wait_for_run
from terraform_provider_pulumiservice.cloud.errors import (
    ApiError,
    CancelledError,
    CloudError,
    DeadlineExceededError,
    NotFoundError,
)
from terraform_provider_pulumiservice.cty import BOOL, STRING
from terraform_provider_pulumiservice.durations import parse_duration
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.path import AttributePath
from terraform_provider_pulumiservice.framework.planmodifiers import (
    PlanModifier,
    RequiresReplace,
    UseStateForUnknown,
)
from terraform_provider_pulumiservice.framework.resource import Resource, State
from terraform_provider_pulumiservice.framework.schema import (
    Attribute,
    Block,
    Schema,
)
from terraform_provider_pulumiservice.framework.validators import Duration

if TYPE_CHECKING:
    from terraform_provider_pulumiservice.cloud.client import CloudClient

logger = logging.getLogger(__name__)

TYPE_NAME = "pulumiservice_api_agents_task"
SCHEMA_VERSION = 1
# How long a create may wait for the agent's run by default (`timeouts { create = ... }`).
DEFAULT_CREATE_TIMEOUT = "30m"


def _plan_modifiers(field: TaskField) -> tuple[PlanModifier, ...]:
    if field.direction is Direction.CREATE_ONLY:
        # A create-only input the API reports back is computed too: keep the reported value
        # when the configuration leaves it out.
        return (UseStateForUnknown(), RequiresReplace()) if field.reported else (RequiresReplace(),)
    if field.direction is Direction.UPDATABLE or field.stable:
        return (UseStateForUnknown(),)
    return ()


def attribute_for(field: TaskField) -> Attribute:
    """The resource attribute of one task field, from its direction."""
    is_input = field.direction is not Direction.COMPUTED
    # Inputs the API reports back are computed as well: left out, they show what it chose.
    return field.as_attribute(
        optional=is_input,
        computed=not is_input or field.reported,
        plan_modifiers=_plan_modifiers(field),
    )


SCHEMA = Schema(
    version=SCHEMA_VERSION,
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
        "task_id": Attribute(
            STRING,
            "The task's identifier. Computed when omitted; when set, the resource adopts that "
            "existing task instead of creating one (create-only inputs are then not sent).",
            optional=True,
            computed=True,
            plan_modifiers=(UseStateForUnknown(), RequiresReplace()),
        ),
        **{field.attribute: attribute_for(field) for field in TASK_FIELDS},
        "wait_for_completion": Attribute(
            BOOL,
            "When true, creating the resource waits until the agent's run has ended (bounded by "
            f"`timeouts.create`, default {DEFAULT_CREATE_TIMEOUT}) and fails when the run fails, "
            "is cancelled or stops to ask for an approval. Default false: create returns once "
            "the task has started. Changing it changes nothing in Pulumi Cloud.",
            optional=True,
        ),
        "final_message": Attribute(
            STRING,
            "The agent's answer: the content of the last final assistant message of the run. "
            "Filled when `wait_for_completion` is true (and kept up to date on refresh, so an "
            "answer given later in the console shows up); null otherwise, or when the agent "
            "gave no final answer.",
            computed=True,
            plan_modifiers=(UseStateForUnknown(),),
        ),
    },
    blocks={
        "timeouts": Block(
            {
                "create": Attribute(
                    STRING,
                    "How long a create may take, waiting for the agent included, as a duration "
                    f'such as "30m" or "1h" (default "{DEFAULT_CREATE_TIMEOUT}").',
                    optional=True,
                    validators=(Duration(),),
                ),
            },
            "Time limits for the resource's operations.",
        ),
    },
)

CREATE_ONLY_INPUTS = tuple(
    field.attribute for field in TASK_FIELDS if field.direction is Direction.CREATE_ONLY
)


def _created_state(planned: State, org: str, task_id: str) -> State:
    """What state holds for a created task when a later step failed: the id and the inputs."""
    return unknowns_to_null({**planned, "task_id": task_id, "id": resource_id(org, task_id)})


def _identity_error(diagnostics: Diagnostics, mismatch: str, action: str) -> None:
    diagnostics.error(
        "Pulumi Cloud answered about another task",
        f"While {action}, Pulumi Cloud {mismatch}. The provider keeps the task id it asked "
        "for; if this persists, report it with the request id from the provider log "
        "(TF_LOG_PROVIDER=DEBUG).",
    )


class AgentsTaskResource(Resource):
    type_name = TYPE_NAME
    schema = SCHEMA

    def validate_config(self, config: State, diagnostics: Diagnostics) -> None:
        # `message` is what a new task starts from; only adopting a task can do without it.
        if config.get("message") is None and config.get("task_id") is None:
            diagnostics.error(
                "Missing message",
                "`message` is required: it is the instruction the agent starts the task with. "
                "(Only a resource that adopts an existing task with `task_id` may leave it out.)",
                AttributePath.root("message"),
            )

    # --- create ----------------------------------------------------------------------------

    def create(self, client: CloudClient, planned: State, diagnostics: Diagnostics) -> State | None:
        deadline = time.monotonic() + _create_timeout_seconds(planned)
        org = planned["org_name"]
        adopted_id = planned.get("task_id")
        if isinstance(adopted_id, str):
            adopted = self._adopt(client, planned, adopted_id, diagnostics)
            if adopted is None or diagnostics.has_errors():
                return adopted
            return _guarded_after_create(
                adopted,
                diagnostics,
                lambda: self._await_run(client, planned, adopted, deadline, diagnostics),
            )
        body = create_body(planned, datetime.datetime.now(datetime.UTC))
        try:
            task_id = client.create_task(org, body)
        except CloudError as error:
            diagnostics.error("Could not create the agent task", str(error))
            return None
        created = _created_state(planned, org, task_id)
        # From here on the task exists: whatever happens, its id must reach state.
        return _guarded_after_create(
            created,
            diagnostics,
            lambda: self._finish_create(client, planned, created, deadline, diagnostics),
        )

    def _finish_create(
        self,
        client: CloudClient,
        planned: State,
        created: State,
        deadline: float,
        diagnostics: Diagnostics,
    ) -> State:
        org, task_id = created["org_name"], created["task_id"]
        try:
            task = client.get_task(org, task_id)
        except CloudError as error:
            diagnostics.error(
                "The created agent task could not be read back",
                f"Pulumi Cloud created task {task_id}, but reading it back failed. {error} "
                f"{_TAINTED}",
            )
            return created
        mismatch = identity_mismatch(task, task_id)
        if mismatch is not None:
            _identity_error(diagnostics, mismatch, f"reading back the created task {task_id}")
            diagnostics.error("The created agent task could not be read back", _TAINTED)
            return created
        # `name` and `is_shared` are not create inputs: configured values are set right after.
        patch = patch_body(planned, attributes_from_task(task))
        if patch:
            try:
                task = _patched(client, org, task_id, patch)
            except CloudError as error:
                diagnostics.error(
                    "The created agent task could not be renamed or shared",
                    f"Task {task_id} was created, but setting {', '.join(sorted(patch))} "
                    f"failed. {error} {_TAINTED}",
                )
                return created
        state = self._state_from_task(planned, task, org, task_id)
        return self._await_run(client, planned, state, deadline, diagnostics)

    def _await_run(
        self,
        client: CloudClient,
        planned: State,
        state: State,
        deadline: float,
        diagnostics: Diagnostics,
    ) -> State:
        """With `wait_for_completion`, the state once the agent's run has ended."""
        if planned.get("wait_for_completion") is not True:
            return state
        org, task_id = state["org_name"], state["task_id"]
        try:
            end, task = wait_for_run(client, org, task_id, deadline)
        except DeadlineExceededError:
            diagnostics.error(
                "Timed out waiting for the agent",
                f"Task {task_id} was still running when the create timeout of "
                f"{_create_timeout_text(planned)} (`timeouts.create`) ran out. The task was not "
                f"cancelled: it keeps running in Pulumi Cloud. {_TAINTED}",
            )
            return state
        except CancelledError:
            diagnostics.error(
                "Stopped waiting for the agent",
                f"Terraform was interrupted while waiting for task {task_id}. The task was not "
                f"cancelled: it keeps running in Pulumi Cloud. {_TAINTED}",
            )
            return state
        except CloudError as error:
            diagnostics.error(
                "Could not follow the agent's run",
                f"Task {task_id} was created, but following its run failed. {error} {_TAINTED}",
            )
            return state
        mismatch = identity_mismatch(task, task_id)
        if mismatch is None:
            state = self._state_from_task(planned, task, org, task_id)
        state["final_message"] = end.final_message
        _report_run_end(end, task_id, state.get("name"), diagnostics)
        return state

    @staticmethod
    def _state_from_task(planned: State, task: Mapping[str, Any], org: str, task_id: str) -> State:
        state = merge_known(planned, attributes_from_task(task))
        state["task_id"], state["id"] = task_id, resource_id(org, task_id)
        return state

    def _adopt(
        self, client: CloudClient, planned: State, task_id: str, diagnostics: Diagnostics
    ) -> State | None:
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
        mismatch = identity_mismatch(task, task_id)
        if mismatch is not None:
            _identity_error(diagnostics, mismatch, f"reading task {task_id} to adopt it")
            return None
        ignored = [name for name in CREATE_ONLY_INPUTS if planned.get(name) is not None]
        if ignored:
            diagnostics.warning(
                "Create-only inputs were not sent",
                f"The resource adopted the existing task {task_id}, so "
                f"{', '.join('`' + n + '`' for n in ignored)} were not sent to Pulumi Cloud; "
                "they only apply when Terraform creates a task.",
            )
        patch = patch_body(planned, attributes_from_task(task))
        if patch:
            try:
                task = _patched(client, org, task_id, patch)
            except CloudError as error:
                diagnostics.error("Could not update the adopted agent task", str(error))
                return _created_state(planned, org, task_id)
        return self._state_from_task(planned, task, org, task_id)

    # --- read, update, delete, import ------------------------------------------------------

    def read(self, client: CloudClient, state: State, diagnostics: Diagnostics) -> State | None:
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
        mismatch = identity_mismatch(task, task_id)
        if mismatch is not None:
            _identity_error(diagnostics, mismatch, f"refreshing task {task_id}")
            return state
        refreshed = {**state, **attributes_from_task(task), "id": resource_id(org, task_id)}
        if state.get("wait_for_completion") is True:
            # A run continued later (in the console) has a newer answer: not a diff, a refresh.
            try:
                refreshed["final_message"] = final_message(client.list_events(org, task_id))
            except CloudError as error:
                diagnostics.error("Could not read the agent task's events", str(error))
                return state
        return refreshed

    def update(
        self, client: CloudClient, prior: State, planned: State, diagnostics: Diagnostics
    ) -> State:
        org, task_id = prior.get("org_name"), prior.get("task_id")
        if not isinstance(org, str) or not isinstance(task_id, str):
            diagnostics.error(
                "Cannot update an agent task without its id",
                "The prior state has no `org_name` or `task_id`; remove the resource from state "
                "and import the task (`terraform import ... <org_name>/<task_id>`).",
            )
            return prior
        patch = patch_body(planned, prior)
        try:
            task = _patched(client, org, task_id, patch) if patch else client.get_task(org, task_id)
        except CloudError as error:
            diagnostics.error("Could not update the agent task", str(error))
            return prior
        mismatch = identity_mismatch(task, task_id)
        if mismatch is not None:
            _identity_error(diagnostics, mismatch, f"updating task {task_id}")
            return prior
        return self._state_from_task(planned, task, org, task_id)

    def delete(self, client: CloudClient, prior: State, diagnostics: Diagnostics) -> None:
        org, task_id = prior.get("org_name"), prior.get("task_id")
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
                    f"Cancelling task {task_id} answered {error.status}: "
                    f"{error.message.rstrip('.')}. It is removed from state.",
                )
                return
            diagnostics.error("Could not cancel the agent task", str(error))
        except CloudError as error:
            diagnostics.error("Could not cancel the agent task", str(error))

    def import_state(
        self, client: CloudClient, import_id: str, diagnostics: Diagnostics
    ) -> State | None:
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
        mismatch = identity_mismatch(task, task_id)
        if mismatch is not None:
            _identity_error(diagnostics, mismatch, f"importing task {task_id}")
            return None
        state: State = dict(SCHEMA.null_object())
        state.update(attributes_from_task(task))
        state["org_name"], state["task_id"] = org, task_id
        state["id"] = resource_id(org, task_id)
        return state

    def upgrade_state(self, version: int, stored: dict[str, Any]) -> dict[str, Any]:
        return upgrade_v0_attributes(stored) if version == 0 else stored


_TAINTED = (
    "The task is recorded in state as tainted so it is not lost: the next `terraform apply` "
    "replaces it with a new task. To keep this task instead, run `terraform untaint <address>` "
    "and apply again."
)


def _create_timeout_text(planned: State) -> str:
    timeouts = planned.get("timeouts")
    text = timeouts.get("create") if isinstance(timeouts, dict) else None
    return text.strip() if isinstance(text, str) and text.strip() else DEFAULT_CREATE_TIMEOUT


def _create_timeout_seconds(planned: State) -> float:
    # Validation refused anything else at plan time; a value it could not see falls back.
    try:
        return max(1.0, parse_duration(_create_timeout_text(planned)))
    except ValueError:
        return parse_duration(DEFAULT_CREATE_TIMEOUT)


def _report_run_end(end: RunEnd, task_id: str, name: object, diagnostics: Diagnostics) -> None:
    """An error for every ending but success: the pipeline that waits must see it fail."""
    label = f"task {task_id}" + (f" ({name})" if isinstance(name, str) else "")
    if end.kind is RunEndKind.SUCCEEDED:
        return
    if end.kind is RunEndKind.FAILED:
        diagnostics.error(
            "The agent's run failed",
            f"The agent reported an error in {label}: {end.detail.rstrip('.')}. {_TAINTED}",
        )
    elif end.kind is RunEndKind.CANCELLED:
        diagnostics.error(
            "The agent's run was cancelled", f"The run of {label} was cancelled. {_TAINTED}"
        )
    else:
        diagnostics.error(
            "The agent is waiting for an approval",
            f"The agent stopped in {label} to ask for an approval: {end.detail.rstrip('.')}. "
            "Answer it in the task's conversation in Pulumi Cloud (Neo), or set "
            '`approval_mode = "auto"` for tasks that should not ask. The task is recorded in '
            "state as tainted: after answering, run `terraform untaint <address>` to keep it "
            "(a refresh then reads the agent's answer); the next `terraform apply` otherwise "
            "replaces it with a new task.",
        )


def _patched(client: CloudClient, org: str, task_id: str, patch: dict[str, Any]) -> dict[str, Any]:
    """PATCH, then the task as it is now: the reply's body, or a GET when the reply has none."""
    task = client.update_task(org, task_id, patch)
    return task if task else client.get_task(org, task_id)


def _guarded_after_create(
    created: State, diagnostics: Diagnostics, finish: Callable[[], State]
) -> State:
    """Runs the steps after a successful POST; an unexpected failure still returns `created`."""
    try:
        return finish()
    except Exception as error:  # noqa: BLE001 - the created task must reach state regardless
        logger.exception("finishing the create of task %s failed", created.get("task_id"))
        diagnostics.error(
            "The agent task was created, but finishing the create failed",
            f"Task {created.get('task_id')} was created; then the provider failed unexpectedly "
            f"({type(error).__name__}: {error}). {_TAINTED}",
        )
        return created
