"""Wake-ups: in-process on SQLite, PRAGMA data_version across connections, LISTEN/NOTIFY on
PostgreSQL with a listener that comes back after its backend is terminated."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import psycopg
import pytest

from burrow_jobs_sql import SQLStore, notify
from burrow_jobs_sql.file_writes import open_file_writes
from burrow_tasks.jobs import NewJob, Notification, NotificationKind

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
# A safety net so a broken notification fails the test instead of hanging it; never a
# measurement.
NO_HANG = 30.0


def _job(type: str = "email") -> NewJob:
    return NewJob(type=type, payload="{}", priority=0, max_retries=3, run_at=NOW)


async def _next_matching(
    iterator: AsyncIterator[Notification], wanted: Callable[[Notification], bool]
) -> Notification:
    async def scan() -> Notification:
        async for item in iterator:
            if wanted(item):
                return item
        raise AssertionError("notifications ended")

    return await asyncio.wait_for(scan(), NO_HANG)


def _available(item: Notification) -> bool:
    return item.kind is NotificationKind.AVAILABLE


async def _listening(store: SQLStore) -> AsyncIterator[Notification]:
    """A started iterator; on PostgreSQL, past the hint the listener sends on connecting."""
    iterator = store.notifications()
    if store.dialect == "postgresql":
        await _next_matching(iterator, _available)
    return iterator


async def test_insert_wakes_another_store_on_the_same_database(database_dsn: str) -> None:
    writer = SQLStore.from_dsn(database_dsn)
    watcher = SQLStore.from_dsn(database_dsn)
    try:
        iterator = await _listening(watcher)
        waiting = asyncio.ensure_future(_next_matching(iterator, _available))
        await asyncio.sleep(0)
        await writer.jobs_insert([_job()], now=NOW)
        assert (await waiting).kind is NotificationKind.AVAILABLE
    finally:
        await writer.close()
        await watcher.close()


@pytest.mark.parametrize("action", ["cancel", "delete"])
async def test_stopping_a_running_job_announces_a_cancel(store: SQLStore, action: str) -> None:
    [job_id] = await store.jobs_insert([_job()], now=NOW)
    await store.jobs_claim(1, types=["email"], now=NOW)
    iterator = await _listening(store)
    waiting = asyncio.ensure_future(
        _next_matching(iterator, lambda item: item.kind is NotificationKind.CANCELLED)
    )
    await asyncio.sleep(0)
    if action == "cancel":
        await store.job_cancel(job_id, now=NOW)
    else:
        await store.job_delete(job_id)
    assert await waiting == Notification(NotificationKind.CANCELLED, job_id)


def _inotify_watches(database_dsn: str) -> bool:
    writes = open_file_writes(database_dsn.removeprefix("sqlite:///"))
    if writes is None:
        return False
    writes.close()
    return True


def _commit_from_another_connection(database_dsn: str) -> None:
    # A plain sqlite3 connection stands in for another process: no in-process hint.
    other = sqlite3.connect(database_dsn.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("DELETE FROM burrow_workers")
    other.close()


@pytest.mark.parametrize("watch", ["inotify", "polling"])
async def test_sqlite_sees_commits_of_other_connections(
    database_dsn: str, watch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_dsn.startswith("sqlite"):
        pytest.skip("PRAGMA data_version is SQLite's cross-process change check")
    if watch == "inotify" and not _inotify_watches(database_dsn):
        pytest.skip("inotify is Linux's")
    if watch == "polling":
        monkeypatch.setattr(notify, "open_file_writes", lambda path: None)
    store = SQLStore.from_dsn(database_dsn, data_version_interval=0.005)
    try:
        iterator = store.notifications()
        waiting = asyncio.ensure_future(_next_matching(iterator, _available))
        await asyncio.sleep(0.05)  # let the watcher read its first data_version

        _commit_from_another_connection(database_dsn)

        assert (await waiting).kind is NotificationKind.AVAILABLE
    finally:
        await store.close()


async def test_sqlite_with_inotify_sees_a_commit_long_before_its_poll_interval(
    database_dsn: str,
) -> None:
    if not database_dsn.startswith("sqlite"):
        pytest.skip("PRAGMA data_version is SQLite's cross-process change check")
    if not _inotify_watches(database_dsn):
        pytest.skip("inotify is Linux's")
    # Polling alone would look again only after an hour; the reported write wakes it.
    store = SQLStore.from_dsn(database_dsn, data_version_interval=3600)
    try:
        iterator = store.notifications()
        waiting = asyncio.ensure_future(_next_matching(iterator, _available))
        await asyncio.sleep(0.05)

        _commit_from_another_connection(database_dsn)

        assert (await waiting).kind is NotificationKind.AVAILABLE
    finally:
        await store.close()


async def test_closing_a_sqlite_store_stops_its_watch_thread(database_dsn: str) -> None:
    if not database_dsn.startswith("sqlite"):
        pytest.skip("PRAGMA data_version is SQLite's cross-process change check")
    store = SQLStore.from_dsn(database_dsn, data_version_interval=0.005)
    iterator = store.notifications()
    waiting = asyncio.ensure_future(anext(iterator))
    await asyncio.sleep(0.05)
    assert "burrow-sqlite-watch" in {thread.name for thread in threading.enumerate()}

    await store.close()

    assert "burrow-sqlite-watch" not in {thread.name for thread in threading.enumerate()}
    with pytest.raises(StopAsyncIteration):
        await waiting


async def test_postgres_listener_reconnects_after_its_backend_is_terminated(
    store: SQLStore, postgres_admin: str
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    iterator = await _listening(store)
    first_pid = store.listener_backend_pid
    assert first_pid is not None
    with psycopg.connect(postgres_admin, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first_pid,))
    # The reconnected listener announces itself with an "available" hint ...
    await _next_matching(iterator, _available)
    assert store.listener_backend_pid not in (None, first_pid)
    # ... and delivers new notifications again.
    waiting = asyncio.ensure_future(_next_matching(iterator, _available))
    await asyncio.sleep(0)
    await store.jobs_insert([_job()], now=NOW)
    assert (await waiting).kind is NotificationKind.AVAILABLE


async def test_close_ends_every_iterator(store: SQLStore) -> None:
    iterator = store.notifications()
    ending = asyncio.ensure_future(_next_matching(iterator, lambda item: False))
    await asyncio.sleep(0)
    await store.close()
    with pytest.raises(AssertionError, match="notifications ended"):
        await ending
