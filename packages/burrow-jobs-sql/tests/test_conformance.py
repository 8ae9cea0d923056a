"""The public conformance suite, wired as a third party would (fixtures in conftest.py)."""

from __future__ import annotations

import dataclasses

import pytest

from burrow_conformance import JobStoreTests, StoreFactory, SuiteOptions

APPS_ENGINE_CLAIM_JOBS = 2000


class TestSQLStore(JobStoreTests):
    pass


class TestSQLStoreOnTheAppsEngine(JobStoreTests):
    """The store that borrows an app's pooled connections one call at a time."""

    @pytest.fixture
    def burrow_store(self, store_on_the_apps_engine: StoreFactory) -> StoreFactory:
        return store_on_the_apps_engine

    @pytest.fixture
    def burrow_suite_options(self, burrow_suite_options: SuiteOptions) -> SuiteOptions:
        # The claim tests' claimers open their stores from burrow_store_dsn, as
        # TestSQLStore's do, so they run the same claims: at full size once is enough.
        claim_jobs = min(burrow_suite_options.claim_jobs, APPS_ENGINE_CLAIM_JOBS)
        return dataclasses.replace(burrow_suite_options, claim_jobs=claim_jobs)
