"""Fuzzing every RPC that decodes a value: random and mutated msgpack / JSON in, diagnostics out.

The servicer is called directly with protobuf requests. It is configured against an in-process
emulator, so inputs that happen to decode reach the real resource code and the real HTTP client.
Each call runs under a deadline: a hang fails the test. An "Internal provider error" diagnostic
counts as a failure too: it means an unexpected exception was caught, i.e. a bug.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terraform_provider_pulumiservice._proto import tfplugin6_pb2 as pb
from terraform_provider_pulumiservice.cty import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    UNKNOWN,
    CtyError,
    encode_json,
    encode_msgpack,
    infer_typed_value,
)
from terraform_provider_pulumiservice.data_sources import api_agents_task as task_data_source
from terraform_provider_pulumiservice.data_sources import api_agents_tasks as tasks_data_source
from terraform_provider_pulumiservice.protocol.servicer import ProviderServicer
from terraform_provider_pulumiservice.provider import PROVIDER_SCHEMA
from terraform_provider_pulumiservice.resources.api_agents_task import SCHEMA as TASK_SCHEMA

TOKEN = "fuzz-token"
ORG = "fuzz-org"
TASK = "pulumiservice_api_agents_task"
TASKS = "pulumiservice_api_agents_tasks"
EVENTS = "pulumiservice_api_agents_task_events"
CALL_DEADLINE_SECONDS = 20.0
INTERNAL_ERROR = "Internal provider error"


@pytest.fixture(scope="module")
def servicer() -> Iterator[ProviderServicer]:
    from terraform_provider_pulumiservice.emulator.server import EmulatorServer

    server = EmulatorServer(
        host="127.0.0.1", port=0, db_path=None, tokens=(TOKEN,), idle_after=2.0,
        cli_integrations=(("aws", "default"),),
    )
    server.start()
    provider = ProviderServicer()
    config = encode_msgpack({"access_token": TOKEN, "api_url": server.url,
                             "request_timeout": None, "operation_timeout": None},
                            PROVIDER_SCHEMA.cty_type)
    response = provider.ConfigureProvider(
        pb.ConfigureProvider.Request(config=pb.DynamicValue(msgpack=config)), None)
    assert not response.diagnostics, response.diagnostics
    try:
        yield provider
    finally:
        provider.stop_all()
        server.stop()


def call_with_deadline(call: Callable[[], Any]) -> Any:
    """Run one RPC in a thread; fail if it raises or outlives the deadline."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["response"] = call()
        except BaseException as error:  # noqa: BLE001 - reported below
            outcome["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(CALL_DEADLINE_SECONDS)
    assert not worker.is_alive(), f"the RPC did not answer within {CALL_DEADLINE_SECONDS}s"
    if "error" in outcome:
        raise AssertionError(f"the RPC raised {outcome['error']!r}") from outcome["error"]
    return outcome["response"]


def check_response(response: Any, *, must_fail: bool) -> None:
    summaries = [d.summary for d in response.diagnostics]
    assert INTERNAL_ERROR not in summaries, [d.detail for d in response.diagnostics]
    if must_fail:
        assert any(d.severity == pb.Diagnostic.ERROR for d in response.diagnostics), summaries


# --- inputs --------------------------------------------------------------------------------------

_plain_scalars = (
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
# JSON numbers may be arbitrarily large; msgpack integers stop at the 64-bit range.
json_scalars = _plain_scalars | st.integers(-(2**70), 2**70)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=5),
    max_leaves=20,
)
msgpack_scalars = _plain_scalars | st.binary(max_size=20) | st.integers(-(2**63), 2**64 - 1)
msgpack_values = st.recursive(
    msgpack_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=12) | st.integers(0, 5), inner, max_size=5),
    max_leaves=20,
)


def _valid_task_config() -> dict[str, Any]:
    value = TASK_SCHEMA.null_object()
    value.update(org_name=ORG, message="fuzz",
                 approval_mode="manual")
    return value


VALID_TASK_MSGPACK = encode_msgpack(_valid_task_config(), TASK_SCHEMA.cty_type)
VALID_TASK_JSON = encode_json(_valid_task_config(), TASK_SCHEMA.cty_type)


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """A valid encoding with a few bytes flipped, cut or inserted."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(("flip", "cut", "insert", "truncate")))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[position] ^= draw(st.integers(1, 255))
        elif action == "cut" and data:
            del data[position:position + draw(st.integers(1, 8))]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[position:]
    return bytes(data)


def _pack(value: Any) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


def _attribute_values(attribute_type: Any) -> st.SearchStrategy[Any]:
    """Well-typed (not necessarily valid) values for one attribute, null and unknown included."""
    if attribute_type == STRING:
        typed: st.SearchStrategy[Any] = st.text(max_size=20) | st.sampled_from(
            ("manual", "auto", "default", "read-only", "api", "cloud", ORG, f"{ORG}/x"))
    elif attribute_type == BOOL:
        typed = st.booleans()
    elif attribute_type == NUMBER:
        typed = st.integers(-(2**40), 2**40)
    elif attribute_type == DYNAMIC:
        typed = json_values.map(infer_typed_value)
    else:  # a list of dynamic values
        typed = st.lists(json_values.map(infer_typed_value), max_size=3)
    return st.none() | st.just(UNKNOWN) | typed


@st.composite
def typed_task_objects(draw: st.DrawFn) -> bytes:
    """A task object of the right type with fuzzed attribute values, as msgpack."""
    value = {name: draw(_attribute_values(attribute.type))
             for name, attribute in TASK_SCHEMA.attributes.items()}
    try:
        return encode_msgpack(value, TASK_SCHEMA.cty_type)
    except CtyError:
        return encode_msgpack(None, TASK_SCHEMA.cty_type)


# (DynamicValue, whether it cannot possibly be a valid value)
dynamic_values = st.one_of(
    typed_task_objects().map(lambda raw: (pb.DynamicValue(msgpack=raw), False)),
    st.binary(min_size=1, max_size=64).map(
        lambda raw: (pb.DynamicValue(msgpack=raw), not _unpacks(raw))),
    msgpack_values.map(lambda value: (pb.DynamicValue(msgpack=_pack(value)), False)),
    mutated(VALID_TASK_MSGPACK).map(
        lambda raw: (pb.DynamicValue(msgpack=raw), not _unpacks(raw))),
    json_values.map(lambda value: (pb.DynamicValue(json=json.dumps(value).encode()), False)),
    mutated(VALID_TASK_JSON).map(lambda raw: (pb.DynamicValue(json=raw), not _parses(raw))),
)
raw_states = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda value: json.dumps(value).encode()),
    mutated(VALID_TASK_JSON),
)


def _unpacks(raw: bytes) -> bool:
    if not raw:
        return True  # an empty DynamicValue stands for "no value", not garbage
    try:
        msgpack.unpackb(raw, strict_map_key=False, raw=True)
    except Exception:  # noqa: BLE001 - any failure means "not msgpack"
        return False
    return True


def _parses(raw: bytes) -> bool:
    if not raw:
        return True
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


FUZZ_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)


# --- one test per RPC ----------------------------------------------------------------------------


@FUZZ_SETTINGS
@given(value=dynamic_values)
def test_validate_provider_config(servicer: ProviderServicer, value: tuple[Any, bool]) -> None:
    dynamic, invalid = value
    response = call_with_deadline(lambda: servicer.ValidateProviderConfig(
        pb.ValidateProviderConfig.Request(config=dynamic), None))
    check_response(response, must_fail=invalid)


@FUZZ_SETTINGS
@given(value=dynamic_values, type_name=st.sampled_from((TASK, "unknown_type")))
def test_validate_resource_config(
    servicer: ProviderServicer, value: tuple[Any, bool], type_name: str
) -> None:
    dynamic, invalid = value
    response = call_with_deadline(lambda: servicer.ValidateResourceConfig(
        pb.ValidateResourceConfig.Request(type_name=type_name, config=dynamic), None))
    check_response(response, must_fail=invalid or type_name != TASK)


@FUZZ_SETTINGS
@given(value=dynamic_values, type_name=st.sampled_from((TASK, TASKS, EVENTS)))
def test_validate_data_resource_config(
    servicer: ProviderServicer, value: tuple[Any, bool], type_name: str
) -> None:
    dynamic, invalid = value
    response = call_with_deadline(lambda: servicer.ValidateDataResourceConfig(
        pb.ValidateDataResourceConfig.Request(type_name=type_name, config=dynamic), None))
    check_response(response, must_fail=invalid)


@FUZZ_SETTINGS
@given(raw=raw_states, version=st.integers(-3, 5))
def test_upgrade_resource_state(servicer: ProviderServicer, raw: bytes, version: int) -> None:
    response = call_with_deadline(lambda: servicer.UpgradeResourceState(
        pb.UpgradeResourceState.Request(type_name=TASK, version=version,
                                        raw_state=pb.RawState(json=raw)), None))
    check_response(response, must_fail=not _parses(raw))


@FUZZ_SETTINGS
@given(value=dynamic_values)
def test_configure_provider(value: tuple[Any, bool]) -> None:
    # A fresh servicer: a fuzzed configuration must not replace the shared one's client.
    dynamic, invalid = value
    response = call_with_deadline(lambda: ProviderServicer().ConfigureProvider(
        pb.ConfigureProvider.Request(config=dynamic), None))
    check_response(response, must_fail=invalid)


@FUZZ_SETTINGS
@given(state=dynamic_values, private=st.binary(max_size=32))
def test_read_resource(
    servicer: ProviderServicer, state: tuple[Any, bool], private: bytes
) -> None:
    dynamic, invalid = state
    response = call_with_deadline(lambda: servicer.ReadResource(
        pb.ReadResource.Request(type_name=TASK, current_state=dynamic, private=private), None))
    check_response(response, must_fail=invalid)


@FUZZ_SETTINGS
@given(prior=dynamic_values, proposed=dynamic_values, config=dynamic_values)
def test_plan_resource_change(
    servicer: ProviderServicer,
    prior: tuple[Any, bool],
    proposed: tuple[Any, bool],
    config: tuple[Any, bool],
) -> None:
    response = call_with_deadline(lambda: servicer.PlanResourceChange(
        pb.PlanResourceChange.Request(type_name=TASK, prior_state=prior[0],
                                      proposed_new_state=proposed[0], config=config[0]), None))
    check_response(response, must_fail=proposed[1] or config[1])


@FUZZ_SETTINGS
@given(prior=dynamic_values, planned=dynamic_values, config=dynamic_values)
def test_apply_resource_change(
    servicer: ProviderServicer,
    prior: tuple[Any, bool],
    planned: tuple[Any, bool],
    config: tuple[Any, bool],
) -> None:
    response = call_with_deadline(lambda: servicer.ApplyResourceChange(
        pb.ApplyResourceChange.Request(type_name=TASK, prior_state=prior[0],
                                       planned_state=planned[0], config=config[0]), None))
    check_response(response, must_fail=prior[1] or planned[1])


@FUZZ_SETTINGS
@given(import_id=st.text(max_size=80) | st.just(f"{ORG}/") | st.just(f"{ORG}/missing-task"))
def test_import_resource_state(servicer: ProviderServicer, import_id: str) -> None:
    response = call_with_deadline(lambda: servicer.ImportResourceState(
        pb.ImportResourceState.Request(type_name=TASK, id=import_id), None))
    # No fuzzed id names an existing task: every import must fail with a diagnostic.
    check_response(response, must_fail=True)


@FUZZ_SETTINGS
@given(value=dynamic_values, type_name=st.sampled_from((TASK, TASKS, EVENTS)))
def test_read_data_source(
    servicer: ProviderServicer, value: tuple[Any, bool], type_name: str
) -> None:
    dynamic, invalid = value
    response = call_with_deadline(lambda: servicer.ReadDataSource(
        pb.ReadDataSource.Request(type_name=type_name, config=dynamic), None))
    check_response(response, must_fail=invalid)


def test_data_source_schemas_are_the_ones_fuzzed() -> None:
    # Guards the type names above against a rename.
    assert task_data_source.SCHEMA is not None and tasks_data_source.SCHEMA is not None
    response = ProviderServicer().GetProviderSchema(pb.GetProviderSchema.Request(), None)
    assert set(response.data_source_schemas) == {TASK, TASKS, EVENTS}
    assert TASK in response.resource_schemas
