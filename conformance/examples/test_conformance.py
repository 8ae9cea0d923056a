"""The example store runs the whole conformance suite: this file is all the wiring it needs."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from burrow_example_store import DSN_PREFIX, SqliteExampleStore

from burrow_conformance import JobStoreTests, StoreFactory


@pytest.fixture
def burrow_store(tmp_path: Path) -> StoreFactory:
    """A new, empty database file per call; the suite closes the stores it opens."""
    numbers = itertools.count()

    async def new_store() -> SqliteExampleStore:
        return SqliteExampleStore(str(tmp_path / f"store-{next(numbers)}.db"))

    return new_store


@pytest.fixture
def burrow_store_dsn(tmp_path: Path) -> str:
    """Child processes open this through the `burrow_backend` hook (entry point `burrow`)."""
    return f"{DSN_PREFIX}{tmp_path / 'shared.db'}"


class TestExampleStore(JobStoreTests):
    pass
