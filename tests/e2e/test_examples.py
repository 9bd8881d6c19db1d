"""Every example is formatted (`terraform fmt -check`) and valid (`terraform validate`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.harness import REPO_ROOT, TerraformRunner, terraform_env

EXAMPLES = REPO_ROOT / "examples"
# Whole configurations: validated as they are.
CONFIGURATIONS = ["quickstart", "import", "data-sources"]
# Documentation snippets: no terraform block of their own, so validated with one added.
SNIPPETS = [
    "provider",
    "resources/pulumiservice_api_agents_task",
    "data-sources/pulumiservice_api_agents_task",
    "data-sources/pulumiservice_api_agents_task_events",
    "data-sources/pulumiservice_api_agents_tasks",
]
REQUIRED_PROVIDERS = """terraform {
  required_providers {
    pulumiservice = {
      source = "pulumi/pulumiservice"
    }
  }
}
"""


def test_examples_are_formatted(tmp_path: Path, dev_tfrc: Path) -> None:
    tf = TerraformRunner(EXAMPLES, terraform_env(dev_tfrc))
    result = tf.run("fmt", "-check", "-recursive", "-diff", check=False)
    assert result.returncode == 0, f"unformatted examples:\n{result.stdout}{result.stderr}"


def test_every_example_directory_is_covered() -> None:
    with_tf = {p.parent.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.tf")}
    assert with_tf == set(CONFIGURATIONS) | set(SNIPPETS)


@pytest.mark.parametrize("example", CONFIGURATIONS + SNIPPETS)
def test_example_validates(example: str, tmp_path: Path, dev_tfrc: Path) -> None:
    workdir = tmp_path / "example"
    shutil.copytree(EXAMPLES / example, workdir)
    if "required_providers" not in "".join(p.read_text() for p in workdir.glob("*.tf")):
        (workdir / "terraform.tf").write_text(REQUIRED_PROVIDERS)
    tf = TerraformRunner(workdir, terraform_env(dev_tfrc))
    result = tf.run("validate")
    assert "Success" in result.stdout, result.stdout
