"""Terraform provider for Pulumi Cloud agent tasks.

Layers, each depending only on those after it:
plugin -> protocol -> (framework, cty) -> resources / data_sources -> cloud.
The emulator package is a separate program and is never imported by the provider.
"""

PROVIDER_ADDRESS = "registry.terraform.io/pulumi/pulumiservice"
PROVIDER_TYPE_NAME = "pulumiservice"
