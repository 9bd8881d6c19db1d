"""Benchmarks: the provider against a Go provider (hashicorp/null) and Terraform's built-in floor.

Run with `.venv/bin/python -m benchmarks.run` (or `python3 build.py bench`). Not part of the tests.
"""
