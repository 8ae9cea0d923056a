"""The suite bites: every mutant of the example store fails its named suite test, and the
engine tests catch a backoff off by one. The unmutated example passes the same tests, so
each failure is the mutation's doing."""

from __future__ import annotations

from pathlib import Path

import pytest
from mutants import MUTANTS

HERE = Path(__file__).parent

SUITE_FILE = """
import itertools

import pytest
from burrow_conformance import JobStoreTests
from {module} import {store}


@pytest.fixture
def burrow_store(tmp_path):
    numbers = itertools.count()

    async def new_store():
        return {store}(str(tmp_path / f"store-{{next(numbers)}}.db"))

    return new_store


class TestStore(JobStoreTests):
    pass
"""


SMALL = ("--burrow-claim-jobs=200", "--burrow-rescue-jobs=200")
"""Concurrency sizes for these runs: a mutant shows within the first few hundred jobs."""


def _suite_against(pytester: pytest.Pytester, store: str, module: str = "mutants") -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.syspathinsert(HERE)
    pytester.makepyfile(test_store=SUITE_FILE.format(store=store, module=module))


@pytest.mark.parametrize(("mutant", "suite_test"), sorted(MUTANTS.items()))
def test_mutant_fails_its_named_test(
    pytester: pytest.Pytester, mutant: str, suite_test: str
) -> None:
    _suite_against(pytester, mutant)
    result = pytester.runpytest_inprocess(f"test_store.py::TestStore::{suite_test}", *SMALL)
    result.assert_outcomes(failed=1)


def test_unmutated_example_passes_every_named_test(pytester: pytest.Pytester) -> None:
    _suite_against(pytester, "SqliteExampleStore", module="burrow_example_store")
    node_ids = [f"test_store.py::TestStore::{name}" for name in sorted(set(MUTANTS.values()))]
    result = pytester.runpytest_inprocess(*node_ids, *SMALL)
    result.assert_outcomes(passed=len(node_ids))


BACKOFF_OFF_BY_ONE = """
import pytest
from burrow_tasks.engine import pool, retry


@pytest.fixture(autouse=True)
def backoff_off_by_one(monkeypatch):
    def shifted(*, now, base, attempt, max_retries):
        return retry.retry_at(now=now, base=base, attempt=attempt + 1, max_retries=max_retries + 1)

    monkeypatch.setattr(pool, "retry_at", shifted)
"""


def test_engine_tests_catch_a_backoff_off_by_one(pytester: pytest.Pytester) -> None:
    _suite_against(pytester, "SqliteExampleStore", module="burrow_example_store")
    pytester.makeconftest(BACKOFF_OFF_BY_ONE)
    result = pytester.runpytest_inprocess(
        "test_store.py::TestStore::test_engine_retries_with_exponential_backoff_then_dead"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*StoreRuleViolation: the engine runs jobs*",
            "*broken by: the engine's failure of attempt 1*",
        ]
    )
