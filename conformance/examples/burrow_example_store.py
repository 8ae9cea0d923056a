"""A complete burrow store on the standard library's ``sqlite3``: the conformance suite's example.

It imports only ``burrow_tasks`` and the standard library and keeps every rule of DESIGN §4 in
plain SQL. Times are integer microseconds since the epoch (UTC), so SQL compares them. Each method
is one transaction; writes take the write lock up front (``BEGIN IMMEDIATE``), which keeps claims
exclusive even across processes sharing the file."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import burrow_tasks as bt
from burrow_tasks import store as rules
from burrow_tasks.clock import require_aware
from burrow_tasks.hookspecs import hookimpl

DSN_PREFIX = "example-sqlite://"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_CLAIMABLE = "status IN ('pending', 'failed')"
_LEASED = "status = 'running' AND lease = :lease AND id = :id"
_COMPLETE = (
    "status = 'completed', result = :result, lease = NULL, completed_at = :now, updated_at = :now"
)
_TIMES = "run_at created_at updated_at last_attempted_at heartbeat_at completed_at failed_at"
_CLAIMED_FIELDS = [field.name for field in dataclasses.fields(bt.ClaimedJob)]

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS jobs (  -- columns named as burrow_tasks.Job's fields; ids never reused
    id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, payload TEXT NOT NULL,
    status TEXT NOT NULL, priority INTEGER NOT NULL, attempts INTEGER NOT NULL, lease TEXT,
    max_retries INTEGER NOT NULL, cancelled INTEGER NOT NULL DEFAULT 0, run_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, last_attempted_at INTEGER,
    heartbeat_at INTEGER, completed_at INTEGER, failed_at INTEGER, last_error TEXT,
    error_class TEXT, error_traceback TEXT, result TEXT);
CREATE INDEX IF NOT EXISTS jobs_claim_order ON jobs (priority DESC, run_at, id) WHERE {_CLAIMABLE};
CREATE INDEX IF NOT EXISTS jobs_running ON jobs (heartbeat_at) WHERE status = 'running';
CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, info TEXT NOT NULL, seen_at INTEGER);
"""


class SqliteExampleStore:
    """A ``burrow_tasks.JobStore`` in one SQLite file (WAL mode), shared by threads and processes.
    Each call opens its own connection (about 0.1 ms; a production store would pool), so none is
    shared by threads; no method awaits inside a transaction, so coroutines cannot interleave."""

    def __init__(self, path: str, *, busy_timeout: float = 30.0) -> None:
        self.path, self.busy_timeout = path, busy_timeout
        with closing(sqlite3.connect(path, timeout=busy_timeout)) as db:
            # WAL, kept in the file, lets readers run beside the writer; a :memory: db refuses it.
            if (mode := db.execute("PRAGMA journal_mode = WAL").fetchone()[0]) != "wal":
                raise ValueError(f"SqliteExampleStore needs WAL; {path!r} stays in {mode} mode")
            db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")

    @property
    def capabilities(self) -> frozenset[bt.Capability]:
        return frozenset({bt.Capability.BATCH_COMPLETE, bt.Capability.CROSS_PROCESS})

    @contextmanager
    def _transaction(self, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """One transaction on a new connection; ``with db`` commits it or rolls it back."""
        with closing(sqlite3.connect(self.path, timeout=self.busy_timeout)) as db, db:
            db.row_factory, db.isolation_level = sqlite3.Row, None  # None: we say BEGIN ourselves
            db.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; no fsync per commit
            db.execute(begin)
            yield db

    def _run(self, sql: str, params: Any = (), begin: str = "BEGIN IMMEDIATE") -> list[Any]:
        """One statement in its own transaction; its rows. Reads pass ``BEGIN`` (no write lock)."""
        with self._transaction(begin) as db:
            return db.execute(sql, params).fetchall()

    async def jobs_insert(
        self, jobs: Sequence[bt.NewJob], *, now: datetime, using: Any = None
    ) -> list[bt.JobId]:
        def refuse(constant: str) -> None:  # json.loads accepts NaN and Infinity; JSON does not
            raise ValueError(f"{constant} is not JSON")

        if using is not None:
            raise bt.NotSupported("SqliteExampleStore has no transactional_enqueue: pass no using")
        for index, job in enumerate(jobs):
            try:  # valid JSON text, and UTF-8 so that SQLite keeps it byte for byte
                json.loads(job.payload, parse_constant=refuse)
                job.payload.encode()
            except ValueError as exc:
                raise bt.PayloadError(f"jobs[{index}].payload is not JSON text: {exc}") from exc
        insert = """INSERT INTO jobs (type, payload, status, priority, attempts, max_retries,
            run_at, created_at, updated_at) VALUES (?, ?, 'pending', ?, 0, ?, ?, ?, ?)"""
        rows = [(j.type, j.payload, j.priority, j.max_retries, _us(j.run_at)) for j in jobs]
        with self._transaction() as db:
            return [str(db.execute(insert, (*row, _us(now), _us(now))).lastrowid) for row in rows]

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

    def _write_if_leased(self, job_id: bt.JobId, lease: bt.Lease, sets: str, **p: Any) -> bool:
        """Apply ``sets`` only while the job is running under ``lease`` (rule 3)."""
        update = f"UPDATE jobs SET {sets} WHERE {_LEASED} RETURNING id"
        return bool(self._run(update, {**p, "id": _row_id(job_id), "lease": lease}))

    async def job_heartbeat(self, job_id: bt.JobId, lease: bt.Lease, *, now: datetime) -> bool:
        sets = "heartbeat_at = :now, updated_at = :now"
        return self._write_if_leased(job_id, lease, sets, now=_us(now))

    async def job_complete(
        self, job_id: bt.JobId, lease: bt.Lease, *, result: str | None, now: datetime
    ) -> bool:
        return self._write_if_leased(job_id, lease, _COMPLETE, result=result, now=_us(now))

    async def jobs_complete(
        self, completions: Sequence[bt.Completion], *, now: datetime
    ) -> list[bool]:
        """Capability ``batch_complete``: every completion in one transaction, each under the
        lease guard on its own (a second completion of one job finds its lease cleared)."""
        update = f"UPDATE jobs SET {_COMPLETE} WHERE {_LEASED} RETURNING id"
        with self._transaction() as db:
            return [
                db.execute(
                    update, {"id": _row_id(i), "lease": lease, "result": result, "now": _us(now)}
                ).fetchone()
                is not None
                for i, lease, result in completions
            ]

    async def job_fail(
        self,
        job_id: bt.JobId,
        lease: bt.Lease,
        *,
        error: bt.JobError,
        retry_at: datetime | None,
        now: datetime,
    ) -> bool:
        sets = """last_error = :message, error_class = :error_class, error_traceback = :traceback,
            lease = NULL, updated_at = :now, status = iif(:retry IS NULL, 'dead', 'failed'),
            run_at = coalesce(:retry, run_at), failed_at = iif(:retry IS NULL, :now, failed_at)"""
        params = {"retry": None if retry_at is None else _us(retry_at), "now": _us(now)}
        return self._write_if_leased(job_id, lease, sets, **params, **dataclasses.asdict(error))

    async def job_release(self, job_id: bt.JobId, lease: bt.Lease, *, now: datetime) -> bool:
        params = {"id": _row_id(job_id), "lease": lease, "now": _us(now)}
        shutdown = (rules.SHUTDOWN_MESSAGE, rules.SHUTDOWN_ERROR_CLASS)
        return bool(self._send_back(_LEASED, params, *shutdown))

    def _send_back(self, where: str, params: dict[str, Any], error: str, kind: str) -> list[int]:
        """Rule 6, one statement a side (the rows the first sends back are no longer running)."""
        pending = f"""UPDATE jobs SET status = 'pending', run_at = :now, lease = NULL,
            updated_at = :now WHERE {where} AND attempts < max_retries RETURNING id"""
        dead = f"""UPDATE jobs SET status = 'dead', failed_at = :now, last_error = :error,
            error_class = :kind, error_traceback = NULL, lease = NULL, updated_at = :now
            WHERE {where} AND attempts >= max_retries RETURNING id"""
        with self._transaction() as db:
            ids = db.execute(pending, params).fetchall()
            ids += db.execute(dead, {**params, "error": error, "kind": kind}).fetchall()
        return sorted(id for (id,) in ids)

    async def jobs_rescue(self, *, stale_before: datetime, now: datetime) -> list[bt.JobId]:
        where = "status = 'running' AND heartbeat_at < :stale_before"
        params = {"stale_before": _us(stale_before), "now": _us(now)}
        expired = (rules.lease_expired_message(stale_before), rules.LEASE_EXPIRED_ERROR_CLASS)
        return [str(id) for id in self._send_back(where, params, *expired)]

    async def jobs_delete_completed(self, *, completed_before: datetime) -> int:
        delete = "DELETE FROM jobs WHERE status = 'completed' AND completed_at < ? RETURNING id"
        return len(self._run(delete, (_us(completed_before),)))

    def _operator_action(
        self, job_id: str, action: str, accepts: frozenset[bt.JobStatus], sets: str, now: int
    ) -> None:
        """Rule 8: read the status and write it under one write lock, so nothing slips between."""
        with self._transaction() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (_row_id(job_id),)).fetchone()
            if row is None:
                raise bt.JobNotFound(job_id)
            if (status := bt.JobStatus(row["status"])) not in accepts:
                raise bt.InvalidJobStatus(job_id, status, action, accepts)
            db.execute(f"UPDATE jobs SET {sets} WHERE id = :id", {"id": row["id"], "now": now})

    async def job_retry(self, job_id: bt.JobId, *, now: datetime) -> None:
        sets = """status = 'pending', attempts = 0, run_at = :now, updated_at = :now, cancelled = 0,
            last_error = NULL, error_class = NULL, error_traceback = NULL, result = NULL,
            failed_at = NULL, completed_at = NULL, last_attempted_at = NULL, heartbeat_at = NULL"""
        self._operator_action(job_id, "retry", rules.RETRY_ACCEPTS, sets, _us(now))

    async def job_cancel(self, job_id: bt.JobId, *, now: datetime) -> None:
        sets = "status = 'dead', cancelled = 1, failed_at = :now, updated_at = :now, lease = NULL"
        self._operator_action(job_id, "cancel", rules.CANCEL_ACCEPTS, sets, _us(now))

    async def job_delete(self, job_id: bt.JobId) -> None:
        if not self._run("DELETE FROM jobs WHERE id = ? RETURNING id", (_row_id(job_id),)):
            raise bt.JobNotFound(job_id)

    async def job_get(self, job_id: bt.JobId) -> bt.Job | None:
        rows = self._run("SELECT * FROM jobs WHERE id = ?", (_row_id(job_id),), "BEGIN")
        return _job(rows[0]) if rows else None

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
        where = "(:status IS NULL OR status = :status) AND (:type IS NULL OR type = :type)"
        params = {"status": status, "type": type, "limit": limit, "offset": offset}
        page = f"SELECT * FROM jobs WHERE {where} ORDER BY created_at DESC, id DESC LIMIT :limit"
        with self._transaction("BEGIN") as db:
            total = db.execute(f"SELECT count(*) FROM jobs WHERE {where}", params).fetchone()[0]
            return [_job(row) for row in db.execute(page + " OFFSET :offset", params)], total

    async def jobs_count_by_status(self) -> dict[bt.JobStatus, int]:
        rows = self._run("SELECT status, count(*) FROM jobs GROUP BY status", (), "BEGIN")
        return dict.fromkeys(bt.JobStatus, 0) | {bt.JobStatus(s): count for s, count in rows}

    async def jobs_count_ahead(
        self, job_id: bt.JobId, *, now: datetime, types: Collection[str] | None = None
    ) -> int:
        # Earlier in claim order = a smaller (-priority, run_at, id), compared as one row value.
        ahead = f"""SELECT (SELECT count(*) FROM jobs WHERE {_CLAIMABLE} AND run_at <= :now
            AND (:types IS NULL OR type IN (SELECT value FROM json_each(:types)))
            AND (-priority, run_at, id) < (-job.priority, job.run_at, job.id))
            FROM jobs AS job WHERE job.id = :id"""
        types_json = None if types is None else json.dumps(list(types))
        params = {"id": _row_id(job_id), "now": _us(now), "types": types_json}
        rows = self._run(ahead, params, "BEGIN")
        if not rows:
            raise bt.JobNotFound(job_id)
        return int(rows[0][0])

    async def jobs_types(self) -> list[str]:
        return sorted(type for (type,) in self._run("SELECT DISTINCT type FROM jobs", (), "BEGIN"))

    async def jobs_finished_per_minute(
        self, *, since: datetime, now: datetime
    ) -> list[bt.FinishedMinute]:
        # Dead jobs count by failed_at, completed ones by completed_at; minutes are floored.
        finished = """SELECT at - (at % 60000000 + 60000000) % 60000000 AS minute,
            sum(status = 'completed'), sum(status = 'dead') FROM (SELECT status,
            iif(status = 'dead', failed_at, completed_at) AS at FROM jobs WHERE status IN
            ('completed', 'dead')) WHERE at BETWEEN :since AND :now GROUP BY 1 ORDER BY 1"""
        rows = self._run(finished, {"since": _us(since), "now": _us(now)}, "BEGIN")
        return [bt.FinishedMinute(_time(minute), done, dead) for minute, done, dead in rows]

    async def worker_beat(self, info: bt.WorkerInfo, *, now: datetime) -> None:
        upsert = """INSERT INTO workers (id, info, seen_at) VALUES (?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET info = excluded.info, seen_at = excluded.seen_at"""
        fields = dataclasses.asdict(info) | {"poll_interval": info.poll_interval // _US}
        fields |= {k: _us(fields[k]) for k in ("started_at", "last_poll_at") if fields[k]}
        self._run(upsert, (info.id, json.dumps(fields), _us(now)))

    async def workers_list(self, *, seen_since: datetime) -> list[bt.WorkerRecord]:
        select = "SELECT info, seen_at FROM workers WHERE seen_at >= ? ORDER BY id"
        rows = self._run(select, (_us(seen_since),), "BEGIN")
        return [bt.WorkerRecord(_worker(json.loads(info)), _time(seen)) for info, seen in rows]

    def notifications(self) -> AsyncIterator[bt.Notification]:
        raise bt.NotSupported("SqliteExampleStore does not declare notify: the engine polls it")

    async def close(self) -> None:
        """Nothing to release: no connection outlives the call that opened it."""


@hookimpl
def burrow_backend(dsn: str) -> SqliteExampleStore | None:
    """Open ``example-sqlite:///path/to/jobs.db``; leave every other scheme to other plugins."""
    return SqliteExampleStore(dsn[len(DSN_PREFIX) :]) if dsn.startswith(DSN_PREFIX) else None


def _us(value: datetime) -> int:
    return (require_aware(value, "a time given to the store") - _EPOCH) // _US


def _time(us: int) -> datetime:
    return _EPOCH + us * _US


def _row_id(job_id: bt.JobId) -> int | None:
    """The integer key behind an id this store handed out; None (matching no row) otherwise."""
    canonical = job_id.isascii() and job_id.isdigit() and not job_id.startswith("0")
    return int(job_id) if canonical and len(job_id) < 19 else None


def _job(row: sqlite3.Row) -> bt.Job:
    fields = dict(row) | {k: _time(row[k]) for k in _TIMES.split() if row[k] is not None}
    fields |= {"id": str(row["id"]), "status": bt.JobStatus(row["status"])}
    return bt.Job(**fields | {"cancelled": bool(row["cancelled"])})


def _worker(fields: dict[str, Any]) -> bt.WorkerInfo:
    fields |= {k: _time(fields[k]) for k in ("started_at", "last_poll_at") if fields[k] is not None}
    fields |= {"state": bt.WorkerState(fields["state"]), "types": tuple(fields["types"])}
    return bt.WorkerInfo(**fields | {"poll_interval": fields["poll_interval"] * _US})
