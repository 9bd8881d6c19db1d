"""Helpers for the emulator's tests: a running emulator, a hand-advanced clock, httpx clients,
OpenAPI validation of the emulator's answers (against tests/data's extract) and an SSE frame
reader."""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema  # type: ignore[import-untyped]  # no stubs in the dev deps

from terraform_provider_pulumiservice.emulator.server import EmulatorServer

OPENAPI_PATH = Path(__file__).resolve().parents[1] / "data" / "pulumi-cloud-agents-openapi.json"
TOKEN = "emulator-token"
SCHEMA_PREFIX = "#/components/schemas/"


# --- OpenAPI response validation ------------------------------------------------------------------


def _json_schema_components(openapi: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0 component schemas as JSON Schema, with discriminators made enforceable.

    A schema with a discriminator gets a `__base` copy without it; mapping targets (which extend
    the schema through allOf) are pointed at the base, and the schema itself gains one if/then per
    mapping entry, so an event of type X must also satisfy X's schema.
    """
    schemas: dict[str, Any] = copy.deepcopy(openapi["components"]["schemas"])
    for name, schema in list(schemas.items()):
        discriminator = schema.pop("discriminator", None)
        if discriminator is None:
            continue
        base_ref = f"{SCHEMA_PREFIX}{name}__base"
        schemas[f"{name}__base"] = copy.deepcopy(schema)
        prop = discriminator["propertyName"]
        branches = []
        for value, target_ref in discriminator["mapping"].items():
            target = schemas[target_ref.removeprefix(SCHEMA_PREFIX)]
            for part in target.get("allOf", []):
                if part.get("$ref") == f"{SCHEMA_PREFIX}{name}":
                    part["$ref"] = base_ref
            branches.append(
                {
                    "if": {"properties": {prop: {"const": value}}, "required": [prop]},
                    "then": {"$ref": target_ref},
                }
            )
        known = sorted(discriminator["mapping"])
        schema["allOf"] = [*branches, {"properties": {prop: {"enum": known}}}]
    return schemas


def _date_time(value: object) -> bool:
    if not isinstance(value, str) or not value.endswith("Z"):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("date-time")(_date_time)
_COMPONENTS = _json_schema_components(json.loads(OPENAPI_PATH.read_text()))
TASK_PROPERTIES = set(_COMPONENTS["AgentTask"]["properties"])


def assert_matches_schema(instance: Any, schema_name: str) -> None:
    schema = {"$ref": f"{SCHEMA_PREFIX}{schema_name}", "components": {"schemas": _COMPONENTS}}
    jsonschema.Draft202012Validator(schema, format_checker=_FORMATS).validate(instance)


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@contextlib.contextmanager
def running_emulator(**options: Any) -> Iterator[EmulatorServer]:
    """An emulator serving on a free port for the duration of the block."""
    server = EmulatorServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def client_for(url: str, token: str = TOKEN, **options: Any) -> httpx.Client:
    """An httpx client for the emulator (plain HTTP, so no TLS context to build)."""
    headers = {"Authorization": f"token {token}"}
    return httpx.Client(base_url=url, headers=headers, timeout=10, verify=False, **options)


def sse_frames(text: str) -> list[dict[str, Any]]:
    """The frames of an SSE body: each as {"id", "data" (parsed JSON)} or {"comment"}."""
    frames: list[dict[str, Any]] = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        if not lines:
            continue
        if all(line.startswith(":") for line in lines):
            frames.append({"comment": "\n".join(line[1:].strip() for line in lines)})
            continue
        frame: dict[str, Any] = {}
        data = [line[len("data: ") :] for line in lines if line.startswith("data: ")]
        for line in lines:
            if line.startswith("id: "):
                frame["id"] = line[len("id: ") :]
        frame["data"] = json.loads("\n".join(data))
        frames.append(frame)
    return frames
