"""Written by build.py from pyproject.toml."""

VERSION = "0.1.0"
