"""The release artifacts in dist/release: zip layout, checksums, manifest."""

from __future__ import annotations

import hashlib
import json
import re
import stat
import zipfile
from pathlib import Path

import pytest

from tests.e2e.harness import (
    EXECUTABLE_PREFIX,
    PROVIDER_SOURCE,
    TerraformRunner,
    load_build_script,
    terraform_env,
)

CONFIG = """
terraform {
  required_providers {
    pulumiservice = {
      source = "pulumi/pulumiservice"
    }
  }
}

provider "pulumiservice" {}
"""


def _version() -> str:
    return str(load_build_script().project_version())


def _host_zip(release_dir: Path) -> Path:
    platform = load_build_script().terraform_platform()
    return release_dir / f"{EXECUTABLE_PREFIX}_{_version()}_{platform}.zip"


@pytest.fixture(scope="module")
def release_dir(built_dist: Path) -> Path:
    return built_dist / "release"


def _zips(release_dir: Path) -> list[Path]:
    found = sorted(release_dir.glob(f"{EXECUTABLE_PREFIX}_{_version()}_*_*.zip"))
    assert found, f"no release zip in {release_dir}"
    return found


def test_zip_name_uses_terraform_platform_names(release_dir: Path) -> None:
    for archive in _zips(release_dir):
        platform = archive.name.removeprefix(f"{EXECUTABLE_PREFIX}_{_version()}_")
        platform = platform.removesuffix(".zip")
        os_name, arch = platform.split("_")
        assert os_name in {"linux", "darwin", "windows", "freebsd"}
        assert arch in {"amd64", "arm64", "386", "arm"}


def test_zip_holds_the_executable_with_its_execute_bit_and_internal_folder(
    release_dir: Path,
) -> None:
    executable = f"{EXECUTABLE_PREFIX}_v{_version()}"
    for archive in _zips(release_dir):
        with zipfile.ZipFile(archive) as opened:
            infos = {info.filename: info for info in opened.infolist()}
        assert executable in infos
        mode = infos[executable].external_attr >> 16
        assert stat.S_ISREG(mode)
        assert mode & stat.S_IXUSR and mode & stat.S_IXOTH, oct(mode)
        top_level = {name.split("/", 1)[0] for name in infos}
        assert top_level == {executable, "_internal"}
        assert any(name.startswith("_internal/") for name in infos)


def test_zip_matches_the_one_folder_build(release_dir: Path, built_dist: Path) -> None:
    plugin = built_dist / "plugin"
    on_disk = {
        path.relative_to(plugin).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in plugin.rglob("*")
        if path.is_file()
    }
    archive = _host_zip(release_dir)
    with zipfile.ZipFile(archive) as opened:
        in_zip = {
            info.filename: hashlib.sha256(opened.read(info)).hexdigest()
            for info in opened.infolist()
        }
    assert in_zip == on_disk


def test_sha256sums_lists_every_artifact_correctly(release_dir: Path) -> None:
    sums = release_dir / f"{EXECUTABLE_PREFIX}_{_version()}_SHA256SUMS"
    lines = sums.read_text().splitlines()
    listed = {}
    for line in lines:
        match = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line)
        assert match, f"not sha256sum format: {line!r}"
        listed[match.group(2)] = match.group(1)
    expected_names = {p.name for p in _zips(release_dir)}
    expected_names.add(f"{EXECUTABLE_PREFIX}_{_version()}_manifest.json")
    assert set(listed) == expected_names
    for name, digest in listed.items():
        assert hashlib.sha256((release_dir / name).read_bytes()).hexdigest() == digest, name


def test_manifest_declares_protocol_6(release_dir: Path) -> None:
    manifest = release_dir / f"{EXECUTABLE_PREFIX}_{_version()}_manifest.json"
    assert json.loads(manifest.read_text()) == {
        "version": 1,
        "metadata": {"protocol_versions": ["6.0"]},
    }


def test_dev_tfrc_serves_the_build_and_lets_init_work_offline(
    built_dist: Path, tmp_path: Path
) -> None:
    text = (built_dist / "dev.tfrc").read_text()
    assert json.dumps(str(built_dist / "plugin")) in text
    tf = TerraformRunner(tmp_path, terraform_env(built_dist / "dev.tfrc"))
    tf.write({"main.tf": CONFIG})
    init = tf.init()
    assert "development overrides" in init.stdout + init.stderr
    schema = tf.schema_json()["provider_schemas"][PROVIDER_SOURCE]
    assert "pulumiservice_api_agents_task" in schema["resource_schemas"]


def test_bundle_leaves_out_what_the_provider_never_uses(built_dist: Path) -> None:
    # The bundle keeps modules as loose .pyc files (PyInstaller `noarchive`) in _internal/.
    internal = built_dist / "plugin" / "_internal"
    modules = {
        ".".join(path.relative_to(internal).with_suffix("").parts).removesuffix(".__init__")
        for path in internal.rglob("*.pyc")
    }
    assert "terraform_provider_pulumiservice.plugin.main" in modules
    assert "terraform_provider_pulumiservice.resources.api_agents_task" in modules
    for unused in (
        "terraform_provider_pulumiservice.emulator", "unittest", "tkinter", "pydoc",
        "grpc_tools", "setuptools", "pytest", "hypothesis",
    ):
        leaked = sorted(m for m in modules if m == unused or m.startswith(unused + "."))
        assert not leaked, leaked
