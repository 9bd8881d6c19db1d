"""The tfplugin6 Provider gRPC service: one thin method per RPC.

Each method hands the request to its operation module and returns the operation's response; a
failure inside an operation becomes an error diagnostic (logged with its traceback on stderr),
never a broken RPC.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import grpc

from terraform_provider_pulumiservice._proto import tfplugin6_pb2 as pb
from terraform_provider_pulumiservice._proto import tfplugin6_pb2_grpc
from terraform_provider_pulumiservice.protocol import (
    apply,
    configure,
    import_state,
    plan,
    read,
    schema,
    upgrade,
    validate,
)
from terraform_provider_pulumiservice.protocol.session import ProviderSession

logger = logging.getLogger(__name__)


def _guarded(request: Any, operation: Callable[..., Any], *context: Any) -> Any:
    """Run ``operation(*context, request)``; a failure becomes an error diagnostic.

    The RPC's name and response type come from the request message (``tfplugin6.<RPC>.Request``).
    """
    rpc = request.DESCRIPTOR.containing_type.name
    started = time.perf_counter()
    try:
        return operation(*context, request)
    except Exception as error:  # noqa: BLE001 - any failure must reach the user as a diagnostic
        logger.exception("%s failed", rpc)
        diagnostic = pb.Diagnostic(
            severity=pb.Diagnostic.ERROR,
            summary="Internal provider error",
            detail=f"{rpc} failed unexpectedly ({type(error).__name__}: {error}). This is a bug "
            "in terraform-provider-pulumiservice; the provider log (TF_LOG_PROVIDER=DEBUG) has "
            "the details.",
        )
        return getattr(pb, rpc).Response(diagnostics=[diagnostic])
    finally:
        logger.debug("%s answered in %.1f ms", rpc, (time.perf_counter() - started) * 1000)


def _unsupported(what: str) -> pb.Diagnostic:
    return pb.Diagnostic(
        severity=pb.Diagnostic.ERROR,
        summary=f"{what} are not supported",
        detail=f"The pulumiservice provider has no {what.lower()}.",
    )


class ProviderServicer(tfplugin6_pb2_grpc.ProviderServicer):
    def __init__(self) -> None:
        self.session = ProviderSession()

    def stop_all(self) -> None:
        """Process shutdown: cancel in-flight API calls and release the client."""
        self.session.stop()
        self.session.close()

    def GetMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(request, schema.get_metadata)

    def GetProviderSchema(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(request, schema.get_provider_schema)

    def ValidateProviderConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(request, validate.validate_provider_config)

    def ValidateResourceConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(request, validate.validate_resource_config)

    def ValidateDataResourceConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(request, validate.validate_data_resource_config)

    def UpgradeResourceState(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(request, upgrade.upgrade_resource_state)

    def ConfigureProvider(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(request, configure.configure_provider, self.session)

    def ReadResource(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(request, read.read_resource, self.session)

    def PlanResourceChange(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(request, plan.plan_resource_change)

    def ApplyResourceChange(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(request, apply.apply_resource_change, self.session)

    def ImportResourceState(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(request, import_state.import_resource_state, self.session)

    def ReadDataSource(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _guarded(request, read.read_data_source, self.session)

    def MoveResourceState(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.MoveResourceState.Response(diagnostics=[_unsupported("Resource moves")])

    def ValidateEphemeralResourceConfig(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.ValidateEphemeralResourceConfig.Response(
            diagnostics=[_unsupported("Ephemeral resources")]
        )

    def OpenEphemeralResource(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.OpenEphemeralResource.Response(diagnostics=[_unsupported("Ephemeral resources")])

    def RenewEphemeralResource(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.RenewEphemeralResource.Response(diagnostics=[_unsupported("Ephemeral resources")])

    def CloseEphemeralResource(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.CloseEphemeralResource.Response(diagnostics=[_unsupported("Ephemeral resources")])

    def GetFunctions(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.GetFunctions.Response()

    def CallFunction(self, request: Any, context: grpc.ServicerContext) -> Any:
        return pb.CallFunction.Response(
            error=pb.FunctionError(text="The pulumiservice provider has no functions.")
        )

    def StopProvider(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.session.stop()
        return pb.StopProvider.Response()
