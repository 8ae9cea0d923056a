"""burrow through its public API: ``open_queue(dsn, workers=...)``, ``queue.handle`` and
``enqueue`` / ``enqueue_batch``, ``start()``.

Default configuration except concurrency (``workers``), as issue 5 asks; durability is the
store's own (SQLite WAL with ``synchronous=FULL``, PostgreSQL stock). Completions are
counted as every other system's are, with one ``SELECT count(*) ... WHERE status =
'completed'`` on the database (burrow-memory, whose jobs live in the worker, through the
store's ``jobs_count_by_status``). The store's ``jobs_count_by_status`` counts every status
where the harness needs one, and the harness counts every 5 ms in a run's first second, most
of a burrow W3 run: measured when it was a ``GROUP BY`` over the whole table, 2.8 ms per call
on PostgreSQL with 10,000 jobs against 0.17 ms for the plain count.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from bench import probe
from bench.systems.base import System
from burrow_jobs_sql import SQLStore
from burrow_tasks import JobQueue, JobStatus, open_queue

JOB_TYPE = "noop"
COUNT_COMPLETED = "SELECT count(*) FROM burrow_jobs WHERE status = 'completed'"


async def _noop(payload: bytes) -> None:
    probe.record(json.loads(payload)["i"])


class _Burrow(System):
    kind = "burrow"
    settings = "defaults, workers = concurrency"

    _queue: JobQueue | None = None
    _worker: JobQueue | None = None

    def dsn(self) -> str:
        raise NotImplementedError

    def _open(self, **config: Any) -> JobQueue:
        queue = open_queue(self.dsn(), **config)
        queue.handle(JOB_TYPE, _noop)
        return queue

    async def install(self) -> None:
        # Opening the store creates the schema; the first measured call then finds it.
        await self._open().shutdown()

    async def open(self) -> None:
        self._queue = self._worker if self._worker is not None else self._open()
        # Counted once now, so the connection that counts is open before the database's CPU
        # is sampled: the harness's own, as every other system's counting connection is.
        await self.count_done()

    async def close(self) -> None:
        if self._queue is not None and self._queue is not self._worker:
            await self._queue.shutdown()
        self._queue = None

    def _client(self) -> JobQueue:
        if self._queue is None:
            raise RuntimeError("open() first")
        return self._queue

    async def enqueue_one(self, index: int) -> None:
        await self._client().enqueue(JOB_TYPE, {"i": index})

    async def enqueue_batch(self, indexes: Sequence[int]) -> None:
        await self._client().enqueue_batch(JOB_TYPE, [{"i": i} for i in indexes])

    async def count_done(self) -> int:
        store = self._client().store
        if not isinstance(store, SQLStore):
            counts = await store.jobs_count_by_status()
            return counts.get(JobStatus.COMPLETED, 0)
        with store.engine.connect() as connection:
            return int(connection.exec_driver_sql(COUNT_COMPLETED).scalar_one())

    async def prepare_worker(self, concurrency: int) -> None:
        self._worker = self._open(workers=concurrency)
        self._queue = self._worker

    async def run_worker(self) -> None:
        assert self._worker is not None
        await self._worker.start()
        await asyncio.Event().wait()  # the pool works in background tasks until killed


class BurrowMemory(_Burrow):
    name = "burrow-memory"
    database = "memory"
    counts_in_worker = True
    latency_in_process = True
    latency_cross_process = False
    _dsn: ClassVar[str] = "memory://bench"

    def dsn(self) -> str:
        # One named store per process: the worker's enqueuer and pool share it.
        return self._dsn


class BurrowSqlite(_Burrow):
    name = "burrow-sqlite"
    database = "sqlite"
    latency_in_process = True

    def dsn(self) -> str:
        return "sqlite:///" + str(Path(self.target.path).resolve())


class BurrowPostgres(_Burrow):
    name = "burrow-pg"
    database = "postgresql"

    def dsn(self) -> str:
        return self.target.dsn
