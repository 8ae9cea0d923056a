"""Fixtures: a real JobQueue on a FakeClock over each store (memory, SQLite, PostgreSQL), the
admin mounted at /admin/jobs in a host app, and a seeder that puts jobs into any state with
explicit times.

PostgreSQL comes from env ``BURROW_TEST_POSTGRES_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``); the run works in a schema of its own, dropped
at the end. Unreachable: its tests skip, saying how to enable them; under ``CI=true`` they fail.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import psycopg
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from burrow_admin import create_admin
from burrow_admin.testing import Seeder
from burrow_jobs_memory import MemoryStore
from burrow_jobs_sql import SQLStore, jobs, workers
from burrow_tasks import FakeClock, JobQueue
from burrow_tasks.store import JobStore
from burrow_tasks.types import JobId

T = TypeVar("T")

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECRET = "test-secret-key-0123456789abcdef"
MOUNT = "/admin/jobs"
CHROMIUM = Path("/usr/bin/chromium")
DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config: pytest.Config) -> None:
    # The root config belongs to the workspace; the admin's own marker is registered here.
    config.addinivalue_line(
        "markers", "browser: drives Debian's Chromium through Playwright (apt-get install chromium)"
    )


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Chromium's path; skip (or, under CI=true, fail) when Debian's package is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = "needs Debian's Chromium at /usr/bin/chromium: apt-get install chromium"
    if in_ci():
        pytest.fail(f"CI=true: the browser tests must run; {message}")
    pytest.skip(message)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


class PostgresSchema:
    """This run's schema in the PostgreSQL test database: stores open on it through ``dsn``
    (its search_path), and ``clear`` empties its tables so each test starts from none."""

    def __init__(self, server_dsn: str) -> None:
        self.name = f"burrow_admin_test_{secrets.token_hex(4)}"
        separator = "&" if "?" in server_dsn else "?"
        self.dsn = f"{server_dsn}{separator}options={quote(f'-csearch_path={self.name}')}"
        self.connection = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
        self.connection.execute(f'CREATE SCHEMA "{self.name}"')

    def clear(self) -> None:
        # Deleting a handful of rows is far cheaper than a new schema or a migration per test.
        self.connection.execute(f"DELETE FROM {jobs.name}")
        self.connection.execute(f"DELETE FROM {workers.name}")

    def drop(self) -> None:
        with self.connection:
            self.connection.execute(f'DROP SCHEMA "{self.name}" CASCADE')


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[PostgresSchema]:
    """Created on the first PostgreSQL test (memory and SQLite runs never connect)."""
    server_dsn = os.environ.get("BURROW_TEST_POSTGRES_DSN") or DEFAULT_POSTGRES_DSN
    try:
        schema = PostgresSchema(server_dsn)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())  # psycopg's message spans lines
        message = (
            f"PostgreSQL at {server_dsn!r} is unreachable ({reason}); start it or "
            "point BURROW_TEST_POSTGRES_DSN at one"
        )
        if in_ci():
            pytest.fail(f"CI=true: the PostgreSQL tests must run; {message}", pytrace=False)
        pytest.skip(message)
    yield schema
    schema.drop()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    """Every admin test runs on the memory store and on the SQL store, over a SQLite file and
    over PostgreSQL."""
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "sqlite":
        sql_store = SQLStore.from_dsn(f"sqlite:///{tmp_path / 'jobs.db'}")
    else:
        schema: PostgresSchema = request.getfixturevalue("postgres_schema")
        # The first open migrates the schema. The admin's requests come one at a time, so
        # two connections are plenty (the default opens up to eight).
        sql_store = SQLStore.from_dsn(schema.dsn, max_connections=2)
        schema.clear()
    yield sql_store
    asyncio.run(sql_store.close())


@pytest.fixture
def queue(store: JobStore, clock: FakeClock) -> JobQueue:
    return JobQueue(store, clock=clock)


@pytest.fixture
def client(queue: JobQueue) -> Iterator[TestClient]:
    admin = create_admin(queue, allow_anonymous=True, secret_key=SECRET)
    app = Starlette(routes=[Mount(MOUNT, app=admin, name="jobs_admin")])
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def _on_the_clients_loop(client: TestClient) -> Callable[[Callable[[], Awaitable[Any]]], Any]:
    portal = client.portal
    assert portal is not None

    def run(make: Callable[[], Awaitable[Any]]) -> Any:
        async def call() -> Any:
            return await make()

        return portal.call(call)

    return run


@pytest.fixture
def seed(client: TestClient, store: JobStore, clock: FakeClock) -> Seeder:
    return Seeder(store, clock, _on_the_clients_loop(client))


@pytest.fixture
def seed_for(store: JobStore, clock: FakeClock) -> Callable[[TestClient], Seeder]:
    """A seeder on the loop of a client the test builds itself (an admin of other settings)."""
    return lambda client: Seeder(store, clock, _on_the_clients_loop(client))


@pytest.fixture
def offline_seed(store: JobStore, clock: FakeClock) -> Seeder:
    """A seeder for tests that build their own client (neither store is bound to a loop)."""

    def run(make: Callable[[], Awaitable[Any]]) -> Any:
        async def call() -> Any:
            return await make()

        return asyncio.run(call())

    return Seeder(store, clock, run)


@pytest.fixture
def post_action(client: TestClient) -> Callable[..., Any]:
    """POST an action the way the admin's own form does: GET a page for the CSRF token
    (which also sets the cookie), then send it with ``fields``."""

    def post(job_id: JobId, action: str, **fields: str) -> Any:
        token = client.get(MOUNT + "/").context["csrf_token"]  # type: ignore[attr-defined]
        data = {"csrf_token": token, **fields}
        return client.post(f"{MOUNT}/{job_id}/{action}", data=data, follow_redirects=False)

    return post
