"""``SQLStore``: the burrow store on SQLAlchemy Core, for SQLite and PostgreSQL.

Every single-statement write runs in autocommit (one round trip on PostgreSQL, one atomic
statement on SQLite); writes that read first open their own transaction (``BEGIN IMMEDIATE``
on SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL). The store never reads a clock: every time
it writes is an argument.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar

import sqlalchemy as sa
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import Connection, Engine, Row

from burrow_jobs_sql import notify, postgres_inline
from burrow_jobs_sql.dsn import SYNC_DRIVERS, mask_dsn, sync_url, to_url, unsupported_database
from burrow_jobs_sql.group_commit import (
    COMPLETE,
    FAIL_DEAD,
    FAIL_RETRY,
    HEARTBEAT,
    BulkWriter,
    ClaimStatement,
    GroupCommit,
    OutcomeKind,
    OutcomeWrite,
)
from burrow_jobs_sql.inline_writes import InlineWrites, Passed
from burrow_jobs_sql.migrate import prepare_schema
from burrow_jobs_sql.postgres_inline import PostgresInline, use_lane_connections
from burrow_jobs_sql.runner import Runner
from burrow_jobs_sql.schema import CLAIMABLE_SQL, jobs, notify_channel, workers
from burrow_jobs_sql.sessions import borrowed_session, held_session, store_session
from burrow_jobs_sql.sqlite_batches import insert_batch, require_json_each
from burrow_jobs_sql.statements import (
    CLAIM_COLUMNS,
    JOB_TYPES,
    POSTGRES_COUNT_BY_STATUS,
    POSTGRES_INSERT_ONE,
    POSTGRES_INSERT_UNNEST,
    SQLITE_COUNT_BY_STATUS,
    SQLITE_COUNT_PENDING,
    SQLITE_INSERT_ONE,
    Statements,
    build_claim,
    build_sqlite_claim,
    build_statements,
)
from burrow_jobs_sql.transaction import explicit_transaction, read_snapshot, require_autocommit
from burrow_tasks.errors import InvalidJobStatus, JobNotFound
from burrow_tasks.jobs import (
    ClaimedJob,
    Completion,
    FinishedMinute,
    Job,
    JobError,
    NewJob,
    Notification,
    NotificationKind,
    WorkerInfo,
    WorkerRecord,
    WorkerState,
)
from burrow_tasks.store import (
    CANCEL_ACCEPTS,
    RETRY_ACCEPTS,
    SHUTDOWN_MESSAGE,
    lease_expired_message,
)
from burrow_tasks.store_checks import check_new_jobs, check_page, counter_id
from burrow_tasks.types import Capability, JobId, JobStatus, Lease

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def _sqlalchemy_asyncio() -> ModuleType | None:
    # An app that hands the store an AsyncEngine or AsyncConnection has imported SQLAlchemy's
    # asyncio extension already; importing it here would make greenlet a dependency of all.
    return sys.modules.get("sqlalchemy.ext.asyncio")


def _is_async_engine(value: object) -> TypeGuard[AsyncEngine]:
    module = _sqlalchemy_asyncio()
    return module is not None and isinstance(value, module.AsyncEngine)


def _is_async_connection(value: object) -> TypeGuard[AsyncConnection]:
    module = _sqlalchemy_asyncio()
    return module is not None and isinstance(value, module.AsyncConnection)


__all__ = ["SQLStore"]

T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_STATEMENTS: dict[str, Statements] = {}
_FILES = notify.FileBroadcasts()

DEFAULT_BUSY_TIMEOUT = 5.0
"""Seconds SQLite waits for another connection's write lock before the store retries."""

CLOSE_THREAD_TIMEOUT = 10.0
"""Seconds ``close()`` waits for the SQL threads to finish the statements they are in."""

DEFAULT_DATA_VERSION_INTERVAL = 0.01
"""Seconds between two ``PRAGMA data_version`` checks while someone awaits notifications."""


def _statements(dialect: str) -> Statements:
    if dialect not in _STATEMENTS:
        _STATEMENTS[dialect] = build_statements(dialect)
    return _STATEMENTS[dialect]


_CANONICAL_LEASE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""The form the store hands leases out in; any other spelling is parsed as a UUID."""


def _lease_param(lease: Lease, *, postgres: bool) -> str | None:
    """The lease in the form the database compares (PostgreSQL: canonical text; SQLite: 32
    hex digits), or None when it is no UUID at all."""
    if isinstance(lease, str) and _CANONICAL_LEASE.fullmatch(lease):
        return lease if postgres else lease.replace("-", "")
    parsed = _parse_lease(lease)
    if parsed is None:
        return None
    return str(parsed) if postgres else parsed.hex


def _parse_lease(lease: Lease) -> uuid.UUID | None:
    # A lease that is no UUID was never handed out: a refusal, never a database error.
    try:
        return uuid.UUID(lease)
    except (ValueError, TypeError, AttributeError):
        return None


def _lease_text(stored: str) -> Lease:
    """A lease as SQLite stores it (32 hex digits) in the canonical UUID form."""
    return f"{stored[:8]}-{stored[8:12]}-{stored[12:16]}-{stored[16:20]}-{stored[20:]}"


def _utc(value: datetime) -> datetime:
    """A ``timestamptz`` from psycopg in UTC (already so when the session's time zone is UTC:
    then no conversion, which is most of the cost of reading a claimed job's two times)."""
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r} for {name}: burrow stores aware UTC times only")


@functools.cache  # one listener per setting, so a store opened again adds none (below)
def _sqlite_pragmas(busy_timeout: float) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        finally:
            cursor.close()

    return on_connect


def _claimed_jobs(
    rows: list[Any], *, lease: Callable[[Any], str] | None, time: Callable[[Any], datetime]
) -> list[ClaimedJob]:
    """Rows of a claim's RETURNING (id, type, payload, priority, attempts, max_retries, lease,
    run_at, created_at) in claim order; ``lease`` (None: already the text the engine holds)
    and ``time`` read the dialect's raw values."""
    # RETURNING has no order: put the batch back into claim order (priority descending, then
    # run_at, then id) with two stable sorts on C key functions, no Python call per row.
    rows.sort(key=itemgetter(7, 0))
    rows.sort(key=itemgetter(3), reverse=True)
    # Positional, in ClaimedJob's field order (the RETURNING's): a quarter cheaper than
    # keywords for a frozen dataclass, once per claimed job.
    return [
        ClaimedJob(
            str(r[0]),
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6] if lease is None else lease(r[6]),
            time(r[7]),
            time(r[8]),
        )
        for r in rows
    ]


def _new_row(job: NewJob, now: datetime) -> dict[str, Any]:
    """A new job's column values, for the Core insert (its type processors convert them)."""
    return {
        "type": job.type,
        "payload": job.payload,
        "status": "pending",
        "priority": job.priority,
        "attempts": 0,
        "max_retries": job.max_retries,
        "run_at": job.run_at,
        "created_at": now,
        "updated_at": now,
        "cancelled": False,
    }


def _job_from_row(row: Row[Any]) -> Job:
    m = row._mapping
    return Job(
        id=str(m["id"]),
        type=m["type"],
        payload=m["payload"],
        status=JobStatus(m["status"]),
        priority=m["priority"],
        attempts=m["attempts"],
        max_retries=m["max_retries"],
        run_at=m["run_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        last_attempted_at=m["last_attempted_at"],
        heartbeat_at=m["heartbeat_at"],
        completed_at=m["completed_at"],
        failed_at=m["failed_at"],
        last_error=m["last_error"],
        error_class=m["error_class"],
        error_traceback=m["error_traceback"],
        result=m["result"],
        cancelled=bool(m["cancelled"]),
        lease=m["lease"],
    )


class SQLStore:
    """The burrow store on SQLite or PostgreSQL. Build it with ``from_dsn`` (a database of
    its own) or ``from_engine`` (the app's engine: jobs live beside the app's data)."""

    def __init__(
        self,
        engine: Engine,
        *,
        owns_engine: bool,
        threads: int,
        data_version_interval: float = DEFAULT_DATA_VERSION_INTERVAL,
    ) -> None:
        """Use ``from_dsn``/``from_engine``/``open``: they also prepare the schema."""
        dialect = engine.dialect.name
        if dialect not in SYNC_DRIVERS:
            raise unsupported_database(engine.url)
        self._engine = engine
        self._owns_engine = owns_engine
        self._postgres = dialect == "postgresql"
        self._sql = _statements(dialect)
        self._claims: dict[int, str] = {}
        self._sqlite_claims: dict[tuple[int, int], str] = {}
        self._run = Runner(
            self._engine,
            threads,
            hold_connections=owns_engine,
            # The store's own PostgreSQL connections get the planner settings for life
            # (store_session, at connect) and the lock timeout when a thread holds one.
            borrowed_session=borrowed_session if self._postgres and not owns_engine else None,
            held_session=held_session if self._postgres else None,
        )
        # An enqueue on a SQLite file of the store's own is written on the caller's thread
        # when it can start at once (inline_writes.py); an app's shared engine keeps its
        # pool's connections as the app configured them.
        self._inline = (
            InlineWrites(engine, self._run) if owns_engine and dialect == "sqlite" else None
        )
        # On PostgreSQL, an enqueue's insert waits for the server on the caller's thread
        # for a moment, then on its event loop (postgres_inline.py).
        self._lane = (
            PostgresInline(self._run)
            if owns_engine and self._postgres and postgres_inline.SUPPORTED
            else None
        )
        self._outcomes = GroupCommit(self._run, BulkWriter(dialect))
        self._broadcaster = notify.Broadcaster()
        self._source: asyncio.Task[None] | None = None
        self._closed = False
        self._data_version_interval = data_version_interval
        self._file: str | None = None
        self._channel = ""
        if not self._postgres:
            self._file = os.path.realpath(engine.url.database or "")
            _FILES.join(self._file, self._broadcaster)

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def from_dsn(
        cls,
        dsn: str,
        *,
        auto_migrate: bool = True,
        max_connections: int = 8,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        data_version_interval: float = DEFAULT_DATA_VERSION_INTERVAL,
    ) -> SQLStore:
        """Open the database named by ``dsn`` (``sqlite:///relative.db``,
        ``sqlite:////absolute.db``, ``postgresql://...``, ``postgres://...``), create or
        upgrade the schema (unless ``auto_migrate=False``: then a missing or old schema is an
        error) and return the store. Blocks while it connects; ``await SQLStore.open(...)``
        does the same off the event loop. Raises ``StoreOpenError`` with a one-line message.
        """
        url = to_url(dsn)
        if url.get_backend_name() == "sqlite":
            engine = sa.create_engine(
                url, connect_args={"timeout": busy_timeout, "check_same_thread": False}
            )
            sa.event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
            threads = 1
        else:
            engine = sa.create_engine(url, pool_size=max_connections, max_overflow=2)
            sa.event.listen(engine, "connect", store_session)
            use_lane_connections(engine)
            threads = max_connections
        return cls._started(
            engine,
            owns_engine=True,
            threads=threads,
            auto_migrate=auto_migrate,
            data_version_interval=data_version_interval,
        )

    @classmethod
    def from_engine(
        cls,
        engine: Engine | AsyncEngine,
        *,
        auto_migrate: bool = True,
        max_connections: int | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        data_version_interval: float = DEFAULT_DATA_VERSION_INTERVAL,
    ) -> SQLStore:
        """Keep jobs in the app's own database.

        A sync ``Engine`` is shared: the store borrows connections from its pool (at most
        ``max_connections`` at once, default the pool's size; one on SQLite) and never
        disposes it. An ``AsyncEngine`` shares the database, not the pool: the store opens a
        small sync engine on the same URL through its sync driver (``dsn.sync_url``), which
        ``close()``, or a failure to open, disposes. On
        SQLite the store adds a connect listener that sets WAL, ``synchronous=FULL`` and the
        busy timeout on the engine's new connections.
        """
        owns = _is_async_engine(engine)
        if owns:
            sync_engine = sa.create_engine(sync_url(engine.url))
            if sync_engine.dialect.name == "postgresql":
                sa.event.listen(sync_engine, "connect", store_session)
                use_lane_connections(sync_engine)
        elif isinstance(engine, Engine):
            sync_engine = engine
        else:
            raise TypeError(
                "from_engine takes the app's SQLAlchemy Engine or AsyncEngine, "
                f"not {type(engine).__name__}"
            )
        sqlite = sync_engine.dialect.name == "sqlite"
        if sqlite:
            pragmas = _sqlite_pragmas(busy_timeout)
            # An app that opens stores on its engine again and again (a test per store)
            # would otherwise pile up one listener per store.
            if not sa.event.contains(sync_engine, "connect", pragmas):
                sa.event.listen(sync_engine, "connect", pragmas)
            threads = 1
        else:
            pool_size = getattr(sync_engine.pool, "size", lambda: 5)()
            threads = max_connections or max(1, int(pool_size))
        if not owns:
            # After the connect listener: the probe's connection goes into the app's pool.
            require_autocommit(sync_engine)
        return cls._started(
            sync_engine,
            owns_engine=owns,
            threads=threads,
            auto_migrate=auto_migrate,
            data_version_interval=data_version_interval,
        )

    @classmethod
    async def open(cls, dsn: str, **options: Any) -> SQLStore:
        """``from_dsn`` without blocking the event loop."""
        return await asyncio.to_thread(lambda: cls.from_dsn(dsn, **options))

    @classmethod
    def _started(
        cls,
        engine: Engine,
        *,
        owns_engine: bool,
        threads: int,
        auto_migrate: bool,
        data_version_interval: float,
    ) -> SQLStore:
        """The store on a prepared schema; an engine the store owns is disposed if that
        fails."""
        try:
            prepare_schema(engine, auto_migrate=auto_migrate)
            if engine.dialect.name == "sqlite":
                require_json_each(engine)
            store = cls(
                engine,
                owns_engine=owns_engine,
                threads=threads,
                data_version_interval=data_version_interval,
            )
            if store._postgres:
                store._channel = notify_channel(store._jobs_schema())
        except BaseException:
            if owns_engine:
                engine.dispose()
            raise
        return store

    def _jobs_schema(self) -> str:
        with self._engine.connect() as connection:
            schema = connection.exec_driver_sql(
                "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.oid = to_regclass('burrow_jobs')"
            ).scalar_one()
        return str(schema)

    # --- properties ---------------------------------------------------------------------------

    @property
    def capabilities(self) -> frozenset[Capability]:
        declared = {
            Capability.BATCH_COMPLETE,
            Capability.CROSS_PROCESS,
            Capability.NOTIFY,
            Capability.TRANSACTIONAL_ENQUEUE,
        }
        if self._postgres:
            # One SQL thread and one writer at a time on SQLite: more claims in flight
            # would only queue behind the first, each at the cost of a commit of its own.
            declared.add(Capability.PARALLEL_CLAIMS)
        return frozenset(declared)

    @property
    def engine(self) -> Engine:
        """The sync engine the store runs on (the app's own one after ``from_engine``)."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return "postgresql" if self._postgres else "sqlite"

    def __repr__(self) -> str:
        return f"SQLStore({mask_dsn(self._engine.url)!r})"

    # --- enqueue ------------------------------------------------------------------------------

    async def jobs_insert(
        self, jobs: Sequence[NewJob], *, now: datetime, using: Any = None
    ) -> list[JobId]:
        if not jobs:
            return []
        check_new_jobs(jobs)
        if using is not None:
            ids = await self._insert_using(using, [_new_row(job, now) for job in jobs])
        elif len(jobs) == 1:
            ids = [await self._insert_one(jobs[0], now)]
        elif self._postgres:
            ids = await self._run(lambda c: self._insert_many_postgres(c, jobs, now))
        else:
            now_us = self._time(now, "now")
            ids = await self._run(lambda c: insert_batch(c, jobs, now_us, self._time))
        self._announce(notify.AVAILABLE)
        return [str(i) for i in ids]

    async def _insert_one(self, job: NewJob, now: datetime) -> int:
        """One job (an enqueue call): a positional insert with values in the driver's form."""
        if self._postgres:
            _require_aware(job.run_at, "run_at")
            _require_aware(now, "now")
            row = (job.type, job.payload, job.priority, job.max_retries, job.run_at, now, now)

            def insert_row(connection: Connection) -> int:
                return int(connection.exec_driver_sql(POSTGRES_INSERT_ONE, row).scalar_one())

            if self._lane is not None:
                inserted = await self._lane.run(insert_row)
                if inserted is not Passed.PASSED:
                    return inserted
            return await self._run(insert_row)
        created = self._time(now, "now")
        # An enqueue to run now passes one datetime for both: convert it once.
        run_at = created if job.run_at is now else self._time(job.run_at, "run_at")
        values = (job.type, job.payload, job.priority, job.max_retries, run_at, created, created)

        def insert(connection: Connection) -> int:
            # The id of the row this statement inserted, on this connection.
            return int(connection.exec_driver_sql(SQLITE_INSERT_ONE, values).lastrowid)

        if self._inline is None:
            return await self._run(insert)
        inline = self._inline.run(insert)
        if inline is Passed.PASSED:
            return await self._run(insert)
        if self._inline.owes_a_turn():
            await asyncio.sleep(0)
        return inline

    def _insert_many_postgres(
        self, connection: Connection, jobs: Sequence[NewJob], now: datetime
    ) -> list[int]:
        # One statement: atomic by itself, no transaction round trips. The arrays reach
        # the driver as they are, so the aware-time checks happen here.
        _require_aware(now, "now")
        for job in jobs:
            _require_aware(job.run_at, "run_at")
        params = {
            "now": now,
            "types": [j.type for j in jobs],
            "payloads": [j.payload for j in jobs],
            "priorities": [j.priority for j in jobs],
            "max_retries": [j.max_retries for j in jobs],
            "run_ats": [j.run_at for j in jobs],
        }
        # RETURNING has no order; the ids ascend in input order.
        return sorted(connection.exec_driver_sql(POSTGRES_INSERT_UNNEST, params).scalars().all())

    async def _insert_using(self, using: Any, rows: list[dict[str, Any]]) -> list[int]:
        # The app's own connection: no commit here, so the rows appear when the app commits.
        statement = self._sql.insert if len(rows) == 1 else self._sql.insert_many
        params: Any = rows[0] if len(rows) == 1 else rows
        if _is_async_connection(using):
            result = await using.execute(statement, params)
        elif isinstance(using, Connection):
            result = using.execute(statement, params)
        else:
            raise TypeError(
                "using= takes the app's open SQLAlchemy Connection or AsyncConnection, "
                f"not {type(using).__name__}"
            )
        return list(result.scalars())

    # --- the worker's writes ------------------------------------------------------------------

    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[ClaimedJob]:
        if limit < 1:
            raise ValueError(f"jobs_claim limit must be >= 1, got {limit}")
        type_list = list(types)
        if not type_list:
            return []
        if not self._postgres:
            return await self._claim_sqlite(limit, type_list, now)
        claim = self._claims.get(limit)
        if claim is None:
            claim = self._claims[limit] = build_claim(limit)
        _require_aware(now, "now")
        params = {"now": now, "types": type_list}
        # With outcome writes waiting, the claim shares their statement (one round trip).
        rows = await self._outcomes.claim(ClaimStatement(claim, params, len(CLAIM_COLUMNS)))
        return _claimed_jobs(rows, lease=None, time=_utc)

    async def _claim_sqlite(self, limit: int, types: list[str], now: datetime) -> list[ClaimedJob]:
        key = (limit, len(types))
        statement = self._sqlite_claims.get(key)
        if statement is None:
            statement = self._sqlite_claims[key] = build_sqlite_claim(limit, len(types))
        values: dict[str, Any] = {f"t{n}": name for n, name in enumerate(types)}
        values["now"] = self._time(now, "now")
        rows = await self._outcomes.claim(ClaimStatement(statement, values, len(CLAIM_COLUMNS)))
        return _claimed_jobs(
            rows, lease=_lease_text, time=lambda value: _EPOCH + timedelta(microseconds=value)
        )

    async def _guarded(self, statement: Any, job_id: JobId, lease: Lease, **values: Any) -> bool:
        row_id = counter_id(job_id)
        if row_id is None or _parse_lease(lease) is None:
            return False
        params = {"job_id": row_id, "job_lease": lease, **values}
        count = await self._run(lambda c: c.execute(statement, params).rowcount)
        return bool(count == 1)

    def _group_write(
        self, kind: OutcomeKind, job_id: JobId, lease: Lease, *values: Any
    ) -> asyncio.Future[bool]:
        """A lease-guarded write through the group commit."""
        row = self._outcome_row(kind, job_id, lease, values)
        if row is None:
            refused: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            refused.set_result(False)
            return refused
        return self._outcomes.write(row)

    def _outcome_row(
        self, kind: OutcomeKind, job_id: JobId, lease: Lease, values: tuple[Any, ...]
    ) -> OutcomeWrite | None:
        """The row to write, with the id and lease in the driver's form; None for an id or a
        lease this store never handed out (the write is refused). Values go to the driver as
        they are, so times are converted by the caller (SQLite: integer microseconds)."""
        row_id = counter_id(job_id)
        lease_param = _lease_param(lease, postgres=self._postgres)
        if row_id is None or lease_param is None:
            return None
        return OutcomeWrite(kind, row_id, lease_param, values)

    def _time(self, value: datetime, name: str) -> Any:
        _require_aware(value, name)
        return value if self._postgres else (value - _EPOCH) // _MICROSECOND

    async def job_heartbeat(self, job_id: JobId, lease: Lease, *, now: datetime) -> bool:
        return await self._group_write(HEARTBEAT, job_id, lease, self._time(now, "now"))

    async def job_complete(
        self, job_id: JobId, lease: Lease, *, result: str | None, now: datetime
    ) -> bool:
        return await self._group_write(COMPLETE, job_id, lease, self._time(now, "now"), result)

    async def jobs_complete(
        self, completions: Sequence[Completion], *, now: datetime
    ) -> list[bool]:
        """Every completion through the group commit as one caller: the rows share a
        transaction (and the claim and other writes waiting beside them)."""
        at = self._time(now, "now")
        rows = [
            self._outcome_row(COMPLETE, i, lease, (at, result)) for i, lease, result in completions
        ]
        writes = [row for row in rows if row is not None]
        # A row never handed out is refused without a write; the others in order.
        verdicts = iter(await self._outcomes.write_many(writes) if writes else [])
        return [False if row is None else next(verdicts) for row in rows]

    async def job_fail(
        self,
        job_id: JobId,
        lease: Lease,
        *,
        error: JobError,
        retry_at: datetime | None,
        now: datetime,
    ) -> bool:
        errors = (error.message, error.error_class, error.traceback)
        at = self._time(now, "now")
        if retry_at is None:
            return await self._group_write(FAIL_DEAD, job_id, lease, at, *errors)
        retry = self._time(retry_at, "retry_at")
        written = await self._group_write(FAIL_RETRY, job_id, lease, at, retry, *errors)
        if written:
            self._announce(notify.AVAILABLE)
        return written

    async def job_release(self, job_id: JobId, lease: Lease, *, now: datetime) -> bool:
        written = await self._guarded(
            self._sql.release, job_id, lease, now=now, message=SHUTDOWN_MESSAGE
        )
        if written:
            self._announce(notify.AVAILABLE)
        return written

    # --- maintenance --------------------------------------------------------------------------

    async def jobs_rescue(self, *, stale_before: datetime, now: datetime) -> list[JobId]:
        params = {
            "stale_before": stale_before,
            "now": now,
            "message": lease_expired_message(stale_before),
        }
        ids = await self._run(lambda c: list(c.execute(self._sql.rescue, params).scalars()))
        if ids:
            self._announce(notify.AVAILABLE)
        return [str(i) for i in sorted(ids)]

    async def jobs_delete_completed(self, *, completed_before: datetime) -> int:
        params = {"completed_before": completed_before}
        count = await self._run(lambda c: c.execute(self._sql.delete_completed, params).rowcount)
        return int(count)

    # --- operator actions ---------------------------------------------------------------------

    def _act(
        self,
        connection: Connection,
        *,
        action: str,
        job_id: JobId,
        allowed: frozenset[JobStatus],
        statement: Any,
        params: dict[str, Any],
    ) -> JobStatus:
        row_id = counter_id(job_id)
        if row_id is None:
            raise JobNotFound(job_id)
        with explicit_transaction(connection):
            found = connection.execute(self._sql.status_for_update, {"job_id": row_id}).scalar()
            if found is None:
                raise JobNotFound(job_id)
            status = JobStatus(found)
            if status not in allowed:
                raise InvalidJobStatus(job_id, status, action, allowed)
            connection.execute(statement, {"job_id": row_id, **params})
        return status

    async def job_retry(self, job_id: JobId, *, now: datetime) -> None:
        await self._run(
            lambda c: self._act(
                c,
                action="retry",
                job_id=job_id,
                allowed=RETRY_ACCEPTS,
                statement=self._sql.retry,
                params={"now": now},
            )
        )
        self._announce(notify.AVAILABLE)

    async def job_cancel(self, job_id: JobId, *, now: datetime) -> None:
        before = await self._run(
            lambda c: self._act(
                c,
                action="cancel",
                job_id=job_id,
                allowed=CANCEL_ACCEPTS,
                statement=self._sql.cancel,
                params={"now": now},
            )
        )
        if before is JobStatus.RUNNING:
            self._announce(Notification(NotificationKind.CANCELLED, job_id))

    async def job_delete(self, job_id: JobId) -> None:
        row_id = counter_id(job_id)
        if row_id is None:
            raise JobNotFound(job_id)
        found = await self._run(
            lambda c: c.execute(self._sql.delete, {"job_id": row_id}).scalar_one_or_none()
        )
        if found is None:
            raise JobNotFound(job_id)
        if found == JobStatus.RUNNING.value:
            self._announce(Notification(NotificationKind.CANCELLED, job_id))

    # --- reads --------------------------------------------------------------------------------

    async def job_get(self, job_id: JobId) -> Job | None:
        row_id = counter_id(job_id)
        if row_id is None:
            return None
        row = await self._run(lambda c: c.execute(self._sql.job_get, {"job_id": row_id}).first())
        return None if row is None else _job_from_row(row)

    async def jobs_list(
        self,
        *,
        status: JobStatus | None = None,
        type: str | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[Job], int]:
        check_page(offset, limit)
        filters: list[sa.ColumnElement[bool]] = []
        if status is not None:
            filters.append(jobs.c.status == JobStatus(status).value)
        if type is not None:
            filters.append(jobs.c.type == type)
        page = (
            sa.select(*jobs.c)
            .where(*filters)
            .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        total: sa.Executable = sa.select(sa.func.count()).select_from(jobs).where(*filters)
        if status == JobStatus.PENDING and type is None and not self._postgres:
            total = sa.text(SQLITE_COUNT_PENDING)

        def read(connection: Connection) -> tuple[list[Job], int]:
            with read_snapshot(connection):
                if self._postgres:
                    # The store's sessions plan the claim without sorts; a list filtered by
                    # status is cheapest as that status's partial index and a sort.
                    connection.exec_driver_sql("SET LOCAL enable_sort = on")
                rows = connection.execute(page).all()
                count = connection.execute(total).scalar_one()
            return [_job_from_row(r) for r in rows], int(count)

        return await self._run(read)

    async def jobs_count_by_status(self) -> dict[JobStatus, int]:
        statement = POSTGRES_COUNT_BY_STATUS if self._postgres else SQLITE_COUNT_BY_STATUS
        row = await self._run(lambda c: c.exec_driver_sql(statement).one())
        return {status: int(count) for status, count in zip(JobStatus, row, strict=True)}

    async def jobs_count_ahead(
        self, job_id: JobId, *, now: datetime, types: Collection[str] | None = None
    ) -> int:
        row_id = counter_id(job_id)
        if row_id is None:
            raise JobNotFound(job_id)
        type_list = None if types is None else list(types)

        def count(connection: Connection) -> int | None:
            me = connection.execute(
                sa.select(jobs.c.priority, jobs.c.run_at).where(jobs.c.id == row_id)
            ).first()
            if me is None:
                return None
            priority, run_at = me
            ahead = sa.or_(
                jobs.c.priority > priority,
                sa.and_(
                    jobs.c.priority == priority,
                    sa.or_(
                        jobs.c.run_at < run_at,
                        sa.and_(jobs.c.run_at == run_at, jobs.c.id < row_id),
                    ),
                ),
            )
            query = (
                sa.select(sa.func.count())
                .select_from(jobs)
                .where(sa.text(CLAIMABLE_SQL), jobs.c.run_at <= now, ahead)
            )
            if type_list is not None:
                query = query.where(jobs.c.type.in_(type_list))
            return int(connection.execute(query).scalar_one())

        found = await self._run(count)
        if found is None:
            raise JobNotFound(job_id)
        return found

    async def jobs_types(self) -> list[str]:
        return sorted(await self._run(lambda c: list(c.execute(JOB_TYPES).scalars())))

    async def jobs_finished_per_minute(
        self, *, since: datetime, now: datetime
    ) -> list[FinishedMinute]:
        completed_minute = self._sql.finished_minute
        dead_minute = self._sql.finished_minute_dead
        completed = (
            sa.select(completed_minute, sa.func.count())
            .where(
                sa.text("status = 'completed'"),
                jobs.c.completed_at >= since,
                jobs.c.completed_at <= now,
            )
            .group_by(completed_minute)
        )
        dead = (
            sa.select(dead_minute, sa.func.count())
            .where(sa.text("status = 'dead'"), jobs.c.failed_at >= since, jobs.c.failed_at <= now)
            .group_by(dead_minute)
        )

        def read(connection: Connection) -> dict[int, list[int]]:
            minutes: dict[int, list[int]] = {}
            for column, query in ((0, completed), (1, dead)):
                for minute, count in connection.execute(query):
                    minutes.setdefault(int(minute), [0, 0])[column] += int(count)
            return minutes

        minutes = await self._run(read)
        return [
            FinishedMinute(minute=_EPOCH + timedelta(minutes=m), completed=c, dead=d)
            for m, (c, d) in sorted(minutes.items())
        ]

    # --- workers ------------------------------------------------------------------------------

    async def worker_beat(self, info: WorkerInfo, *, now: datetime) -> None:
        row = {
            "id": info.id,
            "hostname": info.hostname,
            "pid": info.pid,
            "state": info.state.value,
            "workers": info.workers,
            "in_flight": info.in_flight,
            "poll_interval_us": info.poll_interval // timedelta(microseconds=1),
            "types": json.dumps(list(info.types)),
            "started_at": info.started_at,
            "last_poll_at": info.last_poll_at,
            "seen_at": now,
        }
        await self._run(lambda c: c.execute(self._sql.worker_upsert, row))

    async def workers_list(self, *, seen_since: datetime) -> list[WorkerRecord]:
        query = sa.select(*workers.c).where(workers.c.seen_at >= seen_since).order_by(workers.c.id)
        rows = await self._run(lambda c: c.execute(query).all())
        return [
            WorkerRecord(
                info=WorkerInfo(
                    id=r.id,
                    hostname=r.hostname,
                    pid=r.pid,
                    state=WorkerState(r.state),
                    workers=r.workers,
                    in_flight=r.in_flight,
                    poll_interval=timedelta(microseconds=r.poll_interval_us),
                    types=tuple(json.loads(r.types)),
                    started_at=r.started_at,
                    last_poll_at=r.last_poll_at,
                ),
                seen_at=r.seen_at,
            )
            for r in rows
        ]

    # --- notifications and lifecycle ----------------------------------------------------------

    def _announce(self, item: Notification) -> None:
        # PostgreSQL announces through its triggers (at commit, to every process); SQLite
        # tells the stores on the same file in this process at once, and other processes
        # see the commit through PRAGMA data_version.
        if self._file is not None:
            _FILES.publish(self._file, item)

    def notifications(self) -> AsyncIterator[Notification]:
        return self._broadcaster.subscribe(on_start=self._start_source)

    def _start_source(self) -> None:
        if self._closed or self._source is not None:
            return
        publish = self._broadcaster.publish
        if self._postgres:
            source = notify.listen_postgres(
                self._listener_conninfo,
                self._channel,
                publish,
                on_connected=self._listener_connected,
            )
        else:
            assert self._file is not None
            source = notify.watch_sqlite_data_version(
                self._file, publish, self._data_version_interval
            )
        self._source = asyncio.get_running_loop().create_task(source)

    async def _listener_conninfo(self) -> str:
        return await asyncio.to_thread(self._engine_conninfo)

    def _engine_conninfo(self) -> str:
        """Where the engine's connections go, read from one it opens: its URL, and on an
        app's engine also its ``connect_args``, ``creator`` or ``do_connect`` hook (a
        database named there, a token for a password), which the URL alone would miss."""
        borrowed = self._engine.raw_connection()
        try:
            info = borrowed.driver_connection.info  # type: ignore[union-attr]
            dsn = str(info.dsn)
            return make_conninfo(dsn, password=info.password) if info.password else dsn
        finally:
            borrowed.close()

    listener_backend_pid: int | None = None
    """PostgreSQL: the backend pid of the current LISTEN connection (for diagnostics)."""

    def _listener_connected(self, pid: int) -> None:
        self.listener_backend_pid = pid

    async def close(self, *, thread_timeout: float = CLOSE_THREAD_TIMEOUT) -> None:
        """Stop notifications, write the outcome writes already queued on this event loop,
        finish the queued statements and close the connections. Waits at most
        ``thread_timeout`` seconds in all: an SQL thread inside a statement the database never
        answers is left behind (logged), and what still waits for it is refused."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + thread_timeout
        with suppress(TimeoutError):
            await asyncio.wait_for(self._outcomes.settle(), thread_timeout)
        self._broadcaster.close()
        if self._file is not None:
            _FILES.leave(self._file, self._broadcaster)
        if self._source is not None:
            self._source.cancel()
            with suppress(asyncio.CancelledError):
                await self._source
        if self._inline is not None:
            self._inline.close()
        if self._lane is not None:
            await self._lane.close(max(0.0, deadline - time.monotonic()))
        await self._run.shutdown(max(0.0, deadline - time.monotonic()))
        if self._inline is not None:
            self._inline.close()  # if the SQL thread held the lock the first time
        if self._owns_engine:
            self._engine.dispose()
