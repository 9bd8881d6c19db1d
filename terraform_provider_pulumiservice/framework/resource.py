"""The contracts resources and data sources implement; `protocol` drives them.

Values are whole objects in the `cty` value model: a dict holding every schema attribute.
`client` is whatever the provider's configure step produced (the Pulumi Cloud client).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from terraform_provider_pulumiservice.framework.diagnostics import Diagnostics
from terraform_provider_pulumiservice.framework.schema import Schema

State = dict[str, Any]


class Resource(ABC):
    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    def validate_config(self, config: State, diagnostics: Diagnostics) -> None:
        """Checks across attributes; attribute validators have already run."""
        return None

    def modify_plan(
        self, prior: State | None, config: State, planned: State, diagnostics: Diagnostics
    ) -> None:
        """Adjusts `planned` in place after the attribute plan modifiers ran."""
        return None

    @abstractmethod
    def create(self, client: Any, planned: State, diagnostics: Diagnostics) -> State | None:
        """Returns the new state; on a partial failure, the state of what does exist."""

    @abstractmethod
    def read(self, client: Any, state: State, diagnostics: Diagnostics) -> State | None:
        """Returns the refreshed state, or None when the remote object is gone."""

    @abstractmethod
    def update(
        self, client: Any, prior: State, planned: State, diagnostics: Diagnostics
    ) -> State: ...

    @abstractmethod
    def delete(self, client: Any, prior: State, diagnostics: Diagnostics) -> None: ...

    def upgrade_state(self, version: int, stored: dict[str, Any]) -> dict[str, Any]:
        """Rewrites the JSON attributes of state written under schema `version` (older than the
        current one) into the current version's shape. Attributes it leaves out start null."""
        return stored

    def import_state(self, client: Any, import_id: str, diagnostics: Diagnostics) -> State | None:
        diagnostics.error("Import not supported", f"{self.type_name} cannot be imported.")
        return None


class DataSource(ABC):
    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    def validate_config(self, config: State, diagnostics: Diagnostics) -> None:
        """Checks across attributes; attribute validators have already run."""
        return None

    @abstractmethod
    def read(self, client: Any, config: State, diagnostics: Diagnostics) -> State | None: ...
