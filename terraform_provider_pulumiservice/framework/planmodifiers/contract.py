"""What a plan modifier receives and answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from terraform_provider_pulumiservice.framework.path import AttributePath

# Private-state key set when a resource was imported rather than created by Terraform.
IMPORTED_MARKER = "imported"


@dataclass(frozen=True)
class PlanModifierRequest:
    path: AttributePath
    config_value: Any
    state_value: Any
    plan_value: Any
    is_create: bool
    private: Mapping[str, Any]


@dataclass(frozen=True)
class PlanModifierResult:
    plan_value: Any
    requires_replace: bool = False


class PlanModifier(Protocol):
    @property
    def description(self) -> str: ...

    def modify(self, request: PlanModifierRequest) -> PlanModifierResult: ...
