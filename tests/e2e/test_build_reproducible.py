"""Two clean clones built on the same machine give byte-identical release zips."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.e2e.harness import EXECUTABLE_PREFIX, REPO_ROOT, load_build_script


def _git(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        timeout=120,
    )


def _committed_matches_working_tree(path: str) -> bool:
    committed = _git("show", f"HEAD:{path}")
    return committed.returncode == 0 and committed.stdout == (REPO_ROOT / path).read_text()


def _entries(archive: Path) -> dict[str, str]:
    with zipfile.ZipFile(archive) as opened:
        return {i.filename: hashlib.sha256(opened.read(i)).hexdigest() for i in opened.infolist()}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_two_clean_clones_build_byte_identical_release_zips(tmp_path: Path) -> None:
    if _git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout")
    # The clones reuse this checkout's venv (installing it twice more would take minutes), so
    # they must lock the same dependencies.
    for shared in ("pyproject.toml", "requirements.lock"):
        if not _committed_matches_working_tree(shared):
            pytest.skip(f"{shared} has uncommitted changes; commit them to compare clones")
    venv = REPO_ROOT / ".venv"
    assert (venv / "bin" / "python").exists(), "run `python3 build.py` first"
    build = load_build_script()
    name = f"{EXECUTABLE_PREFIX}_{build.project_version()}_{build.terraform_platform()}.zip"

    archives = []
    for clone_name in ("first", "second-at-another-path"):
        clone = tmp_path / clone_name
        cloned = _git("clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone))
        assert cloned.returncode == 0, cloned.stderr
        env = {**os.environ, "TFPS_VENV": str(venv)}
        result = subprocess.run(
            [sys.executable, str(clone / "build.py"), "build"], cwd=clone, env=env,
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900,
        )
        assert result.returncode == 0, f"build failed:\n{result.stdout}\n{result.stderr}"
        archives.append(clone / "dist" / "release" / name)

    first, second = (a.read_bytes() for a in archives)
    if first != second:
        left, right = (_entries(a) for a in archives)
        differing = sorted(n for n in left.keys() | right.keys() if left.get(n) != right.get(n))
        pytest.fail(f"the zips differ in {len(differing)} entries: {differing[:20]}")
