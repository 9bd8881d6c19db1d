# Every event of an agent task's conversation, in order (all pages).
data "pulumiservice_api_agents_task_events" "run" {
  org_name = "my-org"
  task_id  = "3f8a2c1e-5b7d-4e9a-8c6f-0d1b2a3c4e5f"
}

# The agent's final answers, and what it did along the way.
output "answers" {
  value = [
    for e in data.pulumiservice_api_agents_task_events.run.events : e.content
    if e.event_type == "assistant_message" && e.is_final == true
  ]
}

output "tool_calls" {
  value = [
    for e in data.pulumiservice_api_agents_task_events.run.events : jsondecode(e.json).eventBody.name
    if e.event_type == "exec_tool_call"
  ]
}
