"""Wake-ups: in-process on SQLite, PRAGMA data_version across connections, LISTEN/NOTIFY on
PostgreSQL with a listener that comes back after its backend is terminated."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.conninfo import conninfo_to_dict

from burrow_jobs_sql import SQLStore, notify
from burrow_jobs_sql.dsn import to_url
from burrow_jobs_sql.file_writes import open_file_writes
from burrow_jobs_sql.schema import notify_channel
from burrow_jobs_sql.statements import build_statements
from burrow_tasks import open_queue
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


def _some_cancelled(item: Notification) -> bool:
    return item == Notification(NotificationKind.CANCELLED)


async def _listening(store: SQLStore) -> AsyncIterator[Notification]:
    """A started iterator; on PostgreSQL, past the two hints the listener sends on
    connecting."""
    iterator = store.notifications()
    if store.dialect == "postgresql":
        await _next_matching(iterator, _available)
        await _next_matching(iterator, _some_cancelled)
    return iterator


async def _insert_wakes_a_second_store(dsn: str) -> None:
    writer = SQLStore.from_dsn(dsn)
    watcher = SQLStore.from_dsn(dsn)
    try:
        iterator = await _listening(watcher)
        waiting = asyncio.ensure_future(_next_matching(iterator, _available))
        await asyncio.sleep(0)
        [job_id] = await writer.jobs_insert([_job()], now=NOW)
        assert (await waiting).kind is NotificationKind.AVAILABLE
        assert await writer.job_get(job_id) is not None
    finally:
        await writer.close()
        await watcher.close()


async def test_insert_wakes_another_store_on_the_same_database(database_dsn: str) -> None:
    await _insert_wakes_a_second_store(database_dsn)


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


def _cancel_from_another_connection(database_dsn: str, job_id: str) -> None:
    """The store's own cancel statement, on a connection no store in this process knows of
    (as another process's would be): no in-process hint."""
    engine = sa.create_engine(to_url(database_dsn))
    try:
        with engine.begin() as connection:
            connection.execute(
                build_statements("sqlite").cancel,
                {"job_id": int(job_id), "now": datetime.now(UTC)},
            )
    finally:
        engine.dispose()


def _cancelled(item: Notification) -> bool:
    return item.kind is NotificationKind.CANCELLED


async def _cancel_seen_after(store: SQLStore, database_dsn: str, job_id: str) -> Notification:
    """The first cancel ``store`` reports once ``job_id`` is cancelled on another connection."""
    waiting = asyncio.ensure_future(_next_matching(store.notifications(), _cancelled))
    await asyncio.sleep(0.05)  # the watch takes its first look
    _cancel_from_another_connection(database_dsn, job_id)
    return await waiting


async def test_sqlite_names_the_job_another_process_cancelled(database_dsn: str) -> None:
    if not database_dsn.startswith("sqlite"):
        pytest.skip("PRAGMA data_version is SQLite's cross-process change check")
    store = SQLStore.from_dsn(database_dsn, data_version_interval=0.005)
    try:
        [job_id] = await store.jobs_insert([_job()], now=NOW)
        await store.jobs_claim(1, types=["email"], now=NOW)

        seen = await _cancel_seen_after(store, database_dsn, job_id)

        assert seen == Notification(NotificationKind.CANCELLED, job_id)
    finally:
        await store.close()


async def test_sqlite_reports_no_cancel_made_before_its_watch_began(database_dsn: str) -> None:
    if not database_dsn.startswith("sqlite"):
        pytest.skip("PRAGMA data_version is SQLite's cross-process change check")
    store = SQLStore.from_dsn(database_dsn, data_version_interval=0.005)
    try:
        old, new = await store.jobs_insert([_job(), _job()], now=NOW)
        await store.jobs_claim(2, types=["email"], now=NOW)
        _cancel_from_another_connection(database_dsn, old)

        seen = await _cancel_seen_after(store, database_dsn, new)

        assert seen == Notification(NotificationKind.CANCELLED, new)
    finally:
        await store.close()


async def test_a_worker_stops_a_job_cancelled_in_another_process_before_its_heartbeat(
    database_dsn: str, tmp_path: Path, start_worker: Callable[..., Any]
) -> None:
    log = tmp_path / "runs.log"
    queue = open_queue(database_dsn)
    queue.handle("long", _runs_elsewhere)
    try:
        job_id = await queue.enqueue("long", {})
        # The worker renews its leases every 30 s: only a notification stops the job sooner.
        start_worker(database_dsn, log, "default")
        await _logged(log, f"start {job_id} ", within=NO_HANG)

        await queue.dequeue(job_id)

        await _logged(log, f"cancelled {job_id} ", within=10.0)
    finally:
        await queue.shutdown()


async def _runs_elsewhere(payload: bytes) -> None:
    raise AssertionError("this queue only enqueues and cancels")


async def _logged(log: Path, prefix: str, *, within: float) -> None:
    deadline = time.monotonic() + within
    while not _has_line(log, prefix):
        if time.monotonic() > deadline:
            pytest.fail(f"no {prefix.strip()!r} in the worker's log within {within:.0f} s")
        await asyncio.sleep(0.02)


def _has_line(log: Path, prefix: str) -> bool:
    return log.exists() and any(line.startswith(prefix) for line in log.read_text().splitlines())


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
    # The reconnected listener announces itself with both hints ...
    await _next_matching(iterator, _available)
    await _next_matching(iterator, _some_cancelled)
    assert store.listener_backend_pid not in (None, first_pid)
    # ... and delivers new notifications again.
    waiting = asyncio.ensure_future(_next_matching(iterator, _available))
    await asyncio.sleep(0)
    await store.jobs_insert([_job()], now=NOW)
    assert (await waiting).kind is NotificationKind.AVAILABLE


async def test_the_postgres_listener_says_on_connecting_that_a_job_may_have_been_cancelled(
    store: SQLStore,
) -> None:
    # A cancel made before LISTEN (a worker claims its first jobs while its listener still
    # connects) or while the connection was down is never delivered: the unnamed hint makes
    # the engine check every job it holds at once instead of at the next heartbeat.
    if store.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    iterator = store.notifications()
    first = await asyncio.wait_for(anext(iterator), NO_HANG)
    second = await asyncio.wait_for(anext(iterator), NO_HANG)
    assert [first, second] == [
        Notification(NotificationKind.AVAILABLE),
        Notification(NotificationKind.CANCELLED),
    ]


async def test_close_ends_every_iterator(store: SQLStore) -> None:
    iterator = store.notifications()
    ending = asyncio.ensure_future(_next_matching(iterator, lambda item: False))
    await asyncio.sleep(0)
    await store.close()
    with pytest.raises(AssertionError, match="notifications ended"):
        await ending


@pytest.fixture
def long_schema_dsn(postgres_schemas: object, postgres_admin: str) -> Iterator[str]:
    """A schema whose name passes PostgreSQL's 63-byte channel limit with the prefix."""
    name = "tenant_" + secrets.token_hex(24)  # 55 characters: a per-tenant schema
    with psycopg.connect(postgres_admin, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
    separator = "&" if "?" in postgres_admin else "?"
    yield f"{postgres_admin}{separator}options={quote(f'-csearch_path={name}')}"
    with psycopg.connect(postgres_admin, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{name}" CASCADE')


async def test_a_store_in_a_schema_with_a_long_name_enqueues_and_hears_its_inserts(
    long_schema_dsn: str,
) -> None:
    # Before, PostgreSQL refused the channel name, and with it every insert.
    await _insert_wakes_a_second_store(long_schema_dsn)


def test_a_channel_name_stays_within_postgresqls_limit() -> None:
    assert notify_channel("app") == "burrow_jobs:app"
    long_name = "tenant_" + "é" * 40
    assert len(notify_channel(long_name).encode()) <= 63
    assert notify_channel(long_name) != notify_channel(long_name + "x")


async def test_a_store_on_an_apps_engine_listens_where_the_engine_connects(
    database_dsn: str,
) -> None:
    # The app names its database only in connect_args; the URL points elsewhere.
    if not database_dsn.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    where = conninfo_to_dict(database_dsn)
    url = to_url(database_dsn).set(database="postgres", query={})
    engine = sa.create_engine(
        url, connect_args={"dbname": where["dbname"], "options": where["options"]}
    )
    watcher = SQLStore.from_engine(engine, auto_migrate=False)
    writer = SQLStore.from_dsn(database_dsn)
    try:
        iterator = await _listening(watcher)
        waiting = asyncio.ensure_future(_next_matching(iterator, _available))
        await asyncio.sleep(0)
        await writer.jobs_insert([_job()], now=NOW)
        # Before, the listener connected from the URL alone and heard nothing.
        assert (await waiting).kind is NotificationKind.AVAILABLE
    finally:
        await writer.close()
        await watcher.close()
        engine.dispose()
