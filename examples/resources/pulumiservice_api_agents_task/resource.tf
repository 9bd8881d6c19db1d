# A task for the Pulumi Neo agent: it starts when created and can be shared or renamed later.
resource "pulumiservice_api_agents_task" "upgrade_review" {
  org_name = "my-org"
  message  = "Which of our stacks still use Node.js 16 Lambda runtimes? Propose an upgrade plan."

  approval_mode       = "manual"
  permission_mode     = "read-only"
  plan_mode           = true
  tool_execution_mode = "cloud"
  name                = "Lambda runtime review"

  # Context for the agent: the stacks and repositories the question is about.
  context_entities = [
    { type = "stack", name = "prod", project = "checkout" },
    { type = "repository", org = "my-org", name = "checkout-service", forge = "github" },
  ]

  # Only these integrations; null inherits the organization's, [] enables none.
  cli_integrations     = [{ catalog_id = "aws", name = "default" }]
  enabled_integrations = ["datadog"]
}

output "upgrade_review_status" {
  value = pulumiservice_api_agents_task.upgrade_review.status
}

# Run a drift review, wait for the agent, and output its answer. The apply fails when the agent
# reports an error, the run is cancelled, or it stops to ask for an approval.
resource "pulumiservice_api_agents_task" "drift_review" {
  org_name            = "my-org"
  message             = "Review the prod stacks for drift and summarize what differs from the code."
  approval_mode       = "auto"
  permission_mode     = "read-only"
  wait_for_completion = true

  timeouts {
    create = "30m"
  }
}

output "drift_review_answer" {
  value = pulumiservice_api_agents_task.drift_review.final_message
}
