"""Wake-ups for ``store.notifications()``.

``Broadcaster`` fans one store's notifications out to its iterators; it is safe to publish
from any thread or event loop. ``FileBroadcasts`` links the broadcasters of every SQLite store
on one file in this process, so an insert through one store wakes the others at once. Across
processes, ``watch_sqlite_data_version`` reads ``PRAGMA data_version`` (a read of the shared
WAL index, no table scan) when inotify reports a write, or polls it elsewhere, and after a
change looks up the jobs cancelled since; ``listen_postgres`` keeps a LISTEN connection that
reconnects when it drops. Notifications are hints: the engine still polls.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress

import psycopg
from sqlalchemy.exc import DBAPIError

from burrow_jobs_sql.file_writes import FileWrites, open_file_writes
from burrow_jobs_sql.statements import SQLITE_CANCELLED_SINCE
from burrow_tasks.jobs import Notification, NotificationKind

__all__ = [
    "AVAILABLE",
    "SOME_CANCELLED",
    "Broadcaster",
    "FileBroadcasts",
    "Subscription",
    "listen_postgres",
    "parse_postgres_payload",
    "watch_sqlite_data_version",
]

log = logging.getLogger("burrow_jobs_sql.notify")

AVAILABLE = Notification(NotificationKind.AVAILABLE)
SOME_CANCELLED = Notification(NotificationKind.CANCELLED)
"""A running job may have been cancelled, which one unknown: the engine checks every job it
holds (one heartbeat each)."""
_MAX_QUEUED = 1024


class Subscription(AsyncIterator[Notification]):
    """One ``notifications()`` iterator. Consecutive ``available`` hints coalesce; cancels
    are kept (up to a bound) because each names a job."""

    def __init__(
        self,
        on_close: Callable[[Subscription], None],
        on_start: Callable[[], None] | None = None,
    ) -> None:
        self._on_start = on_start
        self._items: deque[Notification] = deque()
        self._lock = threading.Lock()
        self._closed = False
        self._on_close = on_close
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None

    def push(self, item: Notification | None) -> None:
        """Queue ``item`` (None ends the iterator). Any thread."""
        with self._lock:
            if self._closed:
                return
            if item is None:
                self._closed = True
            elif item.kind is NotificationKind.AVAILABLE and AVAILABLE in self._items:
                return
            else:
                if len(self._items) >= _MAX_QUEUED:
                    self._items.popleft()
                self._items.append(item)
            loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wakeup.set()
        else:
            # A closed loop raises RuntimeError: nobody is waiting there any more.
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(wakeup.set)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Notification:
        if self._wakeup is None:
            self._loop = asyncio.get_running_loop()
            self._wakeup = asyncio.Event()
            if self._on_start is not None:
                self._on_start()
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                if self._closed:
                    raise StopAsyncIteration
                self._wakeup.clear()
            await self._wakeup.wait()

    async def aclose(self) -> None:
        self.push(None)
        self._on_close(self)


class Broadcaster:
    """The subscriptions of one store."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._lock = threading.Lock()
        self._closed = False

    def subscribe(self, on_start: Callable[[], None] | None = None) -> Subscription:
        """A new iterator; ``on_start`` runs (on its event loop) when it is first awaited."""
        subscription = Subscription(self._forget, on_start)
        with self._lock:
            if self._closed:
                subscription.push(None)
            else:
                self._subscriptions.add(subscription)
        return subscription

    def _forget(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscriptions)

    def publish(self, item: Notification) -> None:
        with self._lock:
            targets = list(self._subscriptions)
        for subscription in targets:
            subscription.push(item)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            targets, self._subscriptions = list(self._subscriptions), set()
        for subscription in targets:
            subscription.push(None)


class FileBroadcasts:
    """The broadcasters of every store on each SQLite file in this process."""

    def __init__(self) -> None:
        self._by_file: dict[str, set[Broadcaster]] = {}
        self._lock = threading.Lock()

    def join(self, path: str, broadcaster: Broadcaster) -> None:
        with self._lock:
            self._by_file.setdefault(path, set()).add(broadcaster)

    def leave(self, path: str, broadcaster: Broadcaster) -> None:
        with self._lock:
            members = self._by_file.get(path)
            if members is not None:
                members.discard(broadcaster)
                if not members:
                    del self._by_file[path]

    def publish(self, path: str, item: Notification) -> None:
        with self._lock:
            targets = list(self._by_file.get(path, ()))
        for broadcaster in targets:
            broadcaster.publish(item)


async def watch_sqlite_data_version(
    path: str, publish: Callable[[Notification], None], interval: float
) -> None:
    """Publish ``available`` whenever another connection (any process) committed to ``path``,
    and ``cancelled`` naming each job cancelled since the last look, until cancelled.

    ``PRAGMA data_version`` changes only when another connection commits, and reading it
    costs microseconds. The reads run on a thread of their own that only calls into the event
    loop when the version changed. On Linux the thread sleeps until inotify reports a write to
    the database or its WAL and then reads at once: an idle worker makes about one read a
    second instead of one every ``interval``, and a commit is seen within a millisecond or two
    of its fsync instead of half an ``interval`` later on average. Elsewhere it reads every
    ``interval``. Either way it reads at most once per ``interval`` after a change it
    published, so a busy database wakes the engine no more often than before.

    A cancel in another process would otherwise reach a worker here only through its next
    heartbeat (30 s by default); PostgreSQL's triggers name the job at once.
    """
    stop = threading.Event()
    writes = open_file_writes(path)
    thread = threading.Thread(
        target=_poll_data_version,
        args=(path, publish, interval, stop, writes),
        name="burrow-sqlite-watch",
        daemon=True,
    )
    thread.start()
    try:
        await asyncio.Event().wait()
    finally:
        stop.set()
        if writes is not None:
            writes.interrupt()
        await asyncio.to_thread(thread.join)
        if writes is not None:
            writes.close()


_RECHECK = 1.0
"""With inotify: seconds between reads while nothing is written (or ``interval``, if longer),
a safety net for writes it cannot report."""

_LOOK_FOR = 0.25
"""With inotify: seconds to keep reading after a reported write that no commit followed yet.
The write reaches the WAL before the commit shows (the fsync and the WAL index follow);
writes that never show as a commit (a checkpoint, a rollback) end the look here."""

_FIRST_STEP = 0.001
"""With inotify: the first pause between reads while looking; it doubles up to ``interval``."""


def _poll_data_version(
    path: str,
    publish: Callable[[Notification], None],
    interval: float,
    stop: threading.Event,
    writes: FileWrites | None,
) -> None:
    try:
        connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    except sqlite3.Error:
        # Wake-ups are hints: the engine still polls.
        log.exception("burrow: cannot watch %s for other processes' commits", path)
        return
    try:
        # Read before the first wait, so a commit made while it sleeps shows as a change.
        version = _DataVersion(connection)
        cancels = _Cancels(connection)

        def changed() -> None:
            publish(AVAILABLE)
            for job_id in cancels.new():
                publish(Notification(NotificationKind.CANCELLED, job_id))

        if writes is None:
            _poll(version, changed, interval, stop)
        else:
            _read_on_writes(version, writes, changed, interval, stop)
    except Exception:
        log.exception("burrow: watching %s for other processes' commits failed", path)
    finally:
        connection.close()


class _DataVersion:
    """``PRAGMA data_version`` of one connection, and whether it moved since the last read."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._last = self._read(None)

    def changed(self) -> bool:
        current = self._read(self._last)
        moved = self._last is not None and current != self._last
        self._last = current
        return moved

    def _read(self, fallback: object) -> object:
        try:
            return self._connection.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.OperationalError:  # busy for a moment: look again next time
            return fallback


CANCEL_LOOKBACK_US = 10_000_000
"""How far back (µs) each look for cancels reaches: a cancel carries the time its process
stamped before writing, and its commit can land after a look that began later."""


class _Cancels:
    """The jobs cancelled since the last look, each cancel reported once."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        # The cancels before the watch began are old news: seen, not reported.
        self._seen = set(self._read() or ())

    def new(self) -> list[str]:
        current = self._read()
        if current is None:
            return []
        # (id, time) pairs: a job retried and cancelled again is a new cancel.
        fresh = [job_id for job_id, at in current if (job_id, at) not in self._seen]
        self._seen = set(current)
        return [str(job_id) for job_id in fresh]

    def _read(self) -> list[tuple[int, int]] | None:
        since = time.time_ns() // 1000 - CANCEL_LOOKBACK_US
        try:
            rows = self._connection.execute(SQLITE_CANCELLED_SINCE, (since,)).fetchall()
        except sqlite3.Error:  # busy for a moment, or no schema yet: the heartbeat still tells
            return None
        return [(int(job_id), int(at)) for job_id, at in rows]


def _poll(
    version: _DataVersion,
    changed: Callable[[], None],
    interval: float,
    stop: threading.Event,
) -> None:
    while not stop.wait(interval):
        if version.changed():
            changed()


def _read_on_writes(
    version: _DataVersion,
    writes: FileWrites,
    changed: Callable[[], None],
    interval: float,
    stop: threading.Event,
) -> None:
    recheck = max(interval, _RECHECK)
    while not stop.is_set():
        written = writes.wait(recheck)
        if stop.is_set():
            return
        seen = _look_for_commit(version, writes, interval, stop) if written else version.changed()
        # After a change, at most one wake-up per interval, as when polling.
        if seen:
            changed()
            stop.wait(interval)


def _look_for_commit(
    version: _DataVersion, writes: FileWrites, interval: float, stop: threading.Event
) -> bool:
    """After a reported write, read until the version moves (True), or until ``_LOOK_FOR``
    passes with no further write or the watch stops (False)."""
    until = time.monotonic() + _LOOK_FOR
    step = _FIRST_STEP
    while not version.changed():
        if time.monotonic() >= until or stop.wait(step):
            return False
        step = min(step * 2, interval)
        if writes.wait(0):
            until = time.monotonic() + _LOOK_FOR
    return True


def parse_postgres_payload(payload: str) -> Notification:
    kind, _, job_id = payload.partition(":")
    if kind == NotificationKind.CANCELLED.value and job_id:
        return Notification(NotificationKind.CANCELLED, job_id)
    return AVAILABLE


async def listen_postgres(
    conninfo: Callable[[], Awaitable[str]],
    channel: str,
    publish: Callable[[Notification], None],
    *,
    on_connected: Callable[[int], Awaitable[None] | None] | None = None,
    min_backoff: float = 0.05,
    max_backoff: float = 5.0,
) -> None:
    """LISTEN on ``channel`` and publish what arrives, forever; reconnect when the
    connection drops. ``conninfo`` says where to connect, asked again before every
    (re)connect (a password may be a token that expires). After every (re)connect it
    publishes ``available`` and an unnamed ``cancelled``: work may have arrived, and a running
    job may have been cancelled, while nobody listened (before the first ``LISTEN`` too: a
    worker claims its first jobs while its listener still connects), and a missed cancel
    would otherwise reach its job only at the next heartbeat."""
    backoff = min_backoff
    quoted = '"' + channel.replace('"', '""') + '"'
    while True:
        try:
            where = await conninfo()
            async with await psycopg.AsyncConnection.connect(where, autocommit=True) as conn:
                await conn.execute(f"LISTEN {quoted}")
                backoff = min_backoff
                if on_connected is not None:
                    result = on_connected(conn.info.backend_pid)
                    if result is not None:
                        await result
                publish(AVAILABLE)
                publish(SOME_CANCELLED)
                async for notify in conn.notifies():
                    publish(parse_postgres_payload(notify.payload))
        except asyncio.CancelledError:
            raise
        except (psycopg.Error, DBAPIError, OSError) as exc:
            log.warning("burrow notification listener lost its connection (%s); retrying", exc)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, max_backoff)
