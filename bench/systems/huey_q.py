"""huey with its SQLite storage (SqliteHuey), defaults, thread workers.

huey deletes a task from its queue when a worker takes it (before running it), so the
queue cannot tell completions. The no-op task returns True, which huey stores in its result
table after the task ran: those rows are the completed count. huey has no bulk enqueue.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from huey import SqliteHuey  # type: ignore[import-untyped]

from bench import probe
from bench.systems.base import System

QUEUE = "bench"


def _noop(i: int) -> bool:
    probe.record(i)
    return True


class HueySystem(System):
    name = "huey"
    database = "sqlite"
    kind = "peer"
    settings = "SqliteHuey defaults (WAL), thread workers = concurrency, default polling"

    _huey: Any = None
    _task: Any = None
    _consumer: Any = None
    _count_conn: sqlite3.Connection | None = None

    def _build(self) -> None:
        self._huey = SqliteHuey(QUEUE, filename=self.target.path)
        self._task = self._huey.task(name="noop")(_noop)

    async def install(self) -> None:
        self._build()  # SqliteHuey creates its tables

    async def open(self) -> None:
        self._build()
        self._count_conn = sqlite3.connect(self.target.path)

    async def close(self) -> None:
        if self._count_conn is not None:
            self._count_conn.close()
            self._count_conn = None

    async def enqueue_one(self, index: int) -> None:
        self._task(index)

    async def count_done(self) -> int:
        assert self._count_conn is not None
        row = self._count_conn.execute(
            "SELECT count(*) FROM kv WHERE queue = ?", (QUEUE,)
        ).fetchone()
        return int(row[0]) if row else 0

    async def prepare_worker(self, concurrency: int) -> None:
        self._build()
        self._consumer = self._huey.create_consumer(workers=concurrency, worker_type="thread")

    async def run_worker(self) -> None:
        # Blocks this process's event loop for good: huey's consumer is synchronous.
        self._consumer.run()
