"""An enqueue's PostgreSQL insert waited for on the caller's thread for at most a couple of
milliseconds, then on its event loop: no SQL thread in between.

Sent to an SQL thread, a one-job insert costs three wake-ups (the thread on the call, the
thread on the server's answer, the event loop on the thread's) against one for a driver
called on the loop, and on a virtual machine each wake-up lands on a halted CPU. Measured
with ``python -m bench.enqueue_layers postgresql`` (µs per call, wall / process CPU): the
insert through SQLAlchemy on the loop 319-365 / 111-137, on an SQL thread 429-538 / 203-257;
awaited through SQLAlchemy's asyncio extension 417-566 / 234-314 (psycopg's asyncio waits
and a greenlet per call cost what the hop did).

So a store on a PostgreSQL database of its own runs a one-job insert in a greenlet on the
caller's thread, on a connection of its own (the lane's). While psycopg waits for the
server, the lane polls the socket itself until ``budget`` has passed since the call began:
the usual answer (0.2-0.5 ms) comes well within, and the call costs what the insert on the
loop does. Past the budget, the greenlet switches back to the caller's coroutine, which
awaits the socket on its event loop and resumes the greenlet when the socket is ready: the
loop waits on the database for at most ``budget`` per call, never for a slow server.

Within the bounds the SQLite inline writes keep (``inline_pacing``):

- one call at a time: a call that finds the lane in use (a coroutine's insert awaiting the
  server, another thread's call) goes to the SQL threads, as does one made while the store's
  SQL threads are at work (a worker's claims and outcome writes), where the event loop has
  other work to do and the threads overlap round trips it would wait through one by one;
- ``slow_streak`` calls in a row that outlast the budget send the calls of the next pause
  to the SQL threads (``SlowStreak``);
- a coroutine enqueueing in a loop yields to its event loop once per ``budget`` (``Turns``):
  the loop is held about as long at a time as by one call that waits out the budget (a
  turn costs an event loop round, ~15 µs: once a millisecond it came to every other call);
- a caller cancelled while its insert awaits the server gets its ``CancelledError`` at
  once; a task of its loop sees the statement to its end (it commits or fails on its own,
  as on an SQL thread) and then frees the lane;
- the lane's connection is opened on a thread, never on the event loop. One that SQLAlchemy
  finds cut (the server went away) is dropped and the SQL threads are told, as after a cut
  of their own; one unused for ``PING_AFTER_IDLE`` is replaced rather than pinged; after a
  failed open the calls of the next ``OPEN_AGAIN_AFTER`` take the SQL threads;
- a statement still in flight when its event loop closes under it (a loop torn down
  without closing the store) keeps the lane: every later call takes the SQL threads.

The connections of the store's engine are ``LaneConnection``s (``use_lane_connections``):
psycopg connections whose waits go through the lane when its greenlet runs them, and
psycopg's own blocking wait otherwise (the SQL threads'), at the cost of one check per wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import select
import threading
import time
from collections.abc import Callable, Generator
from typing import Any, Final, Generic, Literal, TypeVar

import greenlet
import psycopg
import sqlalchemy as sa
from psycopg.waiting import Ready, Wait
from sqlalchemy.engine import Connection, Engine

from burrow_jobs_sql import runner as sql_threads
from burrow_jobs_sql.inline_pacing import SlowStreak, Turns
from burrow_jobs_sql.inline_writes import Passed

__all__ = ["BUDGET", "SUPPORTED", "LaneConnection", "PostgresInline", "use_lane_connections"]

log = logging.getLogger("burrow_jobs_sql")

T = TypeVar("T")

BUDGET: Final = 0.002
"""Seconds an inline call may hold its thread waiting for the server before it yields to the
event loop; also what counts as a slow call."""

OPEN_AGAIN_AFTER: Final = 1.0
"""Seconds the lane leaves every call to the SQL threads after it failed to open its
connection (a server at its connection limit), instead of trying again on every enqueue."""

SUPPORTED: Final = hasattr(select, "poll")
"""Whether this platform has what the lane waits with: ``select.poll`` (not on Windows, whose
proactor event loop has no ``add_reader`` either). Elsewhere every insert takes the SQL
threads."""


class LaneConnection(psycopg.Connection[Any]):
    """A psycopg connection whose waits for the server go through the lane when the lane's
    greenlet runs them (``_Lane.wait``), and through psycopg's own blocking wait otherwise."""

    def wait(self, gen: Generator[Any, Any, T], *args: Any, **kwargs: Any) -> T:
        current = greenlet.getcurrent()
        if type(current) is _Lane:
            # The lane runs one-statement inserts only: no waits with a timeout of their own
            # (notifies, a cancel), which go to psycopg's wait below.
            return current.wait(gen, self.pgconn.socket)
        return super().wait(gen, *args, **kwargs)


def _lane_connect(
    _dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]
) -> LaneConnection:
    # psycopg.connect is Connection.connect: the subclass's takes the same arguments.
    return LaneConnection.connect(*cargs, **cparams)


def use_lane_connections(engine: Engine) -> None:
    """Make the connections ``engine`` opens ``LaneConnection``s (an engine the store owns)."""
    if not sa.event.contains(engine, "do_connect", _lane_connect):
        sa.event.listen(engine, "do_connect", _lane_connect)


class _Call:
    __slots__ = ("connection", "work")

    def __init__(self, work: Callable[[Connection], Any], connection: Connection) -> None:
        self.work = work
        self.connection = connection


class _Waiting:
    """What the lane's greenlet hands its caller when the budget is spent: await this."""

    __slots__ = ("fileno", "state")

    def __init__(self, fileno: int, state: int) -> None:
        self.fileno = fileno
        self.state = state


class _Outcome(Generic[T]):
    __slots__ = ("error", "value")

    def __init__(self, value: T | None, error: BaseException | None) -> None:
        self.value = value
        self.error = error

    def get(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class _Lane(greenlet.greenlet):
    """Runs one thread's inline calls, one after another, for the life of the thread: a
    greenlet made per call costs ~10 µs, a switch to a live one under 1 µs."""

    def __init__(self) -> None:
        super().__init__()
        self.caller: greenlet.greenlet = greenlet.getcurrent()
        self.deadline = 0.0
        """``time.monotonic()`` past which a wait yields to the event loop."""
        self.yielded = False
        """Whether the current call waited on the event loop (it outlasted the budget)."""

    def run(self, call: _Call) -> None:  # greenlet's entry point: serves call after call
        while True:
            try:
                outcome: _Outcome[Any] = _Outcome(call.work(call.connection), None)
            except greenlet.GreenletExit:
                raise
            except BaseException as error:  # handed to the caller, never lost
                outcome = _Outcome(None, error)
            call = self.caller.switch(outcome)

    def wait(self, gen: Generator[Any, Any, T], fileno: int) -> T:
        """psycopg's wait protocol: ``gen`` yields what it waits for (``Wait``) and is sent
        what is ready (``Ready``); its return value is the wait's."""
        try:
            state = next(gen)
            while True:
                ready = _poll(fileno, state, self.deadline - time.monotonic())
                if not ready:
                    self.yielded = True
                    ready = self.caller.switch(_Waiting(fileno, state))
                state = gen.send(ready)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def _poll(fileno: int, state: int, timeout: float) -> int:
    """What of ``state`` is ready on ``fileno`` within ``timeout`` seconds, in whole
    milliseconds rounded down (under one: look once). ``poll`` rounds a fraction up, which
    would hold the thread up to a millisecond past the budget."""
    poller = select.poll()
    poller.register(
        fileno, (select.POLLIN if state & Wait.R else 0) | (select.POLLOUT if state & Wait.W else 0)
    )
    ready = 0
    for _, events in poller.poll(max(0, int(timeout * 1000))):
        if events & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
            # libpq reads or writes, finds the error and marks the connection broken, which
            # SQLAlchemy then takes for a disconnect.
            return state
        if events & select.POLLIN:
            ready |= Ready.R
        if events & select.POLLOUT:
            ready |= Ready.W
    return ready


async def _socket_ready(waiting: _Waiting) -> int:
    """Await, on the running event loop, what ``waiting`` waits for."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[int] = loop.create_future()

    def wake(which: int) -> None:
        if not ready.done():
            ready.set_result(which)

    reading, writing = bool(waiting.state & Wait.R), bool(waiting.state & Wait.W)
    if reading:
        loop.add_reader(waiting.fileno, wake, Ready.R)
    try:
        if writing:
            loop.add_writer(waiting.fileno, wake, Ready.W)
        try:
            return await ready
        finally:
            if writing:
                loop.remove_writer(waiting.fileno)
    finally:
        if reading:
            loop.remove_reader(waiting.fileno)


class PostgresInline:
    """Runs one-job inserts on the caller's thread when the lane is free (see above)."""

    def __init__(
        self,
        runner: sql_threads.Runner,
        *,
        budget: float = BUDGET,
        streak: SlowStreak | None = None,
        turns: Turns | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._runner = runner
        self._budget = budget
        self._streak = streak or SlowStreak()
        self._turns = turns or Turns(every=budget, clock=clock)
        self._clock = clock
        self._busy = threading.Lock()
        """Held by the call on the lane, from its start until its statement ended."""
        self._connection: Connection | None = None
        self._opened_after = 0
        """The runner's count of cut connections when the lane's connection was opened."""
        self._used_at = 0.0
        self._opening = False
        self._open_again_at = -math.inf
        """After a failed open, ``time.monotonic()`` before which no call tries again."""
        self._lanes = threading.local()
        self._finishing: set[asyncio.Task[None]] = set()
        self._closed = False
        self._unusable = False
        """The engine's connections are not ``LaneConnection``s: every call passes."""

    async def run(self, work: Callable[[Connection], T]) -> T | Literal[Passed.PASSED]:
        """``work(connection)`` on the lane in autocommit mode, or ``Passed.PASSED`` (nothing
        run) when the lane is in use, paused or closed, or the SQL threads are at work."""
        if not self._busy.acquire(blocking=False):
            return Passed.PASSED
        handed_on = False
        try:
            started = self._clock()
            if self._closed or self._unusable or self._opening or self._streak.paused(started):
                return Passed.PASSED
            if self._runner.busy():
                return Passed.PASSED
            connection = self._connection
            if connection is not None and self._stale():
                # Invalidated, not returned: the pool would hand the same one back unchecked.
                self._connection = None
                sql_threads.discard(connection, invalidate=True)
                connection = None
            if connection is None:
                if time.monotonic() < self._open_again_at:
                    return Passed.PASSED
                self._opening = True
                try:
                    await asyncio.to_thread(self._open)
                except Exception as error:
                    # The SQL threads meet the same failure and report it to the caller.
                    self._opening = False
                    self._open_again_at = time.monotonic() + OPEN_AGAIN_AFTER
                    log.warning(
                        "burrow: could not open the inline insert connection; enqueues go "
                        "through the SQL threads for %.0f s",
                        OPEN_AGAIN_AFTER,
                        exc_info=error,
                    )
                    return Passed.PASSED
                connection = self._connection
                if connection is None:
                    return Passed.PASSED
            lane = self._lane()
            lane.deadline = time.monotonic() + self._budget
            lane.yielded = False
            step = _switch(lane, _Call(work, connection))
            while isinstance(step, _Waiting):
                try:
                    ready = await _socket_ready(step)
                except asyncio.CancelledError:
                    try:
                        self._finish_later(lane, step)
                    except BaseException:
                        self._abandon(lane)
                        raise
                    handed_on = True
                    raise
                except BaseException:
                    self._abandon(lane)
                    raise
                step = _switch(lane, ready)
            self._used_at = time.monotonic()
            self._streak.record(slow=lane.yielded, now=self._clock())
            if step.error is not None and connection.invalidated:
                # The server went away: the SQL threads' connections are as old as this one.
                self._runner.connection_cut()
            value: T = step.get()
        finally:
            if not handed_on:
                self._release()
        if not lane.yielded and self._turns.owed():
            await asyncio.sleep(0)
        return value

    def _stale(self) -> bool:
        """The lane's connection was opened before an SQL thread found the server gone, or
        idled long enough that a restart may have cut it (the SQL threads ping theirs then;
        the lane opens a new one on a thread instead of pinging on the event loop)."""
        return (
            self._opened_after != self._runner.cuts
            or time.monotonic() - self._used_at > sql_threads.PING_AFTER_IDLE
        )

    def _lane(self) -> _Lane:
        lane: _Lane | None = getattr(self._lanes, "lane", None)
        if lane is None or lane.dead:
            lane = self._lanes.lane = _Lane()
        return lane

    def _open(self) -> None:
        """Open the lane's connection (on a thread: connecting takes round trips). Leaves none
        when the store closed meanwhile or the engine does not make ``LaneConnection``s.
        ``_opening`` stays set until the connection is in place, also when the caller that
        started it was cancelled: no second caller opens another meanwhile."""
        try:
            opened_after = self._runner.cuts
            connection = self._runner.open_held()
            if not isinstance(connection.connection.driver_connection, LaneConnection):
                self._unusable = True
                sql_threads.discard(connection)
            elif self._closed:
                sql_threads.discard(connection)
            else:
                self._opened_after = opened_after
                self._used_at = time.monotonic()
                self._connection = connection
        finally:
            self._opening = False

    def _finish_later(self, lane: _Lane, step: _Waiting) -> None:
        """The caller was cancelled while its statement awaits the server: see the statement
        to its end on a task of this loop, then free the lane."""
        task = asyncio.get_running_loop().create_task(self._finish(lane, step))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _finish(self, lane: _Lane, step: _Waiting | _Outcome[Any]) -> None:
        try:
            while isinstance(step, _Waiting):
                step = _switch(lane, await _socket_ready(step))
            if step.error is not None:
                log.warning("burrow: a cancelled caller's insert failed", exc_info=step.error)
        except BaseException:
            self._abandon(lane)
            raise
        finally:
            self._release()

    def _abandon(self, lane: _Lane) -> None:
        """End ``lane``'s call where it stands: its statement's outcome is unknown, so its
        connection goes (SQLAlchemy invalidates a connection an exit exception left)."""
        if not lane.dead:
            lane.parent = greenlet.getcurrent()
            lane.throw(greenlet.GreenletExit)
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.invalidate()

    def _release(self) -> None:
        connection = self._connection
        if connection is not None and (connection.invalidated or self._closed):
            self._connection = None
            sql_threads.discard(connection)
        self._busy.release()

    async def close(self, grace: float) -> None:
        """Close the lane's connection; later calls pass. Waits up to ``grace`` seconds for
        the statements of cancelled callers this event loop sees to their end; one still
        running then closes the connection when it ends."""
        self._closed = True
        loop = asyncio.get_running_loop()
        finishing = [task for task in self._finishing if task.get_loop() is loop]
        if finishing and grace > 0:
            await asyncio.wait(finishing, timeout=grace)
        if self._busy.acquire(blocking=False):
            try:
                connection, self._connection = self._connection, None
                if connection is not None:
                    sql_threads.discard(connection)
            finally:
                self._busy.release()


def _switch(lane: _Lane, message: _Call | int) -> _Waiting | _Outcome[Any]:
    lane.caller = greenlet.getcurrent()
    step: _Waiting | _Outcome[Any] = lane.switch(message)
    return step
