"""The memory store runs the public conformance suite exactly as a third-party backend would."""

from __future__ import annotations

import pytest

from burrow_conformance import JobStoreTests, StoreFactory
from burrow_jobs_memory import MemoryStore
from burrow_tasks.store import JobStore


@pytest.fixture
def burrow_store() -> StoreFactory:
    async def new_store() -> JobStore:
        return MemoryStore()

    return new_store


class TestMemoryStore(JobStoreTests):
    pass
