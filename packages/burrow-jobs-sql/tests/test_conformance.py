"""The public conformance suite, wired as a third party would (fixtures in conftest.py)."""

from __future__ import annotations

import pytest

from burrow_conformance import JobStoreTests, StoreFactory


class TestSQLStore(JobStoreTests):
    pass


class TestSQLStoreOnTheAppsEngine(JobStoreTests):
    """The store that borrows an app's pooled connections one call at a time."""

    @pytest.fixture
    def burrow_store(self, store_on_the_apps_engine: StoreFactory) -> StoreFactory:
        return store_on_the_apps_engine
