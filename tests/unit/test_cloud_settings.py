"""resolve_settings: where the API URL and token come from, and what is refused."""

from __future__ import annotations

import pytest

from terraform_provider_pulumiservice.cloud import (
    ClientSettings,
    InvalidSettingsError,
    MissingTokenError,
    resolve_settings,
)


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
