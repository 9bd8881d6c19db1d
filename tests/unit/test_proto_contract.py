"""proto/*.proto (and the generated stubs) match tests/data/plugin-wire-contract.json exactly.

Every message (nested ones, map entries and enums included), every field's name, number, type and
label (repeated / proto3 optional / oneof), and every RPC's types and streaming flags are compared
in both directions: nothing missing and nothing extra.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2  # type: ignore[import-untyped]
from google.protobuf.descriptor import FileDescriptor  # type: ignore[import-untyped]

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO_ROOT / "proto"
CONTRACT_PATH = REPO_ROOT / "tests" / "data" / "plugin-wire-contract.json"

_FIELD = descriptor_pb2.FieldDescriptorProto
_SCALAR_TYPE_NAMES = {
    _FIELD.TYPE_DOUBLE: "double",
    _FIELD.TYPE_FLOAT: "float",
    _FIELD.TYPE_INT64: "int64",
    _FIELD.TYPE_UINT64: "uint64",
    _FIELD.TYPE_INT32: "int32",
    _FIELD.TYPE_FIXED64: "fixed64",
    _FIELD.TYPE_FIXED32: "fixed32",
    _FIELD.TYPE_BOOL: "bool",
    _FIELD.TYPE_STRING: "string",
    _FIELD.TYPE_BYTES: "bytes",
    _FIELD.TYPE_UINT32: "uint32",
    _FIELD.TYPE_SFIXED32: "sfixed32",
    _FIELD.TYPE_SFIXED64: "sfixed64",
    _FIELD.TYPE_SINT32: "sint32",
    _FIELD.TYPE_SINT64: "sint64",
}


# --- one comparable shape for both sides ---------------------------------------------------


def _contract_field(field: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": field["number"],
        "type": field["type"],
        "repeated": bool(field.get("repeated", False)),
        "optional": bool(field.get("optional", False)),
        "oneof": field.get("oneof"),
    }


def _contract_message(message: dict[str, Any]) -> dict[str, Any]:
    unknown_keys = set(message) - {"fields", "messages", "map_entries", "enums"}
    assert not unknown_keys, f"contract format changed: {unknown_keys}"
    return {
        "fields": {field["name"]: _contract_field(field) for field in message.get("fields", [])},
        "messages": {
            name: _contract_message(nested) for name, nested in message.get("messages", {}).items()
        },
        "map_entries": {
            name: _contract_message(entry) for name, entry in message.get("map_entries", {}).items()
        },
        "enums": message.get("enums", {}),
    }


def _contract_package(package: dict[str, Any]) -> dict[str, Any]:
    return {
        "files": sorted(package["files"]),
        "imports": sorted(package["imports"]),
        "messages": {name: _contract_message(m) for name, m in package["messages"].items()},
        "enums": package["enums"],
        "services": {
            service: {
                method: {
                    "input": rpc["input"],
                    "output": rpc["output"],
                    "client_streaming": bool(rpc.get("client_streaming", False)),
                    "server_streaming": bool(rpc.get("server_streaming", False)),
                }
                for method, rpc in methods.items()
            }
            for service, methods in package["services"].items()
        },
    }


def _proto_field(field: descriptor_pb2.FieldDescriptorProto, oneofs: list[str]) -> dict[str, Any]:
    if field.type in (_FIELD.TYPE_MESSAGE, _FIELD.TYPE_ENUM):
        type_name = field.type_name.lstrip(".")
    else:
        type_name = _SCALAR_TYPE_NAMES[field.type]
    in_real_oneof = field.HasField("oneof_index") and not field.proto3_optional
    return {
        "number": field.number,
        "type": type_name,
        "repeated": field.label == _FIELD.LABEL_REPEATED,
        "optional": field.proto3_optional,
        "oneof": oneofs[field.oneof_index] if in_real_oneof else None,
    }


def _proto_enum(enum: descriptor_pb2.EnumDescriptorProto) -> dict[str, int]:
    return {value.name: value.number for value in enum.value}


def _proto_message(message: descriptor_pb2.DescriptorProto) -> dict[str, Any]:
    oneofs = [oneof.name for oneof in message.oneof_decl]
    nested = [m for m in message.nested_type if not m.options.map_entry]
    entries = [m for m in message.nested_type if m.options.map_entry]
    return {
        "fields": {field.name: _proto_field(field, oneofs) for field in message.field},
        "messages": {m.name: _proto_message(m) for m in nested},
        "map_entries": {m.name: _proto_message(m) for m in entries},
        "enums": {enum.name: _proto_enum(enum) for enum in message.enum_type},
    }


def _proto_packages(files: list[descriptor_pb2.FileDescriptorProto]) -> dict[str, Any]:
    packages: dict[str, Any] = {}
    for file in files:
        package = packages.setdefault(
            file.package,
            {"files": [], "imports": set(), "messages": {}, "enums": {}, "services": {}},
        )
        package["files"].append(file.name)
        package["imports"].update(file.dependency)
        for message in file.message_type:
            assert message.name not in package["messages"], f"duplicate {message.name}"
            package["messages"][message.name] = _proto_message(message)
        for enum in file.enum_type:
            package["enums"][enum.name] = _proto_enum(enum)
        for service in file.service:
            package["services"][service.name] = {
                method.name: {
                    "input": method.input_type.lstrip("."),
                    "output": method.output_type.lstrip("."),
                    "client_streaming": method.client_streaming,
                    "server_streaming": method.server_streaming,
                }
                for method in service.method
            }
    for package in packages.values():
        package["files"].sort()
        package["imports"] = sorted(package["imports"])
    return packages


# --- the two sources of descriptors ----------------------------------------------------------


def _compile_proto_sources(output_dir: Path) -> list[descriptor_pb2.FileDescriptorProto]:
    grpc_tools = pytest.importorskip("grpc_tools")
    from grpc_tools import protoc

    include_dir = Path(grpc_tools.__file__).parent / "_proto"
    descriptor_set = output_dir / "contract.pb"
    sources = sorted(path.name for path in PROTO_DIR.glob("*.proto"))
    status = protoc.main(
        [
            "protoc",
            f"-I{PROTO_DIR}",
            f"-I{include_dir}",
            f"--descriptor_set_out={descriptor_set}",
            *sources,
        ]
    )
    assert status == 0, "protoc failed on proto/*.proto"
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes()).file
    return list(files)


def _generated_stub_files() -> list[descriptor_pb2.FileDescriptorProto]:
    from terraform_provider_pulumiservice._proto import (
        grpc_broker_pb2,
        grpc_controller_pb2,
        grpc_stdio_pb2,
        tfplugin6_pb2,
    )

    files = []
    for module in (tfplugin6_pb2, grpc_stdio_pb2, grpc_controller_pb2, grpc_broker_pb2):
        descriptor: FileDescriptor = module.DESCRIPTOR
        proto = descriptor_pb2.FileDescriptorProto()
        descriptor.CopyToProto(proto)
        files.append(proto)
    return files


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    raw = json.loads(CONTRACT_PATH.read_text())
    return {name: _contract_package(package) for name, package in raw.items()}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _proto_packages(_compile_proto_sources(tmp_path_factory.mktemp("protoc")))


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return _proto_packages(_generated_stub_files())


def _differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Readable list of every place the two shapes differ."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        problems = []
        for key in sorted(set(expected) | set(actual), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in actual:
                problems.append(f"missing in protos: {where}")
            elif key not in expected:
                problems.append(f"not in contract: {where}")
            else:
                problems.extend(_differences(expected[key], actual[key], where))
        return problems
    if expected != actual:
        return [f"{path}: contract {expected!r} != protos {actual!r}"]
    return []


# --- the checks ---------------------------------------------------------------------------------


def test_contract_covers_both_packages(contract: dict[str, Any]) -> None:
    assert set(contract) == {"tfplugin6", "plugin"}
    assert "Provider" in contract["tfplugin6"]["services"]
    assert set(contract["plugin"]["services"]) == {"GRPCController", "GRPCStdio", "GRPCBroker"}


def test_proto_sources_match_the_contract(
    contract: dict[str, Any], compiled: dict[str, Any]
) -> None:
    # Only our own files are in the set (no --include_imports), so packages compare 1:1.
    assert _differences(contract, compiled) == []


def test_generated_stubs_match_the_contract(
    contract: dict[str, Any], generated: dict[str, Any]
) -> None:
    assert _differences(contract, generated) == [], "stale stubs: run python3 build.py protos"


def test_comparison_notices_a_change(contract: dict[str, Any], compiled: dict[str, Any]) -> None:
    # Guards the comparison itself: one altered field number must be reported.
    altered = json.loads(json.dumps(compiled))
    fields = altered["tfplugin6"]["messages"]["DynamicValue"]["fields"]
    fields["json"]["number"] = 3
    del altered["plugin"]["services"]["GRPCBroker"]
    problems = _differences(contract, altered)
    assert "tfplugin6.messages.DynamicValue.fields.json.number: contract 2 != protos 3" in problems
    assert "missing in protos: plugin.services.GRPCBroker" in problems


@pytest.mark.parametrize(
    ("package", "message", "field", "expected"),
    [
        ("tfplugin6", "RawState", "flatmap", "tfplugin6.RawState.FlatmapEntry"),
        ("tfplugin6", "FunctionError", "function_argument", "int64"),
        ("plugin", "StdioData", "channel", "plugin.StdioData.Channel"),
    ],
)
def test_spot_checks(
    compiled: dict[str, Any], package: str, message: str, field: str, expected: str
) -> None:
    assert compiled[package]["messages"][message]["fields"][field]["type"] == expected
