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

resource "pulumiservice_api_agents_task" "review" {
  org_name        = var.org_name
  message         = "List the stacks in this organization that have not been updated for 90 days."
  approval_mode   = "manual"
  permission_mode = "read-only"
}

output "task_id" {
  value = pulumiservice_api_agents_task.review.task_id
}

output "status" {
  value = pulumiservice_api_agents_task.review.status
}

output "name" {
  value = pulumiservice_api_agents_task.review.name
}

output "created_at" {
  value = pulumiservice_api_agents_task.review.created_at
}
