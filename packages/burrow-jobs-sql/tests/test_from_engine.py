"""A store on the app's own engine: jobs beside the app's tables, the app's engine left as the
app made it. (The conformance suite runs on the sync form: ``test_conformance.py``.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from burrow_jobs_sql import SQLStore, StoreOpenError
from burrow_jobs_sql.dsn import to_url
from burrow_tasks import FakeClock, JobQueue, JobStatus

START = datetime(2026, 3, 1, 12, tzinfo=UTC)


async def _runs_one_job(store: SQLStore) -> JobStatus:
    queue = JobQueue(store, clock=FakeClock(START))
    queue.handle("email", lambda payload: None)
    job_id = await queue.enqueue("email", {"to": "ada"})
    await queue.run_until_idle()
    job = await store.job_get(job_id)
    assert job is not None
    return job.status


async def test_a_store_on_the_apps_engine_runs_jobs_and_leaves_its_pool_alone(
    database_dsn: str,
) -> None:
    engine = sa.create_engine(to_url(database_dsn))
    pool = engine.pool
    store = SQLStore.from_engine(engine, auto_migrate=False)
    assert await _runs_one_job(store) is JobStatus.COMPLETED
    await store.close()
    assert engine.pool is pool  # not disposed: a dispose replaces the pool
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM burrow_jobs").scalar_one() == 1
    engine.dispose()


async def test_a_store_on_the_apps_async_engine_runs_jobs_on_a_sync_engine_of_its_own(
    database_dsn: str,
) -> None:
    url = to_url(database_dsn)
    if url.get_backend_name() == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    engine = create_async_engine(url)
    store = SQLStore.from_engine(engine, auto_migrate=False)
    assert store.engine.url.drivername in ("sqlite+pysqlite", "postgresql+psycopg")
    assert await _runs_one_job(store) is JobStatus.COMPLETED
    await store.close()
    async with engine.connect() as connection:  # the app's engine still works
        count = await connection.exec_driver_sql("SELECT count(*) FROM burrow_jobs")
        assert count.scalar_one() == 1
    await engine.dispose()


def test_from_engine_names_what_it_was_given_instead_of_an_engine() -> None:
    with pytest.raises(TypeError, match="Engine or AsyncEngine, not str"):
        SQLStore.from_engine("sqlite:///jobs.db")  # type: ignore[arg-type]


def test_an_engine_that_opens_transactions_in_autocommit_mode_is_refused(
    database_dsn: str,
) -> None:
    engine = sa.create_engine(to_url(database_dsn))

    @sa.event.listens_for(engine, "begin")
    def begin(connection: sa.Connection) -> None:  # SQLAlchemy's pysqlite recipe
        connection.exec_driver_sql("BEGIN")

    with pytest.raises(StoreOpenError, match="open a transaction even in AUTOCOMMIT mode"):
        SQLStore.from_engine(engine, auto_migrate=False)
    engine.dispose()
