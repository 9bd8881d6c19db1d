# A task for the Pulumi Neo agent: it starts when created and can be shared or renamed later.
resource "pulumiservice_api_agents_task" "upgrade_review" {
  org_name = "my-org"

  message = {
    content = "Which of our stacks still use Node.js 16 Lambda runtimes? Propose an upgrade plan."
  }

  approval_mode       = "manual"
  permission_mode     = "read-only"
  plan_mode           = true
  tool_execution_mode = "cloud"
  name                = "Lambda runtime review"
}

# The message may also be a plain string.
resource "pulumiservice_api_agents_task" "short" {
  org_name = "my-org"
  message  = "Summarize last week's failed deployments."
}

output "upgrade_review_status" {
  value = pulumiservice_api_agents_task.upgrade_review.status
}
