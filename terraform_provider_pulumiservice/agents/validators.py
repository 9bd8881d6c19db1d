"""Checks across the members of one agent-task value; `fields` declares them on the attribute,
and the single-member checks on the members themselves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from terraform_provider_pulumiservice.cty import Unknown
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.path import AttributePath

# Which members each entity type needs (from the API's entity schemas).
ENTITY_REQUIRED_MEMBERS = {
    "stack": ("name", "project"),
    "repository": ("name", "org"),
    "pull_request": ("number", "name", "org"),
    "policy_issue": ("id",),
}


@dataclass(frozen=True)
class EntityMembers:
    """Each context entity sets the members its `type` needs (a stack its `name` and `project`).

    An entity whose `type` is unknown, or a member that is unknown, is not judged yet.
    """

    @property
    def description(self) -> str:
        needs = "; ".join(
            f"`{kind}`: {', '.join(m)}" for kind, m in ENTITY_REQUIRED_MEMBERS.items()
        )
        return f"Members each entity type needs: {needs}."

    def validate(self, value: Any, path: AttributePath, diagnostics: Diagnostics) -> None:
        if not isinstance(value, list):
            return
        for index, entity in enumerate(value):
            if not isinstance(entity, dict):
                continue
            kind = entity.get("type")
            if not isinstance(kind, str):
                continue
            missing = [
                member
                for member in ENTITY_REQUIRED_MEMBERS.get(kind, ())
                if entity.get(member) is None
                or (isinstance(entity.get(member), str) and not entity[member].strip())
            ]
            missing = [m for m in missing if not isinstance(entity.get(m), Unknown)]
            if missing:
                diagnostics.error(
                    "Incomplete context entity",
                    f"A `{kind}` entity needs {', '.join(f'`{m}`' for m in missing)}.",
                    path.index(index),
                )
