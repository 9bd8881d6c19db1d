"""Pulumi Cloud API client used by the provider's resources (imported lazily, once configured)."""

from .client import ClientSettings, CloudClient, resolve_settings
from .errors import (
    AmbiguousCreateError,
    ApiError,
    CancelledCreateError,
    CancelledError,
    CloudError,
    InvalidSettingsError,
    MissingTokenError,
    NotFoundError,
    TransportError,
)

__all__ = [
    "AmbiguousCreateError",
    "ApiError",
    "CancelledCreateError",
    "CancelledError",
    "ClientSettings",
    "CloudClient",
    "CloudError",
    "InvalidSettingsError",
    "MissingTokenError",
    "NotFoundError",
    "TransportError",
    "resolve_settings",
]
