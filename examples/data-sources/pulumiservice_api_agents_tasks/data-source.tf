# List the agent tasks of an organization.
data "pulumiservice_api_agents_tasks" "all" {
  org_name = "my-org"
}

output "running_task_ids" {
  value = [for task in data.pulumiservice_api_agents_tasks.all.tasks : task.task_id if task.status == "running"]
}
