"""Pulumi Cloud API client used by the provider's resources (imported lazily, once configured).

Modules (import them directly; this package imports nothing, so importing it costs nothing):

- ``settings``: ClientSettings, resolve_settings, the api_url checks, duration parsing (no httpx)
- ``errors``: the error hierarchy (no httpx)
- ``retry``: the pure retry policy
- ``cancellation``: the stop latch
- ``transport``: the HTTP exchange with deadlines, retries and a worker pool (httpx)
- ``client``: CloudClient, the API operations (httpx)
- ``sse``: the Server-Sent Events parser (pure)
- ``jsonbody``: strict JSON decoding of API bodies (pure)

``from terraform_provider_pulumiservice.cloud import CloudClient`` (and the other names below)
still works: those names are loaded on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import CloudClient
    from .errors import (
        AmbiguousCreateError,
        ApiError,
        CancelledCreateError,
        CancelledError,
        CloudError,
        DeadlineExceededError,
        InvalidCreateResponseError,
        InvalidResponseError,
        InvalidSettingsError,
        MissingTokenError,
        NotFoundError,
        PaginationLimitError,
        TransportError,
    )
    from .settings import ClientSettings, resolve_settings

_HOMES = {
    "CloudClient": "client",
    "ClientSettings": "settings",
    "resolve_settings": "settings",
}
_ERRORS = (
    "AmbiguousCreateError",
    "ApiError",
    "CancelledCreateError",
    "CancelledError",
    "CloudError",
    "DeadlineExceededError",
    "InvalidCreateResponseError",
    "InvalidResponseError",
    "InvalidSettingsError",
    "MissingTokenError",
    "NotFoundError",
    "PaginationLimitError",
    "TransportError",
)

__all__ = [
    "AmbiguousCreateError",
    "ApiError",
    "CancelledCreateError",
    "CancelledError",
    "ClientSettings",
    "CloudClient",
    "CloudError",
    "DeadlineExceededError",
    "InvalidCreateResponseError",
    "InvalidResponseError",
    "InvalidSettingsError",
    "MissingTokenError",
    "NotFoundError",
    "PaginationLimitError",
    "TransportError",
    "resolve_settings",
]


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name) or ("errors" if name in _ERRORS else None)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
