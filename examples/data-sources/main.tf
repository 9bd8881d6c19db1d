# Read agent tasks without managing them: one task by ID, and every task of an organization.

terraform {
  required_providers {
    pulumiservice = {
      source = "pulumi/pulumiservice"
    }
  }
}

variable "org_name" {
  description = "The organization whose tasks to read."
  type        = string
}

variable "task_id" {
  description = "The ID of one task to read in detail."
  type        = string
}

provider "pulumiservice" {}

data "pulumiservice_api_agents_task" "one" {
  org_name = var.org_name
  task_id  = var.task_id
}

data "pulumiservice_api_agents_tasks" "all" {
  org_name = var.org_name
}

output "task_status" {
  value = data.pulumiservice_api_agents_task.one.status
}

output "task_names" {
  value = [for task in data.pulumiservice_api_agents_tasks.all.tasks : task.name]
}
