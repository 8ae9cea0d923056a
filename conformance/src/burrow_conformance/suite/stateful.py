"""Model-based conformance: random call sequences against the store and the reference model."""

from __future__ import annotations

from burrow_conformance._harness import Harness
from burrow_conformance.stateful import run_machine

__all__ = ["StatefulTests"]


class StatefulTests:
    """The state machine under the chosen Hypothesis profile (zarr's stateful store tests)."""

    def test_store_agrees_with_the_model(self, burrow_harness: Harness) -> None:
        run_machine(burrow_harness.factory, burrow_harness.hypothesis_profile)
