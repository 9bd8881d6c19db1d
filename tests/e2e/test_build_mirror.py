"""Installing the built provider from a filesystem mirror, packed and unpacked, with lock hashes."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import (
    PROVIDER_SOURCE,
    REPO_ROOT,
    EmulatorHandle,
    TerraformRunner,
    filesystem_mirror_tfrc,
    load_build_script,
    one_task_config,
    terraform_env,
)

CONFIG = one_task_config(
    "mirrored",
    "mirror-org",
    "installed from a filesystem mirror",
    extra='  approval_mode   = "manual"\n  permission_mode = "read-only"\n',
)


def _install_mirror(mirror: Path, layout: str) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "build.py"), "mirror", str(mirror), "--layout", layout],
        cwd=REPO_ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900,
    )
    assert result.returncode == 0, f"build.py mirror failed:\n{result.stdout}\n{result.stderr}"
    hashes = dict(re.findall(r"^(h1|zh):(\S+)$", result.stdout, re.MULTILINE))
    assert set(hashes) == {"h1", "zh"}, result.stdout
    return {kind: f"{kind}:{value}" for kind, value in hashes.items()}


def _locked_hashes(workdir: Path) -> list[str]:
    lock = (workdir / ".terraform.lock.hcl").read_text()
    block = lock.split(f'provider "{PROVIDER_SOURCE}"', 1)[1]
    return re.findall(r'"((?:h1|zh):[^"]+)"', block)


@pytest.mark.parametrize("layout", ["packed", "unpacked"])
def test_init_from_mirror_records_the_printed_hash_and_applies(
    layout: str, built_dist: Path, tmp_path: Path, emulator: EmulatorHandle
) -> None:
    mirror = tmp_path / "mirror"
    printed = _install_mirror(mirror, layout)
    provider_root = mirror / PROVIDER_SOURCE
    zips = list(provider_root.glob("*.zip"))
    version_dirs = [p for p in provider_root.iterdir() if p.is_dir()]
    if layout == "packed":
        assert len(zips) == 1 and not version_dirs
        assert printed["zh"] == "zh:" + load_build_script().sha256_file(zips[0])
    else:
        assert not zips and len(version_dirs) == 1

    tfrc = tmp_path / "mirror.tfrc"
    tfrc.write_text(filesystem_mirror_tfrc(mirror))
    workdir = tmp_path / "work"
    workdir.mkdir()
    tf = TerraformRunner(workdir, terraform_env(tfrc, emulator.url, emulator.token))
    tf.write({"main.tf": CONFIG})
    tf.init()

    locked = _locked_hashes(workdir)
    assert printed["h1"] in locked, f"lock has {locked}, build.py printed {printed}"
    assert all(h == printed["h1"] or h == printed["zh"] for h in locked), locked

    # The installed copy must carry the one-folder bundle's _internal/ next to the executable.
    installed = next((workdir / ".terraform" / "providers" / PROVIDER_SOURCE).glob("*/*"))
    assert (installed / "_internal").is_dir(), sorted(p.name for p in installed.iterdir())

    schema = tf.schema_json()
    assert PROVIDER_SOURCE in schema["provider_schemas"]
    tf.apply()
    task_id = tf.output("task_id")
    assert task_id in {entry["task"]["id"] for entry in emulator.tasks()}
    tf.destroy()


def test_hash1_is_go_dirhash_over_sorted_sha256_lines(tmp_path: Path) -> None:
    build = load_build_script()
    tree = tmp_path / "tree"
    (tree / "dir").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"hello\n")
    (tree / "B.txt").write_bytes(b"upper")
    (tree / "dir" / "empty").write_bytes(b"")
    # Lines sorted by byte value of the name ("B.txt" < "a.txt" < "dir/empty").
    summary = "".join(
        f"{hashlib.sha256(content).hexdigest()}  {name}\n"
        for name, content in [("B.txt", b"upper"), ("a.txt", b"hello\n"), ("dir/empty", b"")]
    )
    expected = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
    assert build.dir_hash1(tree) == expected

    archive = tmp_path / "tree.zip"
    build.write_zip(tree, archive)
    assert build.zip_hash1(archive) == expected
