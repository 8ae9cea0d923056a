"""Group commit: concurrent outcome writes share one statement, and each caller still gets
its own verdict."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from burrow_jobs_sql import SQLStore, sessions
from burrow_tasks.jobs import ClaimedJob, JobError, NewJob
from burrow_tasks.types import Capability, JobStatus

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(seconds=1)
STALE_LEASE = "00000000-0000-4000-8000-000000000000"


NO_HANG = 30.0
"""Seconds after which a write counts as hung: a safety net, never a measurement."""


async def _claimed(store: SQLStore, count: int) -> list[ClaimedJob]:
    new = [
        NewJob(type="t", payload="{}", priority=0, max_retries=3, run_at=NOW) for _ in range(count)
    ]
    await store.jobs_insert(new, now=NOW)
    return await store.jobs_claim(count, types=["t"], now=NOW)


@pytest.fixture
def updates(store: SQLStore) -> Iterator[list[str]]:
    """The UPDATE statements the store sends from now on."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            seen.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(store.engine, "before_cursor_execute", record)


async def test_concurrent_completions_share_one_statement(
    store: SQLStore, updates: list[str]
) -> None:
    jobs = await _claimed(store, 10)
    updates.clear()
    written = await asyncio.gather(
        *(store.job_complete(j.id, j.lease, result="1", now=LATER) for j in jobs)
    )
    assert written == [True] * 10
    assert len(updates) == 1


async def test_each_caller_gets_its_own_verdict(store: SQLStore) -> None:
    jobs = await _claimed(store, 3)
    written = await asyncio.gather(
        store.job_complete(jobs[0].id, jobs[0].lease, result=None, now=LATER),
        store.job_complete(jobs[1].id, STALE_LEASE, result=None, now=LATER),
        store.job_heartbeat(jobs[2].id, jobs[2].lease, now=LATER),
    )
    assert list(written) == [True, False, True]
    refused = await store.job_get(jobs[1].id)
    assert refused is not None
    assert refused.status is JobStatus.RUNNING


async def test_a_second_write_for_one_job_sees_the_first(store: SQLStore) -> None:
    (job,) = await _claimed(store, 1)
    written = await asyncio.gather(
        store.job_heartbeat(job.id, job.lease, now=LATER),
        store.job_complete(job.id, job.lease, result=None, now=LATER),
        store.job_heartbeat(job.id, job.lease, now=LATER),
    )
    assert list(written) == [True, True, False]


async def test_mixed_kinds_in_one_flush_all_land(store: SQLStore) -> None:
    jobs = await _claimed(store, 3)
    error = JobError(message="boom", error_class="builtins.ValueError", traceback="tb")
    await asyncio.gather(
        store.job_complete(jobs[0].id, jobs[0].lease, result="2", now=LATER),
        store.job_fail(jobs[1].id, jobs[1].lease, error=error, retry_at=LATER, now=LATER),
        store.job_fail(jobs[2].id, jobs[2].lease, error=error, retry_at=None, now=LATER),
    )
    statuses = [(await store.job_get(j.id)) for j in jobs]
    assert [s.status if s else None for s in statuses] == [
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.DEAD,
    ]


async def test_a_row_the_database_refuses_fails_only_its_caller(
    store: SQLStore, db_kind: str
) -> None:
    if db_kind != "postgres":
        pytest.skip("SQLite stores NUL characters in text; PostgreSQL refuses them")
    jobs = await _claimed(store, 2)
    bad = JobError(message="nul \x00 byte", error_class="builtins.ValueError", traceback="")
    outcomes = await asyncio.gather(
        store.job_complete(jobs[0].id, jobs[0].lease, result=None, now=LATER),
        store.job_fail(jobs[1].id, jobs[1].lease, error=bad, retry_at=None, now=LATER),
        return_exceptions=True,
    )
    assert outcomes[0] is True
    assert isinstance(outcomes[1], Exception)


async def test_a_naive_time_is_refused_before_anything_is_queued(store: SQLStore) -> None:
    (job,) = await _claimed(store, 1)
    with pytest.raises(ValueError, match="naive datetime"):
        await store.job_complete(job.id, job.lease, result=None, now=datetime(2026, 3, 1))


async def test_closing_the_store_writes_the_outcomes_already_queued(
    store: SQLStore, database_dsn: str
) -> None:
    jobs = await _claimed(store, 3)
    completing = [
        asyncio.ensure_future(store.job_complete(j.id, j.lease, result="1", now=LATER))
        for j in jobs
    ]
    await asyncio.sleep(0)  # queued in the group commit, the flush not yet started

    await store.close()
    written = await asyncio.wait_for(asyncio.gather(*completing), NO_HANG)

    reopened = SQLStore.from_dsn(database_dsn)
    try:
        found = [await reopened.job_get(j.id) for j in jobs]
    finally:
        await reopened.close()
    statuses = [job.status if job is not None else None for job in found]
    assert written == [True] * 3
    assert statuses == [JobStatus.COMPLETED] * 3


@pytest.fixture
def statements(store: SQLStore) -> Iterator[list[str]]:
    """The first word of every statement the store sends from now on, but the session
    settings of a connection an SQL thread opens."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        first = statement.split(None, 1)[0].upper()
        if first != "SET":
            seen.append(first)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(store.engine, "before_cursor_execute", record)


async def _complete_beside_a_claim(
    store: SQLStore, statements: list[str] | None = None
) -> tuple[bool, list[ClaimedJob]]:
    """One job completed while another, pending, is claimed: both calls in one loop turn.
    ``statements`` (the fixture) is cleared just before the two calls."""
    (job,) = await _claimed(store, 1)
    await store.jobs_insert(
        [NewJob(type="t", payload="{}", priority=0, max_retries=3, run_at=NOW)], now=NOW
    )
    if statements is not None:
        statements.clear()
    return await asyncio.gather(
        store.job_complete(job.id, job.lease, result=None, now=LATER),
        store.jobs_claim(10, types=["t"], now=LATER),
    )


# SQLite has no data-modifying CTEs: one transaction there; one statement on PostgreSQL.
ROUND_TRIPS_OF_A_CLAIM_BESIDE_WRITES = {
    "sqlite": ["BEGIN", "UPDATE", "UPDATE", "COMMIT"],
    "postgres": ["WITH"],
}


async def test_a_claim_made_while_completions_wait_shares_their_commit(
    store: SQLStore, db_kind: str, statements: list[str]
) -> None:
    written, claimed = await _complete_beside_a_claim(store, statements)
    assert written is True
    assert len(claimed) == 1
    assert statements == ROUND_TRIPS_OF_A_CLAIM_BESIDE_WRITES[db_kind]


async def test_a_claim_beside_a_completion_returns_the_claimed_job_whole(store: SQLStore) -> None:
    written, claimed = await _complete_beside_a_claim(store)
    assert written is True
    (job,) = claimed
    assert (job.type, job.payload, job.attempts, job.run_at) == ("t", "{}", 1, NOW)
    stored = await store.job_get(job.id)
    assert stored is not None
    assert (stored.status, stored.attempts) == (JobStatus.RUNNING, 1)


async def test_a_stale_lease_beside_a_claim_is_refused(store: SQLStore) -> None:
    (job,) = await _claimed(store, 1)
    written, claimed = await asyncio.gather(
        store.job_complete(job.id, STALE_LEASE, result=None, now=LATER),
        store.jobs_claim(10, types=["t"], now=LATER),
    )
    assert written is False
    assert claimed == []
    held = await store.job_get(job.id)
    assert held is not None
    assert held.status is JobStatus.RUNNING


async def test_a_job_completed_beside_a_claim_is_not_claimed_again(store: SQLStore) -> None:
    (job,) = await _claimed(store, 1)
    written, claimed = await asyncio.gather(
        store.job_complete(job.id, job.lease, result=None, now=LATER),
        store.jobs_claim(10, types=["t"], now=LATER),
    )
    assert written is True
    assert claimed == []
    finished = await store.job_get(job.id)
    assert finished is not None
    assert finished.status is JobStatus.COMPLETED


async def test_a_refused_row_beside_a_claim_fails_only_its_caller(
    store: SQLStore, db_kind: str
) -> None:
    if db_kind != "postgres":
        pytest.skip("SQLite stores NUL characters in text; PostgreSQL refuses them")
    (job,) = await _claimed(store, 1)
    await store.jobs_insert(
        [NewJob(type="t", payload="{}", priority=0, max_retries=3, run_at=NOW)], now=NOW
    )
    bad = JobError(message="nul \x00 byte", error_class="builtins.ValueError", traceback="")
    failed, claimed = await asyncio.gather(
        store.job_fail(job.id, job.lease, error=bad, retry_at=None, now=LATER),
        store.jobs_claim(10, types=["t"], now=LATER),
        return_exceptions=True,
    )
    assert isinstance(failed, Exception)
    assert isinstance(claimed, list)
    assert len(claimed) == 1


async def _pending(store: SQLStore, count: int) -> None:
    new = [
        NewJob(type="t", payload="{}", priority=0, max_retries=3, run_at=NOW) for _ in range(count)
    ]
    await store.jobs_insert(new, now=NOW)


async def test_a_second_claim_beside_waiting_writes_goes_out_on_its_own(
    store: SQLStore, db_kind: str, statements: list[str]
) -> None:
    if db_kind != "postgres":
        pytest.skip("one SQL thread on SQLite: its statements run one after the other")
    (job,) = await _claimed(store, 1)
    await _pending(store, 2)
    statements.clear()
    written, first, second = await asyncio.gather(
        store.job_complete(job.id, job.lease, result=None, now=LATER),
        store.jobs_claim(1, types=["t"], now=LATER),
        store.jobs_claim(1, types=["t"], now=LATER),
    )
    assert written is True
    assert len({claimed.id for claimed in first + second}) == 2
    # The first claim rides with the completion; the second is a claim statement of its own.
    assert sorted(statements) == ["UPDATE", "WITH"]


async def _wait_for_a_lock_wait(locker: sa.Connection) -> None:
    """Until some backend waits for a row lock (the store's flush, blocked by ``locker``)."""
    for _ in range(500):
        waiting = locker.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        ).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the store's flush never waited for the locked row")


async def test_a_claim_does_not_wait_behind_a_flush_the_database_holds_up(
    store: SQLStore, db_kind: str
) -> None:
    if db_kind != "postgres":
        pytest.skip("one SQL thread on SQLite: its statements run one after the other")
    held, free = await _claimed(store, 2)
    await _pending(store, 1)
    with store.engine.connect() as locker:
        locker.execute(
            sa.text("SELECT id FROM burrow_jobs WHERE id = :id FOR UPDATE"), {"id": held.id}
        )
        blocked = asyncio.ensure_future(
            store.job_complete(held.id, held.lease, result=None, now=LATER)
        )
        await _wait_for_a_lock_wait(locker)
        written, claimed = await asyncio.wait_for(
            asyncio.gather(
                store.job_complete(free.id, free.lease, result=None, now=LATER),
                store.jobs_claim(10, types=["t"], now=LATER),
            ),
            timeout=10,
        )
        assert (written, len(claimed)) == (True, 1)
        assert not blocked.done()
        locker.rollback()
    assert await asyncio.wait_for(blocked, timeout=10) is True


async def test_only_postgresql_declares_parallel_claims(store: SQLStore, db_kind: str) -> None:
    # The engine keeps a second claim in flight only where it can overlap the first.
    assert (Capability.PARALLEL_CLAIMS in store.capabilities) is (db_kind == "postgres")


async def test_a_job_row_locked_elsewhere_fails_only_its_own_write(
    database_dsn: str, postgres_admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An operator's open transaction holds one job's row: the worker's statement writing
    # every job's outcome would wait on it, and hold back the others' writes and heartbeats.
    if not database_dsn.startswith("postgresql"):
        pytest.skip("the lock timeout is PostgreSQL's (SQLite has its busy timeout)")
    monkeypatch.setattr(sessions, "LOCK_TIMEOUT", "300ms")
    store = SQLStore.from_dsn(database_dsn)
    try:
        locked, free = await _claimed(store, 2)
        with psycopg.connect(database_dsn, autocommit=False) as operator:
            operator.execute(
                "SELECT 1 FROM burrow_jobs WHERE id = %s FOR UPDATE", (int(locked.id),)
            )
            outcomes = await asyncio.wait_for(
                asyncio.gather(
                    store.job_complete(locked.id, locked.lease, result=None, now=NOW),
                    store.job_complete(free.id, free.lease, result=None, now=NOW),
                    return_exceptions=True,
                ),
                NO_HANG,
            )
            assert isinstance(outcomes[0], sa.exc.OperationalError)  # lock timeout
            assert outcomes[1] is True  # written while the other row is still locked
        # The lock is gone: the failed write lands when tried again, as the engine does.
        assert await store.job_complete(locked.id, locked.lease, result=None, now=NOW)
        for job in (locked, free):
            stored = await store.job_get(job.id)
            assert stored is not None
            assert stored.status is JobStatus.COMPLETED
    finally:
        await store.close()
