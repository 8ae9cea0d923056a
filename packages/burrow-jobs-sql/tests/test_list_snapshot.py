"""The admin's list reads its page and its total from one snapshot: a job committed between
the two statements is in neither, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from burrow_jobs_sql import SQLStore
from burrow_jobs_sql.dsn import to_url
from burrow_jobs_sql.schema import jobs
from burrow_tasks import JobStatus
from burrow_tasks.jobs import NewJob


@pytest.fixture
def other_connection(database_dsn: str) -> Iterator[Engine]:
    """An engine of the test's own, writing beside the store as another process would."""
    engine = sa.create_engine(to_url(database_dsn))
    yield engine
    engine.dispose()


def _pending_row(now: datetime) -> dict[str, Any]:
    return {
        "type": "late",
        "payload": "{}",
        "status": JobStatus.PENDING.value,
        "priority": 0,
        "attempts": 0,
        "max_retries": 0,
        "run_at": now,
        "created_at": now,
        "updated_at": now,
        "cancelled": False,
    }


def _insert_after_the_page(store: SQLStore, other: Engine) -> list[str]:
    """Once the list's page statement has run, commit one more pending job elsewhere."""
    committed: list[str] = []

    def after(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if committed or "LIMIT" not in statement.upper():
            return
        with other.begin() as connection:
            connection.execute(jobs.insert().values(_pending_row(datetime.now(UTC))))
        committed.append(statement)

    sa.event.listen(store.engine, "after_cursor_execute", after)
    return committed


@pytest.mark.parametrize("status", [None, JobStatus.PENDING], ids=["all", "pending"])
async def test_a_job_committed_between_the_page_and_the_total_is_in_neither(
    database_dsn: str, other_connection: Engine, status: JobStatus | None
) -> None:
    store = SQLStore.from_dsn(database_dsn)
    try:
        # The listener before the store's first statement: a connection opened earlier would
        # not dispatch it.
        committed = _insert_after_the_page(store, other_connection)
        now = datetime.now(UTC)
        job = NewJob(type="t", payload="{}", priority=0, max_retries=0, run_at=now)
        await store.jobs_insert([job, job, job], now=now)

        listed, total = await store.jobs_list(status=status, limit=50)
        counts = await store.jobs_count_by_status()
    finally:
        await store.close()

    assert committed, "the page statement ran and a job was committed after it"
    assert counts[JobStatus.PENDING] == 4
    assert (len(listed), total) == (3, 3)
