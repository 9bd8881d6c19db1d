# Read one agent task by its ID.
data "pulumiservice_api_agents_task" "example" {
  org_name = "my-org"
  task_id  = "3f8a2c1e-5b7d-4e9a-8c6f-0d1b2a3c4e5f"
}

output "task_status" {
  value = data.pulumiservice_api_agents_task.example.status
}
