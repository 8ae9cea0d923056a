"""The store's SQL, built once per dialect as SQLAlchemy Core statements.

Built once and reused, so SQLAlchemy's compiled cache serves every call and no statement is
reflected or rebuilt on the hot path. Claimable/running predicates are literals (not bound
parameters) so the planner matches the partial indexes even with generic prepared plans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite as sq
from sqlalchemy.sql.dml import Delete, Insert, ReturningDelete, Update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select

from burrow_jobs_sql.schema import (
    CLAIM_INDEX,
    CLAIMABLE_SQL,
    DEAD_INDEX,
    JOBS_TABLE,
    UTCDateTime,
    jobs,
    workers,
)
from burrow_tasks.store import LEASE_EXPIRED_ERROR_CLASS, SHUTDOWN_ERROR_CLASS
from burrow_tasks.types import JobStatus

__all__ = [
    "CLAIM_COLUMNS",
    "JOB_TYPES",
    "POSTGRES_COUNT_BY_STATUS",
    "POSTGRES_INSERT_ONE",
    "POSTGRES_INSERT_UNNEST",
    "SQLITE_CANCELLED_SINCE",
    "SQLITE_COUNT_BY_STATUS",
    "SQLITE_COUNT_PENDING",
    "SQLITE_INSERT_EACH",
    "SQLITE_INSERT_ONE",
    "SQLITE_LAST_ID",
    "Statements",
    "build_claim",
    "build_sqlite_claim",
    "build_statements",
]

CLAIM_COLUMNS = (
    jobs.c.id,
    jobs.c.type,
    jobs.c.payload,
    jobs.c.priority,
    jobs.c.attempts,
    jobs.c.max_retries,
    jobs.c.lease,
    jobs.c.run_at,
    jobs.c.created_at,
)

JOB_TYPES = sa.select(jobs.c.type).distinct()
"""The distinct job types, unordered: the caller sorts them. With ORDER BY, the store's
PostgreSQL sessions, which plan without sorts (sessions.py), sorted every row instead of
hashing the few types (1,000,000 jobs: 565-1,114 ms per call against 177-229 ms). Python's
order is also the interface's, where the database's collation may differ from it."""

_now = sa.bindparam("now", type_=UTCDateTime())
_id = sa.bindparam("job_id", type_=sa.BigInteger())
_lease = sa.bindparam("job_lease", type_=sa.Uuid(as_uuid=False))
_is_running = sa.text("status = 'running'")
_claimable = sa.text(CLAIMABLE_SQL)


@dataclass(frozen=True, slots=True)
class Statements:
    insert: Insert
    insert_many: Insert
    heartbeat: Update
    complete: Update
    fail_retry: Update
    fail_dead: Update
    release: Update
    rescue: Update
    delete_completed: Delete
    status_for_update: Select[Any]
    retry: Update
    cancel: Update
    delete: ReturningDelete[Any]
    job_get: Select[Any]
    worker_upsert: Insert
    finished_minute: ColumnElement[int]
    finished_minute_dead: ColumnElement[int]


def _minute_of(column: sa.ColumnElement[object], dialect: str) -> ColumnElement[int]:
    # Integer minutes since the epoch, so both databases group and compare alike.
    if dialect == "sqlite":
        return sa.cast(
            sa.cast(column, sa.BigInteger) / sa.literal_column("60000000"), sa.BigInteger
        )
    seconds = sa.extract("epoch", column)
    return sa.cast(sa.func.floor(seconds / sa.literal_column("60")), sa.BigInteger)


def build_statements(dialect: str) -> Statements:
    postgres = dialect == "postgresql"
    held = sa.and_(jobs.c.id == _id, _is_running, jobs.c.lease == _lease)
    has_attempts_left = jobs.c.attempts < jobs.c.max_retries

    def pending_or_dead(message: ColumnElement[str], error_class: str) -> dict[str, Any]:
        # Rules 6: back to pending while attempts remain, else dead with the message.
        def when_dead(value: Any, keep: Any) -> ColumnElement[Any]:
            return sa.case((has_attempts_left, keep), else_=value)

        return {
            "status": sa.case((has_attempts_left, "pending"), else_="dead"),
            "run_at": when_dead(jobs.c.run_at, _now),
            "failed_at": when_dead(_now, jobs.c.failed_at),
            "last_error": when_dead(message, jobs.c.last_error),
            "error_class": when_dead(sa.literal(error_class), jobs.c.error_class),
            "error_traceback": when_dead(sa.null(), jobs.c.error_traceback),
            "lease": None,
            "updated_at": _now,
        }

    release = (
        sa.update(jobs)
        .where(held)
        .values(**pending_or_dead(sa.bindparam("message", type_=sa.Text()), SHUTDOWN_ERROR_CLASS))
    )
    rescue = (
        sa.update(jobs)
        .where(_is_running, jobs.c.heartbeat_at < sa.bindparam("stale_before", type_=UTCDateTime()))
        .values(
            **pending_or_dead(sa.bindparam("message", type_=sa.Text()), LEASE_EXPIRED_ERROR_CLASS)
        )
        .returning(jobs.c.id)
    )

    error_values = {
        "last_error": sa.bindparam("last_error", type_=sa.Text()),
        "error_class": sa.bindparam("error_class", type_=sa.Text()),
        "error_traceback": sa.bindparam("error_traceback", type_=sa.Text()),
        "lease": None,
        "updated_at": _now,
    }

    insert_dialect = pg.insert if postgres else sq.insert
    upsert = insert_dialect(workers)
    worker_upsert = upsert.on_conflict_do_update(
        index_elements=[workers.c.id],
        set_={c.name: upsert.excluded[c.name] for c in workers.c if c.name != "id"},
    )

    by_id = jobs.c.id == _id
    return Statements(
        insert=sa.insert(jobs).returning(jobs.c.id),
        insert_many=sa.insert(jobs).returning(jobs.c.id, sort_by_parameter_order=True),
        heartbeat=sa.update(jobs).where(held).values(heartbeat_at=_now, updated_at=_now),
        complete=sa.update(jobs)
        .where(held)
        .values(
            status="completed",
            completed_at=_now,
            updated_at=_now,
            result=sa.bindparam("result", type_=sa.Text()),
            lease=None,
        ),
        fail_retry=sa.update(jobs)
        .where(held)
        .values(
            status="failed",
            run_at=sa.bindparam("retry_at", type_=UTCDateTime()),
            **error_values,
        ),
        fail_dead=sa.update(jobs).where(held).values(status="dead", failed_at=_now, **error_values),
        release=release,
        rescue=rescue,
        delete_completed=sa.delete(jobs).where(
            sa.text("status = 'completed'"),
            jobs.c.completed_at < sa.bindparam("completed_before", type_=UTCDateTime()),
        ),
        status_for_update=(
            sa.select(jobs.c.status).where(by_id).with_for_update()
            if postgres
            else sa.select(jobs.c.status).where(by_id)
        ),
        retry=sa.update(jobs)
        .where(by_id)
        .values(
            status="pending",
            attempts=0,
            run_at=_now,
            updated_at=_now,
            cancelled=False,
            last_error=None,
            error_class=None,
            error_traceback=None,
            result=None,
            failed_at=None,
            completed_at=None,
            last_attempted_at=None,
            heartbeat_at=None,
            lease=None,
        ),
        cancel=sa.update(jobs)
        .where(by_id)
        .values(status="dead", cancelled=True, failed_at=_now, updated_at=_now, lease=None),
        delete=sa.delete(jobs).where(by_id).returning(jobs.c.status),
        job_get=sa.select(*jobs.c).where(by_id),
        worker_upsert=worker_upsert,
        finished_minute=_minute_of(jobs.c.completed_at, dialect),
        finished_minute_dead=_minute_of(jobs.c.failed_at, dialect),
    )


_INSERT_INTO = (
    f"INSERT INTO {JOBS_TABLE} (type, payload, status, priority, attempts, max_retries,"
    " run_at, created_at, updated_at, cancelled)"
)
"""The columns every insert text below writes; the others start null."""

POSTGRES_INSERT_UNNEST = (
    _INSERT_INTO + " SELECT v.type, v.payload, 'pending', v.priority, 0, v.max_retries, v.run_at,"
    " %(now)s, %(now)s, false"
    " FROM unnest(%(types)b::text[], %(payloads)b::text[], %(priorities)b::integer[],"
    " %(max_retries)b::integer[], %(run_ats)b::timestamptz[])"
    " WITH ORDINALITY AS v(type, payload, priority, max_retries, run_at, n)"
    " ORDER BY v.n RETURNING id"
)
"""A PostgreSQL batch insert as one statement with one parameter per column, for
``exec_driver_sql``: SQLAlchemy's multi-row insert renders 20,000 rows as many ``VALUES``
batches of bound parameters (6,000 jobs/s); arrays bind in one go. The arrays go in
psycopg's binary format (``%b``): its text format quotes and escapes every element with
regular expressions (320 ms for 20,000 rows of five columns, 80 ms in binary). Rows are
inserted in input order (``ORDER BY`` the ordinality), so the identity hands out ascending
ids in input order."""


SQLITE_INSERT_ONE = _INSERT_INTO + " VALUES (?, ?, 'pending', ?, 0, ?, ?, ?, ?, 0)"
"""One job's SQLite insert, values already in storage form (integer microseconds), through
``Connection.exec_driver_sql``: no parameter dict, no type processors. The id comes from the
cursor's ``lastrowid``: without ``RETURNING`` SQLAlchemy builds no result (~15 µs of CPU a
call). Batches go through ``SQLITE_INSERT_EACH``."""

SQLITE_INSERT_EACH = (
    _INSERT_INTO + " SELECT ?, value, 'pending', ?, 0, ?, ?, ?, ?, 0 FROM json_each(?) ORDER BY key"
)
"""A SQLite batch: one run of jobs alike but for their payloads, the payloads bound as one
JSON array of strings, inserted in array order (``sqlite_batches.py``)."""

POSTGRES_INSERT_ONE = (
    _INSERT_INTO + " VALUES (%s, %s, 'pending', %s, 0, %s, %s, %s, %s, false) RETURNING id"
)
"""One job on PostgreSQL: positional (psycopg's placeholders), aware datetimes as they are."""

POSTGRES_COUNT_BY_STATUS = f"""
SELECT claimable.pending,
       (SELECT count(*) FROM {JOBS_TABLE} WHERE status = 'running'),
       (SELECT count(*) FROM {JOBS_TABLE} WHERE status = 'completed'),
       claimable.failed,
       (SELECT count(*) FROM {JOBS_TABLE} WHERE status = 'dead')
FROM (SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
             count(*) FILTER (WHERE status = 'failed') AS failed
      FROM {JOBS_TABLE} WHERE {CLAIMABLE_SQL}) AS claimable
"""
"""The jobs per status on PostgreSQL, in ``JobStatus`` order: each status counted through the
partial index whose predicate it matches (the literals let the planner prove it), the
running, completed and dead ones by index-only scans. A ``GROUP BY`` over the table reads
every row: on 1,000,000 jobs (98.8% completed) 274-304 ms against 174 for these counts, the
admin overview's every refresh."""


def _sqlite_count(where: str) -> str:
    """A count of the jobs matching ``where``, a literal predicate of one partial index (the
    literal lets SQLite prove the index's predicate and walk that index alone)."""
    return f"(SELECT count(*) FROM {JOBS_TABLE} WHERE {where})"


_SQLITE_PENDING = _sqlite_count(CLAIMABLE_SQL) + " - " + _sqlite_count("status = 'failed'")
"""No index holds pending alone (an insert would write it): the claimable less the failed."""

SQLITE_COUNT_BY_STATUS = "SELECT " + ", ".join(
    _SQLITE_PENDING if status is JobStatus.PENDING else _sqlite_count(f"status = '{status}'")
    for status in JobStatus
)
"""The jobs per status on SQLite, in ``JobStatus`` order: each count walks the one partial
index whose predicate its literal matches (the claim index, or a status's list index from
migration 0004)."""

SQLITE_COUNT_PENDING = f"SELECT {_SQLITE_PENDING}"
"""The pending jobs on SQLite, the total of the admin's pending list, from the same two
partial indexes as ``SQLITE_COUNT_BY_STATUS`` (a ``count(*) WHERE status = 'pending'`` reads
every row)."""

SQLITE_CANCELLED_SINCE = (
    f"SELECT id, failed_at FROM {JOBS_TABLE} INDEXED BY {DEAD_INDEX}"
    " WHERE status = 'dead' AND failed_at >= ? AND cancelled"
)
"""SQLite: the jobs cancelled since a time (integer microseconds), read through the dead
jobs' index by the watch for other processes' commits (``notify.py``), a plain ``sqlite3``
statement: a cancel leaves its job dead, cancelled, ``failed_at`` its time."""

SQLITE_LAST_ID = sa.text(f"SELECT seq FROM sqlite_sequence WHERE name = '{JOBS_TABLE}'")
"""The last id AUTOINCREMENT handed out."""


def build_claim(limit: int) -> str:
    """The PostgreSQL claim of up to ``limit`` jobs: one statement, one round trip, for
    ``exec_driver_sql`` with ``now`` (aware) and ``types`` (a list).

    ``limit`` is rendered as a literal, not a bound parameter: with a bound LIMIT,
    PostgreSQL's generic prepared plan (psycopg prepares after five runs) cannot tell that
    few rows come back and switches to a sequential scan of the whole table (194 ms on
    1,000,000 rows instead of 0.9 ms). The text is what SQLAlchemy Core rendered for this
    claim (same casts, same plans) minus the per-call compile lookup and result type
    processing. Callers cache one string per limit.
    """
    # The lease comes back as text: the form the engine holds it in, with no UUID object
    # built and formatted again for every job.
    returning = ", ".join(
        f"{JOBS_TABLE}.lease::text AS lease"
        if column is jobs.c.lease
        else f"{JOBS_TABLE}.{column.name}"
        for column in CLAIM_COLUMNS
    )
    now = "%(now)s::TIMESTAMP WITH TIME ZONE"
    return (
        f"UPDATE {JOBS_TABLE} SET status = 'running', attempts = {JOBS_TABLE}.attempts + 1,"
        f" updated_at = {now}, last_attempted_at = {now}, heartbeat_at = {now},"
        f" lease = gen_random_uuid()"
        f" WHERE {JOBS_TABLE}.id IN (SELECT {JOBS_TABLE}.id FROM {JOBS_TABLE}"
        f" WHERE {CLAIMABLE_SQL} AND {JOBS_TABLE}.run_at <= {now}"
        f" AND {JOBS_TABLE}.type = ANY (%(types)b::VARCHAR[])"
        f" ORDER BY {JOBS_TABLE}.priority DESC, {JOBS_TABLE}.run_at, {JOBS_TABLE}.id"
        f" LIMIT {int(limit)} FOR UPDATE SKIP LOCKED)"
        f" RETURNING {returning}"
    )


def build_sqlite_claim(limit: int, type_count: int) -> str:
    """The SQLite claim of up to ``limit`` jobs of ``type_count`` types, for
    ``exec_driver_sql``: ``:now`` (integer microseconds) and ``:t0``, ``:t1``... the types.

    Without statistics SQLite's planner prefers the equality on ``type`` (the admin's type
    index) and sorts every job of the type on each claim: 1.7 ms per claim of 10 on 10,000
    jobs, growing with the backlog. INDEXED BY pins the claim index, read in claim order and
    stopped after ``limit`` rows (0.6 ms, flat); SQLAlchemy cannot render INDEXED BY, hence
    text. Positional, because a Core or ``text()`` statement with an expanding ``IN`` is
    re-rendered and its parameters processed on every call (~250 µs of the claim, inside
    the write lock). No SKIP LOCKED: the statement holds the write lock. The lease: 128
    random bits in the 32-hex-digit form SQLAlchemy's Uuid uses on SQLite. Callers cache one
    string per (limit, type count).
    """
    returning = ", ".join(column.name for column in CLAIM_COLUMNS)
    types = ", ".join(f":t{n}" for n in range(type_count))
    return (
        f"UPDATE {JOBS_TABLE} SET status = 'running', attempts = attempts + 1,"
        " last_attempted_at = :now, heartbeat_at = :now, updated_at = :now,"
        " lease = lower(hex(randomblob(16)))"
        f" WHERE id IN (SELECT id FROM {JOBS_TABLE} INDEXED BY {CLAIM_INDEX}"
        f" WHERE {CLAIMABLE_SQL} AND run_at <= :now AND type IN ({types})"
        f" ORDER BY priority DESC, run_at, id LIMIT {int(limit)})"
        f" RETURNING {returning}"
    )
