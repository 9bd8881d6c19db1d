terraform {
  required_providers {
    pulumiservice = {
      source = "pulumi/pulumiservice"
    }
  }
}

# Both settings are optional: without them the provider reads PULUMI_BACKEND_URL and
# PULUMI_ACCESS_TOKEN from the environment, and talks to https://api.pulumi.com by default.
provider "pulumiservice" {
  api_url      = "https://api.pulumi.com"
  access_token = var.pulumi_access_token
}

variable "pulumi_access_token" {
  type      = string
  sensitive = true
}
