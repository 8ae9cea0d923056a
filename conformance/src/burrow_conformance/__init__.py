"""burrow_conformance: the executable specification of a burrow job store.

A backend runs it with ~10 lines::

    from burrow_conformance import JobStoreTests

    class TestMyStore(JobStoreTests):
        pass

plus a ``burrow_store`` fixture (see ``burrow_conformance.plugin``). Test-only: no runtime
package imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "Harness",
    "JobStoreTests",
    "Model",
    "Session",
    "StoreFactory",
    "SuiteOptions",
    "TransactionControl",
    "TransactionFactory",
    "requires",
    "requires_absent",
    "store_test",
]

if TYPE_CHECKING:
    from burrow_conformance._harness import (
        Harness,
        Session,
        StoreFactory,
        SuiteOptions,
        TransactionControl,
        TransactionFactory,
        store_test,
    )
    from burrow_conformance.model import Model
    from burrow_conformance.requirements import requires, requires_absent
    from burrow_conformance.suite import JobStoreTests

_HOMES = {
    "Harness": "burrow_conformance._harness",
    "Session": "burrow_conformance._harness",
    "StoreFactory": "burrow_conformance._harness",
    "SuiteOptions": "burrow_conformance._harness",
    "TransactionControl": "burrow_conformance._harness",
    "TransactionFactory": "burrow_conformance._harness",
    "store_test": "burrow_conformance._harness",
    "Model": "burrow_conformance.model",
    "requires": "burrow_conformance.requirements",
    "requires_absent": "burrow_conformance.requirements",
    "JobStoreTests": "burrow_conformance.suite",
}


def __getattr__(name: str) -> Any:
    # Imported lazily so the pytest plugin can register assert rewriting for the suite
    # modules before anything imports them.
    import importlib

    if name not in _HOMES:
        raise AttributeError(f"module 'burrow_conformance' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
