"""The pytest plugin (entry point ``pytest11``): fixtures, options, markers and the guard.

Installed with ``burrow-conformance``, it is active in every pytest run of the environment
and does nothing until a test class subclasses ``JobStoreTests``.

Fixtures a backend provides (override these in its conftest or test module):

``burrow_store`` (required)
    An async factory ``async () -> JobStore``: each call returns a new, empty store. The
    suite calls it inside the event loop the test runs on and closes what it opens.
``burrow_store_dsn`` (for capability ``cross_process``)
    A DSN naming a new, empty database that the suite, its threads and its child processes
    open through the ``burrow_backend`` hook (entry-point group ``burrow``).
``burrow_transaction`` (for capability ``transactional_enqueue``)
    ``(store) -> async context manager yielding a TransactionControl`` (``using``,
    ``commit()``, ``rollback()``).

And one a backend may override per test class:

``burrow_suite_options``
    The concurrency tests' sizes (``SuiteOptions``), by default from the command line or the
    environment.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

# Rewrite plain asserts in the suite's modules too (must run before they are imported).
pytest.register_assert_rewrite(
    "burrow_conformance.suite",
    "burrow_conformance.stateful",
    "burrow_conformance._assertions",
)

from burrow_conformance import _guard, _harness  # noqa: E402
from burrow_conformance._harness import (  # noqa: E402
    Harness,
    StoreFactory,
    SuiteOptions,
    TransactionFactory,
)
from burrow_conformance.profiles import PROFILES, resolve_profile  # noqa: E402
from burrow_conformance.requirements import MARKER, Requirement  # noqa: E402

_HARNESS_FILE = os.path.realpath(_harness.__file__)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("burrow", "burrow conformance suite")
    group.addoption(
        "--burrow-hypothesis-profile",
        choices=sorted(PROFILES),
        default=None,
        help="Hypothesis budget of the suite's stateful tests (default: env "
        "BURROW_HYPOTHESIS_PROFILE, else dev)",
    )
    group.addoption(
        "--burrow-claim-jobs",
        type=int,
        default=None,
        help="jobs per concurrent-claim test (default: env BURROW_CONFORMANCE_CLAIM_JOBS, "
        "else 2000)",
    )
    group.addoption(
        "--burrow-rescue-jobs",
        type=int,
        default=None,
        help="jobs in each race test (rescue vs complete or heartbeat, cancel vs complete) "
        "(default: env BURROW_CONFORMANCE_RESCUE_JOBS, else 1000)",
    )
    group.addoption(
        "--burrow-claimers",
        type=int,
        default=None,
        help="concurrent claimers (threads or processes) (default: env "
        "BURROW_CONFORMANCE_CLAIMERS, else 4)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*requirements): burrow conformance: the store capabilities a test needs",
    )
    try:
        resolve_profile(config.getoption("burrow_hypothesis_profile"))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _guard.check_collected_classes(items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A skip for a missing capability is raised inside the harness, so pytest would report
    every one at the same line of ``_harness.py``, folded into one ``-rs`` line for all the
    tests it skipped: report it where the suite defines the test, as a skip marker would be."""
    report = yield
    longrepr = report.longrepr
    if (
        report.skipped
        and isinstance(longrepr, tuple)
        and os.path.realpath(longrepr[0]) == _HARNESS_FILE
    ):
        body = getattr(getattr(item, "obj", None), _harness.BODY_ATTRIBUTE, None)
        code = getattr(body, "__code__", None)
        if code is not None:
            report.longrepr = (code.co_filename, code.co_firstlineno, longrepr[2])
    return report


@pytest.fixture
def burrow_store() -> StoreFactory:
    """Override me: an async factory returning a new, empty store per call."""
    pytest.fail(
        "burrow conformance: define a `burrow_store` fixture returning an async factory "
        "(`async () -> JobStore`, a new, empty store per call); see burrow-conformance's README",
        pytrace=False,
    )


@pytest.fixture
def burrow_store_dsn() -> str | None:
    """Override me for capability cross_process: a DSN of a new, empty database."""
    return None


@pytest.fixture
def burrow_transaction() -> TransactionFactory | None:
    """Override me for capability transactional_enqueue (see TransactionFactory)."""
    return None


@pytest.fixture
def burrow_suite_options(request: pytest.FixtureRequest) -> SuiteOptions:
    """The concurrency tests' sizes: ``--burrow-claim-jobs`` and the rest, else the env vars.
    Override it in a test class to size that class's runs apart from the others'."""
    return SuiteOptions.from_config(request.config)


@pytest.fixture
def burrow_harness(
    request: pytest.FixtureRequest,
    burrow_store: StoreFactory,
    burrow_store_dsn: str | None,
    burrow_transaction: TransactionFactory | None,
    burrow_suite_options: SuiteOptions,
) -> Harness:
    """What every suite test gets: the backend's fixtures and the test's requirements."""
    requirements = [
        requirement
        for mark in request.node.iter_markers(MARKER)
        for requirement in mark.args
        if isinstance(requirement, Requirement)
    ]
    return Harness(
        factory=burrow_store,
        requirements=requirements,
        dsn=burrow_store_dsn,
        transaction=burrow_transaction,
        options=burrow_suite_options,
        hypothesis_profile=resolve_profile(request.config.getoption("burrow_hypothesis_profile")),
    )
