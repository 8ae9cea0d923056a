"""The tables, as SQLAlchemy Core ``MetaData``.

An app that manages its own migrations can include ``metadata`` in its Alembic target; the
package's own migrations (``burrow_jobs_sql/migrations``) create exactly these tables, plus
the PostgreSQL notification triggers (``postgres_triggers``), in their own version table.

Times are ``timestamptz`` on PostgreSQL and integer microseconds since the Unix epoch (UTC)
on SQLite, so they compare correctly in SQL. Payload and result are ``text``, byte for byte.
Ids are an identity/autoincrement ``bigint``, so enqueue order is total.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

__all__ = [
    "CLAIMABLE_SQL",
    "CLAIM_INDEX",
    "DEAD_INDEX",
    "JOBS_TABLE",
    "NOTIFY_CHANNEL_PREFIX",
    "SQLITE_ONLY_INDEXES",
    "SQLITE_STATUS_LIST_INDEXES",
    "VERSION_TABLE",
    "WORKERS_TABLE",
    "UTCDateTime",
    "jobs",
    "metadata",
    "notify_channel",
    "postgres_trigger_ddl",
    "workers",
]

JOBS_TABLE = "burrow_jobs"
WORKERS_TABLE = "burrow_workers"
VERSION_TABLE = "burrow_alembic_version"
"""Alembic's version table for burrow's own migrations (never the app's ``alembic_version``)."""

CLAIM_INDEX = "burrow_jobs_claim_idx"
"""The claim's index; the SQLite claim names it (``INDEXED BY``)."""

DEAD_INDEX = "burrow_jobs_dead_idx"
"""Dead jobs by ``failed_at``; SQLite's watch for cancels names it (``INDEXED BY``)."""

NOTIFY_CHANNEL_PREFIX = "burrow_jobs:"
"""PostgreSQL channel: this prefix and the jobs table's schema (``notify_channel``)."""

_MAX_CHANNEL_BYTES = 63
"""PostgreSQL refuses a channel name longer than an identifier (NAMEDATALEN - 1 bytes)."""


def notify_channel(schema: str) -> str:
    """The notification channel of the jobs table in ``schema``: the prefix and the schema's
    name, or the name's MD5 where the two would pass PostgreSQL's 63-byte limit (a
    51-character tenant schema would otherwise refuse every insert). The triggers compute the
    same (``postgres_trigger_ddl``)."""
    channel = NOTIFY_CHANNEL_PREFIX + schema
    if len(channel.encode()) <= _MAX_CHANNEL_BYTES:
        return channel
    return NOTIFY_CHANNEL_PREFIX + hashlib.md5(schema.encode(), usedforsecurity=False).hexdigest()


def _channel_sql(schema: str) -> str:
    """``notify_channel`` in SQL, for a trigger (``schema`` an SQL expression)."""
    named = f"'{NOTIFY_CHANNEL_PREFIX}' || {schema}"
    hashed = f"'{NOTIFY_CHANNEL_PREFIX}' || md5({schema})"
    return f"CASE WHEN octet_length({named}) <= {_MAX_CHANNEL_BYTES} THEN {named} ELSE {hashed} END"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# A literal (not a bound parameter) so the planner can match the partial indexes even with
# a generic prepared plan.
CLAIMABLE_SQL = "status IN ('pending', 'failed')"


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC datetime: ``timestamptz`` on PostgreSQL, integer microseconds on SQLite.

    Naive datetimes are refused: every time the store writes comes from the caller, and a
    naive one would silently shift.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: burrow stores aware UTC times only")
        if dialect.name == "sqlite":
            return (value - _EPOCH) // _MICROSECOND
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int):
            return _EPOCH + timedelta(microseconds=value)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)


metadata = sa.MetaData()

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

jobs = sa.Table(
    JOBS_TABLE,
    metadata,
    sa.Column("id", _BigId, sa.Identity(), primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(200), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("priority", sa.Integer(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("max_retries", sa.Integer(), nullable=False),
    sa.Column("run_at", UTCDateTime(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("last_attempted_at", UTCDateTime(), nullable=True),
    sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
    sa.Column("completed_at", UTCDateTime(), nullable=True),
    sa.Column("failed_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("error_class", sa.Text(), nullable=True),
    sa.Column("error_traceback", sa.Text(), nullable=True),
    sa.Column("result", sa.Text(), nullable=True),
    sa.Column("cancelled", sa.Boolean(create_constraint=False), nullable=False),
    sa.Column("lease", sa.Uuid(as_uuid=False), nullable=True),
    sa.CheckConstraint(
        "status IN ('pending', 'running', 'completed', 'failed', 'dead')",
        name="burrow_jobs_status_check",
    ),
    # AUTOINCREMENT on SQLite: an id is never handed out twice, even after deletes.
    sqlite_autoincrement=True,
)

_claimable = sa.text(CLAIMABLE_SQL)
_running = sa.text("status = 'running'")
_completed = sa.text("status = 'completed'")
_dead = sa.text("status = 'dead'")

# The claim: a partial index in exactly the claim order, so the claim reads the first rows.
sa.Index(
    CLAIM_INDEX,
    jobs.c.priority.desc(),
    jobs.c.run_at,
    jobs.c.id,
    postgresql_where=_claimable,
    sqlite_where=_claimable,
)
# The rescue: running jobs by heartbeat.
sa.Index(
    "burrow_jobs_rescue_idx",
    jobs.c.heartbeat_at,
    postgresql_where=_running,
    sqlite_where=_running,
)
# The cleanup (and the completed side of finished-per-minute).
sa.Index(
    "burrow_jobs_cleanup_idx",
    jobs.c.completed_at,
    postgresql_where=_completed,
    sqlite_where=_completed,
)
# The dead side of finished-per-minute.
sa.Index(
    DEAD_INDEX,
    jobs.c.failed_at,
    postgresql_where=_dead,
    sqlite_where=_dead,
)
# The admin's lists, newest first. On SQLite more serve the lists filtered by status and by
# type (SQLITE_ONLY_INDEXES, made by migrations 0001 and 0004): one on (type, created_at, id)
# and, for each status but pending, a partial one on (created_at, id) that an insert never
# writes (a pending list reads this one and filters). PostgreSQL has none of them (migration
# 0002): a status change there is never a HOT update and adds an entry to every index, so
# each would cost every claim and completion a B-tree insert. Its filtered lists read a
# status's partial index and sort, or this one and filter.
sa.Index("burrow_jobs_created_idx", jobs.c.created_at, jobs.c.id)

SQLITE_STATUS_LIST_INDEXES = {
    status: f"burrow_jobs_{status}_created_idx"
    for status in ("running", "completed", "failed", "dead")
}
"""SQLite's partial index per listed status (migration 0004), by status."""

SQLITE_ONLY_INDEXES = frozenset(
    {"burrow_jobs_type_created_idx", *SQLITE_STATUS_LIST_INDEXES.values()}
)
"""Indexes a SQLite database has beyond ``metadata`` (see above)."""

workers = sa.Table(
    WORKERS_TABLE,
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("hostname", sa.Text(), nullable=False),
    sa.Column("pid", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("workers", sa.Integer(), nullable=False),
    sa.Column("in_flight", sa.Integer(), nullable=False),
    sa.Column("poll_interval_us", sa.BigInteger(), nullable=False),
    sa.Column("types", sa.Text(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("last_poll_at", UTCDateTime(), nullable=True),
    sa.Column("seen_at", UTCDateTime(), nullable=False),
)


def postgres_trigger_ddl() -> tuple[list[str], list[str]]:
    """(create, drop) statements of the PostgreSQL notification triggers.

    Inserts, and updates that make a job claimable again (retry, release, rescue, a failed
    run), notify ``available``; cancelling or deleting a running job notifies
    ``cancelled:<id>``. The channel names the table's schema, so two schemas in one database
    never wake each other. Notifications are sent at commit, so a transactional enqueue wakes
    workers exactly when the app commits.
    """
    channel = _channel_sql("TG_TABLE_SCHEMA")
    create = [
        f"""CREATE OR REPLACE FUNCTION burrow_jobs_notify_available() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify({channel}, 'available');
    RETURN NULL;
END
$$""",
        f"""CREATE OR REPLACE FUNCTION burrow_jobs_notify_cancelled() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify({channel}, 'cancelled:' || OLD.id);
    RETURN NULL;
END
$$""",
        f"""CREATE TRIGGER burrow_jobs_inserted AFTER INSERT ON {JOBS_TABLE}
FOR EACH STATEMENT EXECUTE FUNCTION burrow_jobs_notify_available()""",
        f"""CREATE TRIGGER burrow_jobs_claimable AFTER UPDATE ON {JOBS_TABLE}
FOR EACH ROW WHEN (NEW.status IN ('pending', 'failed')
    AND OLD.status NOT IN ('pending', 'failed'))
EXECUTE FUNCTION burrow_jobs_notify_available()""",
        f"""CREATE TRIGGER burrow_jobs_cancelled AFTER UPDATE ON {JOBS_TABLE}
FOR EACH ROW WHEN (OLD.status = 'running' AND NEW.cancelled AND NOT OLD.cancelled)
EXECUTE FUNCTION burrow_jobs_notify_cancelled()""",
        f"""CREATE TRIGGER burrow_jobs_deleted AFTER DELETE ON {JOBS_TABLE}
FOR EACH ROW WHEN (OLD.status = 'running')
EXECUTE FUNCTION burrow_jobs_notify_cancelled()""",
    ]
    drop = [
        f"DROP TRIGGER IF EXISTS burrow_jobs_deleted ON {JOBS_TABLE}",
        f"DROP TRIGGER IF EXISTS burrow_jobs_cancelled ON {JOBS_TABLE}",
        f"DROP TRIGGER IF EXISTS burrow_jobs_claimable ON {JOBS_TABLE}",
        f"DROP TRIGGER IF EXISTS burrow_jobs_inserted ON {JOBS_TABLE}",
        "DROP FUNCTION IF EXISTS burrow_jobs_notify_cancelled()",
        "DROP FUNCTION IF EXISTS burrow_jobs_notify_available()",
    ]
    return create, drop


def _attach_triggers() -> None:
    # So ``metadata.create_all`` (an app's own setup or tests) builds the triggers too.
    create, drop = postgres_trigger_ddl()
    for statement in create:
        sa.event.listen(jobs, "after_create", sa.DDL(statement).execute_if(dialect="postgresql"))  # type: ignore[no-untyped-call]
    for statement in drop:
        sa.event.listen(jobs, "before_drop", sa.DDL(statement).execute_if(dialect="postgresql"))  # type: ignore[no-untyped-call]


_attach_triggers()
