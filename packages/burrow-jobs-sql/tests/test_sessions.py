"""PostgreSQL runs the store's statements with the settings they are written for (planner
settings, a lock timeout), also on connections borrowed from the app's pool, and hands those
back as the app had them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from burrow_jobs_sql import SQLStore
from burrow_jobs_sql.dsn import to_url
from burrow_jobs_sql.sessions import borrowed_session
from burrow_jobs_sql.statements import build_claim
from burrow_tasks.jobs import NewJob

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
CLAIM_PARAMS = {"now": NOW, "types": ["email"]}


@pytest.fixture
def app_engine(fresh_dsn: str, db_kind: str) -> Iterator[Engine]:
    """An app's engine on a database without the store's schema yet, with one pooled
    connection, so every call borrows the same one."""
    if db_kind != "postgres":
        pytest.skip("planner settings are PostgreSQL's")
    engine = sa.create_engine(to_url(fresh_dsn), pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _settings(connection: Connection) -> tuple[str, str]:
    row = connection.exec_driver_sql(
        "SELECT current_setting('enable_sort'), current_setting('enable_bitmapscan')"
    ).one()
    return row[0], row[1]


def _claim_plan(connection: Connection) -> str:
    rows = connection.exec_driver_sql("EXPLAIN " + build_claim(30), CLAIM_PARAMS).all()
    return "\n".join(row[0] for row in rows)


async def _store_with_jobs(engine: Engine, count: int) -> SQLStore:
    """The store on ``engine`` with ``count`` pending jobs that no ANALYZE has seen yet."""
    store = SQLStore.from_engine(engine)
    job = NewJob("email", "{}", priority=0, max_retries=3, run_at=NOW)
    await store.jobs_insert([job] * count, now=NOW)
    return store


async def test_without_the_settings_a_claim_on_stale_statistics_sorts_every_claimable_job(
    app_engine: Engine,
) -> None:
    # Why the settings exist: the planner believes few jobs match and sorts them all.
    store = await _store_with_jobs(app_engine, 5_000)
    with app_engine.connect() as connection:
        assert "Sort" in _claim_plan(connection)
    await store.close()


async def test_with_the_settings_the_claim_reads_the_claim_index_in_order(
    app_engine: Engine,
) -> None:
    store = await _store_with_jobs(app_engine, 5_000)
    with app_engine.connect() as connection, borrowed_session(connection):
        plan = _claim_plan(connection)
    assert "Index Scan using burrow_jobs_claim_idx" in plan
    assert "Sort" not in plan
    await store.close()


async def test_a_store_call_on_the_apps_engine_runs_under_the_settings(
    app_engine: Engine,
) -> None:
    store = await _store_with_jobs(app_engine, 10)
    seen: list[tuple[str, str, str]] = []

    def before_claim(
        _conn: Connection, cursor: psycopg.Cursor[object], statement: str, *_: object
    ) -> None:
        if "SKIP LOCKED" in statement:  # what the claim's own connection runs with
            row = cursor.connection.execute(
                "SELECT current_setting('enable_sort'), current_setting('enable_bitmapscan'),"
                " current_setting('lock_timeout')"
            ).fetchone()
            assert row is not None
            seen.append((str(row[0]), str(row[1]), str(row[2])))

    sa.event.listen(app_engine, "before_cursor_execute", before_claim)
    await store.jobs_claim(5, types=["email"], now=NOW)
    sa.event.remove(app_engine, "before_cursor_execute", before_claim)
    assert seen == [("off", "off", "5s")]
    await store.close()


async def test_the_apps_connection_comes_back_planning_as_the_app_set_it(
    app_engine: Engine,
) -> None:
    store = await _store_with_jobs(app_engine, 10)
    with app_engine.connect() as connection:
        connection.exec_driver_sql("SET enable_bitmapscan = off")  # the app's own choice
        connection.commit()
    await store.jobs_claim(5, types=["email"], now=NOW)
    with app_engine.connect() as connection:
        assert _settings(connection) == ("on", "off")
    await store.close()


def test_the_apps_settings_come_back_when_the_block_fails(app_engine: Engine) -> None:
    with app_engine.connect() as connection:
        with pytest.raises(ValueError, match="the call failed"), borrowed_session(connection):
            raise ValueError("the call failed")
        assert _settings(connection) == ("on", "on")


def test_a_connection_whose_settings_cannot_be_put_back_is_discarded(
    app_engine: Engine, postgres_admin: str, caplog: pytest.LogCaptureFixture
) -> None:
    with app_engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        with caplog.at_level(logging.WARNING, "burrow_jobs_sql"), borrowed_session(connection):
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with psycopg.connect(postgres_admin, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert connection.invalidated
    assert "could not restore the session settings" in caplog.text
    with app_engine.connect() as connection:  # the pool opened a new one
        assert _settings(connection) == ("on", "on")
