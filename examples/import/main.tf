# Bring an agent task that already exists in Pulumi Cloud under Terraform management.
# The import ID is "<org name>/<task ID>".

terraform {
  required_providers {
    pulumiservice = {
      source = "pulumi/pulumiservice"
    }
  }
}

variable "org_name" {
  description = "The organization that owns the task."
  type        = string
}

variable "task_id" {
  description = "The ID of the existing agent task."
  type        = string
}

provider "pulumiservice" {}

import {
  to = pulumiservice_api_agents_task.existing
  id = "${var.org_name}/${var.task_id}"
}

resource "pulumiservice_api_agents_task" "existing" {
  org_name = var.org_name
  # Naming the task makes `message` optional: the task exists, nothing is created.
  task_id = var.task_id
}

output "imported_status" {
  value = pulumiservice_api_agents_task.existing.status
}
