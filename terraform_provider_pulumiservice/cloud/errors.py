"""Errors raised by the Pulumi Cloud API client.

Every error's ``str()`` is one readable paragraph meant for a Terraform diagnostic. Messages are
built from data the client chose to include; the access token is never part of them (the client
also scrubs it from anything the server echoes back).
"""

from __future__ import annotations


class CloudError(Exception):
    """Base class for everything the Pulumi Cloud client raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.detail = message

    def __str__(self) -> str:
        return self.detail


class MissingTokenError(CloudError):
    """No access token was configured."""

    def __init__(self) -> None:
        super().__init__(
            "No Pulumi Cloud access token is configured. Set the provider's `access_token` "
            "argument, or set the PULUMI_ACCESS_TOKEN environment variable for the terraform "
            "process."
        )


class InvalidSettingsError(CloudError):
    """A configured setting (such as the API URL) cannot be used."""


class ApiError(CloudError):
    """Pulumi Cloud answered with an HTTP error status and the client gave up."""

    def __init__(
        self,
        *,
        status: int,
        message: str,
        request_id: str | None,
        method: str,
        path: str,
        attempts: int = 1,
    ) -> None:
        self.status = status
        self.message = message
        self.request_id = request_id
        self.method = method
        self.path = path
        self.attempts = attempts
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"Pulumi Cloud API request {self.method} {self.path} failed with HTTP {self.status}"
        if self.message:
            text += f": {self.message}"
        if not text.endswith("."):
            text += "."
        if self.attempts > 1:
            text += f" Gave up after {self.attempts} attempts."
        if self.request_id:
            text += f" (Pulumi request ID: {self.request_id})"
        return text


class NotFoundError(ApiError):
    """The API answered 404: the task (or organization) does not exist or is not visible."""


class TransportError(CloudError):
    """The API could not be reached (connection errors or timeouts) after all retries."""

    def __init__(self, *, method: str, path: str, reason: str, attempts: int) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        self.attempts = attempts
        plural = "attempt" if attempts == 1 else "attempts"
        super().__init__(
            f"Could not reach Pulumi Cloud for {method} {path} after {attempts} {plural}: "
            f"{reason}. Check network connectivity and the provider's API URL."
        )


class CancelledError(CloudError):
    """The provider was asked to stop (StopProvider) while, or before, this request ran."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "The request to Pulumi Cloud was cancelled because Terraform asked the provider "
            "to stop."
        )


def _ambiguous_create_text(org: str, reason: str, request_id: str | None) -> str:
    text = (
        f"Creating an agent task in Pulumi Cloud organization {org!r} may have succeeded, but "
        f"the provider could not confirm it ({reason}). A task may now exist that Terraform "
        "does not track. The provider did not retry, to avoid creating a second task. List "
        f"the organization's tasks (in the Pulumi Cloud console, or GET "
        f"/api/preview/agents/{org}/tasks) to find it; then either adopt it with "
        f"`terraform import <resource address> {org}/<taskID>` or cancel it and apply again."
    )
    if request_id:
        text += f" (Pulumi request ID: {request_id})"
    return text


class AmbiguousCreateError(CloudError):
    """A create request may have been acted on, but its outcome is unknown.

    Raised for a 5xx answer, a timeout or a dropped connection after the request was sent, or a
    success answer without a task id. The client never retries these, so one resource can never
    produce two tasks.
    """

    def __init__(
        self,
        *,
        org: str,
        reason: str,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        self.org = org
        self.reason = reason
        self.status = status
        self.request_id = request_id
        super().__init__(_ambiguous_create_text(org, reason, request_id))


class CancelledCreateError(AmbiguousCreateError, CancelledError):
    """StopProvider interrupted a create request that may already have reached the server."""

    def __init__(self, *, org: str) -> None:
        AmbiguousCreateError.__init__(
            self, org=org, reason="Terraform asked the provider to stop while the request ran"
        )
