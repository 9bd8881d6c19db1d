"""`python3 build.py demo` runs start to finish without a terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.harness import REPO_ROOT


def test_demo_runs_through_without_a_terminal(built_dist: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "build.py"), "demo"],
        cwd=REPO_ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900,
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, output
    assert "Destroy the demo task now?" not in output
    for number in range(1, 7):
        assert f"==> step ({number}/6)" in result.stdout, output
    assert "Apply complete! Resources: 1 added" in result.stdout, output
    assert "Destroy complete! Resources: 1 destroyed" in result.stdout, output
    assert 'task_id = "' in result.stdout, output
