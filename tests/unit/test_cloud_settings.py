"""resolve_settings: where the API URL and token come from, and what is refused."""

from __future__ import annotations

import pytest

from terraform_provider_pulumiservice.cloud import (
    ClientSettings,
    InvalidSettingsError,
    MissingTokenError,
    resolve_settings,
)
from terraform_provider_pulumiservice.durations import format_duration, parse_duration
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics, Severity
from terraform_provider_pulumiservice.framework.path import AttributePath
from terraform_provider_pulumiservice.provider import PROVIDER_SCHEMA, configure_client


def test_provider_arguments_win_over_environment() -> None:
    environ = {"PULUMI_BACKEND_URL": "https://env.example", "PULUMI_ACCESS_TOKEN": "env-token"}
    resolved = resolve_settings("https://arg.example/", "arg-token", environ, "1.2.3")
    assert resolved.base_url == "https://arg.example"
    assert resolved.token == "arg-token"
    assert resolved.user_agent == "terraform-provider-pulumiservice/1.2.3"


def test_environment_is_used_when_arguments_are_unset_or_empty() -> None:
    environ = {"PULUMI_BACKEND_URL": "http://127.0.0.1:8080//", "PULUMI_ACCESS_TOKEN": "env-tok\n"}
    for api_url, token in [(None, None), ("", ""), ("  ", None)]:
        resolved = resolve_settings(api_url, token, environ, "0.1.0")
        assert resolved.base_url == "http://127.0.0.1:8080"
        assert resolved.token == "env-tok"


def test_default_api_url() -> None:
    resolved = resolve_settings(None, "t", {}, "0.1.0")
    assert resolved.base_url == "https://api.pulumi.com"


def test_defaults_match_the_documented_retry_budget() -> None:
    resolved = resolve_settings(None, "t", {}, "0.1.0")
    assert (resolved.timeout, resolved.max_attempts, resolved.retry_after_cap) == (30.0, 5, 30.0)
    assert resolved.operation_timeout == 120.0
    assert resolved.max_pages == 2000
    assert (resolved.backoff_base, resolved.backoff_cap) == (0.5, 8.0)


@pytest.mark.parametrize("token", [None, "", "   "])
def test_missing_token_names_both_ways_to_set_it(token: str | None) -> None:
    with pytest.raises(MissingTokenError) as caught:
        resolve_settings(None, token, {"PULUMI_ACCESS_TOKEN": ""}, "0.1.0")
    text = str(caught.value)
    assert "access_token" in text
    assert "PULUMI_ACCESS_TOKEN" in text


@pytest.mark.parametrize("url", ["file://~/state", "s3://bucket", "not a url", "https://"])
def test_non_http_backend_urls_are_refused_with_their_source(url: str) -> None:
    with pytest.raises(InvalidSettingsError) as caught:
        resolve_settings(None, "t", {"PULUMI_BACKEND_URL": url}, "0.1.0")
    assert "PULUMI_BACKEND_URL" in str(caught.value)
    with pytest.raises(InvalidSettingsError) as caught:
        resolve_settings(url, "t", {}, "0.1.0")
    assert "api_url" in str(caught.value)


def test_settings_repr_hides_the_token() -> None:
    resolved = resolve_settings(None, "super-secret-token", {}, "0.1.0")
    assert "super-secret-token" not in repr(resolved)
    assert "api.pulumi.com" in repr(resolved)


def test_settings_reject_a_zero_attempt_budget() -> None:
    with pytest.raises(ValueError):
        ClientSettings(base_url="https://x", token="t", user_agent="ua", max_attempts=0)


REFUSED_URLS = {
    "https://user:hunter2@api.example.com": "user name or password",
    "https://hunter2@api.example.com": "user name or password",
    "http://127.0.0.1:8080/?x=1": "query",
    "https://api.example.com?": "query",
    "https://api.example.com/#frag": "fragment",
    "ftp://api.example.com": "http:// or https://",
    "https://api.example.com:99999": "port",
    "https://api.example.com:abc": "port",
    "https://api.example.com:0": "port",
    "https://api.exa mple.com": "host",
    "https://-bad-.example.com": "host",
    "https://[::zz]": "not a valid URL",
}


@pytest.mark.parametrize("url", sorted(REFUSED_URLS))
def test_unusable_api_urls_are_refused_naming_the_argument_and_the_problem(url: str) -> None:
    with pytest.raises(InvalidSettingsError) as caught:
        resolve_settings(url, "t", {}, "0.1.0")
    text = str(caught.value)
    assert REFUSED_URLS[url] in text
    assert "`api_url` argument" in text
    assert caught.value.attribute == "api_url"
    assert "hunter2" not in text
    assert ".." not in text


def test_an_unusable_url_from_the_environment_names_the_variable_and_no_attribute() -> None:
    with pytest.raises(InvalidSettingsError) as caught:
        resolve_settings(None, "t", {"PULUMI_BACKEND_URL": "https://u:hunter2@h.example"}, "0")
    assert "PULUMI_BACKEND_URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert caught.value.attribute is None


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/prefix/",
        "http://localhost:8080",
        "http://[::1]:8080",
        "https://h.example:443",
    ],
)
def test_usable_api_urls_are_kept_without_a_trailing_slash(url: str) -> None:
    assert resolve_settings(url, "t", {}, "0").base_url == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "warns"),
    [
        ("http://api.example.com", True),
        ("http://10.0.0.5:8080", True),
        ("http://127.0.0.1:8080", False),
        ("http://localhost", False),
        ("http://[::1]", False),
        ("https://api.example.com", False),
    ],
)
def test_plain_http_to_another_machine_warns(url: str, warns: bool) -> None:
    warning = resolve_settings(url, "t", {}, "0").cleartext_warning
    assert (warning is not None) == warns
    if warning:
        assert url in warning and "unencrypted" in warning


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45s", 45.0), ("5m", 300.0), ("1m30s", 90.0), ("1.5h", 5400.0), ("500ms", 0.5), ("0", 0.0)],
)
def test_go_durations_are_parsed(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "45", "-5s", "5 m", "5d", "s", "1m30"])
def test_malformed_durations_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match='"45s"'):
        parse_duration(text)


def test_durations_are_formatted_for_messages() -> None:
    assert [format_duration(s) for s in (30, 120, 90, 0.5)] == ["30s", "2m0s", "1m30s", "0.5s"]


def test_timeouts_come_from_the_provider_arguments() -> None:
    resolved = resolve_settings(None, "t", {}, "0", request_timeout="45s", operation_timeout="5m")
    assert (resolved.request_timeout, resolved.operation_timeout) == (45.0, 300.0)


@pytest.mark.parametrize("name", ["request_timeout", "operation_timeout"])
@pytest.mark.parametrize("value", ["soon", "0s", "500ms"])
def test_bad_timeouts_are_refused_naming_the_attribute(name: str, value: str) -> None:
    with pytest.raises(InvalidSettingsError) as caught:
        resolve_settings(None, "t", {}, "0", **{name: value})
    assert caught.value.attribute == name
    assert f"`{name}`" in str(caught.value)


# -- the provider block ---------------------------------------------------------------------


def configure(environ: dict[str, str] | None = None, **config: object) -> Diagnostics:
    diagnostics = Diagnostics()
    values = dict.fromkeys(PROVIDER_SCHEMA.attributes)
    values.update(config)
    client = configure_client(values, diagnostics, environ or {"PULUMI_ACCESS_TOKEN": "t"})
    if client is not None:
        client.close()
    return diagnostics


def test_configure_points_a_refused_api_url_at_the_attribute() -> None:
    diagnostics = configure(api_url="https://u:hunter2@api.example.com")
    assert [d.severity for d in diagnostics] == [Severity.ERROR]
    assert diagnostics[0].path == AttributePath.root("api_url")
    assert "hunter2" not in diagnostics[0].detail


def test_configure_names_the_environment_variable_for_a_refused_environment_url() -> None:
    diagnostics = configure({"PULUMI_ACCESS_TOKEN": "t", "PULUMI_BACKEND_URL": "http://h/?q=1"})
    assert diagnostics[0].path is None
    assert "PULUMI_BACKEND_URL" in diagnostics[0].detail


def test_configure_warns_on_the_api_url_for_plain_http_to_another_host() -> None:
    diagnostics = configure(api_url="http://api.example.com")
    assert [d.severity for d in diagnostics] == [Severity.WARNING]
    assert diagnostics[0].path == AttributePath.root("api_url")


def test_configure_points_a_bad_timeout_at_its_attribute() -> None:
    diagnostics = configure(request_timeout="forever")
    assert diagnostics[0].severity is Severity.ERROR
    assert diagnostics[0].path == AttributePath.root("request_timeout")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("request_timeout", "5 minutes"),
        ("operation_timeout", "100ms"),
        ("api_url", "https://u:p@h"),
    ],
)
def test_provider_settings_are_checked_at_validate_time(name: str, value: str) -> None:
    diagnostics = Diagnostics()
    path = AttributePath.root(name)
    for validator in PROVIDER_SCHEMA.attributes[name].validators:
        validator.validate(value, path, diagnostics)
    assert [d.path for d in diagnostics] == [path]
    assert diagnostics[0].severity is Severity.ERROR
