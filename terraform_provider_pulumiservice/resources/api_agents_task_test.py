"""Unit tests of the agent task resource: request bodies, validation and planning."""

from __future__ import annotations

import datetime
from typing import Any

from terraform_provider_pulumiservice.cty import (
    STRING,
    UNKNOWN,
    Object,
    TypedValue,
    infer_typed_value,
)
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.path import AttributePath
from terraform_provider_pulumiservice.framework.planmodifiers import IMPORTED_MARKER
from terraform_provider_pulumiservice.protocol.plan import plan_object
from terraform_provider_pulumiservice.protocol.validate import validate_attributes
from terraform_provider_pulumiservice.resources.agents_task_model import unify_elements
from terraform_provider_pulumiservice.resources.api_agents_task import (
    SCHEMA,
    AgentsTaskResource,
    create_request_body,
)

NOW = datetime.datetime(2026, 11, 30, 12, 0, 0, tzinfo=datetime.UTC)


def config(**values: Any) -> dict[str, Any]:
    base = SCHEMA.null_object()
    base.update(values)
    return base


def dyn(value: Any) -> TypedValue:
    return infer_typed_value(value)


def test_body_holds_only_set_inputs_and_defaults_message_fields() -> None:
    body = create_request_body(
        config(org_name="acme", message=dyn("fix the stack"), approval_mode="auto"), NOW
    )
    assert body == {
        "message": {
            "content": "fix the stack",
            "type": "user_message",
            "timestamp": "2026-11-30T12:00:00Z",
        },
        "approvalMode": "auto",
    }


def test_body_keeps_a_given_message_type_and_timestamp() -> None:
    message = dyn({"content": "x", "type": "user_message", "timestamp": "2020-01-01T00:00:00Z"})
    body = create_request_body(config(org_name="acme", message=message), NOW)
    assert body["message"]["timestamp"] == "2020-01-01T00:00:00Z"


def test_null_empty_and_populated_integration_lists_reach_the_body_distinctly() -> None:
    assert "cliIntegrations" not in create_request_body(config(org_name="a"), NOW)
    assert (
        create_request_body(config(org_name="a", cli_integrations=[]), NOW)["cliIntegrations"] == []
    )
    entry = dyn({"catalogId": "aws", "name": "default"})
    assert create_request_body(config(org_name="a", cli_integrations=[entry]), NOW)[
        "cliIntegrations"
    ] == [{"catalogId": "aws", "name": "default"}]
    enabled = [dyn("datadog"), dyn("honeycomb")]
    assert create_request_body(config(org_name="a", enabled_integrations=enabled), NOW)[
        "enabledIntegrations"
    ] == [{"id": "datadog"}, {"id": "honeycomb"}]
    assert (
        create_request_body(config(org_name="a", enabled_integrations=[]), NOW)[
            "enabledIntegrations"
        ]
        == []
    )


def validate(**values: Any) -> Diagnostics:
    diagnostics = Diagnostics()
    validate_attributes(SCHEMA, config(org_name="acme", **values), diagnostics)
    return diagnostics


def test_enum_errors_point_at_the_attribute() -> None:
    diagnostics = validate(approval_mode="sometimes", source="fax")
    assert [str(d.path) for d in diagnostics] == ["approval_mode", "source"]
    assert "manual, auto, balanced" in diagnostics[0].detail


def test_message_needs_non_empty_content_and_user_message_type() -> None:
    diagnostics = validate(message=dyn({"content": "", "type": "assistant"}))
    assert [str(d.path) for d in diagnostics] == ['message["content"]', 'message["type"]']
    assert not validate(message=dyn("do it"))
    assert not validate(message=TypedValue(Object({"content": STRING}), {"content": UNKNOWN}))
    assert [str(d.path) for d in validate(message=dyn(["a list"]))] == ["message"]


def test_integration_entries_are_checked_per_element() -> None:
    diagnostics = validate(
        cli_integrations=[dyn({"catalogId": "aws", "name": "x"}), dyn({"catalogId": "gcp"})],
        enabled_integrations=[dyn({"name": "datadog"})],
    )
    assert [str(d.path) for d in diagnostics] == ["cli_integrations[1]", "enabled_integrations[0]"]


def test_unknown_values_are_never_errors() -> None:
    assert not validate(approval_mode=UNKNOWN, message=UNKNOWN, cli_integrations=UNKNOWN)


PRIOR = config(
    id="acme/t1",
    org_name="acme",
    task_id="t1",
    message=dyn({"content": "hi"}),
    approval_mode="manual",
    permission_mode="default",
    plan_mode=False,
    source="api",
    tool_execution_mode="cloud",
    is_shared=False,
    name="hi",
    created_at="2026-01-01T00:00:00Z",
    created_by=dyn({"name": "n"}),
    task_type="sync",
    status="running",
    tokens_used=5,
    entities=[],
)


def plan(
    prior: dict[str, Any] | None, cfg: dict[str, Any], private: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    # Terraform's proposed new state: config, with prior values for null computed attributes.
    proposed = dict(cfg)
    for name, attribute in SCHEMA.attributes.items():
        if attribute.computed and cfg.get(name) is None:
            proposed[name] = None if prior is None else prior[name]
    planned, paths = plan_object(
        AgentsTaskResource(), prior, proposed, cfg, private or {}, Diagnostics()
    )
    return planned, [str(p) for p in paths]


def user_config(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"org_name": "acme", "message": dyn({"content": "hi"})}
    values.update(overrides)
    return config(**values)


def test_create_plans_computed_attributes_unknown() -> None:
    planned, paths = plan(None, user_config())
    assert paths == []
    assert planned["task_id"] is UNKNOWN and planned["status"] is UNKNOWN
    assert planned["message"] == dyn({"content": "hi"})


def test_unchanged_config_plans_no_change() -> None:
    planned, paths = plan(PRIOR, user_config())
    assert planned == PRIOR and paths == []


def test_updatable_change_keeps_stable_outputs_and_unknowns_volatile_ones() -> None:
    planned, paths = plan(PRIOR, user_config(approval_mode="auto"))
    assert paths == []
    assert planned["approval_mode"] == "auto"
    assert planned["created_at"] == PRIOR["created_at"] and planned["task_id"] == "t1"
    assert planned["status"] is UNKNOWN and planned["tokens_used"] is UNKNOWN


def test_create_only_change_requires_replacement() -> None:
    _, paths = plan(PRIOR, user_config(message=dyn({"content": "something else"})))
    assert paths == ["message"]
    _, paths = plan(PRIOR, user_config(tool_execution_mode="cli"))
    assert paths == ["tool_execution_mode"]


def test_imported_null_input_takes_config_without_replacement() -> None:
    imported = {**PRIOR, "message": None}
    _, paths = plan(imported, user_config(), {IMPORTED_MARKER: True})
    assert paths == []
    _, paths = plan(imported, user_config())
    assert paths == ["message"]


def test_unify_widens_objects_with_different_attributes() -> None:
    elements = unify_elements([dyn({"type": "stack", "name": "a"}), dyn({"type": "pr", "n": 1})])
    assert len({e.type for e in elements}) == 1
    assert elements[1].value["name"] is None
    mixed = unify_elements([dyn("x"), dyn(1)])
    assert [e.value for e in mixed] == ['"x"', "1"]


def test_diagnostic_paths_render() -> None:
    assert str(AttributePath.root("a").index(2).attribute("b").key("k")) == 'a[2].b["k"]'
