"""A PostgreSQL server that goes silent mid-job (a dropped network path: nothing answers,
nothing is closed) cannot hold a worker's shutdown or the store's close forever, and the
interrupted job is not lost: it stays running, its one attempt counted, until a rescue
returns it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from burrow_jobs_sql import SQLStore
from burrow_tasks import JobQueue, JobsConfig, JobStatus

HANG_GUARD = 60.0
"""Seconds after which a wait counts as hung: far beyond the limits under test."""


class SilenceableProxy:
    """A TCP proxy in front of the database that can go silent: once ``silence()`` is called
    it forwards nothing more in either direction and closes nothing."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._speaking = asyncio.Event()
        self._speaking.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def silence(self) -> None:
        self._speaking.clear()

    def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._track(self._connect(client_r, client_w))

    async def _connect(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        server_r, server_w = await asyncio.open_connection(*self._target)
        self._writers += [client_w, server_w]
        self._track(self._pipe(client_r, server_w))
        self._track(self._pipe(server_r, client_w))

    def _track(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(65_536):
                await self._speaking.wait()  # silent: the bytes go nowhere, for ever
                sink.write(data)
                await sink.drain()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()


@pytest.fixture
async def proxy(db_kind: str, database_dsn: str) -> AsyncIterator[tuple[SilenceableProxy, str]]:
    if db_kind != "postgres":
        pytest.skip("a silent network path is PostgreSQL's (SQLite has no server)")
    url = make_url(database_dsn)
    made = SilenceableProxy(url.host or "127.0.0.1", url.port or 5432)
    port = await made.start()
    yield made, url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    await made.close()


async def test_a_silent_database_cannot_hold_shutdown_and_the_job_waits_for_a_rescue(
    proxy: tuple[SilenceableProxy, str], database_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    silenceable, dsn = proxy
    store = await SQLStore.open(dsn)  # the proxy runs on this event loop: never block it
    config = JobsConfig(
        workers=1,
        shutdown_grace=timedelta(milliseconds=100),
        shutdown_write_limit=timedelta(milliseconds=300),
    )
    queue = JobQueue(store, config)
    started = asyncio.Event()

    async def handler(payload: bytes) -> None:
        started.set()
        await asyncio.Event().wait()

    queue.handle("work", handler)
    job_id = await queue.enqueue("work", None)
    await queue.start()
    await asyncio.wait_for(started.wait(), HANG_GUARD)

    silenceable.silence()
    await asyncio.wait_for(queue.shutdown(), HANG_GUARD)
    await asyncio.wait_for(store.close(thread_timeout=0.3), HANG_GUARD)

    assert f"burrow-job-{job_id}" in caplog.text
    direct = await SQLStore.open(database_dsn)
    try:
        job = await direct.job_get(job_id)
        assert job is not None
        assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
        rescued = await direct.jobs_rescue(
            stale_before=datetime.now(UTC) + timedelta(hours=1), now=datetime.now(UTC)
        )
        assert rescued == [job_id]
        counts = await direct.jobs_count_by_status()
        assert counts[JobStatus.PENDING] == sum(counts.values()) == 1
    finally:
        await direct.close()
