"""The provider process as Terraform drives it: handshake, stdout discipline, signals, Shutdown."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2  # type: ignore[import-untyped]
from grpc_health.v1 import health_pb2, health_pb2_grpc

from terraform_provider_pulumiservice._proto import (
    grpc_broker_pb2,
    grpc_broker_pb2_grpc,
    grpc_controller_pb2,
    grpc_controller_pb2_grpc,
    grpc_stdio_pb2_grpc,
    tfplugin6_pb2,
)
from tests.unit.test_plugin_harness import (
    PYTHON,
    REAL_PROVIDER_MODULE,
    REPO_ROOT,
    SCHEMA_VERSION_MARKER,
    ProviderProcess,
    TlsForwarder,
    client_tls_context,
    make_client_certificate,
    open_channel,
    provider_environment,
    provider_stub,
    running_provider,
)

HCLOG_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def run_real_provider(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-X", "importtime", "-m", REAL_PROVIDER_MODULE, *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )


def imported_modules(importtime_stderr: str) -> set[str]:
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime_stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def call_shutdown(channel: grpc.Channel) -> None:
    grpc_controller_pb2_grpc.GRPCControllerStub(channel).Shutdown(  # type: ignore[no-untyped-call]
        grpc_controller_pb2.Empty(), timeout=5
    )


# --- before serving -------------------------------------------------------------------------


def test_without_magic_cookie_explains_and_exits_1_without_importing_grpc() -> None:
    environment = provider_environment(None)
    del environment["TF_PLUGIN_MAGIC_COOKIE"]
    result = run_real_provider(environment)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "plugin for Terraform/OpenTofu" in result.stderr
    assert "not meant to be run directly" in result.stderr
    assert "dev_overrides" in result.stderr
    modules = imported_modules(result.stderr)
    assert "terraform_provider_pulumiservice.plugin.main" in modules
    assert not {"grpc", "cryptography", "google.protobuf"} & modules


def test_wrong_magic_cookie_is_refused_too() -> None:
    result = run_real_provider(provider_environment(None, TF_PLUGIN_MAGIC_COOKIE="nope"))
    assert result.returncode == 1
    assert "not meant to be run directly" in result.stderr


@pytest.mark.parametrize("offered", ["5", "4,5", "7"])
def test_protocol_6_not_offered_is_a_clear_error(offered: str) -> None:
    result = run_real_provider(provider_environment(None, PLUGIN_PROTOCOL_VERSIONS=offered))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "protocol 6" in result.stderr
    assert "grpc" not in imported_modules(result.stderr)


def test_help_is_printed_without_the_cookie() -> None:
    environment = provider_environment(None)
    del environment["TF_PLUGIN_MAGIC_COOKIE"]
    result = run_real_provider(environment, "--help")
    assert result.returncode == 0
    assert "--debug" in result.stdout


# --- serving (plaintext, as without PLUGIN_CLIENT_CERT) ---------------------------------------


@pytest.mark.parametrize("offered", ["6,5", "5,6", ""])
def test_plaintext_handshake_line_has_six_fields_and_an_empty_certificate(offered: str) -> None:
    environment = provider_environment(None, PLUGIN_PROTOCOL_VERSIONS=offered)
    with running_provider(environment) as provider:
        fields = provider.handshake_fields()
        assert len(fields) == 6
        assert fields[0] == "1" and fields[1] == "6" and fields[2] == "unix"
        assert fields[4] == "grpc" and fields[5] == ""
        assert Path(fields[3]).name == "plugin.sock"
        with open_channel(f"unix:{fields[3]}") as channel:
            schema = provider_stub(channel).GetProviderSchema(
                tfplugin6_pb2.GetProviderSchema.Request(), timeout=10
            )
            assert schema.provider.version == SCHEMA_VERSION_MARKER
            call_shutdown(channel)
        assert provider.wait() == 0


def test_plugin_services_and_health_are_served() -> None:
    with (
        running_provider(provider_environment(None)) as provider,
        open_channel(f"unix:{provider.socket_path}") as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="plugin"), timeout=10
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING

        # Stdio and broker streams stay open and silent until the client goes away.
        stdio_stub = grpc_stdio_pb2_grpc.GRPCStdioStub(channel)  # type: ignore[no-untyped-call]
        stdio = stdio_stub.StreamStdio(empty_pb2.Empty(), timeout=0.5)
        with pytest.raises(grpc.RpcError) as stdio_error:
            next(iter(stdio))
        assert stdio_error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

        requests_done = threading.Event()

        def broker_requests() -> Iterator[Any]:
            yield grpc_broker_pb2.ConnInfo(service_id=1, network="unix", address="/nowhere")
            requests_done.wait(5)

        broker_stub = grpc_broker_pb2_grpc.GRPCBrokerStub(channel)  # type: ignore[no-untyped-call]
        broker = broker_stub.StartStream(broker_requests(), timeout=0.5)
        with pytest.raises(grpc.RpcError) as broker_error:
            next(iter(broker))
        requests_done.set()
        assert broker_error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

        # Those parked streams do not stop normal work.
        schema = provider_stub(channel).GetProviderSchema(
            tfplugin6_pb2.GetProviderSchema.Request(), timeout=10
        )
        assert schema.provider.version == SCHEMA_VERSION_MARKER


def test_stdout_carries_exactly_the_handshake_line_even_after_stray_prints() -> None:
    with running_provider(provider_environment(None)) as provider:
        with open_channel(f"unix:{provider.socket_path}") as channel:
            provider_stub(channel).ValidateProviderConfig(
                tfplugin6_pb2.ValidateProviderConfig.Request(), timeout=10
            )
            call_shutdown(channel)
        assert provider.wait() == 0
    assert len(provider.stdout_lines) == 1
    assert provider.stdout_lines[0].startswith("1|6|unix|")
    assert "stray print from a provider" in provider.stderr()


def test_shutdown_exits_promptly_and_removes_the_socket_directory() -> None:
    with running_provider(provider_environment(None, TF_LOG="WARN")) as provider:
        socket_dir = Path(provider.socket_path).parent
        assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
        with open_channel(f"unix:{provider.socket_path}") as channel:
            started = time.monotonic()
            call_shutdown(channel)  # Answered before the process goes away.
            code = provider.process.wait(5)
            elapsed = time.monotonic() - started
    assert code == 0
    assert elapsed < 0.5, f"Shutdown took {elapsed:.3f}s"
    assert not socket_dir.exists()
    assert "stop_all called" in provider.stderr()


def test_shutdown_exits_promptly_even_with_an_rpc_in_flight_over_tls(tmp_path: Path) -> None:
    client = make_client_certificate(tmp_path)
    with running_provider(provider_environment(client)) as provider:
        socket_dir = Path(provider.socket_path).parent
        context = client_tls_context(provider.server_certificate_der, client)
        forward_path = tmp_path / "forward.sock"
        with (
            TlsForwarder(forward_path, provider.socket_path, context),
            open_channel(f"unix:{forward_path}") as channel,
        ):
            slow = provider_stub(channel).ApplyResourceChange.future(
                tfplugin6_pb2.ApplyResourceChange.Request(), timeout=20
            )
            time.sleep(0.2)
            started = time.monotonic()
            call_shutdown(channel)
            code = provider.process.wait(5)
            elapsed = time.monotonic() - started
            # stop_all released it (or the server cancelled it): either way it is over.
            with contextlib.suppress(grpc.RpcError):
                slow.result(2)
            assert slow.done()
    assert code == 0
    assert elapsed < 0.5, f"Shutdown took {elapsed:.3f}s"
    assert not socket_dir.exists()


def test_stop_provider_is_answered_while_other_rpcs_run() -> None:
    with (
        running_provider(provider_environment(None)) as provider,
        open_channel(f"unix:{provider.socket_path}") as channel,
    ):
        stub = provider_stub(channel)
        # More blocked RPCs than a small default pool would have workers.
        slow_calls = [
            stub.ApplyResourceChange.future(tfplugin6_pb2.ApplyResourceChange.Request(), timeout=20)
            for _ in range(24)
        ]
        time.sleep(0.3)
        assert not any(call.done() for call in slow_calls)
        started = time.monotonic()
        stub.StopProvider(tfplugin6_pb2.StopProvider.Request(), timeout=5)
        answered = time.monotonic() - started
        results = [call.result(10) for call in slow_calls]
    assert answered < 2
    assert all(result.diagnostics[0].summary == "stopped" for result in results)


def test_sigint_is_ignored_and_sigterm_shuts_down_cleanly() -> None:
    with running_provider(provider_environment(None)) as provider:
        socket_dir = Path(provider.socket_path).parent
        provider.process.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert provider.process.poll() is None
        with open_channel(f"unix:{provider.socket_path}") as channel:
            schema = provider_stub(channel).GetProviderSchema(
                tfplugin6_pb2.GetProviderSchema.Request(), timeout=10
            )
            assert schema.provider.version == SCHEMA_VERSION_MARKER
        provider.process.send_signal(signal.SIGTERM)
        assert provider.wait() == 0
    assert not socket_dir.exists()


def test_sigterm_during_a_blocked_rpc_still_exits_quickly() -> None:
    with (
        running_provider(provider_environment(None)) as provider,
        open_channel(f"unix:{provider.socket_path}") as channel,
    ):
        socket_dir = Path(provider.socket_path).parent
        provider_stub(channel).ApplyResourceChange.future(
            tfplugin6_pb2.ApplyResourceChange.Request(), timeout=20
        )
        time.sleep(0.2)
        started = time.monotonic()
        provider.process.send_signal(signal.SIGTERM)
        assert provider.wait() == 0
        assert time.monotonic() - started < 1
    assert not socket_dir.exists()


def test_many_concurrent_rpcs_are_served() -> None:
    with (
        running_provider(provider_environment(None)) as provider,
        open_channel(f"unix:{provider.socket_path}") as channel,
    ):
        stub = provider_stub(channel)
        with futures.ThreadPoolExecutor(32) as pool:
            versions = list(
                pool.map(
                    lambda _: (
                        stub.GetProviderSchema(
                            tfplugin6_pb2.GetProviderSchema.Request(), timeout=10
                        ).provider.version
                    ),
                    range(200),
                )
            )
    assert versions == [SCHEMA_VERSION_MARKER] * 200


# --- logging ----------------------------------------------------------------------------------


def test_stderr_log_lines_are_hclog_json_with_six_digit_timestamps() -> None:
    with running_provider(provider_environment(None, TF_LOG="TRACE")) as provider:
        with open_channel(f"unix:{provider.socket_path}") as channel:
            provider_stub(channel).ValidateProviderConfig(
                tfplugin6_pb2.ValidateProviderConfig.Request(), timeout=10
            )
            call_shutdown(channel)
        provider.wait()
    entries = [json.loads(line) for line in provider.stderr_lines if line.startswith("{")]
    assert entries, provider.stderr()
    for entry in entries:
        assert entry["@level"] in {"trace", "debug", "info", "warn", "error"}
        assert HCLOG_TIMESTAMP.match(entry["@timestamp"]), entry
        assert isinstance(entry["@message"], str) and isinstance(entry["@module"], str)
    by_message = {entry["@message"]: entry for entry in entries}
    validated = by_message["validated the provider config"]
    assert validated["@level"] == "info"
    assert validated["@module"] == "pulumiservice.resources"
    assert validated["tf_rpc"] == "ValidateProviderConfig"
    assert by_message["plugin serving"]["@module"] == "pulumiservice.plugin"


def test_tf_log_provider_overrides_tf_log() -> None:
    environment = provider_environment(None, TF_LOG="TRACE", TF_LOG_PROVIDER="ERROR")
    with running_provider(environment) as provider:
        with open_channel(f"unix:{provider.socket_path}") as channel:
            provider_stub(channel).ValidateProviderConfig(
                tfplugin6_pb2.ValidateProviderConfig.Request(), timeout=10
            )
            call_shutdown(channel)
        provider.wait()
    assert not [line for line in provider.stderr_lines if line.startswith("{")]


# --- debug mode -------------------------------------------------------------------------------


def test_debug_mode_prints_reattach_config_survives_shutdown_and_stops_on_ctrl_c() -> None:
    environment = provider_environment(None)
    del environment["TF_PLUGIN_MAGIC_COOKIE"]
    with running_provider(environment, args=("--debug",)) as provider:
        line = provider.handshake()
        match = re.fullmatch(r"export TF_REATTACH_PROVIDERS='(.*)'", line)
        assert match, line
        config = json.loads(match.group(1))
        entry = config["registry.terraform.io/pulumi/pulumiservice"]
        assert entry["Protocol"] == "grpc" and entry["ProtocolVersion"] == 6
        assert entry["Pid"] == provider.process.pid
        assert entry["Addr"]["Network"] == "unix"
        socket_path = entry["Addr"]["String"]
        socket_dir = Path(socket_path).parent
        with open_channel(f"unix:{socket_path}") as channel:
            call_shutdown(channel)
            time.sleep(0.3)
            assert provider.process.poll() is None, "debug mode must survive Shutdown"
            schema = provider_stub(channel).GetProviderSchema(
                tfplugin6_pb2.GetProviderSchema.Request(), timeout=10
            )
            assert schema.provider.version == SCHEMA_VERSION_MARKER
        provider.process.send_signal(signal.SIGINT)
        assert provider.wait() == 0
    assert not socket_dir.exists()


def test_socket_directory_honours_plugin_unix_socket_dir(tmp_path: Path) -> None:
    environment = provider_environment(None, PLUGIN_UNIX_SOCKET_DIR=str(tmp_path))
    with running_provider(environment) as provider:
        assert Path(provider.socket_path).parent.parent == tmp_path
        provider.process.send_signal(signal.SIGTERM)
        assert provider.wait() == 0
    assert list(tmp_path.iterdir()) == []


def test_real_entry_point_serves_with_the_magic_cookie() -> None:
    if not (REPO_ROOT / "terraform_provider_pulumiservice/protocol/servicer.py").exists():
        pytest.skip("the real ProviderServicer is not written yet")
    provider = ProviderProcess(provider_environment(None), module=REAL_PROVIDER_MODULE)
    try:
        fields = provider.handshake_fields()
        with open_channel(f"unix:{fields[3]}") as channel:
            schema = provider_stub(channel).GetProviderSchema(
                tfplugin6_pb2.GetProviderSchema.Request(), timeout=20
            )
            assert schema.provider.block is not None
            call_shutdown(channel)
        assert provider.wait() == 0
    finally:
        provider.kill()


def test_provider_orphaned_by_a_killed_terraform_exits_on_its_own() -> None:
    # A stand-in "Terraform" starts the provider, reports its pid and socket, then dies hard.
    stand_in = (
        "import os, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-m', sys.argv[1]], stdout=subprocess.PIPE,\n"
        "                         stderr=subprocess.DEVNULL)\n"
        "line = child.stdout.readline().decode()\n"
        "print(child.pid, line.split('|')[3], flush=True)\n"
        "os._exit(0)\n"
    )
    result = subprocess.run(
        [PYTHON, "-c", stand_in, "tests.unit.test_plugin_harness"],
        cwd=REPO_ROOT,
        env=provider_environment(None),
        capture_output=True,
        text=True,
        timeout=30,
    )
    pid_text, socket_path = result.stdout.split()
    pid = int(pid_text)

    def alive() -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        return state != "Z"  # A zombie has exited; only its new parent has not reaped it.

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive():
        time.sleep(0.1)
    still_running = alive()
    if still_running:
        os.kill(pid, signal.SIGKILL)
    assert not still_running, "the orphaned provider kept running"
    assert not Path(socket_path).parent.exists()
