"""End-to-end fixtures: the provider directory, an in-process emulator, a terraform runner.

`python3 build.py test` sets TFPS_PROVIDER_DIR to the PyInstaller build (dist/plugin); plain
`pytest` falls back to a launcher that runs the provider from source.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import (
    DEFAULT_TOKEN,
    REPO_ROOT,
    EmulatorHandle,
    TerraformRunner,
    dev_overrides_tfrc,
    terraform_env,
    terraform_path,
    write_init_mirror,
    write_source_launcher,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Everything under tests/e2e drives terraform: mark it, and skip it cleanly without terraform.
    here = Path(__file__).parent
    missing = terraform_path() is None
    for item in items:
        if here not in Path(str(item.path)).parents:
            continue
        item.add_marker(pytest.mark.e2e)
        if missing:
            item.add_marker(pytest.mark.skip(reason="terraform is not on PATH"))


@pytest.fixture(scope="session")
def provider_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory holding a `terraform-provider-pulumiservice*` executable (for dev_overrides)."""
    configured = os.environ.get("TFPS_PROVIDER_DIR")
    if configured:
        return Path(configured).resolve()
    return write_source_launcher(tmp_path_factory.mktemp("provider-from-source")).parent


@pytest.fixture(scope="session")
def built_dist() -> Path:
    """The repository's dist/ with a current PyInstaller build (built here if needed).

    Under `python3 build.py test` the build already happened; from plain pytest this runs
    `build.py build`, which does nothing when the sources have not changed.
    """
    dist = REPO_ROOT / "dist"
    if not os.environ.get("TFPS_PROVIDER_DIR"):
        result = subprocess.run(
            [sys.executable, str(REPO_ROOT / "build.py"), "build"],
            cwd=REPO_ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900,
        )
        assert result.returncode == 0, f"build failed:\n{result.stdout}\n{result.stderr}"
    assert (dist / "plugin").is_dir(), "dist/plugin is missing: run `python3 build.py`"
    return dist


@pytest.fixture(scope="session")
def dev_tfrc(provider_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CLI config file whose dev_overrides point pulumi/pulumiservice at `provider_dir`.

    `terraform init` is optional with it, and works offline (a local mirror answers it).
    """
    directory = tmp_path_factory.mktemp("tfrc")
    mirror = write_init_mirror(directory / "mirror", provider_dir)
    path = directory / "dev.tfrc"
    path.write_text(dev_overrides_tfrc(provider_dir, mirror))
    return path


@pytest.fixture()
def emulator() -> Iterator[EmulatorHandle]:
    """A fresh Pulumi Cloud emulator on a free port, stopped after the test."""
    from terraform_provider_pulumiservice.emulator.server import EmulatorServer

    server = EmulatorServer(
        host="127.0.0.1",
        port=0,
        db_path=None,
        tokens=(DEFAULT_TOKEN,),
        idle_after=2.0,
        cli_integrations=(("aws", "default"), ("gcp", "default")),
    )
    server.start()
    try:
        yield EmulatorHandle(server.url, DEFAULT_TOKEN, server)
    finally:
        server.stop()


@pytest.fixture()
def tf(tmp_path: Path, dev_tfrc: Path, emulator: EmulatorHandle) -> TerraformRunner:
    """terraform in a fresh directory, wired to the provider (dev_overrides) and the emulator."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    return TerraformRunner(workdir, terraform_env(dev_tfrc, emulator.url, emulator.token))
