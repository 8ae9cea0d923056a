"""Transactional enqueue: a job enqueued on the app's own connection exists exactly when the
app commits (the outbox pattern), through the public ``JobQueue.enqueue``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from burrow_jobs_sql import SQLStore
from burrow_tasks import FakeClock
from burrow_tasks.engine.queue import JobQueue
from burrow_tasks.types import JobStatus

START = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def queue(store: SQLStore) -> JobQueue:
    queue = JobQueue(store, clock=FakeClock(START))
    queue.handle("email", lambda payload: None)
    return queue


async def test_rollback_leaves_no_job(store: SQLStore, queue: JobQueue) -> None:
    with store.engine.connect() as connection:
        job_id = await queue.enqueue("email", {"to": "ada"}, using=connection)
        connection.rollback()
    assert await store.job_get(job_id) is None


async def test_uncommitted_job_is_invisible_to_the_store(store: SQLStore, queue: JobQueue) -> None:
    with store.engine.connect() as connection:
        job_id = await queue.enqueue("email", {"to": "ada"}, using=connection)
        assert await store.job_get(job_id) is None
        connection.commit()
    assert await store.job_get(job_id) is not None


async def test_committed_job_runs(store: SQLStore, queue: JobQueue) -> None:
    with store.engine.connect() as connection:
        job_id = await queue.enqueue("email", {"to": "ada"}, using=connection)
        connection.commit()
    await queue.run_until_idle()
    job = await store.job_get(job_id)
    assert job is not None
    assert job.status is JobStatus.COMPLETED


async def test_batch_on_the_apps_connection_is_all_or_nothing(
    store: SQLStore, queue: JobQueue
) -> None:
    with store.engine.connect() as connection:
        ids = await queue.enqueue_batch("email", [{"n": 1}, {"n": 2}], using=connection)
        connection.rollback()
    assert [await store.job_get(i) for i in ids] == [None, None]


@pytest.fixture(params=["psycopg", "asyncpg"])
async def async_connection(
    store: SQLStore, request: pytest.FixtureRequest
) -> AsyncIterator[AsyncConnection]:
    """The app's AsyncConnection: aiosqlite on SQLite; on PostgreSQL psycopg's async mode, or
    asyncpg, which takes the test's schema as a server setting instead of libpq's options."""
    url = store.engine.url
    connect_args: dict[str, object] = {}
    if url.get_backend_name() == "sqlite":
        if request.param != "psycopg":
            pytest.skip("asyncpg is a PostgreSQL driver")
        pytest.importorskip("aiosqlite", reason="AsyncConnection on SQLite needs aiosqlite")
        url = url.set(drivername="sqlite+aiosqlite")
    elif request.param == "asyncpg":
        options = str(url.query["options"])  # the test schema: -csearch_path=<name>
        schema = options.removeprefix("-csearch_path=")
        url = url.set(drivername="postgresql+asyncpg", query={})
        connect_args = {"server_settings": {"search_path": schema}}
    engine = create_async_engine(url, connect_args=connect_args)
    async with engine.connect() as connection:
        yield connection
    await engine.dispose()


async def test_async_connection_commit_and_rollback(
    store: SQLStore, queue: JobQueue, async_connection: AsyncConnection
) -> None:
    kept = await queue.enqueue("email", {"to": "kept"}, using=async_connection)
    await async_connection.commit()
    dropped = await queue.enqueue("email", {"to": "dropped"}, using=async_connection)
    await async_connection.rollback()
    assert await store.job_get(kept) is not None
    assert await store.job_get(dropped) is None


async def test_using_something_else_is_a_clear_error(store: SQLStore, queue: JobQueue) -> None:
    with pytest.raises(TypeError, match="Connection or AsyncConnection"):
        await queue.enqueue("email", {"to": "ada"}, using=object())
