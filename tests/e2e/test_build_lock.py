"""requirements.lock pins everything the build installs, each with hashes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.harness import REPO_ROOT, load_build_script

LOCK = REPO_ROOT / "requirements.lock"


def _pins(text: str) -> dict[str, list[str]]:
    """name==version -> its --hash values, from a pip requirements file with continuations."""
    pins: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if re.match(r"[A-Za-z0-9]", line):
            current = line.split(";")[0].split(" ")[0].rstrip("\\").strip()
            pins[current] = []
        elif current and (found := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            pins[current].append(found.group(1))
    return pins


def test_every_locked_package_is_pinned_exactly_with_hashes() -> None:
    pins = _pins(LOCK.read_text())
    assert pins
    for pin, hashes in pins.items():
        assert re.fullmatch(r"[A-Za-z0-9._-]+==[^=\s]+", pin), pin
        assert hashes, f"{pin} has no hash"


def test_the_lock_covers_runtime_dev_and_build_requirements() -> None:
    build = load_build_script()
    assert build.unlocked_requirements() == []
    names = {pin.split("==")[0].lower() for pin in _pins(LOCK.read_text())}
    # The build tools themselves are locked too, not only what the package imports.
    assert {"pip", "setuptools", "grpcio-tools", "pyinstaller", "protobuf", "grpcio"} <= names


def test_a_dependency_missing_from_the_lock_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = load_build_script()
    shutil.copyfile(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        "\n".join(line for line in LOCK.read_text().splitlines() if not line.startswith("msgpack"))
    )
    monkeypatch.setattr(build, "ROOT", tmp_path)
    monkeypatch.setattr(build, "LOCK_FILE", lock)
    assert build.unlocked_requirements() == ["msgpack"]
