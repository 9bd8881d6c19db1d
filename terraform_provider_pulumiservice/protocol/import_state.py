"""ImportResourceState: `terraform import`, `import {}` blocks and -generate-config-out."""

from __future__ import annotations

from terraform_provider_pulumiservice._proto import tfplugin6_pb2 as pb
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.planmodifiers import IMPORTED_MARKER
from terraform_provider_pulumiservice.protocol.convert import (
    diagnostics_to_proto,
    encode_value,
    private_to_bytes,
)
from terraform_provider_pulumiservice.protocol.session import ProviderSession
from terraform_provider_pulumiservice.provider import resource_named


def import_resource_state(
    session: ProviderSession, request: pb.ImportResourceState.Request
) -> pb.ImportResourceState.Response:
    diagnostics = Diagnostics()
    resource = resource_named(request.type_name, diagnostics)
    if resource is None:
        return pb.ImportResourceState.Response(diagnostics=diagnostics_to_proto(diagnostics))
    client = session.client(diagnostics)
    state = None if client is None else resource.import_state(client, request.id, diagnostics)
    imported = []
    if state is not None and not diagnostics.has_errors():
        imported.append(
            pb.ImportResourceState.ImportedResource(
                type_name=request.type_name,
                state=encode_value(state, resource.schema.cty_type),
                # Lets RequiresReplace accept config for inputs the API never returns.
                private=private_to_bytes({IMPORTED_MARKER: True}),
            )
        )
    return pb.ImportResourceState.Response(
        imported_resources=imported, diagnostics=diagnostics_to_proto(diagnostics)
    )
