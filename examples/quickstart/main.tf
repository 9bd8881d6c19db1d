# Quickstart: ask the Pulumi Neo agent to do something in an organization.
#
# Point it at Pulumi Cloud (or the local emulator: `python3 build.py demo`) with the variables
# below, or leave them unset and the provider reads PULUMI_BACKEND_URL / PULUMI_ACCESS_TOKEN.

terraform {
  required_providers {
    pulumiservice = {
      source = "pulumi/pulumiservice"
    }
  }
}

variable "pulumi_api_url" {
  description = "Pulumi Cloud API URL; null falls back to PULUMI_BACKEND_URL, then https://api.pulumi.com."
  type        = string
  default     = null
}

variable "pulumi_access_token" {
  description = "Pulumi access token; null falls back to PULUMI_ACCESS_TOKEN."
  type        = string
  sensitive   = true
  default     = null
}

variable "org_name" {
  description = "The Pulumi organization that owns the task."
  type        = string
  default     = "demo-org"
}

provider "pulumiservice" {
  api_url      = var.pulumi_api_url
  access_token = var.pulumi_access_token
}

# A drift review: the agent looks, changes nothing (read-only), and its answer becomes an output.
resource "pulumiservice_api_agents_task" "drift_review" {
  org_name        = var.org_name
  message         = "Review the stacks in this organization for drift and list what differs from the code."
  approval_mode   = "auto"      # read-only work needs no approvals
  permission_mode = "read-only" # the agent may look, not change

  # Create returns when the agent has answered (or failed, or asked for an approval).
  wait_for_completion = true
  timeouts {
    create = "20m"
  }
}

output "task_id" {
  value = pulumiservice_api_agents_task.drift_review.task_id
}

output "status" {
  value = pulumiservice_api_agents_task.drift_review.status
}

output "name" {
  value = pulumiservice_api_agents_task.drift_review.name
}

output "answer" {
  description = "The agent's final answer."
  value       = pulumiservice_api_agents_task.drift_review.final_message
}
