"""Composable attribute plan modifiers.

Plan behaviour is declared on attributes (`RequiresReplace()`, `UseStateForUnknown()`) instead of
being coded into each resource's CRUD functions; `protocol.plan` applies them in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from terraform_provider_pulumiservice.cty import Unknown
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


@dataclass(frozen=True)
class UseStateForUnknown:
    """Keep the prior state's value for a computed attribute that an update does not change."""

    @property
    def description(self) -> str:
        return "The value does not change after creation."

    def modify(self, request: PlanModifierRequest) -> PlanModifierResult:
        # A null prior value is kept too: these values are settled when the object is created.
        if not request.is_create and isinstance(request.plan_value, Unknown):
            return PlanModifierResult(request.state_value)
        return PlanModifierResult(request.plan_value)


@dataclass(frozen=True)
class RequiresReplace:
    """Changing the value destroys and re-creates the resource.

    A value that is null in state only because the resource was imported (the API does not return
    it) is taken from the configuration without a replacement.
    """

    @property
    def description(self) -> str:
        return "Changing this value replaces the resource."

    def modify(self, request: PlanModifierRequest) -> PlanModifierResult:
        if request.is_create or request.plan_value == request.state_value:
            return PlanModifierResult(request.plan_value)
        if request.state_value is None and request.private.get(IMPORTED_MARKER):
            return PlanModifierResult(request.plan_value)
        if isinstance(request.plan_value, Unknown) and request.config_value is None:
            # A computed value the provider will fill: not a user change.
            return PlanModifierResult(request.plan_value)
        return PlanModifierResult(request.plan_value, requires_replace=True)
