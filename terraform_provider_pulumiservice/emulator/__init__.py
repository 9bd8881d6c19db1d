"""A local Pulumi Cloud emulator for the agent-task API (a separate program; the provider never
imports it). Run `python -m terraform_provider_pulumiservice.emulator`, or use
`terraform_provider_pulumiservice.emulator.server.EmulatorServer` in-process."""
