"""The tfplugin6 servicer called directly with protobuf requests (no process, no Terraform)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from terraform_provider_pulumiservice._proto import tfplugin6_pb2 as pb
from terraform_provider_pulumiservice.cty import (
    DYNAMIC,
    UNKNOWN,
    decode_msgpack,
    encode_msgpack,
    type_from_json_bytes,
)
from terraform_provider_pulumiservice.protocol.servicer import ProviderServicer
from terraform_provider_pulumiservice.provider import PROVIDER_SCHEMA
from terraform_provider_pulumiservice.resources.api_agents_task import SCHEMA

TASK_TYPE = SCHEMA.cty_type
TYPE_NAME = "pulumiservice_api_agents_task"


def dv(value: Any) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=encode_msgpack(value, TASK_TYPE))


def obj(**values: Any) -> dict[str, Any]:
    base = SCHEMA.null_object()
    base.update(values)
    return base


@pytest.fixture
def servicer() -> ProviderServicer:
    return ProviderServicer()


def test_schema_lists_every_attribute_with_flags(servicer: ProviderServicer) -> None:
    response = servicer.GetProviderSchema(pb.GetProviderSchema.Request(), None)
    assert not response.diagnostics
    assert response.server_capabilities.get_provider_schema_optional
    provider = {a.name: a for a in response.provider.block.attributes}
    assert provider["access_token"].sensitive and not provider["api_url"].sensitive
    task = {a.name: a for a in response.resource_schemas[TYPE_NAME].block.attributes}
    inputs = {
        "org_name",
        "approval_mode",
        "cli_integrations",
        "context_entities",
        "enabled_integrations",
        "message",
        "permission_mode",
        "plan_mode",
        "source",
        "task_id",
        "tool_execution_mode",
        "wait_for_completion",
    }
    outputs = {
        "final_message",
        "id",
        "created_at",
        "created_by",
        "entities",
        "is_shared",
        "shared_at",
        "name",
        "status",
        "task_type",
        "tokens_used",
        "async_trigger_type",
        "context_compaction_threshold_percent",
        "context_used_tokens",
        "context_window_tokens",
        "last_heartbeat",
        "runtime_phase",
        "source_automation_id",
    }
    assert set(task) == inputs | outputs
    assert task["org_name"].required
    assert json.loads(task["message"].type) == "string"
    assert json.loads(task["enabled_integrations"].type) == ["list", "string"]
    assert task["cli_integrations"].nested_type.nesting == pb.Schema.Object.LIST
    assert {a.name for a in task["created_by"].nested_type.attributes} == {
        "name",
        "github_login",
        "avatar_url",
    }
    assert response.resource_schemas[TYPE_NAME].version == 1
    assert all(a.description for a in task.values())
    for name in outputs - {"is_shared", "name"}:
        assert task[name].computed and not task[name].optional, name
    assert set(response.data_source_schemas) == {
        "pulumiservice_api_agents_task",
        "pulumiservice_api_agents_tasks",
        "pulumiservice_api_agents_task_events",
    }
    for attribute in task.values():
        if not attribute.HasField("nested_type"):
            assert type_from_json_bytes(attribute.type) != DYNAMIC


def test_validation_reports_paths_and_makes_no_client(servicer: ProviderServicer) -> None:
    config = obj(org_name="acme", approval_mode="never", message=" ")
    response = servicer.ValidateResourceConfig(
        pb.ValidateResourceConfig.Request(type_name=TYPE_NAME, config=dv(config)), None
    )
    paths = [
        [s.attribute_name or s.element_key_string for s in d.attribute.steps]
        for d in response.diagnostics
    ]
    assert sorted(paths) == [["approval_mode"], ["message"]]
    assert servicer.session._client is None


def test_malformed_msgpack_is_a_diagnostic(servicer: ProviderServicer) -> None:
    for garbage in (
        b"\xff\x00",
        b"\x93\x01",
        b"\xc1",
        encode_msgpack("x", TASK_TYPE.attributes["name"]),
    ):
        response = servicer.PlanResourceChange(
            pb.PlanResourceChange.Request(
                type_name=TYPE_NAME,
                prior_state=pb.DynamicValue(msgpack=b"\xc0"),
                proposed_new_state=pb.DynamicValue(msgpack=garbage),
                config=pb.DynamicValue(msgpack=garbage),
            ),
            None,
        )
        assert response.diagnostics[0].severity == pb.Diagnostic.ERROR
        assert "could not be decoded" in response.diagnostics[0].detail


def test_plan_create_marks_computed_unknown(servicer: ProviderServicer) -> None:
    config = obj(org_name="acme", message="hello")
    response = servicer.PlanResourceChange(
        pb.PlanResourceChange.Request(
            type_name=TYPE_NAME,
            prior_state=pb.DynamicValue(msgpack=b"\xc0"),
            proposed_new_state=dv(config),
            config=dv(config),
        ),
        None,
    )
    assert not response.diagnostics
    planned = decode_msgpack(response.planned_state.msgpack, TASK_TYPE)
    assert planned["id"] == UNKNOWN and planned["org_name"] == "acme"


def test_configure_without_token_names_both_ways(
    servicer: ProviderServicer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PULUMI_ACCESS_TOKEN", raising=False)
    provider_type = PROVIDER_SCHEMA.cty_type
    unset = dict.fromkeys(PROVIDER_SCHEMA.attributes)
    response = servicer.ConfigureProvider(
        pb.ConfigureProvider.Request(
            config=pb.DynamicValue(msgpack=encode_msgpack(unset, provider_type))
        ),
        None,
    )
    detail = response.diagnostics[0].detail
    assert "access_token" in detail and "PULUMI_ACCESS_TOKEN" in detail


def test_upgrade_state_turns_version_0_json_state_into_typed_values(
    servicer: ProviderServicer,
) -> None:
    state: dict[str, Any] = {name: None for name in SCHEMA.attributes}
    state.update(
        {
            "id": "acme/t1",
            "org_name": "acme",
            "task_id": "t1",
            "tokens_used": 12,
            "message": {"value": {"content": "hi"}, "type": ["object", {"content": "string"}]},
            "cli_integrations": [],
            "removed_attribute": "x",
        }
    )
    response = servicer.UpgradeResourceState(
        pb.UpgradeResourceState.Request(
            type_name=TYPE_NAME, version=0, raw_state=pb.RawState(json=json.dumps(state).encode())
        ),
        None,
    )
    assert not response.diagnostics
    upgraded = decode_msgpack(response.upgraded_state.msgpack, TASK_TYPE)
    assert upgraded["tokens_used"] == 12 and upgraded["cli_integrations"] == []
    assert upgraded["message"] == "hi"


def test_stop_provider_answers(servicer: ProviderServicer) -> None:
    assert servicer.StopProvider(pb.StopProvider.Request(), None).Error == ""


def test_an_operation_failure_becomes_an_error_diagnostic(
    servicer: ProviderServicer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from terraform_provider_pulumiservice.protocol import read

    def broken(session: object, request: object) -> None:
        raise ValueError("unexpected")

    monkeypatch.setattr(read, "read_resource", broken)
    response = servicer.ReadResource(pb.ReadResource.Request(type_name=TYPE_NAME), None)
    assert isinstance(response, pb.ReadResource.Response)
    assert response.diagnostics[0].summary == "Internal provider error"
    assert "ReadResource failed unexpectedly (ValueError: unexpected)" in (
        response.diagnostics[0].detail
    )
