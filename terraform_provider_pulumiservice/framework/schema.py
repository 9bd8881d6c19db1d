"""Schemas: attributes with their types, flags, descriptions, plan modifiers and validators.

An attribute is either of a plain cty type (`string`, `list(string)`, ...) or a *nested
attribute*: an object, or a list of objects, whose members are attributes again (with their own
descriptions, flags and validators). A schema may also hold nested blocks (`timeouts { ... }`).
In the value model both appear as objects (lists of objects), so `Schema.cty_type` is the one type
every value of the resource has.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from terraform_provider_pulumiservice.cty import CtyType, List, Object
from terraform_provider_pulumiservice.framework.planmodifiers import PlanModifier
from terraform_provider_pulumiservice.framework.validators import Validator


class Nesting(enum.Enum):
    SINGLE = "single"
    LIST = "list"


@dataclass(frozen=True)
class NestedAttributes:
    """The members of a nested attribute, and whether it holds one object or a list of them."""

    attributes: Mapping[str, Attribute]
    nesting: Nesting = Nesting.SINGLE

    @cached_property
    def object_type(self) -> Object:
        return Object({name: attr.type for name, attr in self.attributes.items()})

    @property
    def cty_type(self) -> CtyType:
        return List(self.object_type) if self.nesting is Nesting.LIST else self.object_type


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
    # Set for nested attributes; `type` is then the nested object (list) type.
    nested: NestedAttributes | None = None

    def __post_init__(self) -> None:
        if self.required and (self.optional or self.computed):
            raise ValueError("a required attribute is neither optional nor computed")
        if not (self.required or self.optional or self.computed):
            raise ValueError("an attribute must be required, optional or computed")
        if self.nested is not None and self.nested.cty_type != self.type:
            raise ValueError("a nested attribute's type is the type of its members")


def nested_attribute(
    nesting: Nesting,
    attributes: Mapping[str, Attribute],
    description: str,
    *,
    required: bool = False,
    optional: bool = False,
    computed: bool = False,
    plan_modifiers: tuple[PlanModifier, ...] = (),
    validators: tuple[Validator, ...] = (),
) -> Attribute:
    """An attribute holding an object (SINGLE) or a list of objects (LIST) of typed members."""
    nested = NestedAttributes(dict(attributes), nesting)
    return Attribute(
        nested.cty_type,
        description,
        required=required,
        optional=optional,
        computed=computed,
        plan_modifiers=plan_modifiers,
        validators=validators,
        nested=nested,
    )


@dataclass(frozen=True)
class Block:
    """A nested block that appears at most once (`timeouts { create = "30m" }`)."""

    attributes: Mapping[str, Attribute]
    description: str

    @cached_property
    def cty_type(self) -> Object:
        return Object({name: attr.type for name, attr in self.attributes.items()})


@dataclass(frozen=True)
class Schema:
    attributes: Mapping[str, Attribute]
    description: str
    version: int = 0
    deprecation_message: str = field(default="")
    blocks: Mapping[str, Block] = field(default_factory=dict)

    @cached_property
    def cty_type(self) -> Object:
        types: dict[str, CtyType] = {name: attr.type for name, attr in self.attributes.items()}
        types.update({name: block.cty_type for name, block in self.blocks.items()})
        return Object(types)

    def null_object(self) -> dict[str, object]:
        return dict.fromkeys([*self.attributes, *self.blocks])
