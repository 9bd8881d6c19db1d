"""The agent task data sources, including a list that spans several API pages."""

from __future__ import annotations

from tests.e2e.harness import EmulatorHandle, TerraformRunner
from tests.e2e.test_resource_import import make_task
from tests.e2e.test_resource_lifecycle import PROVIDER


def test_single_task_data_source(tf: TerraformRunner, emulator: EmulatorHandle) -> None:
    task_id = make_task(emulator, "Summarize last week's deployments")
    tf.write(
        {
            "main.tf": PROVIDER
            + f"""
data "pulumiservice_api_agents_task" "one" {{
  org_name = "acme"
  task_id  = "{task_id}"
}}
output "name" {{ value = data.pulumiservice_api_agents_task.one.name }}
output "by" {{ value = data.pulumiservice_api_agents_task.one.created_by.github_login }}
"""
        }
    )
    tf.apply()
    assert tf.output("name").startswith("Summarize last week")
    assert tf.output("by")


def test_task_list_follows_every_page(tf: TerraformRunner, emulator: EmulatorHandle) -> None:
    ids = {make_task(emulator, f"task number {n}") for n in range(130)}
    tf.write(
        {
            "main.tf": PROVIDER
            + """
data "pulumiservice_api_agents_tasks" "all" {
  org_name = "acme"
}
data "pulumiservice_api_agents_tasks" "async" {
  org_name  = "acme"
  task_type = "async"
}
output "ids" { value = [for t in data.pulumiservice_api_agents_tasks.all.tasks : t.task_id] }
output "async_count" { value = length(data.pulumiservice_api_agents_tasks.async.tasks) }
"""
        }
    )
    tf.apply()
    assert set(tf.output("ids")) == ids
    assert tf.output("async_count") == 0
    lists = [
        r
        for r in emulator.requests()
        if r["method"] == "GET" and r["path"] == "/api/preview/agents/acme/tasks"
    ]
    assert any("continuationToken" in r["query"] for r in lists)
    assert any(r["query"].get("taskType") == "async" for r in lists)


def test_missing_task_is_a_diagnostic(tf: TerraformRunner, emulator: EmulatorHandle) -> None:
    tf.write(
        {
            "main.tf": PROVIDER
            + """
data "pulumiservice_api_agents_task" "gone" {
  org_name = "acme"
  task_id  = "does-not-exist"
}
"""
        }
    )
    result = tf.plan(check=False)
    assert result.returncode != 0
    assert "Agent task not found" in result.stderr
