"""Runs blocking SQLAlchemy work off the event loop, on a few dedicated threads.

Measured before choosing (see the package README): a sync Engine driven through dedicated
threads beat SQLAlchemy's asyncio extension on both databases (SQLite claim+complete 6,800/s
against 2,300/s through aiosqlite; PostgreSQL 3,900/s against 3,800/s, inserts 1,970/s
against 1,790/s). psycopg releases the GIL while it waits on the network, so PostgreSQL work
overlaps across threads. SQLite gets one thread, and the one other writer a store has there
(an enqueue written on the caller's thread, ``inline_writes.py``) shares the ``writing`` lock
with it, so a store never contends with itself for SQLite's write lock.

On an engine the store owns, each thread keeps one connection for its whole life instead of
checking one out of the pool per call: a checkout costs a pool round, an isolation-level
switch and a reset on return, a large share of a job's CPU under load. A connection that
SQLAlchemy marks invalidated (the server went away) is dropped and the next call opens a new
one; the other threads then drop theirs before their next call, as SQLAlchemy's pool
recycles every connection older than a disconnect: after a database restart one call sees
the error, not one per thread. A PostgreSQL connection that sat unused for
``PING_AFTER_IDLE`` is pinged before its next statement, so a restart during a quiet spell
costs no call an error at all. On the app's shared engine the threads borrow a connection
per call, so the store never keeps the app's pool drained, and wrap each call in what the
store asks of a borrowed connection (``sessions.borrowed_session``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from burrow_jobs_sql.dsn import mask_dsn
from burrow_jobs_sql.errors import DatabaseBusy

__all__ = ["Runner", "discard", "is_sqlite_busy"]

log = logging.getLogger("burrow_jobs_sql")

T = TypeVar("T")

_BUSY_RETRIES = 5
_BUSY_PAUSE = 0.05

PING_AFTER_IDLE = 10.0
"""Seconds a PostgreSQL connection may sit unused before its next statement is preceded by a
ping (``SELECT 1``), so that the first call after a restart during a quiet spell finds a
fresh connection instead of the error (SQLAlchemy's ``pool_pre_ping``, for the held
connections only after they idled: a busy queue pays no round trip for it)."""


def is_sqlite_busy(exc: OperationalError) -> bool:
    """True when SQLite refused a statement because another connection holds a lock."""
    original = exc.orig
    return isinstance(original, sqlite3.OperationalError) and (
        "locked" in str(original) or "busy" in str(original)
    )


class _Held:
    """One SQL thread's connection, and what says whether it may be cut."""

    __slots__ = ("connection", "opened_after", "used_at")

    def __init__(self) -> None:
        self.connection: Connection | None = None
        self.opened_after = 0
        """How many cuts the runner had counted when this connection was opened."""
        self.used_at = 0.0
        """``time.monotonic()`` at the end of its last call."""


class _Call:
    """One piece of work and where its outcome goes (nowhere for posted work)."""

    __slots__ = ("future", "loop", "work")

    def __init__(
        self,
        work: Callable[[Connection], Any],
        loop: asyncio.AbstractEventLoop | None,
        future: asyncio.Future[Any] | None,
    ) -> None:
        self.work = work
        self.loop = loop
        self.future = future


def _answer(call: _Call, value: Any, error: BaseException | None) -> None:
    """Hand ``call``'s outcome to its caller's event loop (posted work has no caller)."""
    if call.future is None or call.loop is None:
        return
    with contextlib.suppress(RuntimeError):  # the caller's loop is closed
        call.loop.call_soon_threadsafe(_settle, call.future, value, error)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled: nobody waits for this outcome
        return
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(error)


class Runner:
    """``await runner(fn)`` runs ``fn(connection)`` on a runner thread with that thread's
    connection in autocommit mode: a single statement commits by itself; a function that
    needs more than one statement opens its own transaction (``BEGIN IMMEDIATE`` on SQLite)."""

    def __init__(
        self,
        engine: Engine,
        threads: int,
        *,
        hold_connections: bool,
        borrowed_session: Callable[[Connection], AbstractContextManager[object]] | None = None,
        held_session: Callable[[Connection], object] | None = None,
    ) -> None:
        self._engine = engine
        self._hold = hold_connections
        self._borrowed_session = borrowed_session
        """Wraps each call on a borrowed connection (the store's session settings)."""
        self._held_session = held_session
        """Prepares each connection a thread opens to hold (the store's session settings)."""
        self._sqlite = engine.dialect.name == "sqlite"
        self._size = max(1, threads)
        self._calls: SimpleQueue[_Call | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._cuts = 0
        """How many held connections were found cut (invalidated): a thread whose connection
        was opened before the latest cut replaces it before its next call."""
        self._closed = False
        self.writing = threading.Lock()
        """Held while a thread of this runner works on its own SQLite connection. An inline
        write (``InlineWrites``) takes it without waiting, so this process never has two of
        its connections contend for SQLite's write lock, whose busy handler sleeps at least a
        millisecond before it tries again."""
        self._guard = self.writing if self._sqlite else contextlib.nullcontext()

    async def __call__(self, work: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._submit(_Call(work, loop, future))
        return await future

    def post(self, work: Callable[[Connection], object]) -> None:
        """Queue ``work`` without waiting for it (housekeeping). Never raises: the caller's
        own write has landed by then. A failure, to queue it or of the work, is logged."""
        try:
            self._submit(_Call(work, None, None))
        except RuntimeError as error:
            if not self._closed:
                log.warning("burrow: could not queue posted SQL work", exc_info=error)

    def _submit(self, call: _Call) -> None:
        """Queue ``call`` for a thread, starting one if the call needs it. Raises
        ``RuntimeError`` when the store is closed or no thread could be started; the call is
        then not queued. The check and the queueing share the lock with ``shutdown``, so no
        call lands behind the threads' stop markers, where no thread would ever answer it."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            thread = self._thread_wanted()
        if thread is not None:
            try:
                thread.start()
            except BaseException:
                with self._lock:
                    self._threads.remove(thread)
                raise
        with self._lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            self._calls.put(call)

    def _thread_wanted(self) -> threading.Thread | None:
        """A new thread to start for one more call, or None when an idle thread will take
        it or the pool is full. Under ``_lock``.

        Threads start as calls need them, up to the pool size: a store that only enqueues
        from one coroutine keeps one thread and one connection."""
        if self._idle > 0:
            self._idle -= 1
            return None
        if len(self._threads) >= self._size:
            return None
        thread = threading.Thread(
            target=self._serve, name=f"burrow-sql-{len(self._threads) + 1}", daemon=True
        )
        self._threads.append(thread)
        return thread

    def _serve(self) -> None:
        held = _Held()
        try:
            while True:
                call = self._calls.get()
                if call is None:
                    return
                value: Any = None
                error: BaseException | None = None
                try:
                    if not self._hold:
                        value = self.run_blocking(call.work)
                    else:
                        connection = self._ready(held)
                        with self._guard:
                            value = self._run_with_retries(connection, call.work)
                except BaseException as exc:  # handed to the awaiting coroutine, never lost
                    error = exc
                    if held.connection is not None and held.connection.invalidated:
                        self._cut(held)
                held.used_at = time.monotonic()
                # Idle before the caller hears back: its next call then goes to this thread
                # (about to wait for work) instead of starting another one.
                with self._lock:
                    self._idle += 1
                if call.future is None and error is not None:
                    log.warning("burrow: posted SQL work failed", exc_info=error)
                _answer(call, value, error)
        finally:
            if held.connection is not None:
                discard(held.connection)

    def _ready(self, held: _Held) -> Connection:
        """The thread's connection, replaced first when it is likely cut: opened before
        another thread found the server gone, or idle for ``PING_AFTER_IDLE`` seconds and
        not answering a ping (a restart while the queue was quiet)."""
        if held.connection is not None:
            if held.opened_after != self._cuts:
                discard(held.connection)
                held.connection = None
            elif not self._sqlite and time.monotonic() - held.used_at > PING_AFTER_IDLE:
                try:
                    held.connection.exec_driver_sql("SELECT 1")
                except Exception:
                    if not held.connection.invalidated:
                        raise
                    self._cut(held)
        if held.connection is None:
            held.opened_after = self._cuts
            held.connection = self.open_held()
        return held.connection

    def open_held(self) -> Connection:
        """A connection for a caller to hold, prepared as an SQL thread's own: autocommit,
        and the store's session for held connections."""
        connection = self.connect()
        if self._held_session is not None:
            try:
                self._held_session(connection)
            except BaseException:
                discard(connection)
                raise
        return connection

    def connection_cut(self) -> None:
        """A connection held outside the threads (the inline lane's) was found cut: the
        threads replace theirs before their next call, as after one of their own."""
        with self._lock:
            self._cuts += 1

    @property
    def cuts(self) -> int:
        """How many held connections were found cut so far: a connection held since fewer
        were counted was opened before the server last went away."""
        return self._cuts

    def busy(self) -> bool:
        """True while a thread works on a call or a call waits for a thread. A hint, read
        without the lock: a call that lands just after reads a moment late."""
        return self._idle < len(self._threads) or not self._calls.empty()

    def _cut(self, held: _Held) -> None:
        """``held``'s connection was found cut: drop it, and tell the other threads."""
        if held.connection is not None:
            discard(held.connection)
            held.connection = None
        with self._lock:
            self._cuts += 1

    def _run_with_retries(self, connection: Connection, work: Callable[[Connection], T]) -> T:
        attempt = 0
        while True:
            try:
                return work(connection)
            except OperationalError as exc:
                # SQLite's busy timeout already waited; a few more tries ride out a long
                # checkpoint or a burst of writers in other processes. Each try is a fresh
                # transaction, so nothing half-done is repeated.
                if not (self._sqlite and is_sqlite_busy(exc)):
                    raise
                attempt += 1
                if attempt > _BUSY_RETRIES:
                    raise DatabaseBusy(
                        f"database {mask_dsn(self._engine.url)!r} stayed locked by other "
                        f"connections through {_BUSY_RETRIES} retries after the busy timeout"
                    ) from exc
                time.sleep(_BUSY_PAUSE * attempt)

    def run_blocking(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in the calling thread on a connection borrowed for this call."""
        with self.connect() as connection:
            if self._borrowed_session is None:
                return self._run_with_retries(connection, work)
            with self._borrowed_session(connection):
                return self._run_with_retries(connection, work)

    def connect(self) -> Connection:
        """A connection in autocommit mode (the pool restores a borrowed connection's level
        when it goes back).

        Set on the connection, not through ``engine.execution_options(isolation_level=...)``:
        that engine installs an ``engine_connect`` listener, and a connection of an engine
        with listeners dispatches (empty) events around every statement it runs, a
        measurable share of a short statement's CPU."""
        connection = self._engine.connect()
        connection.execution_options(isolation_level="AUTOCOMMIT")
        return connection

    async def shutdown(self, thread_timeout: float) -> None:
        """Finish the queued calls, close every thread's connection, stop the threads.

        Waits at most ``thread_timeout`` seconds: a thread inside a statement the database never
        answers (a black-holed connection) is left behind, logged; it is a daemon thread and
        does not hold up the process's exit."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._calls.put(None)
        stuck = await asyncio.to_thread(_join_all, threads, thread_timeout)
        if stuck:
            log.error(
                "burrow: closing the store, %s still waited on %s after %.1f s; left behind",
                ", ".join(stuck),
                mask_dsn(self._engine.url),
                thread_timeout,
            )
        # Whatever no thread took (queued behind a stuck statement) is answered now. The stop
        # markers no thread took go back: a stuck thread the database answers after all, or
        # one whose start was still under way, then stops.
        closed = RuntimeError("the store was closed before this statement ran")
        markers = 0
        while True:
            try:
                call = self._calls.get_nowait()
            except Empty:
                break
            if call is None:
                markers += 1
            else:
                _answer(call, None, closed)
        for _ in range(markers):
            self._calls.put(None)


def discard(connection: Connection, *, invalidate: bool = False) -> None:
    """Close ``connection``, whatever its state; ``invalidate`` first when the pool must not
    hand its DBAPI connection out again (it may be cut)."""
    with contextlib.suppress(Exception):
        if invalidate:
            connection.invalidate()
        connection.close()


def _join_all(threads: list[threading.Thread], timeout: float) -> list[str]:
    """Join ``threads`` within ``timeout`` seconds in all; the names of those still alive."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        if thread.ident is None:
            continue  # never started (its start failed, or is still under way)
        thread.join(max(0.0, deadline - time.monotonic()))
    return [thread.name for thread in threads if thread.is_alive()]
