"""RequiresReplace: changing the value destroys and re-creates the resource."""

from __future__ import annotations

from dataclasses import dataclass

from terraform_provider_pulumiservice.cty import Unknown
from terraform_provider_pulumiservice.framework.planmodifiers.contract import (
    IMPORTED_MARKER,
    PlanModifierRequest,
    PlanModifierResult,
)


@dataclass(frozen=True)
class RequiresReplace:
    """Changing the value destroys and re-creates the resource.

    A value that is null in state only because the resource was imported (the API does not return
    it) is taken from the configuration without a replacement. An unknown planned value that the
    configuration does not set is the provider's to fill, not a change by the user.
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
            return PlanModifierResult(request.plan_value)
        return PlanModifierResult(request.plan_value, requires_replace=True)
