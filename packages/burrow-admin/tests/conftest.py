"""Fixtures: a real JobQueue over the memory store on a FakeClock, the admin mounted at
/admin/jobs in a host app, and a seeder that puts jobs into any state with explicit times."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from burrow_admin import create_admin
from burrow_admin.testing import Seeder
from burrow_jobs_memory import MemoryStore
from burrow_jobs_sql import SQLStore
from burrow_tasks import FakeClock, JobQueue
from burrow_tasks.store import JobStore
from burrow_tasks.types import JobId

T = TypeVar("T")

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SECRET = "test-secret-key-0123456789abcdef"
MOUNT = "/admin/jobs"
CHROMIUM = Path("/usr/bin/chromium")


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
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true: the browser tests must run; {message}")
    pytest.skip(message)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    """Every admin test runs on the memory store and on the SQL store (SQLite file)."""
    if request.param == "memory":
        yield MemoryStore()
        return
    sql_store = SQLStore.from_dsn(f"sqlite:///{tmp_path / 'jobs.db'}")
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


@pytest.fixture
def seed(client: TestClient, store: JobStore, clock: FakeClock) -> Seeder:
    portal = client.portal
    assert portal is not None

    def run(make: Callable[[], Awaitable[Any]]) -> Any:
        async def call() -> Any:
            return await make()

        return portal.call(call)

    return Seeder(store, clock, run)


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
