"""pgqueuer on asyncpg, with its own defaults (its best configuration per issue 5).

pgqueuer deletes a job when it completes (and logs it), so the completed count is the
number this client enqueued minus the rows still queued.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Job
from pgqueuer.queries import Queries

from bench import probe
from bench.systems.base import System

ENTRYPOINT = "noop"


def _payload(index: int) -> bytes:
    return json.dumps({"i": index}).encode()


class PgQueuerSystem(System):
    name = "pgqueuer"
    database = "postgresql"
    kind = "peer"
    settings = "asyncpg; defaults (batch_size=10, no task cap, LISTEN/NOTIFY)"

    _conn: Any = None
    _queries: Queries | None = None
    _enqueued = 0
    _pgq: PgQueuer | None = None

    async def install(self) -> None:
        conn = await asyncpg.connect(self.target.dsn)
        try:
            await Queries(AsyncpgDriver(conn)).install()
        finally:
            await conn.close()

    async def open(self) -> None:
        self._conn = await asyncpg.connect(self.target.dsn)
        self._queries = Queries(AsyncpgDriver(self._conn))

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def _client(self) -> Queries:
        if self._queries is None:
            raise RuntimeError("open() first")
        return self._queries

    async def enqueue_one(self, index: int) -> None:
        await self._client().enqueue(ENTRYPOINT, _payload(index))
        self._enqueued += 1

    async def enqueue_batch(self, indexes: Sequence[int]) -> None:
        count = len(indexes)
        await self._client().enqueue(
            [ENTRYPOINT] * count, [_payload(i) for i in indexes], [0] * count
        )
        self._enqueued += count

    async def count_done(self) -> int:
        remaining = await self._conn.fetchval("SELECT count(*) FROM pgqueuer")
        return self._enqueued - int(remaining)

    async def prepare_worker(self, concurrency: int) -> None:
        # concurrency is pgqueuer's own default here: batches of 10, no cap on tasks.
        conn = await asyncpg.connect(self.target.dsn)
        pgq = PgQueuer(AsyncpgDriver(conn))

        @pgq.entrypoint(ENTRYPOINT)
        async def noop(job: Job) -> None:
            assert job.payload is not None
            probe.record(json.loads(job.payload)["i"])

        self._pgq = pgq

    async def run_worker(self) -> None:
        assert self._pgq is not None
        await self._pgq.run()
