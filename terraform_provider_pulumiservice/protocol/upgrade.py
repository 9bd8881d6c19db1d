"""UpgradeResourceState: stored JSON state → current schema (silent when nothing changed).

State written under an older schema version is first rewritten by the resource's own
`upgrade_state` (raw JSON in, raw JSON of the current version out), then decoded as usual.
"""

from __future__ import annotations

import json

from terraform_provider_pulumiservice._proto import tfplugin6_pb2 as pb
from terraform_provider_pulumiservice.cty import CtyError, decode_json
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.protocol.convert import (
    diagnostics_to_proto,
    encode_value,
    path_from_cty,
)
from terraform_provider_pulumiservice.provider import resource_named


def upgrade_resource_state(
    request: pb.UpgradeResourceState.Request,
) -> pb.UpgradeResourceState.Response:
    diagnostics = Diagnostics()
    resource = resource_named(request.type_name, diagnostics)
    if resource is None:
        return pb.UpgradeResourceState.Response(diagnostics=diagnostics_to_proto(diagnostics))
    schema = resource.schema
    if request.version > schema.version:
        diagnostics.error(
            "State written by a newer provider",
            f"The stored state has schema version {request.version}, but this provider only "
            f"knows version {schema.version}. Use the provider version that wrote it.",
        )
        return pb.UpgradeResourceState.Response(diagnostics=diagnostics_to_proto(diagnostics))
    raw = request.raw_state.json
    if not raw:
        diagnostics.error("Unsupported state", "Only JSON state can be upgraded.")
        return pb.UpgradeResourceState.Response(diagnostics=diagnostics_to_proto(diagnostics))
    try:
        if request.version < schema.version:
            stored = json.loads(raw)
            if not isinstance(stored, dict):
                raise CtyError("the stored state is not a JSON object")
            raw = json.dumps(resource.upgrade_state(request.version, stored)).encode()
        # Attributes added since the state was written start null; removed ones are dropped.
        state = decode_json(raw, schema.cty_type, ignore_extra_attributes=True)
    except (ValueError, RecursionError) as error:
        diagnostics.error("Invalid stored state", f"The state is not valid JSON: {error}.")
        return pb.UpgradeResourceState.Response(diagnostics=diagnostics_to_proto(diagnostics))
    except CtyError as error:
        path = path_from_cty(error.path) if error.path else None
        diagnostics.error(
            "Invalid stored state", f"The state could not be read: {error.message}", path
        )
        return pb.UpgradeResourceState.Response(diagnostics=diagnostics_to_proto(diagnostics))
    return pb.UpgradeResourceState.Response(
        upgraded_state=encode_value(state, schema.cty_type),
        diagnostics=diagnostics_to_proto(diagnostics),
    )
