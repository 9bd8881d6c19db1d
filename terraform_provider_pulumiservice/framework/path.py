"""Attribute paths: where in a configuration a diagnostic points."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttributeStep:
    name: str


@dataclass(frozen=True)
class IndexStep:
    index: int


@dataclass(frozen=True)
class KeyStep:
    key: str


Step = AttributeStep | IndexStep | KeyStep


@dataclass(frozen=True)
class AttributePath:
    """A path such as `cli_integrations[0].name`, carried on every attribute diagnostic."""

    steps: tuple[Step, ...] = ()

    @classmethod
    def root(cls, name: str) -> AttributePath:
        return cls((AttributeStep(name),))

    def attribute(self, name: str) -> AttributePath:
        return AttributePath((*self.steps, AttributeStep(name)))

    def index(self, index: int) -> AttributePath:
        return AttributePath((*self.steps, IndexStep(index)))

    def key(self, key: str) -> AttributePath:
        return AttributePath((*self.steps, KeyStep(key)))

    def __str__(self) -> str:
        text = ""
        for step in self.steps:
            if isinstance(step, AttributeStep):
                text += f".{step.name}" if text else step.name
            elif isinstance(step, IndexStep):
                text += f"[{step.index}]"
            elif step.key.isidentifier():
                text += f".{step.key}"
            else:
                text += f'["{step.key}"]'
        return text
