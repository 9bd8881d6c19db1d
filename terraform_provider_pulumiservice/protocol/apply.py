"""ApplyResourceChange: create, update or delete, as the planned state says."""

from __future__ import annotations

from terraform_provider_pulumiservice._proto import tfplugin6_pb2 as pb
from terraform_provider_pulumiservice.cty import is_wholly_known
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.protocol.convert import (
    ValueDecodeError,
    decode_value,
    diagnostics_to_proto,
    encode_value,
)
from terraform_provider_pulumiservice.protocol.session import ProviderSession
from terraform_provider_pulumiservice.provider import resource_named


def apply_resource_change(
    session: ProviderSession, request: pb.ApplyResourceChange.Request
) -> pb.ApplyResourceChange.Response:
    diagnostics = Diagnostics()
    resource = resource_named(request.type_name, diagnostics)
    if resource is None:
        return pb.ApplyResourceChange.Response(diagnostics=diagnostics_to_proto(diagnostics))
    type_ = resource.schema.cty_type
    try:
        prior = decode_value(request.prior_state, type_, "prior state")
        planned = decode_value(request.planned_state, type_, "planned state")
    except ValueDecodeError as error:
        diagnostics.append(error.diagnostic)
        return pb.ApplyResourceChange.Response(diagnostics=diagnostics_to_proto(diagnostics))

    if prior is not None and not is_wholly_known(prior):
        diagnostics.error(
            "Invalid prior state received from Terraform",
            "The prior state holds unknown values, which Terraform never stores.",
        )
        return pb.ApplyResourceChange.Response(diagnostics=diagnostics_to_proto(diagnostics))
    client = session.client(diagnostics)
    if client is None:
        return pb.ApplyResourceChange.Response(
            new_state=encode_value(prior, type_), diagnostics=diagnostics_to_proto(diagnostics)
        )
    private = request.planned_private
    if planned is None and prior is None:
        new_state = None  # nothing existed and nothing is planned: nothing to do
    elif planned is None:
        resource.delete(client, prior, diagnostics)
        # A failed delete keeps the object in state so nothing is forgotten.
        new_state = prior if diagnostics.has_errors() else None
    elif prior is None:
        new_state = resource.create(client, planned, diagnostics)
        private = b""
    else:
        new_state = resource.update(client, prior, planned, diagnostics)
    return pb.ApplyResourceChange.Response(
        new_state=encode_value(new_state, type_),
        private=private,
        diagnostics=diagnostics_to_proto(diagnostics),
    )
