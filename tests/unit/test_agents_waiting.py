"""Many runs waited for at once, over real HTTP against the emulator: every wait gets its own
answer, and waiting leaves no threads or connections behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from terraform_provider_pulumiservice.agents.run import RunEndKind
from terraform_provider_pulumiservice.agents.wait import wait_for_run
from terraform_provider_pulumiservice.cloud import ClientSettings, CloudClient
from terraform_provider_pulumiservice.cloud.transport import POOL_MAX_CONNECTIONS
from terraform_provider_pulumiservice.emulator.server import EmulatorServer

TOKEN = "emulator-token"


@pytest.fixture()
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer(
        host="127.0.0.1", port=0, tokens=(TOKEN,), idle_after=0.6, default_approval_mode="auto"
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _client_threads() -> list[str]:
    """Threads other than the emulator's (its server makes one per connection)."""
    emulator_threads = ("pulumi-cloud-emulator", "Thread-")
    return sorted(
        t.name
        for t in threading.enumerate()
        if t.is_alive()
        and not t.name.startswith(emulator_threads)
        and t is not threading.main_thread()
    )


def _round(client: CloudClient, prompts: list[str]) -> list[str | None]:
    def one(prompt: str) -> str | None:
        task_id = client.create_task(
            "acme", {"message": {"type": "user_message", "content": prompt}}
        )
        end, task = wait_for_run(client, "acme", task_id, time.monotonic() + 30)
        assert end.kind is RunEndKind.SUCCEEDED and task["status"] == "idle"
        return end.final_message

    with ThreadPoolExecutor(max_workers=10) as pool:
        return list(pool.map(one, prompts))


def test_twenty_waits_at_ten_at_a_time_get_their_own_answers_and_leak_no_threads(
    emulator: EmulatorServer,
) -> None:
    client = CloudClient(
        ClientSettings(base_url=emulator.url, token=TOKEN, user_agent="tf-test/0.0.1"),
        transport=httpx.HTTPTransport(),
    )
    try:
        prompts = [f"question {n}" for n in range(20)]
        answers = _round(client, prompts)
        for prompt, answer in zip(prompts, answers, strict=True):
            assert answer is not None and f'"{prompt}"' in answer
        _round(client, [f"again {n}" for n in range(20)])
        # The client's worker threads are reused: 40 waits of 10 at a time need no more than
        # about one per wait in flight (plus the stream reads they hand over), never one each.
        assert len(_client_threads()) <= min(20, POOL_MAX_CONNECTIONS), _client_threads()
    finally:
        client.close()
    deadline = time.monotonic() + 5
    while _client_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _client_threads() == []
