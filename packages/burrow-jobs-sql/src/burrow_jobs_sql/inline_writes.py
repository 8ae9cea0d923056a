"""Short SQLite writes on the caller's own thread, when that is quicker than the SQL thread.

An enqueue is one short insert. Sent to the store's SQL thread it pays a hop there and
back, and on a virtual machine each of the two wake-ups lands on a halted CPU: measured with
``python -m bench.enqueue_layers sqlite``, the hop cost more CPU than the insert itself
(queue.enqueue 496-607 µs wall, 361-451 µs CPU; the same insert on the event loop 271-316
µs, 184-215 µs CPU). So an enqueue on a SQLite file the store owns is written on the
calling thread, as a synchronous SQLite app would, within bounds that keep the event loop
from waiting on anything but its own commit:

- it never waits for a lock. The SQL thread at work (the worker's claims and flushes),
  another caller here, or another process holding the database's write lock sends the write
  to the SQL thread, which waits its turn there. The connection's own busy timeout
  is 0, and a statement refused as busy wrote nothing;
- it never checkpoints. A checkpoint copies the write-ahead log into the database and can
  take milliseconds; this connection's automatic checkpoint is off, and after every
  ``checkpoint_every`` writes a passive checkpoint is posted to the SQL thread. No write of
  this process lands while it runs (it holds the runner's ``writing`` lock), so it copies
  the whole log and the next write starts the log file over. (A log that is never copied
  to its end only grows, and a commit that extends the file costs its metadata a journal
  commit in the file system: 400 µs instead of 150 here; a checkpoint with writes landing
  beside it never reaches the end under a steady stream of enqueues.);
- it backs off from a slow disk. ``slow_streak`` writes in a row that each took longer than
  ``slow`` (a disk whose sync takes milliseconds) send the writes of the next
  ``first_pause`` seconds to the SQL thread; then one write on the caller's thread measures
  again, and only a quick one ends the streak. A streak that comes back within ``pause``
  seconds of the last pause's end pauses twice as long as that one, up to ``pause``: a disk
  that stays slow is probed about once a second. (A single slow write is no sign: on the
  machines measured, 4 to 46 of 3,000 to 5,000 commits took over 2 ms, at a median of 150 to
  300 µs, and a few of them came three in a row, most after a checkpoint or while the log
  file grew. Each such streak once paused inline writing for a whole second, at W1's pace
  about 2,000 enqueues sent through the SQL thread, 40% of a run's.)
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import Final, Literal, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from burrow_jobs_sql.inline_pacing import FIRST_PAUSE, PAUSE, SLOW_STREAK, TURN, SlowStreak, Turns
from burrow_jobs_sql.runner import Runner, is_sqlite_busy

__all__ = ["InlineWrites", "Passed"]

T = TypeVar("T")

SLOW_WRITE: Final = 0.002
"""Seconds: an inline write slower than this counts towards a slow streak."""

CHECKPOINT_EVERY: Final = 150
"""Inline writes between passive checkpoints on the SQL thread. A job's insert writes 6.4
pages to the log (measured: the row, four index entries, the id sequence, the odd split),
so 150 come to SQLite's own automatic threshold of 1,000 pages."""


class Passed(enum.Enum):
    """``InlineWrites.run`` did not run the work: the caller sends it to the SQL thread."""

    PASSED = enum.auto()


class InlineWrites:
    """Runs short writes on the calling thread when they can start at once (see above)."""

    def __init__(
        self,
        engine: Engine,
        runner: Runner,
        *,
        slow: float = SLOW_WRITE,
        slow_streak: int = SLOW_STREAK,
        first_pause: float = FIRST_PAUSE,
        pause: float = PAUSE,
        checkpoint_every: int = CHECKPOINT_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if engine.dialect.name != "sqlite":
            raise ValueError(f"inline writes are for SQLite, not {engine.dialect.name!r}")
        self._runner = runner
        self._slow = slow
        self._streak = SlowStreak(streak=slow_streak, first_pause=first_pause, pause=pause)
        self._checkpoint_every = checkpoint_every
        self._clock = clock
        # The runner's SQLite lock, held for the whole write and never waited for: while
        # the SQL thread or another caller writes, this caller passes.
        self._writing = runner.writing
        self._connection: Connection | None = None
        self._writes_since_checkpoint = 0
        self._turns = Turns(TURN, clock)
        self._closed = False

    def run(self, work: Callable[[Connection], T]) -> T | Literal[Passed.PASSED]:
        """``work(connection)`` on this thread in autocommit mode, or ``Passed.PASSED`` (with
        nothing written) when it could not start at once or inline writes are paused."""
        if not self._writing.acquire(blocking=False):
            return Passed.PASSED
        try:
            started = self._clock()
            if self._closed or self._streak.paused(started):
                return Passed.PASSED
            try:
                connection = self._connect()
                value = work(connection)
            except OperationalError as exc:
                if not is_sqlite_busy(exc):
                    raise
                return Passed.PASSED
            finally:
                if self._connection is not None and self._connection.invalidated:
                    self._drop_connection()
            finished = self._clock()
            self._streak.record(slow=finished - started > self._slow, now=finished)
            self._count_write()
            return value
        finally:
            if self._closed:  # close() came while this write held the lock
                self._drop_connection()
            self._writing.release()

    def owes_a_turn(self) -> bool:
        """True at most once per ``TURN``: the caller then yields to its event loop once
        (``inline_pacing.Turns``)."""
        return self._turns.owed()

    def _connect(self) -> Connection:
        if self._connection is None:
            connection = self._runner.connect()
            try:
                connection.exec_driver_sql("PRAGMA busy_timeout = 0")
                connection.exec_driver_sql("PRAGMA wal_autocheckpoint = 0")
            except BaseException:
                _discard(connection)
                raise
            self._connection = connection
        return self._connection

    def _count_write(self) -> None:
        self._writes_since_checkpoint += 1
        if self._writes_since_checkpoint >= self._checkpoint_every:
            self._writes_since_checkpoint = 0
            self._runner.post(_checkpoint)

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            _discard(connection)

    def close(self) -> None:
        """Close the connection; later calls pass every write to the SQL thread.

        Never waits: the SQL thread may hold the shared lock through a long busy wait or a
        statement the database never answers. While it does, this connection is idle and
        stays open until ``close()`` is called again (the store calls it once more after
        its SQL threads stopped); a caller writing inline drops it when its write ends."""
        self._closed = True
        if self._writing.acquire(blocking=False):
            try:
                self._drop_connection()
            finally:
                self._writing.release()


def _discard(connection: Connection) -> None:
    # Invalidated, not returned: a pool's reset on return is a rollback, and the two
    # pragmas above would survive it into the next borrower's connection.
    connection.invalidate()
    connection.close()


def _checkpoint(connection: Connection) -> None:
    # PASSIVE copies what it can without waiting for readers or writers.
    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
