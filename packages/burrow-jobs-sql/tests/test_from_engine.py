"""A store on the app's own engine: jobs beside the app's tables, the app's engine left as the
app made it. (The conformance suite runs on the sync form: ``test_conformance.py``.)"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
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


async def test_stores_opened_again_and_again_on_an_apps_sqlite_engine_add_one_listener(
    tmp_path: Path,
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    before = len(engine.pool.dispatch.connect)
    for _ in range(3):
        await SQLStore.from_engine(engine).close()

    assert len(engine.pool.dispatch.connect) == before + 1
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


@pytest.fixture
def empty_postgres_database(postgres_schemas: object, postgres_admin: str) -> Iterator[sa.URL]:
    """A new database of its own: an asyncpg engine's schema would be set in its connect_args,
    which the store's engine does not see, so this test keeps to ``public``."""
    name = f"burrow_test_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield to_url(postgres_admin).set(database=name, query={})
    finally:
        with psycopg.connect(postgres_admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_a_store_on_an_asyncpg_engine_reads_its_ssl_setting(
    empty_postgres_database: sa.URL,
) -> None:
    url = empty_postgres_database.set(
        drivername="postgresql+asyncpg",
        query={"ssl": "prefer", "prepared_statement_cache_size": "0"},
    )
    engine = create_async_engine(url)
    store = SQLStore.from_engine(engine)
    assert dict(store.engine.url.query) == {"sslmode": "prefer"}
    assert await _runs_one_job(store) is JobStatus.COMPLETED
    await store.close()
    async with engine.connect() as connection:  # the app's own connections see the job
        count = await connection.exec_driver_sql("SELECT count(*) FROM burrow_jobs")
        assert count.scalar_one() == 1
    await engine.dispose()


def test_a_store_that_cannot_open_on_an_async_engine_disposes_the_engine_it_made(
    tmp_path: Path,
) -> None:
    not_a_database = tmp_path / "jobs.db"
    not_a_database.write_bytes(b"this is not a SQLite file" * 100)
    app_engine = create_async_engine(f"sqlite+aiosqlite:///{not_a_database}")
    disposed: list[sa.Engine] = []

    def on_dispose(engine: sa.Engine) -> None:
        disposed.append(engine)

    sa.event.listen(sa.Engine, "engine_disposed", on_dispose)
    try:
        with pytest.raises(StoreOpenError, match="not a database"):
            SQLStore.from_engine(app_engine)
    finally:
        sa.event.remove(sa.Engine, "engine_disposed", on_dispose)
    assert [engine.url.drivername for engine in disposed] == ["sqlite+pysqlite"]


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
