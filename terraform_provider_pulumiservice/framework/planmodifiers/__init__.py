"""Composable attribute plan modifiers, one per module.

Plan behaviour is declared on attributes (`RequiresReplace()`, `UseStateForUnknown()`) instead of
being coded into each resource's CRUD functions; `protocol.plan` applies them in order.
"""

from __future__ import annotations

from terraform_provider_pulumiservice.framework.planmodifiers.contract import (
    IMPORTED_MARKER,
    PlanModifier,
    PlanModifierRequest,
    PlanModifierResult,
)
from terraform_provider_pulumiservice.framework.planmodifiers.requires_replace import (
    RequiresReplace,
)
from terraform_provider_pulumiservice.framework.planmodifiers.use_state_for_unknown import (
    UseStateForUnknown,
)

__all__ = [
    "IMPORTED_MARKER",
    "PlanModifier",
    "PlanModifierRequest",
    "PlanModifierResult",
    "RequiresReplace",
    "UseStateForUnknown",
]
