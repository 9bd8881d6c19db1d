"""docs/ is what `build.py docs` generates from the served schema and the examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.harness import REPO_ROOT

PAGES = [
    "index.md",
    "resources/api_agents_task.md",
    "data-sources/api_agents_task.md",
    "data-sources/api_agents_task_events.md",
    "data-sources/api_agents_tasks.md",
]


def test_committed_docs_match_the_generator(built_dist: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "build.py"), "docs", "--check"],
        cwd=REPO_ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "docs are up to date" in result.stdout


def test_resource_page_has_examples_schema_sections_and_import() -> None:
    page = (REPO_ROOT / "docs" / "resources" / "api_agents_task.md").read_text()
    example = (
        REPO_ROOT / "examples" / "resources" / "pulumiservice_api_agents_task" / "resource.tf"
    ).read_text()
    assert example.strip() in page
    for heading in ("### Required", "### Optional", "### Read-Only", "## Import"):
        assert heading in page, heading
    assert "- `org_name` (String)" in page
    assert "terraform import pulumiservice_api_agents_task." in page


def test_provider_page_marks_the_token_sensitive() -> None:
    page = (REPO_ROOT / "docs" / "index.md").read_text()
    assert "- `access_token` (String, Sensitive)" in page


def test_every_page_exists() -> None:
    for page in PAGES:
        assert (REPO_ROOT / "docs" / page).is_file(), page
