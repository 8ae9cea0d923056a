"""Fixtures: a real JobQueue over the memory store on a FakeClock, the admin mounted at
/admin/jobs in a host app, and a seeder that puts jobs into any state with explicit times."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from burrow_admin import create_admin
from burrow_jobs_memory import MemoryStore
from burrow_tasks import FakeClock, JobQueue
from burrow_tasks.jobs import JobError, NewJob, WorkerInfo, WorkerState
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


def require_chromium() -> Path:
    """Chromium's path; skip (or, under CI=true, fail) when Debian's package is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    message = "needs Debian's Chromium at /usr/bin/chromium: apt-get install chromium"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true: the browser tests must run; {message}")
    pytest.skip(message)


class Seeder:
    """Puts jobs into every state through the store interface, with explicit times.

    Runs, fails and completions claim the job just inserted; create them before pending jobs
    of the same type with a higher priority (the claim would take those first, and says so).
    """

    def __init__(self, store: MemoryStore, clock: FakeClock, run: Callable[..., Any]) -> None:
        self.store = store
        self.clock = clock
        self._run = run

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        result: T = self._run(make)
        return result

    def pending(
        self,
        type: str = "send-email",
        payload: str = '{"to": "a@example.com"}',
        *,
        priority: int = 0,
        max_retries: int = 3,
        run_at: datetime | None = None,
    ) -> JobId:
        now = self.clock.now()
        new = NewJob(type, payload, priority, max_retries, run_at or now)

        async def insert() -> JobId:
            [job_id] = await self.store.jobs_insert([new], now=now)
            return job_id

        job_id = self.call(insert)
        # Distinct created_at values make "newest first" observable.
        self.clock.advance(timedelta(seconds=1))
        return job_id

    def _claimed(self, type: str, payload: str, priority: int, max_retries: int) -> tuple[JobId, str]:
        job_id = self.pending(type, payload, priority=priority, max_retries=max_retries)
        now = self.clock.now()

        async def claim() -> tuple[JobId, str]:
            claimed = await self.store.jobs_claim(1, types=[type], now=now)
            assert claimed and claimed[0].id == job_id, "the seeder claimed another job first"
            return claimed[0].id, claimed[0].lease

        return self.call(claim)

    def running(self, type: str = "send-email", payload: str = "{}", *, priority: int = 0) -> JobId:
        job_id, _ = self._claimed(type, payload, priority, 3)
        return job_id

    def completed(
        self, type: str = "send-email", payload: str = "{}", *, result: str | None = None
    ) -> JobId:
        job_id, lease = self._claimed(type, payload, 0, 3)
        now = self.clock.now()
        self.call(lambda: self.store.job_complete(job_id, lease, result=result, now=now))
        return job_id

    def failed(
        self,
        type: str = "send-email",
        payload: str = "{}",
        *,
        error: JobError | None = None,
        retry_in: timedelta = timedelta(minutes=2),
    ) -> JobId:
        job_id, lease = self._claimed(type, payload, 0, 3)
        now = self.clock.now()
        error = error or JobError("boom", "builtins.RuntimeError", "Traceback: boom")
        self.call(
            lambda: self.store.job_fail(job_id, lease, error=error, retry_at=now + retry_in, now=now)
        )
        return job_id

    def dead(
        self, type: str = "send-email", payload: str = "{}", *, error: JobError | None = None
    ) -> JobId:
        job_id, lease = self._claimed(type, payload, 0, 1)
        now = self.clock.now()
        error = error or JobError("gave up", "builtins.ValueError", "Traceback: gave up")
        self.call(lambda: self.store.job_fail(job_id, lease, error=error, retry_at=None, now=now))
        return job_id

    def worker(
        self,
        types: tuple[str, ...] = ("send-email",),
        *,
        state: WorkerState = WorkerState.RUNNING,
        last_poll_at: datetime | None = None,
        id: str = "host-1-abc",
    ) -> None:
        now = self.clock.now()
        info = WorkerInfo(
            id=id,
            hostname="host-1",
            pid=101,
            state=state,
            workers=2,
            in_flight=1,
            poll_interval=timedelta(seconds=1),
            types=types,
            started_at=now - timedelta(minutes=5),
            last_poll_at=last_poll_at or now,
        )
        self.call(lambda: self.store.worker_beat(info, now=now))

    def get(self, job_id: JobId) -> Any:
        return self.call(lambda: self.store.job_get(job_id))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def queue(store: MemoryStore, clock: FakeClock) -> JobQueue:
    return JobQueue(store, clock=clock)


def mounted(admin: Starlette) -> Starlette:
    return Starlette(routes=[Mount(MOUNT, app=admin, name="jobs_admin")])


@pytest.fixture
def client(queue: JobQueue) -> Iterator[TestClient]:
    app = mounted(create_admin(queue, allow_anonymous=True, secret_key=SECRET))
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def seed(client: TestClient, store: MemoryStore, clock: FakeClock) -> Seeder:
    portal = client.portal
    assert portal is not None

    def run(make: Callable[[], Awaitable[Any]]) -> Any:
        async def call() -> Any:
            return await make()

        return portal.call(call)

    return Seeder(store, clock, run)


@pytest.fixture
def offline_seed(store: MemoryStore, clock: FakeClock) -> Seeder:
    """A seeder for tests that build their own client (the memory store needs no loop)."""

    def run(make: Callable[[], Awaitable[Any]]) -> Any:
        async def call() -> Any:
            return await make()

        return asyncio.run(call())

    return Seeder(store, clock, run)


def csrf_from(client: TestClient, path: str = MOUNT + "/") -> str:
    """GET a page and return the CSRF token its forms carry (the cookie is now set too)."""
    response = client.get(path)
    token = response.context["csrf_token"]  # type: ignore[attr-defined]
    assert isinstance(token, str)
    return token


def post_action(
    client: TestClient, job_id: JobId, action: str, **fields: str
) -> Any:
    token = csrf_from(client)
    data = {"csrf_token": token, **fields}
    return client.post(f"{MOUNT}/{job_id}/{action}", data=data, follow_redirects=False)


def as_json(text: str) -> Any:
    return json.loads(text)
