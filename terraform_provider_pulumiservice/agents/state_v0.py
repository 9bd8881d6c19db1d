"""State written under schema version 0 (v0.1.0), rewritten into version 1.

Version 0 typed the free-form shapes as `dynamic`, which Terraform stores in JSON state as
`{"value": ..., "type": ...}` pairs: `message` (a string, or an object with `content`),
`created_by`, and the elements of `entities`, `cli_integrations` (`{catalogId, name}` objects)
and `enabled_integrations` (bare id strings or `{id}` objects). Version 1 holds them typed, with
snake_case keys. Attributes version 1 added are left out, so they start null.
"""

from __future__ import annotations

from typing import Any

from terraform_provider_pulumiservice.agents.fields import created_by_from_api, entity_from_api


def _dynamic_value(stored: Any) -> Any:
    """The value of a stored dynamic `{value, type}` pair (anything else as it is)."""
    if isinstance(stored, dict) and set(stored) == {"value", "type"}:
        return stored["value"]
    return stored


def _message(stored: Any) -> str | None:
    value = _dynamic_value(stored)
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def _cli_integrations(stored: Any) -> list[dict[str, Any]] | None:
    if not isinstance(stored, list):
        return None
    entries = []
    for element in stored:
        value = _dynamic_value(element)
        if isinstance(value, dict):
            entries.append({"catalog_id": value.get("catalogId"), "name": value.get("name")})
    return entries


def _enabled_integrations(stored: Any) -> list[str] | None:
    if not isinstance(stored, list):
        return None
    ids = []
    for element in stored:
        value = _dynamic_value(element)
        if isinstance(value, dict):
            value = value.get("id")
        if isinstance(value, str):
            ids.append(value)
    return ids


def _entities(stored: Any) -> list[dict[str, Any]] | None:
    if not isinstance(stored, list):
        return None
    flat = (entity_from_api(_dynamic_value(element)) for element in stored)
    return [entity for entity in flat if entity is not None]


def upgrade_v0_attributes(stored: dict[str, Any]) -> dict[str, Any]:
    upgraded = dict(stored)
    upgraded["message"] = _message(stored.get("message"))
    upgraded["created_by"] = created_by_from_api(_dynamic_value(stored.get("created_by")))
    upgraded["entities"] = _entities(stored.get("entities"))
    upgraded["cli_integrations"] = _cli_integrations(stored.get("cli_integrations"))
    upgraded["enabled_integrations"] = _enabled_integrations(stored.get("enabled_integrations"))
    return upgraded
