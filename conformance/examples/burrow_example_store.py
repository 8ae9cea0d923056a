"""A complete burrow store on the standard library's ``sqlite3``: the conformance suite's example.

It imports only ``burrow_tasks`` and the standard library and keeps every rule of
``burrow_tasks.store`` (DESIGN §4) in plain SQL. Times are integer microseconds since the epoch
(UTC), so SQL compares them. Each method is one transaction; writes take the write lock up front
(``BEGIN IMMEDIATE``), which keeps claims exclusive even across processes sharing the file.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import burrow_tasks as bt
from burrow_tasks import store as rules
from burrow_tasks.clock import require_aware
from burrow_tasks.hookspecs import hookimpl

__all__ = ["DSN_PREFIX", "SqliteExampleStore", "burrow_backend"]

DSN_PREFIX = "example-sqlite://"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_MINUTE_US = 60_000_000
_CLAIMABLE = "status IN ('pending', 'failed')"
_LEASED = "status = 'running' AND lease = :lease AND id = :id"
_TIMES = "run_at created_at updated_at last_attempted_at heartbeat_at completed_at failed_at"
_T = TypeVar("_T")
_CLAIMED_FIELDS = [field.name for field in dataclasses.fields(bt.ClaimedJob)]

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS jobs (  -- columns named as burrow_tasks.Job's fields; ids never reused
    id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, payload TEXT NOT NULL,
    status TEXT NOT NULL, priority INTEGER NOT NULL, attempts INTEGER, max_retries INTEGER,
    run_at INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    last_attempted_at INTEGER, heartbeat_at INTEGER, completed_at INTEGER, failed_at INTEGER,
    last_error TEXT, error_class TEXT, error_traceback TEXT, result TEXT, cancelled INTEGER,
    lease TEXT);
CREATE INDEX IF NOT EXISTS jobs_claim_order ON jobs (priority DESC, run_at, id) WHERE {_CLAIMABLE};
CREATE INDEX IF NOT EXISTS jobs_running ON jobs (heartbeat_at) WHERE status = 'running';
CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, info TEXT NOT NULL, seen_at INTEGER);
"""


class SqliteExampleStore:
    """A ``burrow_tasks.JobStore`` in one SQLite file (WAL mode), shared by threads and processes.

    Each call opens its own connection (about 0.1 ms; a production store would pool), so none is
    shared between threads; no method awaits inside a transaction, so coroutines cannot interleave.
    """

    def __init__(self, path: str, *, busy_timeout: float = 30.0) -> None:
        if not path or ":memory:" in path:  # each call's own connection must see the same data
            raise ValueError(f"SqliteExampleStore needs a database file path, got {path!r}")
        self.path, self.busy_timeout = path, busy_timeout
        with closing(sqlite3.connect(path, busy_timeout, isolation_level=None)) as db:
            db.execute("PRAGMA journal_mode = WAL")  # kept in the file: readers never block
            db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")

    @property
    def capabilities(self) -> frozenset[bt.Capability]:
        return frozenset({bt.Capability.CROSS_PROCESS})

    @contextmanager
    def _transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """One transaction, committed at the end or rolled back on error. Reads pass ``BEGIN``:
        one consistent snapshot, without taking the write lock."""
        # isolation_level=None: sqlite3 opens no transactions of its own; we say BEGIN.
        with closing(sqlite3.connect(self.path, self.busy_timeout, isolation_level=None)) as db:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; no fsync per commit
            db.execute(begin)
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    async def jobs_insert(
        self, jobs: Sequence[bt.NewJob], *, now: datetime, using: Any = None
    ) -> list[bt.JobId]:
        if using is not None:
            raise bt.NotSupported("SqliteExampleStore has no transactional_enqueue: pass no using")
        for index, job in enumerate(jobs):
            try:  # valid JSON text, and UTF-8 so that SQLite keeps it byte for byte
                json.loads(job.payload, parse_constant=_refuse_constant)
                job.payload.encode()
            except ValueError as exc:
                raise bt.PayloadError(f"jobs[{index}].payload is not JSON text: {exc}") from exc
        insert = """INSERT INTO jobs (type, payload, status, priority, attempts, max_retries,
            run_at, created_at, updated_at) VALUES (?, ?, 'pending', ?, 0, ?, ?, ?, ?)"""
        rows = [(j.type, j.payload, j.priority, j.max_retries, _us(j.run_at)) for j in jobs]
        with self._transaction() as db:
            ids = [db.execute(insert, (*row, _us(now), _us(now))).lastrowid for row in rows]
        return [str(id) for id in ids]

    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[bt.ClaimedJob]:
        if limit < 1 or isinstance(types, str):
            raise ValueError(f"jobs_claim needs limit >= 1 and a collection of types: {limit=}")
        select = f"""SELECT id FROM jobs WHERE {_CLAIMABLE} AND run_at <= ? AND type IN
            (SELECT value FROM json_each(?)) ORDER BY priority DESC, run_at, id LIMIT ?"""
        claim = """UPDATE jobs SET status = 'running', attempts = attempts + 1, lease = :lease,
            last_attempted_at = :now, heartbeat_at = :now, updated_at = :now
            WHERE id = :id RETURNING *"""
        with self._transaction() as db:  # the write lock is held from the SELECT on
            ids = db.execute(select, (_us(now), json.dumps(list(types)), limit)).fetchall()
            params = [{"lease": uuid.uuid4().hex, "now": _us(now), "id": id} for (id,) in ids]
            claimed = [_job(db.execute(claim, p).fetchone()) for p in params]
        return [bt.ClaimedJob(**{n: getattr(job, n) for n in _CLAIMED_FIELDS}) for job in claimed]

    def _write_if_leased(self, job_id: bt.JobId, lease: bt.Lease, changes: str, **p: Any) -> bool:
        """Apply ``changes`` only while the job is running under ``lease`` (rule 3)."""
        with self._transaction() as db:
            update = f"UPDATE jobs SET {changes} WHERE {_LEASED}"
            return db.execute(update, {**p, "id": _row_id(job_id), "lease": lease}).rowcount == 1

    async def job_heartbeat(self, job_id: bt.JobId, lease: bt.Lease, *, now: datetime) -> bool:
        changes = "heartbeat_at = :now, updated_at = :now"
        return self._write_if_leased(job_id, lease, changes, now=_us(now))

    async def job_complete(
        self, job_id: bt.JobId, lease: bt.Lease, *, result: str | None, now: datetime
    ) -> bool:
        changes = """status = 'completed', result = :result, lease = NULL, completed_at = :now,
            updated_at = :now"""
        return self._write_if_leased(job_id, lease, changes, result=result, now=_us(now))

    async def job_fail(
        self,
        job_id: bt.JobId,
        lease: bt.Lease,
        *,
        error: bt.JobError,
        retry_at: datetime | None,
        now: datetime,
    ) -> bool:
        # Without retry_at: dead, failed_at = now. With it: failed again at retry_at.
        changes = """last_error = :message, error_class = :error_class, lease = NULL,
            error_traceback = :traceback, updated_at = :now, run_at = coalesce(:retry, run_at),
            status = iif(:retry IS NULL, 'dead', 'failed'),
            failed_at = iif(:retry IS NULL, :now, failed_at)"""
        params = dataclasses.asdict(error) | {"retry": _maybe(_us, retry_at), "now": _us(now)}
        return self._write_if_leased(job_id, lease, changes, **params)

    async def job_release(self, job_id: bt.JobId, lease: bt.Lease, *, now: datetime) -> bool:
        params = {"id": _row_id(job_id), "lease": lease, "now": _us(now)}
        with self._transaction() as db:
            split = (rules.SHUTDOWN_MESSAGE, rules.SHUTDOWN_ERROR_CLASS)
            return bool(self._requeue_or_bury(db, _LEASED, params, *split))

    def _requeue_or_bury(
        self, db: sqlite3.Connection, where: str, params: dict[str, Any], error: str, kind: str
    ) -> list[int]:
        """Rule 6's split, one statement a side: back to pending while runs remain, else dead.
        The first statement moves its rows out of ``running``, so the second cannot see them."""
        pending = f"""UPDATE jobs SET status = 'pending', run_at = :now, lease = NULL,
            updated_at = :now WHERE {where} AND attempts < max_retries RETURNING id"""
        dead = f"""UPDATE jobs SET status = 'dead', failed_at = :now, last_error = :error,
            error_class = :kind, error_traceback = NULL, lease = NULL, updated_at = :now
            WHERE {where} AND attempts >= max_retries RETURNING id"""
        ids = db.execute(pending, params).fetchall()
        ids += db.execute(dead, {**params, "error": error, "kind": kind}).fetchall()
        return sorted(id for (id,) in ids)

    async def jobs_rescue(self, *, stale_before: datetime, now: datetime) -> list[bt.JobId]:
        where = "status = 'running' AND heartbeat_at < :stale_before"
        params = {"stale_before": _us(stale_before), "now": _us(now)}
        split = (rules.lease_expired_message(stale_before), rules.LEASE_EXPIRED_ERROR_CLASS)
        with self._transaction() as db:
            return [str(id) for id in self._requeue_or_bury(db, where, params, *split)]

    async def jobs_delete_completed(self, *, completed_before: datetime) -> int:
        delete = "DELETE FROM jobs WHERE status = 'completed' AND completed_at < ?"
        with self._transaction() as db:
            return db.execute(delete, (_us(completed_before),)).rowcount

    def _operator_action(
        self, job_id: str, action: str, accepts: frozenset[bt.JobStatus], changes: str, now: int
    ) -> None:
        """Rule 8: read the status and write it under one write lock, so nothing slips between."""
        with self._transaction() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (_row_id(job_id),)).fetchone()
            if row is None:
                raise bt.JobNotFound(job_id)
            if (status := bt.JobStatus(row["status"])) not in accepts:
                raise bt.InvalidJobStatus(job_id, status, action, accepts)
            db.execute(f"UPDATE jobs SET {changes} WHERE id = :id", {"id": row["id"], "now": now})

    async def job_retry(self, job_id: bt.JobId, *, now: datetime) -> None:
        changes = """status = 'pending', attempts = 0, run_at = :now, updated_at = :now,
            cancelled = 0, last_error = NULL, error_class = NULL, error_traceback = NULL,
            result = NULL, failed_at = NULL, completed_at = NULL, last_attempted_at = NULL,
            heartbeat_at = NULL"""
        self._operator_action(job_id, "retry", rules.RETRY_ACCEPTS, changes, _us(now))

    async def job_cancel(self, job_id: bt.JobId, *, now: datetime) -> None:
        changes = """status = 'dead', cancelled = 1, failed_at = :now, updated_at = :now,
            lease = NULL"""
        self._operator_action(job_id, "cancel", rules.CANCEL_ACCEPTS, changes, _us(now))

    async def job_delete(self, job_id: bt.JobId) -> None:
        with self._transaction() as db:
            if db.execute("DELETE FROM jobs WHERE id = ?", (_row_id(job_id),)).rowcount == 0:
                raise bt.JobNotFound(job_id)

    async def job_get(self, job_id: bt.JobId) -> bt.Job | None:
        with self._transaction("BEGIN") as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (_row_id(job_id),)).fetchone()
        return _maybe(_job, row)

    async def jobs_list(
        self,
        *,
        status: bt.JobStatus | None = None,
        type: str | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[bt.Job], int]:
        if offset < 0 or limit < 0:
            raise ValueError(f"jobs_list needs offset >= 0 and limit >= 0, got {offset=} {limit=}")
        # A NULL filter matches everything, so one statement serves every combination.
        where = "(:status IS NULL OR status = :status) AND (:type IS NULL OR type = :type)"
        params = {"status": status, "type": type, "limit": limit, "offset": offset}
        page = f"SELECT * FROM jobs WHERE {where} ORDER BY created_at DESC, id DESC LIMIT :limit"
        with self._transaction("BEGIN") as db:
            total = db.execute(f"SELECT count(*) FROM jobs WHERE {where}", params).fetchone()[0]
            return [_job(row) for row in db.execute(page + " OFFSET :offset", params)], total

    async def jobs_count_by_status(self) -> dict[bt.JobStatus, int]:
        counts = dict.fromkeys(bt.JobStatus, 0)
        with self._transaction("BEGIN") as db:
            for status, count in db.execute("SELECT status, count(*) FROM jobs GROUP BY status"):
                counts[bt.JobStatus(status)] = count
        return counts

    async def jobs_count_ahead(
        self, job_id: bt.JobId, *, now: datetime, types: Collection[str] | None = None
    ) -> int:
        # Earlier in claim order = a smaller (-priority, run_at, id), compared as one row value.
        ahead = f"""SELECT count(*) FROM jobs WHERE {_CLAIMABLE} AND run_at <= :now
            AND (:types IS NULL OR type IN (SELECT value FROM json_each(:types)))
            AND (-priority, run_at, id) < (-:priority, :run_at, :id)"""
        with self._transaction("BEGIN") as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (_row_id(job_id),)).fetchone()
            if row is None:
                raise bt.JobNotFound(job_id)
            params = dict(row) | {"now": _us(now), "types": _maybe(json.dumps, _maybe(list, types))}
            return int(db.execute(ahead, params).fetchone()[0])

    async def jobs_types(self) -> list[str]:
        with self._transaction("BEGIN") as db:
            return sorted(type for (type,) in db.execute("SELECT DISTINCT type FROM jobs"))

    async def jobs_finished_per_minute(
        self, *, since: datetime, now: datetime
    ) -> list[bt.FinishedMinute]:
        finished = """SELECT 'completed', completed_at FROM jobs WHERE status = 'completed'
            AND completed_at BETWEEN :since AND :now UNION ALL SELECT 'dead', failed_at
            FROM jobs WHERE status = 'dead' AND failed_at BETWEEN :since AND :now"""
        with self._transaction("BEGIN") as db:
            rows = db.execute(finished, {"since": _us(since), "now": _us(now)}).fetchall()
        # Floored in Python: SQLite's integer division truncates toward zero before 1970.
        counts = Counter((at // _MINUTE_US, kind) for kind, at in rows)
        return [
            bt.FinishedMinute(_time(m * _MINUTE_US), counts[m, "completed"], counts[m, "dead"])
            for m in sorted({minute for minute, _ in counts})
        ]

    async def worker_beat(self, info: bt.WorkerInfo, *, now: datetime) -> None:
        upsert = """INSERT INTO workers (id, info, seen_at) VALUES (?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET info = excluded.info, seen_at = excluded.seen_at"""
        fields = dataclasses.asdict(info) | {"poll_interval": info.poll_interval // _US}
        fields |= {name: _maybe(_us, fields[name]) for name in ("started_at", "last_poll_at")}
        with self._transaction() as db:
            db.execute(upsert, (info.id, json.dumps(fields), _us(now)))

    async def workers_list(self, *, seen_since: datetime) -> list[bt.WorkerRecord]:
        select = "SELECT info, seen_at FROM workers WHERE seen_at >= ? ORDER BY id"
        with self._transaction("BEGIN") as db:
            rows = db.execute(select, (_us(seen_since),)).fetchall()
        return [bt.WorkerRecord(_worker(json.loads(info)), _time(seen)) for info, seen in rows]

    def notifications(self) -> AsyncIterator[bt.Notification]:
        raise bt.NotSupported("SqliteExampleStore does not declare notify: the engine polls it")

    async def close(self) -> None:
        """Nothing to release: no connection outlives the call that opened it."""


@hookimpl
def burrow_backend(dsn: str) -> SqliteExampleStore | None:
    """Open ``example-sqlite:///path/to/jobs.db``; leave every other scheme to other plugins."""
    if not dsn.startswith(DSN_PREFIX):
        return None
    return SqliteExampleStore(dsn.removeprefix(DSN_PREFIX))


def _us(value: datetime) -> int:
    return (require_aware(value, "a time given to the store") - _EPOCH) // _US


def _time(us: int) -> datetime:
    return _EPOCH + us * _US


def _maybe(convert: Callable[[Any], _T], value: Any) -> _T | None:
    return None if value is None else convert(value)


def _row_id(job_id: bt.JobId) -> int | None:
    """The integer key behind an id this store handed out; None (matching no row) otherwise."""
    canonical = job_id.isascii() and job_id.isdigit() and not job_id.startswith("0")
    return int(job_id) if canonical and len(job_id) < 19 else None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # json.loads accepts NaN and Infinity; JSON does not


def _job(row: sqlite3.Row) -> bt.Job:
    fields = dict(row) | {name: _maybe(_time, row[name]) for name in _TIMES.split()}
    fields |= {"id": str(row["id"]), "status": bt.JobStatus(row["status"])}
    return bt.Job(**fields | {"cancelled": bool(row["cancelled"])})


def _worker(fields: dict[str, Any]) -> bt.WorkerInfo:
    fields |= {name: _maybe(_time, fields[name]) for name in ("started_at", "last_poll_at")}
    fields |= {"state": bt.WorkerState(fields["state"]), "types": tuple(fields["types"])}
    return bt.WorkerInfo(**fields | {"poll_interval": fields["poll_interval"] * _US})
