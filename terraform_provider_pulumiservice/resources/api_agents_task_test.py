"""Unit tests of the agent task resource: schema, request bodies, validation, planning, CRUD."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from terraform_provider_pulumiservice.agents.fields import MESSAGE_MAX_BYTES, TASK_FIELDS
from terraform_provider_pulumiservice.agents.mapping import create_body, patch_body
from terraform_provider_pulumiservice.cloud.errors import CancelledError, DeadlineExceededError
from terraform_provider_pulumiservice.cty import DYNAMIC, UNKNOWN, CtyType, List, Map, Object
from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.planmodifiers import IMPORTED_MARKER
from terraform_provider_pulumiservice.protocol.plan import plan_object
from terraform_provider_pulumiservice.protocol.validate import validate_attributes
from terraform_provider_pulumiservice.resources.api_agents_task import SCHEMA, AgentsTaskResource
from tests.support.fake_cloud import FakeCloud, agent_event, transport_failure

NOW = datetime.datetime(2026, 11, 30, 12, 0, 0, tzinfo=datetime.UTC)
V0_STATE = Path(__file__).resolve().parents[2] / "tests" / "data" / "v0_1_0_state"


def config(**values: Any) -> dict[str, Any]:
    base = SCHEMA.null_object()
    base.update(values)
    return base


def user_config(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"org_name": "acme", "message": "hi"}
    values.update(overrides)
    return config(**values)


# --- schema -----------------------------------------------------------------------------------


def _contains_dynamic(type_: CtyType) -> bool:
    if type_ == DYNAMIC:
        return True
    if isinstance(type_, List | Map):
        return _contains_dynamic(type_.element)
    if isinstance(type_, Object):
        return any(_contains_dynamic(t) for t in type_.attributes.values())
    return False


def test_no_attribute_is_dynamic_or_holds_dynamic_at_any_depth() -> None:
    assert not _contains_dynamic(SCHEMA.cty_type)


def test_every_task_field_is_an_attribute_of_the_resource() -> None:
    assert {field.attribute for field in TASK_FIELDS} <= set(SCHEMA.attributes)
    assert SCHEMA.version == 1


def test_nested_keys_are_snake_case() -> None:
    cli = SCHEMA.attributes["cli_integrations"].nested
    created_by = SCHEMA.attributes["created_by"].nested
    assert cli is not None and set(cli.attributes) == {"catalog_id", "name"}
    assert created_by is not None and set(created_by.attributes) == {
        "name",
        "github_login",
        "avatar_url",
    }


# --- request bodies ----------------------------------------------------------------------------


def test_body_holds_only_set_inputs_and_the_message_event() -> None:
    body = create_body(user_config(message="fix the stack", approval_mode="auto"), NOW)
    assert body == {
        "message": {
            "content": "fix the stack",
            "type": "user_message",
            "timestamp": "2026-11-30T12:00:00Z",
        },
        "approvalMode": "auto",
    }


def test_null_empty_and_populated_integration_lists_reach_the_body_distinctly() -> None:
    assert "cliIntegrations" not in create_body(user_config(), NOW)
    assert "enabledIntegrations" not in create_body(user_config(), NOW)
    assert create_body(user_config(cli_integrations=[]), NOW)["cliIntegrations"] == []
    assert create_body(user_config(enabled_integrations=[]), NOW)["enabledIntegrations"] == []
    entry = {"catalog_id": "aws", "name": "default"}
    assert create_body(user_config(cli_integrations=[entry]), NOW)["cliIntegrations"] == [
        {"catalogId": "aws", "name": "default"}
    ]
    assert create_body(user_config(enabled_integrations=["datadog", "pd"]), NOW)[
        "enabledIntegrations"
    ] == [{"id": "datadog"}, {"id": "pd"}]


def _entity(**members: Any) -> dict[str, Any]:
    entity = dict.fromkeys(SCHEMA.attributes["entities"].nested.attributes)  # type: ignore[union-attr]
    entity.update(members)
    return entity


def test_context_entities_go_into_the_first_messages_entity_diff_in_the_apis_shapes() -> None:
    entities = [
        _entity(type="stack", name="dev", project="web"),
        _entity(type="pull_request", number=Decimal(12), name="infra", org="acme"),
    ]
    body = create_body(user_config(context_entities=entities), NOW)
    assert body["message"]["entity_diff"] == {
        "add": [
            {"type": "stack", "name": "dev", "project": "web"},
            {"type": "pull_request", "number": 12, "repo": {"name": "infra", "org": "acme"}},
        ]
    }


def test_patch_body_holds_only_changed_known_updatable_inputs() -> None:
    current = {"name": "old", "approval_mode": "manual", "is_shared": False}
    planned = {"name": "new", "approval_mode": "manual", "is_shared": UNKNOWN, "source": "cli"}
    assert patch_body(planned, current) == {"name": "new"}


# --- validation --------------------------------------------------------------------------------


def validate(**values: Any) -> Diagnostics:
    diagnostics = Diagnostics()
    cfg = user_config(**values)
    validate_attributes(SCHEMA, cfg, diagnostics)
    AgentsTaskResource().validate_config(cfg, diagnostics)
    return diagnostics


def test_enum_errors_point_at_the_attribute() -> None:
    diagnostics = validate(approval_mode="sometimes", source="fax")
    assert sorted(str(d.path) for d in diagnostics) == ["approval_mode", "source"]


def test_an_empty_or_missing_message_is_an_error_unless_a_task_is_adopted() -> None:
    assert [str(d.path) for d in validate(message="  ")] == ["message"]
    assert [str(d.path) for d in validate(message=None)] == ["message"]
    assert not validate(message=None, task_id="t1")
    assert not validate(message=None, task_id=UNKNOWN)


def test_a_message_too_large_for_terraforms_messages_is_rejected_with_the_limit() -> None:
    diagnostics = validate(message="x" * (MESSAGE_MAX_BYTES + 1))
    assert [str(d.path) for d in diagnostics] == ["message"]
    assert f"{MESSAGE_MAX_BYTES:,}" in diagnostics[0].detail


def test_integration_entries_are_checked_per_element() -> None:
    diagnostics = validate(
        cli_integrations=[{"catalog_id": "aws", "name": "x"}, {"catalog_id": "", "name": "y"}],
        enabled_integrations=["datadog", ""],
    )
    assert sorted(str(d.path) for d in diagnostics) == [
        "cli_integrations[1]",
        "enabled_integrations[1]",
    ]
    assert "`cli_integrations[1].catalog_id` must not be empty" in diagnostics[0].detail


def test_context_entities_need_the_members_of_their_type() -> None:
    diagnostics = validate(context_entities=[_entity(type="stack", name="dev")])
    assert [str(d.path) for d in diagnostics] == ["context_entities[0]"]
    assert "`project`" in diagnostics[0].detail


def test_unknown_values_and_unknown_parts_are_never_errors() -> None:
    assert not validate(
        approval_mode=UNKNOWN,
        message=UNKNOWN,
        name=UNKNOWN,
        cli_integrations=[{"catalog_id": UNKNOWN, "name": "x"}, UNKNOWN],
        enabled_integrations=[UNKNOWN, "datadog"],
        context_entities=[_entity(type=UNKNOWN), _entity(type="stack", name="a", project=UNKNOWN)],
    )
    assert not validate(cli_integrations=UNKNOWN, enabled_integrations=UNKNOWN)


# --- planning ---------------------------------------------------------------------------------

PRIOR = config(
    id="acme/t1",
    org_name="acme",
    task_id="t1",
    message="hi",
    approval_mode="manual",
    permission_mode="default",
    plan_mode=False,
    source="api",
    tool_execution_mode="cloud",
    is_shared=False,
    name="hi",
    created_at="2026-01-01T00:00:00Z",
    created_by={"name": "n", "github_login": "g", "avatar_url": None},
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


def test_create_plans_computed_attributes_unknown() -> None:
    planned, paths = plan(None, user_config())
    assert paths == []
    assert planned["task_id"] is UNKNOWN and planned["status"] is UNKNOWN
    assert planned["message"] == "hi"


def test_unchanged_config_plans_no_change() -> None:
    planned, paths = plan(PRIOR, user_config())
    assert planned == PRIOR and paths == []


def test_updatable_change_keeps_stable_outputs_and_unknowns_volatile_ones() -> None:
    planned, paths = plan(PRIOR, user_config(approval_mode="auto"))
    assert paths == []
    assert planned["approval_mode"] == "auto"
    assert planned["created_at"] == PRIOR["created_at"] and planned["task_id"] == "t1"
    assert planned["status"] is UNKNOWN and planned["tokens_used"] is UNKNOWN


def test_a_name_unknown_in_the_configuration_stays_unknown_in_the_plan() -> None:
    planned, paths = plan(PRIOR, user_config(name=UNKNOWN))
    assert planned["name"] is UNKNOWN and paths == []


def test_create_only_change_requires_replacement() -> None:
    _, paths = plan(PRIOR, user_config(message="something else"))
    assert paths == ["message"]
    _, paths = plan(PRIOR, user_config(tool_execution_mode="cli"))
    assert paths == ["tool_execution_mode"]
    _, paths = plan(PRIOR, user_config(enabled_integrations=UNKNOWN))
    assert paths == ["enabled_integrations"]


def test_imported_null_input_takes_config_without_replacement() -> None:
    imported = {**PRIOR, "message": None}
    _, paths = plan(imported, user_config(), {IMPORTED_MARKER: True})
    assert paths == []
    _, paths = plan(imported, user_config())
    assert paths == ["message"]


# --- create, adopt, read, update, delete, import against a fake API ---------------------------


def planned_create(**overrides: Any) -> dict[str, Any]:
    planned, _ = plan(None, user_config(**overrides))
    return planned


def test_create_posts_once_and_fills_every_output_from_the_read_back() -> None:
    cloud, diagnostics = FakeCloud(), Diagnostics()
    state = AgentsTaskResource().create(cloud.client, planned_create(), diagnostics)
    assert not diagnostics and state is not None
    assert cloud.call_names() == ["create", "get"]
    assert state["task_id"] == "t1" and state["id"] == "acme/t1"
    assert state["created_by"] == {
        "name": "Ann",
        "github_login": "ann",
        "avatar_url": "https://a/x.png",
    }
    assert "email" not in json.dumps(state, default=str)
    assert all(value is not UNKNOWN for value in state.values())


def test_create_sets_a_configured_name_right_after_and_reads_back_a_bodyless_patch() -> None:
    cloud = FakeCloud(patch_replies_without_body=True)
    diagnostics = Diagnostics()
    state = AgentsTaskResource().create(cloud.client, planned_create(name="nightly"), diagnostics)
    assert not diagnostics and state is not None
    assert cloud.call_names() == ["create", "get", "update", "get"]
    assert state["name"] == "nightly"


def test_a_failed_read_back_keeps_the_created_task_in_state_with_an_untaint_hint() -> None:
    cloud, diagnostics = FakeCloud(failures={"get": transport_failure()}), Diagnostics()
    state = AgentsTaskResource().create(cloud.client, planned_create(), diagnostics)
    assert state is not None and state["task_id"] == "t1" and state["id"] == "acme/t1"
    assert diagnostics.has_errors()
    assert "terraform untaint" in diagnostics[0].detail
    assert ".." not in diagnostics[0].detail
    assert cloud.call_names().count("create") == 1


@pytest.mark.parametrize("body_id", [None, "t-other"])
def test_the_task_id_comes_from_the_create_response_never_from_the_read_back(
    body_id: str | None,
) -> None:
    cloud = FakeCloud()
    cloud.add_task("t-other", name="someone else's")
    override = dict(cloud.add_task("t1"))
    override.pop("id")
    if body_id is not None:
        override["id"] = body_id
    cloud.tasks.pop("t1")
    cloud.get_overrides["t1"] = override
    diagnostics = Diagnostics()
    state = AgentsTaskResource().create(cloud.client, planned_create(), diagnostics)
    assert state is not None and state["task_id"] == "t1" and state["id"] == "acme/t1"
    assert diagnostics.has_errors() == (body_id is not None)


def test_an_unexpected_failure_after_the_post_still_returns_the_created_task() -> None:
    cloud = FakeCloud(failures={"get": RecursionError("maximum recursion depth exceeded")})
    diagnostics = Diagnostics()
    state = AgentsTaskResource().create(cloud.client, planned_create(), diagnostics)
    assert state is not None and state["task_id"] == "t1"
    assert "RecursionError" in diagnostics[0].detail


def test_a_failed_post_records_nothing() -> None:
    cloud = FakeCloud(failures={"create": transport_failure()})
    diagnostics = Diagnostics()
    assert AgentsTaskResource().create(cloud.client, planned_create(), diagnostics) is None
    assert diagnostics.has_errors()


def test_adopting_reads_the_task_warns_about_create_only_inputs_and_posts_nothing() -> None:
    cloud = FakeCloud()
    cloud.add_task("t9")
    diagnostics = Diagnostics()
    state = AgentsTaskResource().create(cloud.client, planned_create(task_id="t9"), diagnostics)
    assert state is not None and state["task_id"] == "t9"
    assert "create" not in cloud.call_names()
    assert [d.summary for d in diagnostics] == ["Create-only inputs were not sent"]


def test_adopting_a_missing_task_is_an_error_on_task_id() -> None:
    diagnostics = Diagnostics()
    assert (
        AgentsTaskResource().create(FakeCloud().client, planned_create(task_id="nope"), diagnostics)
        is None
    )
    assert str(diagnostics[0].path) == "task_id"


def test_refresh_takes_reported_values_and_keeps_what_the_api_does_not_return() -> None:
    cloud = FakeCloud()
    cloud.add_task("t1", name="renamed in the console", status="idle")
    state = AgentsTaskResource().read(cloud.client, dict(PRIOR), Diagnostics())
    assert state is not None
    assert state["name"] == "renamed in the console" and state["status"] == "idle"
    assert state["message"] == "hi" and state["task_id"] == "t1"


def test_refresh_of_a_deleted_task_removes_it_and_a_body_without_id_keeps_the_id() -> None:
    assert AgentsTaskResource().read(FakeCloud().client, dict(PRIOR), Diagnostics()) is None
    cloud = FakeCloud()
    cloud.get_overrides["t1"] = {"name": "x", "status": "idle"}
    state = AgentsTaskResource().read(cloud.client, dict(PRIOR), Diagnostics())
    assert state is not None and state["task_id"] == "t1" and state["id"] == "acme/t1"


def test_refresh_answered_about_another_task_keeps_the_state_and_errors() -> None:
    cloud = FakeCloud()
    cloud.get_overrides["t1"] = {"id": "t2", "name": "x"}
    diagnostics = Diagnostics()
    state = AgentsTaskResource().read(cloud.client, dict(PRIOR), diagnostics)
    assert state == PRIOR and diagnostics.has_errors()


def test_update_patches_only_the_changed_input() -> None:
    cloud = FakeCloud()
    cloud.add_task("t1", name="hi")
    planned, _ = plan(PRIOR, user_config(approval_mode="auto"))
    state = AgentsTaskResource().update(cloud.client, dict(PRIOR), planned, Diagnostics())
    assert cloud.calls[0] == ("update", "acme", ("t1", {"approvalMode": "auto"}))
    assert state["approval_mode"] == "auto" and state["status"] == "running"


def test_a_failed_update_keeps_the_prior_state() -> None:
    cloud = FakeCloud(failures={"update": transport_failure()})
    planned, _ = plan(PRIOR, user_config(name="new"))
    diagnostics = Diagnostics()
    assert AgentsTaskResource().update(cloud.client, dict(PRIOR), planned, diagnostics) == PRIOR
    assert diagnostics.has_errors()


def test_destroy_cancels_only_a_running_task() -> None:
    cloud = FakeCloud()
    cloud.add_task("t1", status="running")
    AgentsTaskResource().delete(cloud.client, dict(PRIOR), Diagnostics())
    assert cloud.call_names() == ["get", "cancel"]
    cloud.calls.clear()
    AgentsTaskResource().delete(cloud.client, dict(PRIOR), Diagnostics())
    assert cloud.call_names() == ["get"]


def test_import_reads_the_task_with_inputs_the_api_does_not_return_left_null() -> None:
    cloud = FakeCloud()
    cloud.add_task("t5")
    state = AgentsTaskResource().import_state(cloud.client, "acme/t5", Diagnostics())
    assert state is not None and state["id"] == "acme/t5" and state["message"] is None
    diagnostics = Diagnostics()
    assert AgentsTaskResource().import_state(cloud.client, "no-slash", diagnostics) is None
    assert diagnostics[0].summary == "Invalid import ID"


# --- state written by v0.1.0 --------------------------------------------------------------------


def test_every_v0_state_of_the_fixture_upgrades_to_typed_values() -> None:
    stored = json.loads((V0_STATE / "terraform.tfstate").read_text())
    upgraded = {
        resource["name"]: AgentsTaskResource().upgrade_state(
            0, resource["instances"][0]["attributes"]
        )
        for resource in stored["resources"]
    }
    assert upgraded["string_message"]["message"] == "Review the staging stack for drift"
    assert upgraded["string_message"]["enabled_integrations"] == ["datadog", "pagerduty"]
    assert upgraded["string_message"]["cli_integrations"] == [
        {"catalog_id": "aws", "name": "default"}
    ]
    assert upgraded["object_message"]["message"] == "Upgrade Node to 22 and open a PR"
    assert upgraded["object_message"]["enabled_integrations"] == ["github"]
    assert upgraded["object_message"]["cli_integrations"] == []
    assert upgraded["minimal"]["message"] == "List the stacks"
    assert upgraded["minimal"]["created_by"]["github_login"] == "emulator-user"


# --- waiting for the agent ---------------------------------------------------------------------

RUN = [
    agent_event("e1", "user_message", content="hi"),
    agent_event("e2", "assistant_message", content="looking", is_final=False),
    agent_event("e3", "assistant_message", content="All stacks match their code.", is_final=True),
]


def waiting_cloud(events: list[dict[str, Any]] | None = None, **failures: Exception) -> FakeCloud:
    cloud = FakeCloud(failures=dict(failures))
    cloud.events["t1"] = list(RUN if events is None else events)
    return cloud


def test_waiting_fills_final_message_and_the_state_the_run_ended_with() -> None:
    cloud, diagnostics = waiting_cloud(), Diagnostics()
    state = AgentsTaskResource().create(
        cloud.client, planned_create(wait_for_completion=True, approval_mode="auto"), diagnostics
    )
    assert not diagnostics and state is not None
    assert state["final_message"] == "All stacks match their code."
    assert state["status"] == "idle"
    assert cloud.call_names() == ["create", "get", "watch", "get"]


def test_without_waiting_no_events_are_read_and_final_message_is_null() -> None:
    cloud = waiting_cloud()
    state = AgentsTaskResource().create(cloud.client, planned_create(), Diagnostics())
    assert state is not None and state["final_message"] is None
    assert "watch" not in cloud.call_names()


def test_an_agent_error_is_an_error_diagnostic_with_the_agents_message_and_the_task_kept() -> None:
    cloud = waiting_cloud([agent_event("e1", "error", message="the stack is locked")])
    diagnostics = Diagnostics()
    state = AgentsTaskResource().create(
        cloud.client, planned_create(wait_for_completion=True), diagnostics
    )
    assert state is not None and state["task_id"] == "t1"
    assert diagnostics[0].summary == "The agent's run failed"
    assert "the stack is locked" in diagnostics[0].detail


def test_an_approval_request_stops_the_wait_and_says_what_it_waits_for() -> None:
    events = [
        agent_event(
            "e1",
            "user_approval_request",
            message="May I run pulumi up?",
            context={"tool_name": "pulumi_up"},
        ),
        agent_event("e2", "awaiting_approvals"),
    ]
    diagnostics = Diagnostics()
    state = AgentsTaskResource().create(
        waiting_cloud(events).client, planned_create(wait_for_completion=True), diagnostics
    )
    assert state is not None
    assert diagnostics[0].summary == "The agent is waiting for an approval"
    assert "May I run pulumi up?" in diagnostics[0].detail
    assert "pulumi_up" in diagnostics[0].detail


@pytest.mark.parametrize(
    ("failure", "summary"),
    [
        (DeadlineExceededError("deadline passed"), "Timed out waiting for the agent"),
        (CancelledError(), "Stopped waiting for the agent"),
        (transport_failure(), "Could not follow the agent's run"),
    ],
)
def test_a_wait_that_cannot_finish_keeps_the_task_in_state(
    failure: Exception, summary: str
) -> None:
    diagnostics = Diagnostics()
    planned = planned_create(wait_for_completion=True, timeouts={"create": "45m"})
    state = AgentsTaskResource().create(waiting_cloud(watch=failure).client, planned, diagnostics)
    assert state is not None and state["task_id"] == "t1" and state["id"] == "acme/t1"
    assert diagnostics[0].summary == summary
    assert "keeps running" in diagnostics[0].detail or "following its run" in diagnostics[0].detail
    if isinstance(failure, DeadlineExceededError):
        assert "45m" in diagnostics[0].detail


def test_refresh_with_waiting_reads_the_newest_final_answer() -> None:
    cloud = waiting_cloud(
        [*RUN, agent_event("e4", "assistant_message", content="Later answer.", is_final=True)]
    )
    cloud.add_task("t1")
    prior = {**PRIOR, "wait_for_completion": True, "final_message": "All stacks match."}
    state = AgentsTaskResource().read(cloud.client, prior, Diagnostics())
    assert state is not None and state["final_message"] == "Later answer."
    plain = AgentsTaskResource().read(cloud.client, dict(PRIOR), Diagnostics())
    assert plain is not None and "list_events" not in cloud.call_names()[-1:]
