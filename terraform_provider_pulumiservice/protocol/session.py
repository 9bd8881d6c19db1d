"""What one provider process remembers between RPCs: its configured API client."""

from __future__ import annotations

import threading
from typing import Any

from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics


class ProviderSession:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: Any = None
        self._stopped = False

    def set_client(self, client: Any) -> None:
        with self._lock:
            previous, self._client = self._client, client
        if previous is not None:
            previous.close()

    def client(self, diagnostics: Diagnostics) -> Any:
        """The configured client, or None with an error diagnostic."""
        with self._lock:
            client = self._client
        if client is None:
            diagnostics.error(
                "Provider not configured",
                "The pulumiservice provider has no configured Pulumi Cloud client; check the "
                "provider block and the errors reported when configuring it.",
            )
        return client

    def stop(self) -> None:
        """StopProvider: abort in-flight API calls; the process is about to be told to exit."""
        with self._lock:
            self._stopped = True
            client = self._client
        if client is not None:
            client.stop()

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
