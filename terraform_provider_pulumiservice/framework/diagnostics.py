"""Diagnostics: the only way errors and warnings leave the provider."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from terraform_provider_pulumiservice.framework.path import AttributePath


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    summary: str
    detail: str = ""
    path: AttributePath | None = None


class Diagnostics(list[Diagnostic]):
    """An ordered collection of diagnostics that operations append to."""

    def error(self, summary: str, detail: str = "", path: AttributePath | None = None) -> None:
        self.append(Diagnostic(Severity.ERROR, summary, detail, path))

    def warning(self, summary: str, detail: str = "", path: AttributePath | None = None) -> None:
        self.append(Diagnostic(Severity.WARNING, summary, detail, path))

    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self)
