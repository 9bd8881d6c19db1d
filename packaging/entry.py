"""PyInstaller entry point: the frozen executable starts the provider's plugin server."""

from __future__ import annotations

import sys

from terraform_provider_pulumiservice.plugin.main import main

if __name__ == "__main__":
    sys.exit(main())
