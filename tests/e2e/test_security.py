"""Security end to end: who may talk to the provider, and where the access token must never show.

Already covered in tests/unit/test_plugin_tls.py (plugin layer with a stand-in servicer) and not
repeated here: no client certificate, a different self-made P-521 certificate, TLS < 1.2,
plaintext on the TLS socket, and the private gRPC socket being unreachable for another user (its
0700 directory). This file adds what needs the real provider executable: a certificate from
another run, a forged copy of the accepted certificate, and token leak checks with real terraform.
"""

from __future__ import annotations

import os
import re
import secrets
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from terraform_provider_pulumiservice._proto import tfplugin6_pb2
from tests.e2e.harness import EXECUTABLE_PREFIX, EmulatorHandle, TerraformRunner
from tests.e2e.test_faults import descendants, is_our_provider, tasks_config
from tests.unit.test_plugin_harness import (
    ClientCertificate,
    TlsForwarder,
    client_tls_context,
    decode_handshake_certificate,
    make_client_certificate,
    open_channel,
    provider_environment,
    provider_stub,
    raw_tls_exchange,
)

# --- mutual TLS against the real provider executable --------------------------------------------


@dataclass
class RunningProvider:
    socket_path: str
    server_certificate_der: bytes


def provider_executable(provider_dir: Path) -> Path:
    found = sorted(p for p in provider_dir.glob(EXECUTABLE_PREFIX + "*") if p.is_file())
    assert found, f"no provider executable in {provider_dir}"
    return found[0]


@contextmanager
def started_provider(executable: Path, client: ClientCertificate) -> Iterator[RunningProvider]:
    """The provider as Terraform starts it, trusting only `client`'s certificate."""
    process = subprocess.Popen(
        [str(executable)],
        env=provider_environment(client),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        fields = process.stdout.readline().decode().strip().split("|")
        assert len(fields) == 6, f"unexpected handshake {fields}"
        yield RunningProvider(fields[3], decode_handshake_certificate(fields[5]))
    finally:
        process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def forged_copy(original: ClientCertificate, directory: Path) -> ClientCertificate:
    """Same subject, issuer, serial, validity and extensions as `original`; a different key."""
    genuine = x509.load_pem_x509_certificate(original.certificate_pem.encode())
    key = ec.generate_private_key(ec.SECP521R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(genuine.subject)
        .issuer_name(genuine.issuer)
        .public_key(key.public_key())
        .serial_number(genuine.serial_number)
        .not_valid_before(genuine.not_valid_before_utc)
        .not_valid_after(genuine.not_valid_after_utc)
    )
    for extension in genuine.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    forged = builder.sign(key, hashes.SHA512())
    assert forged.subject == genuine.subject and forged.serial_number == genuine.serial_number
    certificate_path = directory / "forged-cert.pem"
    key_path = directory / "forged-key.pem"
    pem = forged.public_bytes(serialization.Encoding.PEM)
    certificate_path.write_bytes(pem)
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    return ClientCertificate(pem.decode(), certificate_path, key_path)


def refused(provider: RunningProvider, client: ClientCertificate) -> bool:
    context = client_tls_context(provider.server_certificate_der, client)
    try:
        answer = raw_tls_exchange(provider.socket_path, context)
    except (ssl.SSLError, ConnectionError):
        return True
    # Under TLS 1.3 a refused client certificate shows up as a close without an answer.
    return not answer


def schema_through_mtls(provider: RunningProvider, client: ClientCertificate, tmp: Path) -> bool:
    """A real GetProviderSchema call over mutual TLS; True if the resource schema came back."""
    context = client_tls_context(provider.server_certificate_der, client)
    forward = tmp / f"forward-{secrets.token_hex(4)}.sock"
    with TlsForwarder(forward, provider.socket_path, context), open_channel(
        f"unix:{forward}"
    ) as channel:
        response = provider_stub(channel).GetProviderSchema(
            tfplugin6_pb2.GetProviderSchema.Request(), timeout=20
        )
    return "pulumiservice_api_agents_task" in response.resource_schemas


def test_only_this_runs_certificate_is_served(provider_dir: Path, tmp_path: Path) -> None:
    executable = provider_executable(provider_dir)
    first_run = make_client_certificate(tmp_path, "first-run")
    second_run = make_client_certificate(tmp_path, "second-run")
    with started_provider(executable, first_run) as first, started_provider(
        executable, second_run
    ) as second:
        # Each run serves its own certificate (the control for the refusals below)...
        assert schema_through_mtls(first, first_run, tmp_path)
        assert not refused(second, second_run)
        # ...and refuses the certificate another run was given.
        assert refused(second, first_run)
        assert refused(first, second_run)
        # A look-alike of the accepted certificate (same names, serial, dates; other key).
        assert refused(first, forged_copy(first_run, tmp_path))


# --- the access token never shows ----------------------------------------------------------------


def distinctive_token() -> str:
    return "pul-" + secrets.token_hex(20)


def assert_absent(token: str, where: str, text: str) -> None:
    # Also look for a recognisable piece, in case only part of it slipped out.
    for piece in (token, token[-16:]):
        assert piece not in text, f"the access token appears in {where}"


@pytest.fixture()
def secret_tf(tf: TerraformRunner, emulator: EmulatorHandle) -> tuple[TerraformRunner, str]:
    token = distinctive_token()
    emulator.configure(tokens=[token])
    tf.env.update({"PULUMI_ACCESS_TOKEN": token, "TF_LOG": "TRACE"})
    return tf, token


def provider_command_lines_during_apply(tf: TerraformRunner) -> tuple[list[str], str, str]:
    """Run apply; while it runs, read the command line of each provider process."""
    process = subprocess.Popen(
        tf.command_line(["apply", "-auto-approve", "-input=false"]),
        cwd=tf.workdir, env=tf.full_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # TRACE logs would fill a pipe and stall terraform: drain both while sampling.
    outputs: dict[str, str] = {}
    readers = [
        threading.Thread(target=lambda n=name, s=stream: outputs.__setitem__(n, s.read()))
        for name, stream in (("stdout", process.stdout), ("stderr", process.stderr))
    ]
    for reader in readers:
        reader.start()
    command_lines: dict[int, str] = {}
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        for pid in descendants(process.pid):
            if pid not in command_lines and is_our_provider(pid):
                try:
                    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                command_lines[pid] = raw.replace(b"\0", b" ").decode(errors="replace")
        time.sleep(0.02)
    process.wait(120)
    for reader in readers:
        reader.join(30)
    assert process.returncode == 0, outputs["stderr"][-5000:]
    return list(command_lines.values()), outputs["stdout"], outputs["stderr"]


def test_access_token_never_appears_in_logs_state_plans_errors_or_command_lines(
    secret_tf: tuple[TerraformRunner, str], emulator: EmulatorHandle
) -> None:
    tf, token = secret_tf
    tf.write({"main.tf": tasks_config(3)})
    # Slow answers keep the provider alive long enough to read its command line.
    emulator.configure(latency_ms=150)

    tf.plan("-out=saved.tfplan")
    plan_json = tf.run("show", "-json", "saved.tfplan").stdout
    command_lines, apply_out, apply_err = provider_command_lines_during_apply(tf)
    emulator.configure(latency_ms=0)
    state_text = (tf.workdir / "terraform.tfstate").read_text()
    tf.plan()
    emulator.add_faults([{"method": "GET", "action": "status", "status": 500,
                          "retry_after": "0", "times": 20}])
    failed = tf.plan(check=False)
    emulator.clear_faults()
    emulator.add_faults([{"method": "POST", "action": "status", "status": 500, "times": 1}])
    tf.write({"main.tf": tasks_config(4)})
    failed_create = tf.apply(check=False)
    emulator.clear_faults()
    tf.destroy()

    # The checks below only mean something if the token was used and the logs are verbose.
    assert len(emulator_tasks := emulator.tasks()) == 3, emulator_tasks
    assert command_lines, "no provider process was seen during apply"
    assert failed.returncode != 0 and "500" in failed.stdout + failed.stderr
    assert failed_create.returncode != 0
    assert "may have succeeded" in " ".join((failed_create.stdout + failed_create.stderr).split())
    assert re.search(r"\[TRACE\]", apply_err) and "pulumiservice" in apply_err

    for index, result in enumerate(tf.history):
        where = f"output of `{' '.join(str(a) for a in result.args[1:3])}` (run {index})"
        assert_absent(token, where + " stdout", result.stdout)
        assert_absent(token, where + " stderr", result.stderr)
    assert_absent(token, "apply stdout", apply_out)
    assert_absent(token, "apply stderr (TF_LOG=TRACE)", apply_err)
    assert_absent(token, "the saved plan as JSON", plan_json)
    assert_absent(token, "the saved plan file", (tf.workdir / "saved.tfplan").read_bytes().decode(
        "latin-1"))
    assert_absent(token, "the state file", state_text)
    for leftover in tf.workdir.glob("terraform.tfstate*"):
        assert_absent(token, leftover.name, leftover.read_text())
    for command_line in command_lines:
        assert_absent(token, "a provider command line", command_line)
    assert_absent(token, "the emulator's request log", str(emulator.requests()))
    assert os.environ.get("PULUMI_ACCESS_TOKEN") != token
