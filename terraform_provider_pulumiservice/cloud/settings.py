"""Client settings: where the API is, the token, and the time budgets; and the checks on them.

Pure standard library (no httpx), so the provider can validate its configuration without
importing the HTTP stack.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit, urlunsplit

from terraform_provider_pulumiservice.durations import parse_duration

from .errors import InvalidSettingsError, MissingTokenError

DEFAULT_API_URL = "https://api.pulumi.com"
API_URL_ENV = "PULUMI_BACKEND_URL"
ACCESS_TOKEN_ENV = "PULUMI_ACCESS_TOKEN"
USER_AGENT_PRODUCT = "terraform-provider-pulumiservice"

# Where a URL came from, as the messages name it.
SOURCE_ARGUMENT = "the provider's `api_url` argument"
SOURCE_ENV = f"the {API_URL_ENV} environment variable"
SOURCE_DEFAULT = "the default"
SOURCE_SETTINGS = "the client settings"

# One request (connect, send, the whole answer) and one operation (every attempt and wait).
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_OPERATION_TIMEOUT = 120.0
CONNECT_TIMEOUT = 10.0
# A listing stops after this many pages, or when the operation budget is spent.
DEFAULT_MAX_PAGES = 2_000
# A single answer larger than this is refused (no task or page comes near it).
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class ClientSettings:
    """Everything needed to talk to one Pulumi Cloud API endpoint.

    ``base_url`` is checked on construction (see :func:`check_api_url`); ``url_source`` says where
    it came from, for messages.
    """

    base_url: str
    # Kept out of repr so settings can be logged or shown in tracebacks safely.
    token: str = field(repr=False)
    user_agent: str
    url_source: str = SOURCE_SETTINGS
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    operation_timeout: float = DEFAULT_OPERATION_TIMEOUT
    connect_timeout: float = CONNECT_TIMEOUT
    max_attempts: int = 5
    retry_after_cap: float = 30.0
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    max_pages: int = DEFAULT_MAX_PAGES
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        for name in ("request_timeout", "operation_timeout", "connect_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.max_pages < 1 or self.max_response_bytes < 1:
            raise ValueError("max_pages and max_response_bytes must be positive")
        check_api_url(self.base_url, self.url_source)

    @property
    def timeout(self) -> float:
        """The per-request deadline (the name v0.1.0 used)."""
        return self.request_timeout

    @property
    def cleartext_warning(self) -> str | None:
        """A warning when the token would travel unencrypted to another machine, else None."""
        parts = urlsplit(self.base_url)
        if parts.scheme != "http" or _is_loopback(parts.hostname or ""):
            return None
        return (
            f"The Pulumi Cloud API URL {self.base_url} (from {self.url_source}) uses plain "
            "http:// to a host that is not this machine, so the access token is sent "
            "unencrypted. Use an https:// URL."
        )


def resolve_settings(
    api_url: str | None,
    access_token: str | None,
    environ: Mapping[str, str],
    version: str,
    *,
    request_timeout: str | None = None,
    operation_timeout: str | None = None,
) -> ClientSettings:
    """Combine provider configuration and environment into client settings.

    Explicit provider arguments win over the environment; empty strings count as unset. The
    timeouts are Go duration strings ("45s", "5m", "1m30s"). Raises InvalidSettingsError (its
    ``attribute`` names the provider argument at fault, or is None for an environment variable)
    or MissingTokenError.
    """
    if api_url and api_url.strip():
        base_url, source, attribute = api_url.strip(), SOURCE_ARGUMENT, "api_url"
    elif environ.get(API_URL_ENV, "").strip():
        base_url, source, attribute = environ[API_URL_ENV].strip(), SOURCE_ENV, None
    else:
        base_url, source, attribute = DEFAULT_API_URL, SOURCE_DEFAULT, None
    try:
        base_url = check_api_url(base_url, source)
    except InvalidSettingsError as error:
        raise InvalidSettingsError(str(error), attribute=attribute) from None

    request = _duration_setting("request_timeout", request_timeout, DEFAULT_REQUEST_TIMEOUT)
    operation = _duration_setting("operation_timeout", operation_timeout, DEFAULT_OPERATION_TIMEOUT)

    token = (access_token or "").strip() or environ.get(ACCESS_TOKEN_ENV, "").strip()
    if not token:
        raise MissingTokenError()
    return ClientSettings(
        base_url=base_url,
        token=token,
        user_agent=f"{USER_AGENT_PRODUCT}/{version}",
        url_source=source,
        request_timeout=request,
        operation_timeout=operation,
    )


def _duration_setting(name: str, text: str | None, default: float) -> float:
    if text is None or not text.strip():
        return default
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        raise InvalidSettingsError(f"`{name}`: {error}", attribute=name) from None
    if seconds < 1:
        raise InvalidSettingsError(
            f"`{name}` must be at least 1s; got {text.strip()!r}.", attribute=name
        )
    return seconds


def check_api_url(url: str, source: str) -> str:
    """The normalized API base URL (no trailing slash), or InvalidSettingsError naming ``source``.

    Refused: anything but http/https (PULUMI_BACKEND_URL may name a self-managed backend such as
    file:// or s3://, which has no agent-task API), userinfo (credentials belong in the token;
    httpx would turn them into Basic auth replacing it), a query or fragment (they would end up
    in the middle of every request path), and a missing or invalid host or port. The password
    of a refused URL is never repeated in the message.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError as error:
        raise _invalid(text, source, f"it is not a valid URL ({error})") from None
    shown = _display(parts, text)
    if parts.scheme not in ("http", "https"):
        raise _invalid(
            shown,
            source,
            "it must be an http:// or https:// URL of a Pulumi Cloud API, such as "
            f"{DEFAULT_API_URL}",
        )
    if "@" in parts.netloc:
        raise _invalid(
            shown,
            source,
            "it must not contain a user name or password; the access token is the only "
            "credential, set in `access_token` or PULUMI_ACCESS_TOKEN",
        )
    if parts.query or text.endswith("?"):
        raise _invalid(shown, source, "it must not contain a query (a `?` part)")
    if parts.fragment or "#" in text:
        raise _invalid(shown, source, "it must not contain a fragment (a `#` part)")
    host = parts.hostname or ""
    if not host or not _valid_host(host, parts.netloc):
        raise _invalid(shown, source, "it has no valid host name")
    try:
        port = parts.port
    except ValueError:
        raise _invalid(shown, source, "its port is not a number between 1 and 65535") from None
    if port == 0 or (parts.netloc.endswith(":") and port is None):
        raise _invalid(shown, source, "its port is not a number between 1 and 65535")
    if any(ch.isspace() for ch in text):
        raise _invalid(shown, source, "it must not contain spaces")
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, "", ""))


_HOST_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


def _valid_host(host: str, netloc: str) -> bool:
    if netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return False
        return True
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _display(parts: SplitResult, text: str) -> str:
    """The URL for a message, with any user name and password replaced."""
    if "@" not in parts.netloc:
        return text
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"<redacted>@{host}", parts.path, parts.query, ""))


def _invalid(url: str, source: str, problem: str) -> InvalidSettingsError:
    return InvalidSettingsError(
        f"The Pulumi Cloud API URL {url!r} from {source} cannot be used: {problem}."
    )
