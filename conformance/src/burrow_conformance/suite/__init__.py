"""The suite: one module per rule, each a ``*Tests`` class; ``JobStoreTests`` is all of them.

Modules here are not named ``test_*``, so importing them never collects anything; a
backend's ``class TestMyStore(JobStoreTests)`` is what pytest collects.
"""

from __future__ import annotations

from burrow_conformance.suite.batch import BatchTests, InsertTests
from burrow_conformance.suite.batch_complete import BatchCompleteTests
from burrow_conformance.suite.claim import ClaimTests
from burrow_conformance.suite.cleanup import CleanupTests
from burrow_conformance.suite.concurrency import ConcurrencyTests
from burrow_conformance.suite.engine import EngineTests
from burrow_conformance.suite.fail import FailTests
from burrow_conformance.suite.isolation import IsolationTests
from burrow_conformance.suite.lease import LeaseTests
from burrow_conformance.suite.notify import NotifyTests
from burrow_conformance.suite.operator import OperatorTests
from burrow_conformance.suite.reads import ReadTests
from burrow_conformance.suite.records import RecordTests
from burrow_conformance.suite.release import ReleaseTests
from burrow_conformance.suite.rescue import RescueTests
from burrow_conformance.suite.stateful import StatefulTests
from burrow_conformance.suite.transactional import TransactionalEnqueueTests
from burrow_conformance.suite.workers import WorkerTests

__all__ = [
    "BatchCompleteTests",
    "BatchTests",
    "ClaimTests",
    "CleanupTests",
    "ConcurrencyTests",
    "EngineTests",
    "FailTests",
    "InsertTests",
    "IsolationTests",
    "JobStoreTests",
    "LeaseTests",
    "NotifyTests",
    "OperatorTests",
    "ReadTests",
    "RecordTests",
    "ReleaseTests",
    "RescueTests",
    "StatefulTests",
    "TransactionalEnqueueTests",
    "WorkerTests",
]


class JobStoreTests(
    IsolationTests,
    InsertTests,
    BatchTests,
    ClaimTests,
    LeaseTests,
    BatchCompleteTests,
    FailTests,
    ReleaseTests,
    RescueTests,
    CleanupTests,
    OperatorTests,
    ReadTests,
    RecordTests,
    WorkerTests,
    NotifyTests,
    TransactionalEnqueueTests,
    StatefulTests,
    ConcurrencyTests,
    EngineTests,
):
    """Every conformance test. Subclass it as ``Test<YourStore>`` and provide ``burrow_store``.

    Overriding one of its tests requires ``@pytest.mark.xfail(reason=...)`` on the override;
    the plugin refuses to run a silent override.
    """
