"""oban-py (PyPI ``oban``), the Python port of Elixir's Oban, with its defaults.

The worker class lives at module level: oban finds workers by their import path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from oban import Job, Oban, worker
from oban.schema import install

from bench import probe
from bench.systems.base import System


@worker(queue="default")
class NoopWorker:
    async def process(self, job: Job) -> None:
        probe.record(job.args["i"])


class ObanSystem(System):
    name = "oban"
    database = "postgresql"
    kind = "peer"
    settings = "psycopg pool; defaults, queue limit = concurrency"

    _pool: Any = None
    _oban: Oban | None = None
    _concurrency = 10

    async def install(self) -> None:
        pool = await Oban.create_pool(self.target.dsn)
        try:
            await install(pool)
        finally:
            await pool.close()

    async def open(self) -> None:
        self._pool = await Oban.create_pool(self.target.dsn)
        self._oban = Oban(pool=self._pool)  # client mode: no queues

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _client(self) -> Oban:
        if self._oban is None:
            raise RuntimeError("open() first")
        return self._oban

    async def enqueue_one(self, index: int) -> None:
        await self._client().enqueue(NoopWorker.new({"i": index}))  # type: ignore[attr-defined]

    async def enqueue_batch(self, indexes: Sequence[int]) -> None:
        jobs = [NoopWorker.new({"i": i}) for i in indexes]  # type: ignore[attr-defined]
        await self._client().enqueue_many(jobs)

    async def count_done(self) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute("SELECT count(*) FROM oban_jobs WHERE state = 'completed'")
            row = await cursor.fetchone()
        return int(row[0])

    async def prepare_worker(self, concurrency: int) -> None:
        self._concurrency = concurrency
        self._pool = await Oban.create_pool(self.target.dsn)

    async def run_worker(self) -> None:
        oban = Oban(pool=self._pool, queues={"default": self._concurrency})
        await oban.start()
        await asyncio.Event().wait()  # oban works in background tasks until killed
