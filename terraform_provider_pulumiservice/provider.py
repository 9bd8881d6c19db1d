"""The provider: its configuration block, and the resources and data sources it serves."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from terraform_provider_pulumiservice.cty import STRING, Unknown
from terraform_provider_pulumiservice.data_sources.api_agents_task import AgentsTaskDataSource
from terraform_provider_pulumiservice.data_sources.api_agents_task_events import (
    AgentsTaskEventsDataSource,
)
from terraform_provider_pulumiservice.data_sources.api_agents_tasks import AgentsTasksDataSource
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.path import AttributePath
from terraform_provider_pulumiservice.framework.resource import DataSource, Resource
from terraform_provider_pulumiservice.framework.schema import Attribute, Schema
from terraform_provider_pulumiservice.framework.validators import Duration
from terraform_provider_pulumiservice.resources.api_agents_task import AgentsTaskResource

if TYPE_CHECKING:
    from terraform_provider_pulumiservice.cloud.client import CloudClient


class _ApiUrlSetting:
    """An http(s) URL without credentials, query or fragment."""

    description = "An http:// or https:// URL without user name, password, query or fragment."

    def validate(self, value: Any, path: AttributePath, diagnostics: Diagnostics) -> None:
        from terraform_provider_pulumiservice.cloud.errors import InvalidSettingsError
        from terraform_provider_pulumiservice.cloud.settings import SOURCE_ARGUMENT, check_api_url

        if not isinstance(value, str) or not value.strip():
            return
        try:
            check_api_url(value, SOURCE_ARGUMENT)
        except InvalidSettingsError as error:
            diagnostics.error("Invalid Pulumi Cloud API URL", str(error), path)


PROVIDER_SCHEMA = Schema(
    description="Manages Pulumi Cloud agent tasks (Pulumi Neo) through the Pulumi Cloud REST API.",
    attributes={
        "access_token": Attribute(
            STRING,
            "A Pulumi Cloud access token. Defaults to the `PULUMI_ACCESS_TOKEN` environment "
            "variable.",
            optional=True,
            sensitive=True,
        ),
        "api_url": Attribute(
            STRING,
            "The Pulumi Cloud API's base URL, optionally with a path prefix "
            "(`https://host/prefix`). Defaults to the `PULUMI_BACKEND_URL` environment "
            "variable, then `https://api.pulumi.com`. Must be http:// or https:// without a "
            "user name, password, query or fragment; plain http:// to another machine gets a "
            "warning, since the token would travel unencrypted.",
            optional=True,
            validators=(_ApiUrlSetting(),),
        ),
        "request_timeout": Attribute(
            STRING,
            "The longest one API request may take, from connecting to the last byte of the "
            'answer, as a duration such as `"45s"`. Defaults to `"30s"`.',
            optional=True,
            validators=(Duration(),),
        ),
        "operation_timeout": Attribute(
            STRING,
            "The longest one API operation may take, every retry and wait included (a whole "
            'listing counts as one operation), as a duration such as `"5m"`. Defaults to '
            '`"2m"`.',
            optional=True,
            validators=(Duration(),),
        ),
    },
)

RESOURCES: dict[str, Resource] = {r.type_name: r for r in (AgentsTaskResource(),)}
DATA_SOURCES: dict[str, DataSource] = {
    d.type_name: d
    for d in (AgentsTaskDataSource(), AgentsTasksDataSource(), AgentsTaskEventsDataSource())
}


def resource_named(type_name: str, diagnostics: Diagnostics) -> Resource | None:
    resource = RESOURCES.get(type_name)
    if resource is None:
        diagnostics.error("Unknown resource type", f"This provider has no {type_name!r}.")
    return resource


def data_source_named(type_name: str, diagnostics: Diagnostics) -> DataSource | None:
    data_source = DATA_SOURCES.get(type_name)
    if data_source is None:
        diagnostics.error("Unknown data source", f"This provider has no {type_name!r}.")
    return data_source


_SETTINGS = ("access_token", "api_url", "request_timeout", "operation_timeout")


def configure_client(
    config: Mapping[str, Any], diagnostics: Diagnostics, environ: Mapping[str, str] | None = None
) -> CloudClient | None:
    """Builds the one pooled API client this provider instance uses."""
    from terraform_provider_pulumiservice import _version
    from terraform_provider_pulumiservice.cloud.client import CloudClient, resolve_settings
    from terraform_provider_pulumiservice.cloud.errors import (
        InvalidSettingsError,
        MissingTokenError,
    )

    for name in _SETTINGS:
        if isinstance(config.get(name), Unknown):
            diagnostics.error(
                "Provider configuration is not known yet",
                f"`{name}` depends on a value known only after apply; set it to a value known "
                "at plan time.",
                AttributePath.root(name),
            )
            return None
    try:
        settings = resolve_settings(
            config.get("api_url"),
            config.get("access_token"),
            os.environ if environ is None else environ,
            _version.VERSION,
            request_timeout=config.get("request_timeout"),
            operation_timeout=config.get("operation_timeout"),
        )
    except MissingTokenError as error:
        diagnostics.error(
            "Missing Pulumi Cloud access token", str(error), AttributePath.root("access_token")
        )
        return None
    except InvalidSettingsError as error:
        attribute = error.attribute
        summary = (
            "Invalid Pulumi Cloud API URL"
            if attribute in (None, "api_url")
            else "Invalid provider setting"
        )
        path = AttributePath.root(attribute) if attribute else None
        diagnostics.error(summary, str(error), path)
        return None
    warning = settings.cleartext_warning
    if warning:
        from_config = settings.url_source.endswith("`api_url` argument")
        diagnostics.warning(
            "Access token sent unencrypted",
            warning,
            AttributePath.root("api_url") if from_config else None,
        )
    return CloudClient(settings)
