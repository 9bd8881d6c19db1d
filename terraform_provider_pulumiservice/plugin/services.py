"""go-plugin's own gRPC services, served next to tfplugin6.Provider."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from terraform_provider_pulumiservice._proto import (
    grpc_broker_pb2_grpc,
    grpc_controller_pb2,
    grpc_controller_pb2_grpc,
    grpc_stdio_pb2_grpc,
)

logger = logging.getLogger(__name__)


def _wait_until_rpc_ends(context: grpc.ServicerContext) -> None:
    ended = threading.Event()
    if context.add_callback(ended.set):
        ended.wait()


class Controller(grpc_controller_pb2_grpc.GRPCControllerServicer):
    """``Shutdown`` is how Terraform closes a provider; ``on_shutdown`` runs once the reply is
    sent (Terraform SIGKILLs the process if it is still alive 2 s later)."""

    def __init__(self, on_shutdown: Callable[[], None]) -> None:
        self._on_shutdown = on_shutdown

    def Shutdown(  # noqa: N802 - gRPC method name
        self, request: Any, context: grpc.ServicerContext
    ) -> Any:
        logger.debug("shutdown requested by the client")
        if not context.add_callback(self._on_shutdown):
            self._on_shutdown()
        return grpc_controller_pb2.Empty()


class Stdio(grpc_stdio_pb2_grpc.GRPCStdioServicer):
    """We never forward stdout/stderr over gRPC (logs go to stderr directly), so the stream
    stays open and silent until the client leaves."""

    def StreamStdio(  # noqa: N802 - gRPC method name
        self, request: Any, context: grpc.ServicerContext
    ) -> Iterator[Any]:
        _wait_until_rpc_ends(context)
        return iter(())


class Broker(grpc_broker_pb2_grpc.GRPCBrokerServicer):
    """Terraform's providers use no brokered connections; accept the stream and ignore it."""

    def StartStream(  # noqa: N802 - gRPC method name
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        for connection_info in request_iterator:
            logger.debug("ignoring a broker request for service %d", connection_info.service_id)
        return iter(())


def add_plugin_services(server: grpc.Server, on_shutdown: Callable[[], None]) -> None:
    controller = Controller(on_shutdown)
    # The generated registration functions carry no annotations.
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(  # type: ignore[no-untyped-call]
        controller, server
    )
    grpc_stdio_pb2_grpc.add_GRPCStdioServicer_to_server(Stdio(), server)  # type: ignore[no-untyped-call]
    grpc_broker_pb2_grpc.add_GRPCBrokerServicer_to_server(Broker(), server)  # type: ignore[no-untyped-call]
