"""`pip install <clean clone>` into a fresh venv gives a working provider and emulator."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.harness import (
    PROVIDER_NAMESPACE_TYPE,
    REPO_ROOT,
    TerraformRunner,
    load_build_script,
    one_task_config,
    terraform_env,
)

CONFIG = one_task_config("pip", "pip-org", "served by the pip-installed package")


def _run(*args: str | Path, cwd: Path | None = None, timeout: float = 900,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=timeout,
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no system site-packages) with `pip install <clean clone>` done in it."""
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("needs a git checkout to clone")
    scratch = tmp_path_factory.mktemp("pip-install")
    clone = scratch / "clone"
    _run("git", "clone", "--quiet", "--no-hardlinks", REPO_ROOT, clone)
    assert not list((clone / "terraform_provider_pulumiservice" / "_proto").glob("*_pb2*")), (
        "generated stubs must not be committed"
    )
    venv = scratch / "venv"
    _run(sys.executable, "-m", "venv", venv)
    # Runtime and build dependencies come from the index (pip's cache makes this quick).
    _run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
         clone, cwd=scratch)
    return venv


def _site_packages(venv: Path) -> Path:
    found = list((venv / "lib").glob("python3*/site-packages"))
    assert len(found) == 1, found
    return found[0]


def test_console_script_prints_the_version(installed: Path) -> None:
    script = installed / "bin" / "terraform-provider-pulumiservice"
    result = _run(script, "--version", cwd=Path("/"))
    version = load_build_script().project_version()
    assert result.stdout == f"terraform-provider-pulumiservice {version}\n"


def test_the_package_has_generated_stubs_and_no_tests(installed: Path) -> None:
    package = _site_packages(installed) / "terraform_provider_pulumiservice"
    stubs = {p.name for p in (package / "_proto").iterdir()}
    assert {"tfplugin6_pb2.py", "tfplugin6_pb2_grpc.py", "grpc_stdio_pb2.py"} <= stubs
    assert (package / "_version.py").is_file()
    assert not list(package.rglob("*_test.py"))
    assert not (_site_packages(installed) / "tests").exists()
    record = next(_site_packages(installed).glob("terraform_provider_pulumiservice-*.dist-info"))
    files = (record / "RECORD").read_text()
    assert "tests/" not in files and "_test.py" not in files
    assert "terraform_provider_pulumiservice/_proto/tfplugin6_pb2.py" in files
    assert (record / "licenses" / "LICENSE").is_file() or "LICENSE" in files


def test_python_dash_m_serves_terraform_and_the_emulator_script_serves_the_api(
    installed: Path, tmp_path: Path
) -> None:
    # The emulator, started by its console script, from outside any checkout.
    ready = tmp_path / "emulator-url"
    emulator = subprocess.Popen(
        [str(installed / "bin" / "pulumi-cloud-emulator"), "--port", "0",
         "--ready-file", str(ready)],
        cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        url = _wait_for(ready, emulator)
        # The provider as `python -m terraform_provider_pulumiservice`, from the venv only.
        provider_dir = tmp_path / "provider"
        provider_dir.mkdir()
        launcher = provider_dir / "terraform-provider-pulumiservice"
        launcher.write_text(
            "#!/bin/sh\ncd / || exit 1\n"
            f'exec "{installed / "bin" / "python"}" -I -m terraform_provider_pulumiservice "$@"\n'
        )
        launcher.chmod(0o755)
        tfrc = tmp_path / "pip.tfrc"
        tfrc.write_text(
            "provider_installation {\n  dev_overrides {\n"
            f'    "{PROVIDER_NAMESPACE_TYPE}" = {json.dumps(str(provider_dir))}\n'
            "  }\n  direct {}\n}\n"
        )
        workdir = tmp_path / "work"
        workdir.mkdir()
        tf = TerraformRunner(workdir, terraform_env(tfrc, url, "emulator-token"))
        tf.write({"main.tf": CONFIG})
        tf.apply()
        task_id = tf.output("task_id")
        assert isinstance(task_id, str) and task_id
        tf.destroy()
    finally:
        _stop(emulator)


def _wait_for(ready: Path, process: subprocess.Popen[bytes], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists() and ready.read_text().strip():
            return ready.read_text().strip()
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"pulumi-cloud-emulator exited {process.returncode}:\n{stderr}")
        time.sleep(0.05)
    raise AssertionError("pulumi-cloud-emulator did not become ready")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
