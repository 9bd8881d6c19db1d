"""Data source `pulumiservice_api_agents_tasks`: every agent task of an organization."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from terraform_provider_pulumiservice.cty import STRING, List, Map, Object, TypedValue
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.resource import DataSource, State
from terraform_provider_pulumiservice.framework.schema import Attribute, Schema
from terraform_provider_pulumiservice.framework.validators import OneOf
from terraform_provider_pulumiservice.resources.agents_task_model import (
    TASK_FIELDS,
    TASK_TYPES,
    attributes_from_task,
)

if TYPE_CHECKING:
    from terraform_provider_pulumiservice.cloud.client import CloudClient

# Elements of a list must share one type, so the free-form fields get fixed shapes here:
# `created_by` (all strings in the API) as a map, and `entities` is left to the single-task source.
_ELEMENT_FIELDS = [field for field in TASK_FIELDS if field.attribute != "entities"]
TASK_ELEMENT_TYPE = Object(
    {
        field.attribute: (Map(STRING) if field.attribute == "created_by" else field.type)
        for field in _ELEMENT_FIELDS
    }
)

SCHEMA = Schema(
    description="Lists the agent tasks (Pulumi Neo) of a Pulumi Cloud organization, following "
    "every page of results.",
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
        "tasks": Attribute(
            List(TASK_ELEMENT_TYPE),
            "The tasks, newest activity first. Each has the attributes of the "
            "`pulumiservice_api_agents_task` data source except `entities`; `created_by` is a map "
            "of strings.",
            computed=True,
        ),
    },
)


def _task_element(task: dict[str, Any]) -> dict[str, Any]:
    attributes = attributes_from_task(task)
    element = {field.attribute: attributes[field.attribute] for field in _ELEMENT_FIELDS}
    created_by = attributes.get("created_by")
    element["created_by"] = (
        {k: str(v) for k, v in created_by.value.items() if v is not None}
        if isinstance(created_by, TypedValue) and isinstance(created_by.value, dict)
        else None
    )
    return element


class AgentsTasksDataSource(DataSource):
    type_name = "pulumiservice_api_agents_tasks"
    schema = SCHEMA

    def read(self, client: CloudClient, config: State, diagnostics: Diagnostics) -> State | None:
        from terraform_provider_pulumiservice.cloud.errors import CloudError

        org, task_type = config["org_name"], config.get("task_type")
        try:
            tasks = client.list_tasks(org, task_type=task_type)
        except CloudError as error:
            diagnostics.error("Could not list the agent tasks", str(error))
            return None
        return {
            **config,
            "id": f"{org}/{task_type}" if task_type else org,
            "tasks": [_task_element(task) for task in tasks],
        }
