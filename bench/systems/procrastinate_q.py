"""procrastinate on psycopg 3, with its defaults (LISTEN/NOTIFY, jobs kept on success)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from procrastinate import App, PsycopgConnector

from bench import probe
from bench.systems.base import System


async def noop(i: int) -> None:
    probe.record(i)


def _app(dsn: str) -> tuple[App, Any]:
    app = App(connector=PsycopgConnector(conninfo=dsn))
    task = app.task(name="noop")(noop)
    return app, task


class ProcrastinateSystem(System):
    name = "procrastinate"
    database = "postgresql"
    kind = "peer"
    settings = "psycopg pool; defaults, worker concurrency = concurrency"

    _app_: App | None = None
    _task: Any = None
    _count_conn: psycopg.Connection[Any] | None = None
    _concurrency = 10

    async def install(self) -> None:
        app, _ = _app(self.target.dsn)
        async with app.open_async():
            await app.schema_manager.apply_schema_async()

    async def open(self) -> None:
        self._app_, self._task = _app(self.target.dsn)
        await self._app_.open_async()
        self._count_conn = psycopg.connect(self.target.dsn, autocommit=True)

    async def close(self) -> None:
        if self._app_ is not None:
            await self._app_.close_async()
            self._app_ = None
        if self._count_conn is not None:
            self._count_conn.close()
            self._count_conn = None

    async def enqueue_one(self, index: int) -> None:
        await self._task.defer_async(i=index)

    async def enqueue_batch(self, indexes: Sequence[int]) -> None:
        await self._task.batch_defer_async(*[{"i": i} for i in indexes])

    async def count_done(self) -> int:
        assert self._count_conn is not None
        row = self._count_conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
        ).fetchone()
        return int(row[0]) if row else 0

    async def prepare_worker(self, concurrency: int) -> None:
        self._concurrency = concurrency
        self._app_, self._task = _app(self.target.dsn)
        await self._app_.open_async()

    async def run_worker(self) -> None:
        assert self._app_ is not None
        await self._app_.run_worker_async(
            concurrency=self._concurrency, install_signal_handlers=False
        )
