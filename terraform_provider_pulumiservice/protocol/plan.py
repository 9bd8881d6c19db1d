"""PlanResourceChange: the planned state, and which changes force a replacement.

Computed attributes the configuration leaves null become unknown on create, and on any update
(an update may change them); each attribute's plan modifiers then decide what stays known and what
forces replacement. Resources only add cross-attribute adjustments.
"""

from __future__ import annotations

from typing import Any

from terraform_provider_pulumiservice._proto import tfplugin6_pb2 as pb
from terraform_provider_pulumiservice.cty import UNKNOWN
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.path import AttributePath
from terraform_provider_pulumiservice.framework.planmodifiers import PlanModifierRequest
from terraform_provider_pulumiservice.framework.resource import Resource
from terraform_provider_pulumiservice.protocol.convert import (
    ValueDecodeError,
    decode_value,
    diagnostics_to_proto,
    encode_value,
    path_to_proto,
    private_from_bytes,
)
from terraform_provider_pulumiservice.provider import resource_named


def plan_resource_change(
    request: pb.PlanResourceChange.Request,
) -> pb.PlanResourceChange.Response:
    diagnostics = Diagnostics()
    resource = resource_named(request.type_name, diagnostics)
    if resource is None:
        return pb.PlanResourceChange.Response(diagnostics=diagnostics_to_proto(diagnostics))
    type_ = resource.schema.cty_type
    try:
        prior = decode_value(request.prior_state, type_, "prior state")
        proposed = decode_value(request.proposed_new_state, type_, "proposed new state")
        config = decode_value(request.config, type_, "configuration")
    except ValueDecodeError as error:
        diagnostics.append(error.diagnostic)
        return pb.PlanResourceChange.Response(diagnostics=diagnostics_to_proto(diagnostics))

    if proposed is None:  # destroy
        return pb.PlanResourceChange.Response(
            planned_state=encode_value(None, type_), planned_private=request.prior_private
        )
    planned, replace_paths = plan_object(
        resource,
        prior,
        proposed,
        config or {},
        private_from_bytes(request.prior_private),
        diagnostics,
    )
    return pb.PlanResourceChange.Response(
        planned_state=encode_value(planned, type_),
        requires_replace=[path_to_proto(path) for path in replace_paths],
        planned_private=request.prior_private,
        diagnostics=diagnostics_to_proto(diagnostics),
    )


def plan_object(
    resource: Resource,
    prior: dict[str, Any] | None,
    proposed: dict[str, Any],
    config: dict[str, Any],
    private: dict[str, Any],
    diagnostics: Diagnostics,
) -> tuple[dict[str, Any], list[AttributePath]]:
    attributes = resource.schema.attributes
    planned = dict(proposed)
    is_create = prior is None
    if is_create or planned != prior:
        for name, attribute in attributes.items():
            if attribute.computed and config.get(name) is None:
                planned[name] = UNKNOWN

    replace_paths: list[AttributePath] = []
    for name, attribute in attributes.items():
        path = AttributePath.root(name)
        for modifier in attribute.plan_modifiers:
            result = modifier.modify(
                PlanModifierRequest(
                    path=path,
                    config_value=config.get(name),
                    state_value=None if prior is None else prior.get(name),
                    plan_value=planned.get(name),
                    is_create=is_create,
                    private=private,
                )
            )
            planned[name] = result.plan_value
            if result.requires_replace and path not in replace_paths:
                replace_paths.append(path)
    if not is_create and not replace_paths and planned == prior:
        return dict(prior), []
    resource.modify_plan(prior, config, planned, diagnostics)
    return planned, replace_paths
