"""``python -m terraform_provider_pulumiservice`` runs the provider (see plugin.main)."""

import sys

from terraform_provider_pulumiservice.plugin.main import main

if __name__ == "__main__":
    sys.exit(main())
