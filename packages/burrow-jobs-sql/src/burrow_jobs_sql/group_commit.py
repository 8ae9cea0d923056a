"""Group commit of the worker's outcome writes: heartbeats, completions and failures.

A worker running ten jobs finishes them within microseconds of each other. Written one by
one, each completion is its own transaction: a WAL flush on PostgreSQL, an fsync on SQLite,
a thread hop and a statement each. Here concurrent writes queue up while one flush runs and
the next flush writes them all at once: one ``UPDATE ... FROM <rows> ... RETURNING id`` per
kind of write, in one transaction. Every caller still gets its own True/False: its row was
written exactly when its id comes back (the lease guard is in the statement's ``WHERE``).

Rows reach the statement as arrays on PostgreSQL (``unnest``: one prepared statement for any
batch size; psycopg's binary format, which skips escaping every element) and as a ``VALUES``
list on SQLite (one cached statement per batch size).

On PostgreSQL a claim waiting beside one kind of write is folded into the same statement
(two data-modifying CTEs): one round trip where ``BEGIN``, write, claim and ``COMMIT`` took
four. A worker there keeps several claims in flight (``Capability.PARALLEL_CLAIMS``): a
claim arriving while every flush is in the database starts another on another connection,
so they overlap instead of queueing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from burrow_jobs_sql.schema import JOBS_TABLE
from burrow_jobs_sql.transaction import explicit_transaction

__all__ = [
    "COMPLETE",
    "FAIL_DEAD",
    "FAIL_RETRY",
    "HEARTBEAT",
    "ClaimStatement",
    "GroupCommit",
    "OutcomeWrite",
]

log = logging.getLogger("burrow_jobs_sql")

_MAX_ROWS = 500
"""Rows per statement; a larger flush is split (SQLite's limit is 32,766 parameters)."""


@dataclass(frozen=True, slots=True)
class OutcomeKind:
    """One kind of lease-guarded write: the columns each row brings and what they set."""

    name: str
    columns: tuple[tuple[str, str], ...]
    """(name, PostgreSQL type) of each row value after ``id`` and ``lease``."""
    assignments: str
    """The ``SET`` list, reading the row's values as ``v.<name>``."""


HEARTBEAT = OutcomeKind(
    "heartbeat",
    (("now", "timestamptz"),),
    "heartbeat_at = v.now, updated_at = v.now",
)
COMPLETE = OutcomeKind(
    "complete",
    (("now", "timestamptz"), ("result", "text")),
    "status = 'completed', completed_at = v.now, updated_at = v.now, result = v.result,"
    " lease = NULL",
)
_ERROR_COLUMNS = (("last_error", "text"), ("error_class", "text"), ("error_traceback", "text"))
_ERROR_ASSIGNMENTS = (
    "last_error = v.last_error, error_class = v.error_class,"
    " error_traceback = v.error_traceback, lease = NULL, updated_at = v.now"
)
FAIL_RETRY = OutcomeKind(
    "fail_retry",
    (("now", "timestamptz"), ("retry_at", "timestamptz"), *_ERROR_COLUMNS),
    "status = 'failed', run_at = v.retry_at, " + _ERROR_ASSIGNMENTS,
)
FAIL_DEAD = OutcomeKind(
    "fail_dead",
    (("now", "timestamptz"), *_ERROR_COLUMNS),
    "status = 'dead', failed_at = v.now, " + _ERROR_ASSIGNMENTS,
)

_GUARD = (
    f"WHERE {JOBS_TABLE}.id = v.id AND {JOBS_TABLE}.status = 'running'"
    f" AND {JOBS_TABLE}.lease = v.lease RETURNING {JOBS_TABLE}.id"
)


def _postgres_update(kind: OutcomeKind, placeholder: Callable[[str], str]) -> str:
    columns = (("id", "bigint"), ("lease", "uuid"), *kind.columns)
    arrays = ", ".join(f"CAST({placeholder(name)} AS {pg_type}[])" for name, pg_type in columns)
    names = ", ".join(name for name, _ in columns)
    return (
        f"UPDATE {JOBS_TABLE} SET {kind.assignments} FROM unnest({arrays}) AS v({names}) {_GUARD}"
    )


def _postgres_statement(kind: OutcomeKind) -> str:
    return _postgres_update(kind, lambda name: f"%({name})b")


_WRITTEN_PREFIX = "w_"
"""The write's arrays in a combined statement, apart from the claim's own parameters."""


def _postgres_combined(kind: OutcomeKind, claim: ClaimStatement) -> str:
    """The writes and the claim as one statement (``exec_driver_sql``, pyformat): the claimed
    rows as the claim returns them plus a last column ``false``, then one row per written id
    (``id``, NULLs, ``true``).

    Both updates see the statement's snapshot, in which every written job is still running:
    the claim neither takes nor waits for one of them, and no row is updated twice."""
    update = _postgres_update(kind, lambda name: f"%({_WRITTEN_PREFIX}{name})b")
    padding = ", NULL" * (claim.columns - 1)
    return (
        f"WITH written AS ({update}), claimed AS ({claim.sql})"
        " SELECT claimed.*, false FROM claimed"
        f" UNION ALL SELECT written.id{padding}, true FROM written"
    )


def _sqlite_statement(kind: OutcomeKind, rows: int) -> str:
    """For ``exec_driver_sql`` with positional parameters, row after row: ``id``, ``lease``,
    then the kind's values (a ``text()`` statement would cost a dict of named parameters
    and SQLAlchemy's processing of each, twice the statement's own time for ten rows)."""
    names = ("id", "lease", *(name for name, _ in kind.columns))
    renamed = ", ".join(f"column{i + 1} AS {name}" for i, name in enumerate(names))
    row = "(" + ", ".join("?" for _ in names) + ")"
    values = ", ".join(row for _ in range(rows))
    return (
        f"UPDATE {JOBS_TABLE} SET {kind.assignments}"
        f" FROM (SELECT {renamed} FROM (VALUES {values})) AS v {_GUARD}"
    )


@dataclass(frozen=True, slots=True)
class ClaimStatement:
    """A claim as ``exec_driver_sql`` text and its parameters. Called with a connection it
    runs alone; a flush runs it in its transaction, on PostgreSQL folded into its write
    statement."""

    sql: str
    params: dict[str, Any]
    columns: int
    """How many columns the claim returns."""

    def __call__(self, connection: Connection) -> list[Any]:
        return list(connection.exec_driver_sql(self.sql, self.params).fetchall())


@dataclass(eq=False, slots=True)
class _Claim:
    """A claim waiting to run in the same transaction as the next flush."""

    statement: ClaimStatement
    future: asyncio.Future[list[Any]] = field(repr=False)


@dataclass(eq=False, slots=True)
class OutcomeWrite:
    """One row to write: the job's id, its lease and the kind's row values, already in the
    form the driver takes (SQLite: integer microseconds and hex leases)."""

    kind: OutcomeKind
    row_id: int
    lease: str
    values: tuple[Any, ...]


@dataclass(eq=False, slots=True)
class _Waiting:
    """One caller's rows and the future that gets their verdicts: a bool for a single write
    (``GroupCommit.write``), a list in row order for a batch (``GroupCommit.write_many``)."""

    writes: list[OutcomeWrite]
    future: asyncio.Future[Any] = field(repr=False)
    single: bool


class BulkWriter:
    """Runs the bulk statements of one dialect (statements built once and cached)."""

    def __init__(self, dialect: str) -> None:
        self._postgres = dialect == "postgresql"
        self._sqlite_statements: dict[tuple[str, int], str] = {}
        self._postgres_statements: dict[str, str] = {}
        self._combined: dict[tuple[str, str], str] = {}

    def write_and_claim(
        self,
        connection: Connection,
        writes: Sequence[OutcomeWrite],
        claims: Sequence[_Claim],
    ) -> tuple[list[bool], list[Any]]:
        """The writes and then the claims in one transaction (one commit, one fsync): the
        verdict of each write and what each claim returned. A job written here is no longer
        running-and-held nor claimable in the claims' view, so none is claimed twice."""
        if not claims:
            return self.write(connection, writes), []
        groups = _groups(writes)
        statement = claims[0].statement
        if self._postgres and len(claims) == 1 and len(groups) == 1 and len(groups[0]) <= _MAX_ROWS:
            written, rows = self._write_and_claim_at_once(connection, groups[0], statement)
            return [id(w) in written for w in writes], [rows]
        with explicit_transaction(connection):
            written = self._write_all(connection, writes)
            claimed = [claim.statement(connection) for claim in claims]
        return [id(w) in written for w in writes], claimed

    def _write_and_claim_at_once(
        self, connection: Connection, group: Sequence[OutcomeWrite], claim: ClaimStatement
    ) -> tuple[set[int], list[Any]]:
        """One statement, which commits by itself: the ``id()`` of each write that landed and
        the claimed rows (each with one extra last column)."""
        kind = group[0].kind
        key = (kind.name, claim.sql)
        sql = self._combined.get(key)
        if sql is None:
            sql = self._combined[key] = _postgres_combined(kind, claim)
        params = dict(claim.params)
        for name, values in self._postgres_arrays(kind, group).items():
            params[_WRITTEN_PREFIX + name] = values
        claimed: list[Any] = []
        returned: set[int] = set()
        for row in connection.exec_driver_sql(sql, params).fetchall():
            if row[-1]:
                returned.add(row[0])
            else:
                claimed.append(row)
        return {id(w) for w in group if w.row_id in returned}, claimed

    def write(self, connection: Connection, writes: Sequence[OutcomeWrite]) -> list[bool]:
        """Write every row in one transaction; True for each row its lease let through."""
        groups = _groups(writes)
        if len(groups) == 1 and len(groups[0]) <= _MAX_ROWS:
            # One statement commits by itself: no BEGIN/COMMIT round trips.
            written = self._write_group(connection, groups[0])
        else:
            with explicit_transaction(connection):
                written = self._write_all(connection, writes)
        return [id(w) in written for w in writes]

    def _write_all(self, connection: Connection, writes: Sequence[OutcomeWrite]) -> set[int]:
        """Every row, inside the caller's transaction: the ``id()`` of each write that landed."""
        written: set[int] = set()
        for group in _groups(writes):
            for start in range(0, len(group), _MAX_ROWS):
                written |= self._write_group(connection, group[start : start + _MAX_ROWS])
        return written

    def _write_group(self, connection: Connection, group: Sequence[OutcomeWrite]) -> set[int]:
        kind = group[0].kind
        if self._postgres:
            sql, arrays = self._postgres_call(kind, group)
            returned = set(connection.exec_driver_sql(sql, arrays).scalars().all())
        else:
            statement, params = self._sqlite_call(kind, group)
            returned = set(connection.exec_driver_sql(statement, params).scalars().all())
        return {id(w) for w in group if w.row_id in returned}

    def _postgres_call(
        self, kind: OutcomeKind, group: Sequence[OutcomeWrite]
    ) -> tuple[str, dict[str, Any]]:
        sql = self._postgres_statements.get(kind.name)
        if sql is None:
            sql = self._postgres_statements[kind.name] = _postgres_statement(kind)
        return sql, self._postgres_arrays(kind, group)

    @staticmethod
    def _postgres_arrays(kind: OutcomeKind, group: Sequence[OutcomeWrite]) -> dict[str, Any]:
        """One array per column of the rows, named as the statement's parameters."""
        params: dict[str, Any] = {
            "id": [w.row_id for w in group],
            "lease": [w.lease for w in group],
        }
        for index, (name, _) in enumerate(kind.columns):
            params[name] = [w.values[index] for w in group]
        return params

    def _sqlite_call(
        self, kind: OutcomeKind, group: Sequence[OutcomeWrite]
    ) -> tuple[str, tuple[Any, ...]]:
        key = (kind.name, len(group))
        statement = self._sqlite_statements.get(key)
        if statement is None:
            statement = self._sqlite_statements[key] = _sqlite_statement(kind, len(group))
        params: list[Any] = []
        for write in group:
            params.append(write.row_id)
            params.append(write.lease)
            params.extend(write.values)
        return statement, tuple(params)


def _groups(writes: Sequence[OutcomeWrite]) -> list[list[OutcomeWrite]]:
    """Consecutive writes of one kind share a statement, in arrival order; a second write
    for the same job starts a new statement, so it sees the first one's effect (a heartbeat
    and a completion racing keep their order)."""
    groups: list[list[OutcomeWrite]] = []
    ids: set[int] = set()
    for write in writes:
        if not groups or groups[-1][0].kind is not write.kind or write.row_id in ids:
            groups.append([])
            ids = set()
        groups[-1].append(write)
        ids.add(write.row_id)
    return groups


RunFn = Callable[[Callable[[Connection], Any]], Awaitable[Any]]

_CLAIM_WAIT_TURNS = 8
"""Turns of the event loop a flush waits for the worker's next claim to join it. A worker
frees its slots as handlers return and claims again a few turns later (its wake-up passes
through an event and a wait); waiting those few turns lets the completions and the claim
share one transaction, one commit instead of two per batch."""


class GroupCommit:
    """Coalesces concurrent outcome writes: per event loop, writes that arrive while a
    flush runs go into the next one. (A store may be shared by threads that each run a loop
    of their own; each loop batches its own writes.)

    A claim made while writes wait on its loop runs in the same transaction as them; when
    every flush is already in the database, that claim starts the next flush at once (the
    engine bounds how many claims it keeps in flight); a second claim beside the same writes
    runs alone."""

    def __init__(self, run: RunFn, writer: BulkWriter) -> None:
        self._run = run
        self._writer = writer
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self._latest: tuple[asyncio.AbstractEventLoop, _LoopQueue] | None = None
        """The loop that wrote last and its queue: a worker writes from one loop, and the
        weak dictionary's lookup (a weak reference made per call) is most of a write's own
        cost. Holds that one loop until another writes (a closed loop is never asked again)."""

    def _queue(self, loop: asyncio.AbstractEventLoop) -> _LoopQueue:
        queue = self._queues.get(loop)
        if queue is None:
            with self._lock:
                queue = self._queues.setdefault(loop, _LoopQueue(self._run, self._writer))
        self._latest = (loop, queue)
        return queue

    def write(self, write: OutcomeWrite) -> asyncio.Future[bool]:
        """Queue one write; the future says whether its lease let it through. (A plain
        call returning the future: one write per finished job, so no coroutine of its own.)"""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._loop_queue(loop).add(loop, _Waiting([write], future, True))
        return future

    def write_many(self, writes: list[OutcomeWrite]) -> asyncio.Future[list[bool]]:
        """Queue rows that are written together or not at all (one transaction); the
        future gets a verdict per row, in order, or the error that wrote none of them."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[bool]] = loop.create_future()
        self._loop_queue(loop).add(loop, _Waiting(writes, future, False))
        return future

    def _loop_queue(self, loop: asyncio.AbstractEventLoop) -> _LoopQueue:
        latest = self._latest  # read once: another thread's loop may replace it
        return latest[1] if latest is not None and latest[0] is loop else self._queue(loop)

    async def settle(self) -> None:
        """Until the writes queued on this event loop so far are written or have failed (the
        store's ``close``: an outcome a caller was promised is not refused for the closing).
        Writes queued on other loops are their loops' to wait for."""
        queue = self._queues.get(asyncio.get_running_loop())
        if queue is not None:
            await queue.settled()

    async def claim(self, statement: ClaimStatement) -> list[Any]:
        """The claimed rows: with the writes waiting on this loop, in their transaction (on
        PostgreSQL in their statement); else on its own."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None or not queue.waiting or queue.claiming:
            # A second claim beside the waiting writes runs on its own connection at once,
            # so the two statements overlap instead of sharing one transaction.
            rows: list[Any] = await self._run(statement)
            return rows
        return await queue.claim(loop, statement)


class _LoopQueue:
    """The writes waiting on one event loop, and the flushes running there."""

    def __init__(self, run: RunFn, writer: BulkWriter) -> None:
        self._run = run
        self._writer = writer
        self._pending: list[_Waiting] = []
        self._claims: list[_Claim] = []
        self._drains: set[asyncio.Task[None]] = set()
        """The drain tasks running (each leaves the set as it ends, not a loop turn later)."""
        self._in_statement = 0

    async def settled(self) -> None:
        """Until every write queued so far is written (or has failed) and no flush runs."""
        while self._drains:
            await asyncio.wait(set(self._drains))

    @property
    def waiting(self) -> bool:
        """Writes wait for a flush that has not taken them yet."""
        return bool(self._pending)

    @property
    def claiming(self) -> bool:
        """A claim already waits for the next flush."""
        return bool(self._claims)

    def add(self, loop: asyncio.AbstractEventLoop, waiting: _Waiting) -> None:
        self._pending.append(waiting)
        if not self._drains:
            # Started as a task, so every write made in this turn of the event loop (ten
            # handlers finishing together) joins the first flush.
            self._start_drain(loop)

    def _start_drain(self, loop: asyncio.AbstractEventLoop) -> None:
        task = loop.create_task(self._drain())
        if not task.done():  # an eager task factory may have run it to its end already
            self._drains.add(task)

    async def claim(self, loop: asyncio.AbstractEventLoop, statement: ClaimStatement) -> list[Any]:
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._claims.append(_Claim(statement, future))
        if self._in_statement == len(self._drains):
            # Every flush is in the database: this claim and the writes waiting start a
            # statement of their own on another connection instead of waiting their turn.
            self._start_drain(loop)
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                for _ in range(_CLAIM_WAIT_TURNS):
                    if self._claims or not self._pending:
                        break
                    await asyncio.sleep(0)
                if not self._pending:
                    break
                batch, self._pending = self._pending, []
                claims, self._claims = self._claims, []
                self._in_statement += 1
                try:
                    await self._flush(batch, claims)
                finally:
                    self._in_statement -= 1
        finally:
            task = asyncio.current_task()
            if task is not None:
                self._drains.discard(task)

    async def _flush(self, batch: list[_Waiting], claims: list[_Claim]) -> None:
        writes = batch[0].writes if len(batch) == 1 else [w for c in batch for w in c.writes]
        try:
            verdicts, claimed = await self._run(
                lambda c: self._writer.write_and_claim(c, writes, claims)
            )
        except Exception as error:
            if claims:
                # Apart, so an error reaches only the caller whose statement caused it.
                await self._flush(batch, [])
                for claim in claims:
                    await self._claim_alone(claim)
                return
            if len(batch) == 1:
                _settle(batch[0].future, error)
                return
            # One bad row (say, text PostgreSQL refuses) must not fail its neighbours:
            # write each caller's rows on their own, so only that caller sees the error.
            log.debug("burrow: group commit of %d writes failed; writing one by one", len(batch))
            for waiting in batch:
                await self._flush([waiting], [])
            return
        start = 0
        for waiting in batch:
            if waiting.single:
                _settle(waiting.future, verdicts[start])
                start += 1
            else:
                end = start + len(waiting.writes)
                _settle(waiting.future, verdicts[start:end])
                start = end
        for claim, rows in zip(claims, claimed, strict=True):
            _settle(claim.future, rows)

    async def _claim_alone(self, claim: _Claim) -> None:
        try:
            rows = await self._run(claim.statement)
        except Exception as error:
            _settle(claim.future, error)
        else:
            _settle(claim.future, rows)


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    if future.done():  # the caller was cancelled
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
