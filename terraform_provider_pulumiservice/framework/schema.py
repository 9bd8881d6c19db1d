"""Schemas: attributes with their types, flags, descriptions, plan modifiers and validators."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from terraform_provider_pulumiservice.cty import CtyType, Object
from terraform_provider_pulumiservice.framework.planmodifiers import PlanModifier
from terraform_provider_pulumiservice.framework.validators import Validator


@dataclass(frozen=True)
class Attribute:
    type: CtyType
    description: str
    required: bool = False
    optional: bool = False
    computed: bool = False
    sensitive: bool = False
    plan_modifiers: tuple[PlanModifier, ...] = ()
    validators: tuple[Validator, ...] = ()

    def __post_init__(self) -> None:
        if self.required and (self.optional or self.computed):
            raise ValueError("a required attribute is neither optional nor computed")
        if not (self.required or self.optional or self.computed):
            raise ValueError("an attribute must be required, optional or computed")


@dataclass(frozen=True)
class Schema:
    attributes: Mapping[str, Attribute]
    description: str
    version: int = 0
    deprecation_message: str = field(default="")

    @cached_property
    def cty_type(self) -> Object:
        return Object({name: attr.type for name, attr in self.attributes.items()})

    def null_object(self) -> dict[str, object]:
        return dict.fromkeys(self.attributes)
