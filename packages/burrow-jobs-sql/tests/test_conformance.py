"""The public conformance suite, wired as a third party would (fixtures in conftest.py)."""

from __future__ import annotations

from burrow_conformance import JobStoreTests


class TestSQLStore(JobStoreTests):
    pass
