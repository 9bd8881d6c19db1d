"""What the bundle weighs and which glibc it needs, checked against the files themselves."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.e2e.harness import EXECUTABLE_PREFIX, REPO_ROOT, load_build_script

# The release zip Terraform downloads, and the folder it unpacks into .terraform/providers.
ZIP_LIMIT_BYTES = 20_000_000
UNPACKED_LIMIT_BYTES = 60_000_000


def _host_zip(built_dist: Path) -> Path:
    build = load_build_script()
    name = f"{EXECUTABLE_PREFIX}_{build.project_version()}_{build.terraform_platform()}.zip"
    return built_dist / "release" / name


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the size target is Linux's")
def test_release_zip_and_unpacked_bundle_stay_within_the_size_targets(built_dist: Path) -> None:
    archive = _host_zip(built_dist)
    with zipfile.ZipFile(archive) as opened:
        unpacked = sum(info.file_size for info in opened.infolist())
        biggest = sorted(opened.infolist(), key=lambda info: -info.compress_size)[:5]
    listing = ", ".join(f"{i.filename} {i.compress_size / 1e6:.1f} MB" for i in biggest)
    assert archive.stat().st_size <= ZIP_LIMIT_BYTES, f"zip grew; biggest entries: {listing}"
    assert unpacked <= UNPACKED_LIMIT_BYTES, f"unpacked {unpacked / 1e6:.1f} MB; {listing}"


def test_bundle_carries_no_module_the_provider_never_imports(built_dist: Path) -> None:
    internal = built_dist / "plugin" / "_internal"
    top_level = {path.name.split(".")[0] for path in internal.iterdir()}
    # httpx's command-line client pulls in pygments (4.4 MB); the provider never runs it.
    for unused in ("pygments", "anyio", "multiprocessing", "tarfile", "xmlrpc", "xml", "rich"):
        assert unused not in top_level, unused
    assert not list(internal.rglob("httpx/_main.pyc"))
    assert not list(internal.rglob("_codecs_*")), "East Asian codecs are not needed"
    assert not list(internal.rglob("roots.pem")), "grpc's own CA bundle is not needed"


@pytest.mark.skipif(shutil.which("strip") is None, reason="no strip to compare with")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF only")
def test_native_libraries_are_stripped(built_dist: Path, tmp_path: Path) -> None:
    internal = built_dist / "plugin" / "_internal"
    libraries = [p for p in internal.rglob("*.so*") if p.is_file()]
    assert libraries
    for library in libraries:
        copy = tmp_path / library.name
        shutil.copyfile(library, copy)
        subprocess.run(["strip", str(copy)], check=True, capture_output=True)
        # Stripping again removes nothing more than rounding (no symbol or debug sections left).
        assert copy.stat().st_size >= library.stat().st_size - 4096, library


def _objdump_glibc_needs(path: Path) -> str | None:
    """The highest GLIBC_x.y in `objdump -p`'s version references (an independent parser)."""
    result = subprocess.run(["objdump", "-p", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        return None  # not ELF
    section = result.stdout.split("Version References:", 1)
    if len(section) < 2:
        return None
    versions = re.findall(r"\sGLIBC_(\d+(?:\.\d+)*)\s", section[1].split("\n\n", 1)[0] + "\n")
    if not versions:
        return None
    best = max(versions, key=lambda v: tuple(int(part) for part in v.split(".")))
    return f"GLIBC_{best}"


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump is not installed")
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc is Linux's")
def test_glibc_report_matches_what_objdump_reads_from_every_elf_file(built_dist: Path) -> None:
    plugin = built_dist / "plugin"
    expected = {}
    for path in sorted(p for p in plugin.rglob("*") if p.is_file()):
        with path.open("rb") as handle:
            if handle.read(4) != b"\x7fELF":
                continue
        found = _objdump_glibc_needs(path)
        if found:
            expected[path.relative_to(plugin).as_posix()] = found
    assert expected, "no ELF file with glibc version needs in the bundle"

    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "build.py"), "glibc", str(plugin)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    reported = dict(
        (name, version)
        for version, name in re.findall(r"^(GLIBC_\S+)\s+(\S+)$", result.stdout, re.MULTILINE)
    )
    assert reported == expected
    floor = max(expected.values(), key=lambda v: tuple(int(p) for p in v[6:].split(".")))
    assert f"floor: {floor}" in result.stdout
