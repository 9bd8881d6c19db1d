"""Errors raised by the Pulumi Cloud API client.

Every error's ``str()`` is one readable paragraph meant for a Terraform diagnostic. Messages are
built from data the client chose to include; the access token is never part of them (the client
also scrubs it from anything the server echoes back), and no message ends in "..".

Hierarchy::

    CloudError                      anything the client raises
     ├── MissingTokenError          no access token configured
     ├── InvalidSettingsError       a setting (api_url, a timeout) cannot be used
     ├── ApiError                   the API answered an HTTP error status and the client gave up
     │    └── NotFoundError         ... 404: the task (or organization) does not exist
     ├── TransportError             the API could not be reached, or did not answer in time
     ├── DeadlineExceededError      an operation's time budget (or a caller's deadline) ran out
     ├── InvalidResponseError       a 2xx answer whose body the client cannot use
     ├── PaginationLimitError       a listing hit its page or time budget
     ├── CancelledError             StopProvider: the request was cancelled
     └── AmbiguousCreateError       a create may have happened; the outcome is unknown
          ├── CancelledCreateError  ... because StopProvider interrupted it (also a CancelledError)
          └── InvalidCreateResponseError
                                    ... because its 2xx answer had no usable task id
                                        (also an InvalidResponseError)
"""

from __future__ import annotations


def _sentence(text: str) -> str:
    """End ``text`` with exactly one full stop (never ".." after a message that has its own)."""
    text = text.rstrip()
    while text.endswith(".."):
        text = text[:-1]
    return text if text.endswith((".", "!", "?")) else text + "."


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
    """A configured setting (such as the API URL) cannot be used.

    ``attribute`` is the provider argument at fault when the value came from the configuration,
    None when it came from an environment variable (the message then names the variable).
    """

    def __init__(self, message: str, *, attribute: str | None = None) -> None:
        super().__init__(message)
        self.attribute = attribute


def _where(url: str | None, source: str | None) -> str:
    if not url:
        return ""
    return f" at {url} (from {source})" if source else f" at {url}"


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
        base_url: str | None = None,
        url_source: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.request_id = request_id
        self.method = method
        self.path = path
        self.attempts = attempts
        self.base_url = base_url
        self.url_source = url_source
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = (
            f"Pulumi Cloud API request {self.method} {self.path}"
            f"{_where(self.base_url, self.url_source)} failed with HTTP {self.status}"
        )
        if self.message:
            text += f": {self.message}"
        text = _sentence(text)
        if self.attempts > 1:
            text += f" Gave up after {self.attempts} attempts."
        if self.request_id:
            text += f" (Pulumi request ID: {self.request_id})"
        return text


class NotFoundError(ApiError):
    """The API answered 404: the task (or organization) does not exist or is not visible."""


class TransportError(CloudError):
    """The API could not be reached (connection errors or timeouts) after all retries."""

    def __init__(
        self,
        *,
        method: str,
        path: str,
        reason: str,
        attempts: int,
        base_url: str | None = None,
        url_source: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        self.attempts = attempts
        self.base_url = base_url
        self.url_source = url_source
        plural = "attempt" if attempts == 1 else "attempts"
        text = _sentence(
            f"Could not reach Pulumi Cloud{_where(base_url, url_source)} for {method} {path} "
            f"after {attempts} {plural}: {reason}"
        )
        super().__init__(text + " Check network connectivity and the API URL.")


class DeadlineExceededError(CloudError):
    """An operation's time budget, or the deadline a caller gave, ran out.

    ``last_failure`` is the reason of the last failed attempt, if there was one.
    """

    def __init__(self, message: str, *, last_failure: str | None = None) -> None:
        super().__init__(message)
        self.last_failure = last_failure


class InvalidResponseError(CloudError):
    """A success (2xx) answer whose body the client cannot use: not JSON, NaN or Infinity,
    nested too deep, the wrong type, or missing a required field."""

    def __init__(
        self,
        *,
        operation: str,
        method: str,
        url: str,
        status: int,
        request_id: str | None,
        problem: str,
    ) -> None:
        self.operation = operation
        self.method = method
        self.url = url
        self.status: int | None = status
        self.request_id = request_id
        self.problem = problem
        text = _sentence(
            f"Pulumi Cloud answered {operation} ({method} {url}) with HTTP {status}, but the "
            f"answer cannot be used: {problem}"
        )
        text += f" (Pulumi request ID: {request_id or 'none'})"
        super().__init__(text)


class PaginationLimitError(CloudError):
    """A listing did not end within its page or time budget (a server that keeps returning new
    continuation tokens)."""


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
        f"the provider could not confirm it ({reason.rstrip('.')}). A task may now exist that "
        "Terraform does not track. The provider did not retry, to avoid creating a second task. "
        f"List the organization's tasks (in the Pulumi Cloud console, or GET "
        f"/api/preview/agents/{org}/tasks) to find it; then either adopt it with "
        f"`terraform import <resource address> {org}/<taskID>` or cancel it and apply again."
    )
    if request_id:
        text += f" (Pulumi request ID: {request_id})"
    return text


class AmbiguousCreateError(CloudError):
    """A create request may have been acted on, but its outcome is unknown.

    Raised for a 5xx answer, a timeout (including the request deadline) or a dropped connection
    after the request was sent, or a success answer without a usable task id. The client never
    retries these, so one resource can never produce two tasks.
    """

    def __init__(
        self,
        *,
        org: str,
        reason: str,
        status: int | None = None,
        request_id: str | None = None,
        message: str | None = None,
    ) -> None:
        self.org = org
        self.reason = reason
        self.status = status
        self.request_id = request_id
        CloudError.__init__(self, message or _ambiguous_create_text(org, reason, request_id))


class CancelledCreateError(AmbiguousCreateError, CancelledError):
    """StopProvider interrupted a create.

    Without ``task_id`` the request may or may not have reached the server (the text is the
    ambiguous-create one, with the import hint). With ``task_id`` the task was created and the
    resource layer records it in state tainted: the text says that the next apply replaces it
    and how to keep it instead.
    """

    def __init__(self, *, org: str, task_id: str | None = None) -> None:
        reason = "Terraform asked the provider to stop while the request ran"
        message = None
        if task_id:
            message = (
                f"Terraform asked the provider to stop while agent task {org}/{task_id} was "
                "being created. The task exists and is recorded in state as tainted, so the "
                "next `terraform apply` will replace it: it cancels this task and creates a new "
                "one. To keep this task instead, run `terraform untaint <resource address>` "
                "before the next apply."
            )
        AmbiguousCreateError.__init__(self, org=org, reason=reason, message=message)
        self.task_id = task_id


class InvalidCreateResponseError(AmbiguousCreateError, InvalidResponseError):
    """The create was answered 2xx, but without a usable task id: a task may exist."""

    def __init__(
        self,
        *,
        org: str,
        method: str,
        url: str,
        status: int,
        request_id: str | None,
        problem: str,
    ) -> None:
        InvalidResponseError.__init__(
            self,
            operation="create task",
            method=method,
            url=url,
            status=status,
            request_id=request_id,
            problem=problem,
        )
        reason = f"Pulumi Cloud answered {method} {url} with HTTP {status}, but {problem}"
        AmbiguousCreateError.__init__(
            self,
            org=org,
            reason=reason,
            status=status,
            request_id=request_id,
            message=_ambiguous_create_text(org, reason, request_id or "none"),
        )
