"""A created task keeps its identity, whatever the API answers afterwards (real terraform).

An adversarial API of the tests' own (tests/support/hostile_api.py) answers the create
correctly and then misbehaves: a read-back without `id`, one naming another task, bodies that
are not usable JSON; a create whose answer drips. Each test checks the diagnostic, the state
(the created task kept, tainted where the apply failed) and that there was exactly one POST.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.harness import TerraformRunner
from tests.support.fake_cloud import sample_task
from tests.support.hostile_api import Exchange, HostileApi, Wire, response_bytes

CREATED_ID = "t-created"
TASKS = "/api/preview/agents/acme/tasks"

TASK_OBJECT = sample_task(CREATED_ID, name="Check my stacks")

TASK = """
resource "pulumiservice_api_agents_task" "t" {
  org_name = "acme"
  message  = "Check my stacks"
}
"""


def api(read_back: Callable[[Exchange, Wire], None]) -> Callable[[Exchange, Wire], None]:
    """Creates answer with CREATED_ID; every other request goes to `read_back`."""

    def behaviour(exchange: Exchange, wire: Wire) -> None:
        if exchange.method == "POST" and exchange.path == TASKS:
            wire.send(response_bytes(201, {"taskId": CREATED_ID}))
        else:
            read_back(exchange, wire)

    return behaviour


def answer(body: bytes | dict[str, Any]) -> Callable[[Exchange, Wire], None]:
    def behaviour(exchange: Exchange, wire: Wire) -> None:
        wire.send(response_bytes(200, body))

    return behaviour


def configure(tf: TerraformRunner, url: str, extra: str = "") -> None:
    tf.env["PULUMI_BACKEND_URL"] = url
    tf.write(
        {
            "main.tf": "terraform {\n  required_providers {\n    pulumiservice = { source = "
            '"pulumi/pulumiservice" }\n  }\n}\nprovider "pulumiservice" {\n'
            f'  request_timeout = "3s"\n  operation_timeout = "10s"\n{extra}}}\n' + TASK
        }
    )


def instance(tf: TerraformRunner) -> dict[str, Any]:
    state = json.loads((tf.workdir / "terraform.tfstate").read_text())
    found: dict[str, Any] = state["resources"][0]["instances"][0]
    return found


def flat(text: str) -> str:
    return " ".join(text.split())


def test_a_read_back_without_id_keeps_the_id_of_the_create_response(tf: TerraformRunner) -> None:
    body = {k: v for k, v in TASK_OBJECT.items() if k != "id"}
    with HostileApi(api(answer(body))) as server:
        configure(tf, server.url)
        tf.apply()
        assert len(server.requests_to("POST", "/tasks")) == 1
    attributes = instance(tf)["attributes"]
    assert attributes["task_id"] == CREATED_ID
    assert attributes["id"] == f"acme/{CREATED_ID}"


def test_a_read_back_naming_another_task_is_an_error_and_the_created_task_stays_tainted(
    tf: TerraformRunner,
) -> None:
    with HostileApi(api(answer({**TASK_OBJECT, "id": "t-someone-else"}))) as server:
        configure(tf, server.url)
        result = tf.apply(check=False)
        assert len(server.requests_to("POST", "/tasks")) == 1
    output = flat(result.stdout + result.stderr)
    assert result.returncode == 1
    assert "t-someone-else" in output and "answered about another task" in output
    created = instance(tf)
    assert created["status"] == "tainted"
    assert created["attributes"]["task_id"] == CREATED_ID


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"id": "t-created", "tokensUsed": NaN}', "NaN"),
        (b"[" * 5000 + b"]" * 5000, "deep"),
        (b'["a", "list"]', "object"),
    ],
    ids=["invalid-json", "nan", "deep-nesting", "wrong-type"],
)
def test_an_unusable_read_back_names_the_operation_and_keeps_the_created_task(
    tf: TerraformRunner, body: bytes, problem: str
) -> None:
    with HostileApi(api(answer(body))) as server:
        configure(tf, server.url)
        result = tf.apply(check=False)
        assert len(server.requests_to("POST", "/tasks")) == 1
    output = flat(result.stdout + result.stderr)
    assert result.returncode == 1
    assert "Internal provider error" not in output and "Traceback" not in output
    assert "HTTP 200" in output and "req-hostile-1" in output
    assert problem.lower() in output.lower()
    created = instance(tf)
    assert created["status"] == "tainted"
    assert created["attributes"]["task_id"] == CREATED_ID


def test_a_refresh_whose_answer_lacks_id_keeps_the_tracked_task(tf: TerraformRunner) -> None:
    with HostileApi(api(answer(TASK_OBJECT))) as server:
        configure(tf, server.url)
        tf.apply()
    body = {k: v for k, v in TASK_OBJECT.items() if k != "id"}
    with HostileApi(api(answer({**body, "name": "renamed"}))) as server:
        tf.env["PULUMI_BACKEND_URL"] = server.url
        tf.run("apply", "-refresh-only", "-auto-approve")
    attributes = instance(tf)["attributes"]
    assert attributes["task_id"] == CREATED_ID and attributes["name"] == "renamed"


def test_data_sources_turn_unusable_bodies_into_diagnostics(tf: TerraformRunner) -> None:
    with HostileApi(answer(b"[" * 5000)) as server:
        tf.env["PULUMI_BACKEND_URL"] = server.url
        tf.write(
            {
                "main.tf": 'provider "pulumiservice" {\n  operation_timeout = "10s"\n}\n'
                "terraform {\n  required_providers {\n    pulumiservice = { source = "
                '"pulumi/pulumiservice" }\n  }\n}\n'
                'data "pulumiservice_api_agents_task" "one" {\n  org_name = "acme"\n'
                '  task_id = "t1"\n}\n'
                'data "pulumiservice_api_agents_tasks" "all" {\n  org_name = "acme"\n}\n'
                'data "pulumiservice_api_agents_task_events" "run" {\n  org_name = "acme"\n'
                '  task_id = "t1"\n}\n'
            }
        )
        result = tf.plan(check=False)
    output = flat(result.stdout + result.stderr)
    assert result.returncode == 1
    assert "Internal provider error" not in output and "Traceback" not in output
    assert output.count("HTTP 200") >= 3


def test_a_dripping_create_ends_as_an_unknown_outcome_within_the_deadline(
    tf: TerraformRunner,
) -> None:
    def drip(exchange: Exchange, wire: Wire) -> None:
        wire.drip(response_bytes(201, {"taskId": CREATED_ID}), interval=1.0)

    with HostileApi(drip, max_seconds=60) as server:
        configure(tf, server.url)
        started = time.monotonic()
        result = tf.apply(check=False)
        elapsed = time.monotonic() - started
        posts = server.requests_to("POST", "/tasks")
    output = flat(result.stdout + result.stderr)
    assert result.returncode == 1
    assert len(posts) == 1
    assert "may have succeeded" in output and "terraform import" in output
    assert elapsed < 45


def test_a_message_too_large_for_terraforms_messages_is_refused_at_plan(
    tf: TerraformRunner,
) -> None:
    with HostileApi(answer(TASK_OBJECT)) as server:
        configure(tf, server.url)
        (tf.workdir / "big.txt").write_text("x" * (5 * 1024 * 1024))
        main = (tf.workdir / "main.tf").read_text()
        tf.write({"main.tf": main.replace('"Check my stacks"', 'file("big.txt")')})
        result = tf.plan(check=False)
        assert server.requests_to("POST") == []
    output = flat(result.stdout + result.stderr)
    assert result.returncode == 1
    assert "the limit is 4,194,304 bytes" in output
