"""UseStateForUnknown: a computed value an update does not change stays as it is in state."""

from __future__ import annotations

from dataclasses import dataclass

from terraform_provider_pulumiservice.cty import Unknown, is_wholly_known
from terraform_provider_pulumiservice.framework.planmodifiers.contract import (
    PlanModifierRequest,
    PlanModifierResult,
)


@dataclass(frozen=True)
class UseStateForUnknown:
    """Keep the prior state's value where the plan would otherwise show `(known after apply)`.

    It does nothing on create (there is no prior value), nothing when the planned value is known,
    and nothing when the configuration itself holds an unknown value: that unknown is the user's
    (say `name = terraform_data.n.output`) and Terraform requires the plan to keep it, or the
    final plan differs from the first one ("Provider produced inconsistent final plan").
    """

    @property
    def description(self) -> str:
        return "The value does not change after creation."

    def modify(self, request: PlanModifierRequest) -> PlanModifierResult:
        if request.is_create or not isinstance(request.plan_value, Unknown):
            return PlanModifierResult(request.plan_value)
        if request.config_value is not None and not is_wholly_known(request.config_value):
            return PlanModifierResult(request.plan_value)
        # A null prior value is kept too: these values are settled when the object is created.
        return PlanModifierResult(request.state_value)
