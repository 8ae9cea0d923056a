"""The admin's reads of many kept jobs: the overview counts each status through the partial
index that holds it, so a refresh costs the index, not a scan of every job ever kept; on
SQLite a list filtered by status reads that status's own index newest first, without a sort;
on PostgreSQL the list's job types are hashed, not sorted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from burrow_jobs_sql import SQLStore
from burrow_jobs_sql.dsn import to_url
from burrow_jobs_sql.schema import CLAIM_INDEX, SQLITE_STATUS_LIST_INDEXES
from burrow_jobs_sql.statements import (
    POSTGRES_COUNT_BY_STATUS,
    SQLITE_COUNT_BY_STATUS,
    SQLITE_COUNT_PENDING,
)
from burrow_tasks import JobStatus
from burrow_tasks.jobs import NewJob

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)

# Job ids 1..2000 by status: most of a busy queue's kept jobs are completed.
STATUS_OF_ID = """
UPDATE burrow_jobs SET status = CASE
    WHEN id % 100 = 1 THEN 'pending'
    WHEN id % 100 = 2 THEN 'running'
    WHEN id % 100 = 3 THEN 'failed'
    WHEN id % 100 = 4 THEN 'dead'
    ELSE 'completed' END,
  heartbeat_at = CASE WHEN id % 100 = 2 THEN run_at END,
  completed_at = CASE WHEN id % 100 > 4 OR id % 100 = 0 THEN run_at END,
  failed_at = CASE WHEN id % 100 IN (3, 4) THEN run_at END
"""


@pytest.fixture
async def kept_jobs(fresh_dsn: str, db_kind: str) -> AsyncIterator[tuple[SQLStore, sa.Engine]]:
    """A store holding 2,000 jobs in every status beside an engine of its own for reading
    plans; on PostgreSQL vacuumed and analyzed (SQLite plans as the store leaves it, with no
    statistics)."""
    store = SQLStore.from_dsn(fresh_dsn)
    job = NewJob("email", "{}", priority=0, max_retries=3, run_at=NOW)
    await store.jobs_insert([job] * 2000, now=NOW)
    engine = sa.create_engine(to_url(fresh_dsn), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if db_kind == "postgres":
            connection.exec_driver_sql(STATUS_OF_ID.replace("%", "%%"))
            connection.exec_driver_sql("VACUUM ANALYZE burrow_jobs")
        else:
            connection.exec_driver_sql(STATUS_OF_ID)
    yield store, engine
    engine.dispose()
    await store.close()


@pytest.fixture
def postgres_only(db_kind: str) -> None:
    if db_kind != "postgres":
        pytest.skip("planner settings and EXPLAIN output are PostgreSQL's")


@pytest.fixture
def sqlite_only(db_kind: str) -> None:
    if db_kind != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN and the per-status list indexes are SQLite's")


_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


@contextmanager
def _recorded(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements ``engine`` sends while the block runs, with their parameters; the
    ``BEGIN``, ``COMMIT`` and ``ROLLBACK`` around them left out."""
    statements: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        _connection, _cursor, statement, parameters, _context, _many = args
        if not statement.startswith(_TRANSACTION_CONTROL):
            statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def _sqlite_plan(engine: sa.Engine, statement: str, parameters: Any = ()) -> str:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return "\n".join(str(row[3]) for row in rows)


async def test_the_counts_per_status_agree_with_a_group_by_over_every_job(
    kept_jobs: tuple[SQLStore, sa.Engine],
) -> None:
    store, engine = kept_jobs
    with engine.connect() as connection:
        grouped = connection.exec_driver_sql(
            "SELECT status, count(*) FROM burrow_jobs GROUP BY status"
        ).all()

    counts = await store.jobs_count_by_status()

    assert counts == {JobStatus(status): count for status, count in grouped}
    assert counts == {
        JobStatus.PENDING: 20,
        JobStatus.RUNNING: 20,
        JobStatus.COMPLETED: 1920,
        JobStatus.FAILED: 20,
        JobStatus.DEAD: 20,
    }


@pytest.mark.usefixtures("postgres_only")
async def test_each_status_is_counted_from_the_partial_index_that_holds_it(
    kept_jobs: tuple[SQLStore, sa.Engine],
) -> None:
    # On a table this small a scan is cheaper and the planner rightly takes it; with scans
    # ruled out, what is left shows which index can serve each count. A count no partial
    # index matches would walk a full index (the created or the primary key index).
    _, engine = kept_jobs
    with engine.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")
        plan = "\n".join(
            row[0] for row in connection.exec_driver_sql("EXPLAIN " + POSTGRES_COUNT_BY_STATUS)
        )

    for index in ("claim", "rescue", "cleanup", "dead"):
        assert f"burrow_jobs_{index}_idx" in plan
    assert "burrow_jobs_created_idx" not in plan
    assert "burrow_jobs_pkey" not in plan
    assert "Seq Scan" not in plan


@pytest.mark.usefixtures("postgres_only")
async def test_the_job_types_are_hashed_not_sorted_under_the_stores_settings(
    kept_jobs: tuple[SQLStore, sa.Engine],
) -> None:
    # The store's own connections plan without sorts (sessions.py); a DISTINCT that must come
    # out ordered would then sort every job row to find a handful of types.
    store, _ = kept_jobs
    await store.jobs_insert([NewJob(t, "{}", 0, 3, NOW) for t in ("zeta", "Alpha")], now=NOW)
    with _recorded(store.engine) as statements:
        types = await store.jobs_types()
    [(statement, parameters)] = statements
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SHOW enable_sort").scalar_one() == "off"
        plan = "\n".join(
            row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        )

    assert "Sort" not in plan
    assert "HashAggregate" in plan
    assert types == ["Alpha", "email", "zeta"]


@pytest.mark.usefixtures("sqlite_only")
async def test_sqlite_counts_each_status_from_the_partial_index_that_holds_it(
    kept_jobs: tuple[SQLStore, sa.Engine],
) -> None:
    _, engine = kept_jobs

    plan = _sqlite_plan(engine, SQLITE_COUNT_BY_STATUS)

    for index in (CLAIM_INDEX, *SQLITE_STATUS_LIST_INDEXES.values()):
        assert f"USING INDEX {index}" in plan
    assert "SCAN burrow_jobs\n" not in plan + "\n"
    assert "burrow_jobs_created_idx" not in plan


@pytest.mark.usefixtures("sqlite_only")
@pytest.mark.parametrize("status", sorted(SQLITE_STATUS_LIST_INDEXES))
async def test_sqlite_lists_a_status_newest_first_from_its_own_index_without_a_sort(
    kept_jobs: tuple[SQLStore, sa.Engine], status: str
) -> None:
    store, engine = kept_jobs
    with _recorded(store.engine) as statements:
        listed, total = await store.jobs_list(status=JobStatus(status), offset=5, limit=5)
    page, count = statements

    assert f"USING INDEX {SQLITE_STATUS_LIST_INDEXES[status]}" in _sqlite_plan(engine, *page)
    assert "TEMP B-TREE" not in _sqlite_plan(engine, *page)
    assert f"USING INDEX {SQLITE_STATUS_LIST_INDEXES[status]}" in _sqlite_plan(engine, *count)
    assert {job.status for job in listed} == {JobStatus(status)}
    assert [job.id for job in listed] == sorted((job.id for job in listed), key=int, reverse=True)
    assert total == (1920 if status == "completed" else 20)


@pytest.mark.usefixtures("sqlite_only")
async def test_sqlite_totals_the_pending_list_from_the_partial_indexes_not_the_table(
    kept_jobs: tuple[SQLStore, sa.Engine],
) -> None:
    store, engine = kept_jobs
    with _recorded(store.engine) as statements:
        listed, total = await store.jobs_list(status=JobStatus.PENDING, limit=5)
    _page, (count, _parameters) = statements

    assert count == SQLITE_COUNT_PENDING
    assert "SCAN burrow_jobs\n" not in _sqlite_plan(engine, count) + "\n"
    assert total == 20
    assert {job.status for job in listed} == {JobStatus.PENDING}
