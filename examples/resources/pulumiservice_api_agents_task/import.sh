# An agent task is imported by "<org name>/<task ID>".
terraform import pulumiservice_api_agents_task.upgrade_review my-org/3f8a2c1e-5b7d-4e9a-8c6f-0d1b2a3c4e5f
