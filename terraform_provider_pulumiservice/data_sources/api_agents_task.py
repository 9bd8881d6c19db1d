"""Data source `pulumiservice_api_agents_task`: one agent task by organization and task id."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from terraform_provider_pulumiservice.agents.fields import REPORTED_FIELDS
from terraform_provider_pulumiservice.agents.mapping import (
    attributes_from_task,
    identity_mismatch,
    resource_id,
)
from terraform_provider_pulumiservice.cloud.errors import CloudError, NotFoundError
from terraform_provider_pulumiservice.cty import STRING
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.path import AttributePath
from terraform_provider_pulumiservice.framework.resource import DataSource, State
from terraform_provider_pulumiservice.framework.schema import (
    Attribute,
    Schema,
)

if TYPE_CHECKING:
    from terraform_provider_pulumiservice.cloud.client import CloudClient

T = TypeVar("T")


def read_for_task(
    call: Callable[[], T], org: str, task_id: str, what: str, diagnostics: Diagnostics
) -> T | None:
    """`call()`, or None with a diagnostic: a missing task points at `task_id`."""
    try:
        return call()
    except NotFoundError:
        diagnostics.error(
            "Agent task not found",
            f"Organization {org!r} has no agent task {task_id!r}.",
            AttributePath.root("task_id"),
        )
    except CloudError as error:
        diagnostics.error(f"Could not read {what}", str(error))
    return None


READ_ONLY_TASK_ATTRIBUTES: Mapping[str, Attribute] = {
    field.attribute: field.as_attribute(computed=True) for field in REPORTED_FIELDS
}

SCHEMA = Schema(
    description="Reads one Pulumi Cloud agent task (Pulumi Neo) by organization and task id.",
    version=1,
    attributes={
        "id": Attribute(STRING, "`<org_name>/<task_id>`.", computed=True),
        "org_name": Attribute(STRING, "The organization the task belongs to.", required=True),
        "task_id": Attribute(STRING, "The task's identifier.", required=True),
        **READ_ONLY_TASK_ATTRIBUTES,
    },
)


class AgentsTaskDataSource(DataSource):
    type_name = "pulumiservice_api_agents_task"
    schema = SCHEMA

    def read(self, client: CloudClient, config: State, diagnostics: Diagnostics) -> State | None:
        org, task_id = config["org_name"], config["task_id"]
        task = read_for_task(
            lambda: client.get_task(org, task_id), org, task_id, "the agent task", diagnostics
        )
        if task is None:
            return None
        mismatch = identity_mismatch(task, task_id)
        if mismatch is not None:
            diagnostics.error(
                "Pulumi Cloud answered about another task",
                f"Reading task {task_id}: Pulumi Cloud {mismatch}.",
                AttributePath.root("task_id"),
            )
            return None
        return {**config, **attributes_from_task(task), "id": resource_id(org, task_id)}
