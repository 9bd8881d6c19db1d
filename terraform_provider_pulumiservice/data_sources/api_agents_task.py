"""Data source `pulumiservice_api_agents_task`: one agent task by organization and task id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from terraform_provider_pulumiservice.cty import STRING
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.path import AttributePath
from terraform_provider_pulumiservice.framework.resource import DataSource, State
from terraform_provider_pulumiservice.framework.schema import Attribute, Schema
from terraform_provider_pulumiservice.resources.agents_task_model import (
    TASK_FIELDS,
    attributes_from_task,
    task_id_of,
)

if TYPE_CHECKING:
    from terraform_provider_pulumiservice.cloud.client import CloudClient

SCHEMA = Schema(
    description="Reads one Pulumi Cloud agent task (Pulumi Neo) by organization and task id.",
    attributes={
        "id": Attribute(STRING, "`<org_name>/<task_id>`.", computed=True),
        "org_name": Attribute(STRING, "The organization the task belongs to.", required=True),
        "task_id": Attribute(STRING, "The task's identifier.", required=True),
        **{
            field.attribute: Attribute(field.type, field.description, computed=True)
            for field in TASK_FIELDS
            if field.attribute != "task_id"
        },
    },
)


class AgentsTaskDataSource(DataSource):
    type_name = "pulumiservice_api_agents_task"
    schema = SCHEMA

    def read(self, client: CloudClient, config: State, diagnostics: Diagnostics) -> State | None:
        from terraform_provider_pulumiservice.cloud.errors import CloudError, NotFoundError

        org, task_id = config["org_name"], config["task_id"]
        try:
            task = client.get_task(org, task_id)
        except NotFoundError:
            diagnostics.error(
                "Agent task not found",
                f"Organization {org!r} has no agent task {task_id!r}.",
                AttributePath.root("task_id"),
            )
            return None
        except CloudError as error:
            diagnostics.error("Could not read the agent task", str(error))
            return None
        state = {**config, **attributes_from_task(task)}
        state["task_id"] = task_id
        state["id"] = task_id_of(org, task_id)
        return state
