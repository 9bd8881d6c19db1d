"""Data source `pulumiservice_api_agents_tasks`: every agent task of an organization."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from terraform_provider_pulumiservice.agents.fields import TASK_TYPES
from terraform_provider_pulumiservice.agents.mapping import attributes_from_task
from terraform_provider_pulumiservice.cloud.errors import CloudError
from terraform_provider_pulumiservice.cty import STRING
from terraform_provider_pulumiservice.data_sources.api_agents_task import (
    READ_ONLY_TASK_ATTRIBUTES,
)
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.resource import DataSource, State
from terraform_provider_pulumiservice.framework.schema import (
    Attribute,
    Nesting,
    Schema,
    nested_attribute,
)
from terraform_provider_pulumiservice.framework.validators import OneOf

if TYPE_CHECKING:
    from terraform_provider_pulumiservice.cloud.client import CloudClient

SCHEMA = Schema(
    description="Lists the agent tasks (Pulumi Neo) of a Pulumi Cloud organization, following "
    "every page of results.",
    version=1,
    attributes={
        "id": Attribute(
            STRING, "The organization name (and task type filter, if set).", computed=True
        ),
        "org_name": Attribute(STRING, "The organization whose tasks are listed.", required=True),
        "task_type": Attribute(
            STRING,
            "Only list tasks of this type: `sync` or `async`.",
            optional=True,
            validators=(OneOf(TASK_TYPES),),
        ),
        "tasks": nested_attribute(
            Nesting.LIST,
            {
                "task_id": Attribute(STRING, "The task's identifier.", computed=True),
                **READ_ONLY_TASK_ATTRIBUTES,
            },
            "The tasks, newest activity first, each with the attributes of the "
            "`pulumiservice_api_agents_task` data source.",
            computed=True,
        ),
    },
)


def _task_element(task: dict[str, Any]) -> dict[str, Any] | None:
    task_id = task.get("id")
    if not isinstance(task_id, str):
        return None  # a listing entry without an id names no task
    return {"task_id": task_id, **attributes_from_task(task)}


class AgentsTasksDataSource(DataSource):
    type_name = "pulumiservice_api_agents_tasks"
    schema = SCHEMA

    def read(self, client: CloudClient, config: State, diagnostics: Diagnostics) -> State | None:
        org, task_type = config["org_name"], config.get("task_type")
        try:
            tasks = client.list_tasks(org, task_type=task_type)
        except CloudError as error:
            diagnostics.error("Could not list the agent tasks", str(error))
            return None
        elements = [element for element in map(_task_element, tasks) if element is not None]
        if len(elements) < len(tasks):
            diagnostics.warning(
                "Tasks without an id were left out",
                f"Pulumi Cloud listed {len(tasks) - len(elements)} task(s) of organization "
                f"{org!r} without an `id`; they are not in `tasks`.",
            )
        return {
            **config,
            "id": f"{org}/{task_type}" if task_type else org,
            "tasks": elements,
        }
