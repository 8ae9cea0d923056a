"""Capabilities → skips, with the reason shown.

A suite test that needs an optional ability carries ``@requires(Capability.X)``. The suite
reads ``store.capabilities`` of the store it opened and skips the test when the capability
is not declared, with the reason ``store does not declare capability 'x'`` in the report —
never a silent pass. Conservative by default: a capability counts only if the store declares
it. (The idea of SQLAlchemy's ``testing/requirements.py``, typed and keyed by the
capabilities the store itself publishes, never by backend name.)

``@requires_absent(Capability.X)`` marks the few tests that check what a store *without* the
capability must do (e.g. raise ``NotSupported``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from burrow_tasks.types import Capability

__all__ = ["MARKER", "Requirement", "requires", "requires_absent", "unmet_requirements"]

MARKER = "burrow_requires"
"""The pytest marker that carries a test's requirements."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """A capability a test needs the store to declare (or, with ``present=False``, to lack)."""

    capability: Capability
    present: bool = True

    def met_by(self, declared: Iterable[Capability]) -> bool:
        return (self.capability in set(declared)) is self.present

    @property
    def reason(self) -> str:
        """Why the test is skipped when the requirement is not met."""
        if self.present:
            return f"store does not declare capability {self.capability.value!r}"
        return (
            f"store declares capability {self.capability.value!r}; this test checks "
            "stores without it"
        )


def requires(*capabilities: Capability) -> pytest.MarkDecorator:
    """Mark a suite test as needing every one of ``capabilities``."""
    mark: pytest.MarkDecorator = getattr(pytest.mark, MARKER)(
        *(Requirement(c) for c in capabilities)
    )
    return mark


def requires_absent(capability: Capability) -> pytest.MarkDecorator:
    """Mark a suite test as checking a store that lacks ``capability``."""
    mark: pytest.MarkDecorator = getattr(pytest.mark, MARKER)(
        Requirement(capability, present=False)
    )
    return mark


def unmet_requirements(
    required: Iterable[Requirement], declared: Iterable[Capability]
) -> list[str]:
    """The skip reasons of every requirement ``declared`` does not meet (empty: run it)."""
    declared = frozenset(declared)
    return [r.reason for r in required if not r.met_by(declared)]
