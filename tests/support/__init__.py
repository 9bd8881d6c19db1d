"""Helpers for the tests (servers, processes, certificates, terraform); no tests live here."""
