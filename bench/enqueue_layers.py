"""Where one enqueue's time goes, layer by layer: ``python -m bench.enqueue_layers postgresql``
(or ``sqlite``; ``--calls N``, ``--rounds N``, ``--pace-ms 50``).

W1 calls ``queue.enqueue`` one after another; W4 one every 50 ms, when every piece of code
runs cold. This peels a call apart on a fresh database, each layer measured the same way
(``--calls`` back to back, or ``--pace-ms`` apart; ``--rounds`` interleaved rounds; wall and
process CPU per call, every round printed):

- ``driver, event loop``: the store's insert straight on the driver (psycopg / sqlite3), on
  the event loop's thread, as the raw floor does it;
- ``SQLAlchemy, event loop``: the same statement through ``Connection.exec_driver_sql``;
- ``runner hop only``: a no-op handed to the store's SQL thread and back;
- ``runner + SQLAlchemy``: the insert on the SQL thread, as the store ran it before the lane;
- ``lane + SQLAlchemy`` (PostgreSQL): the insert on the lane, waited for on the caller's
  thread, as the store runs it;
- ``store.jobs_insert`` and ``queue.enqueue``: the store's and the app's calls.

The differences between neighbouring lines are what each layer costs. Back to back, each
line also gives the process's context switches per call (``getrusage``, every thread):
voluntary ones (a thread blocked: on the socket, the queue of SQL calls, the GIL) and
involuntary ones (a runnable thread descheduled, mostly by the thread it just woke). A tool
for finding time, not a benchmark figure: the full harness (``python -m bench``) measures W1.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from bench.phases import dsn_of
from bench.targets import Database, fresh
from burrow_jobs_sql import SQLStore
from burrow_jobs_sql.statements import POSTGRES_INSERT_ONE, SQLITE_INSERT_ONE
from burrow_tasks import JobQueue, open_queue
from burrow_tasks.jobs import NewJob

Layer = Callable[[], Awaitable[Any]]


async def _noop(payload: bytes) -> None:
    pass


def _layers(queue: JobQueue, store: SQLStore, connection: Connection) -> dict[str, Layer]:
    now = datetime.now(UTC)
    values: tuple[Any, ...]
    postgres = store.dialect == "postgresql"
    if postgres:
        sql, values = POSTGRES_INSERT_ONE, ("noop", "{}", 0, 3, now, now, now)
    else:
        stamp = int(now.timestamp() * 1_000_000)
        sql, values = SQLITE_INSERT_ONE, ("noop", "{}", 0, 3, stamp, stamp, stamp)
    driver = connection.connection.driver_connection
    assert driver is not None
    new_job = NewJob(type="noop", payload="{}", priority=0, max_retries=3, run_at=now)
    run = store._run  # the store's SQL thread: measured on purpose
    lane = store._lane  # the caller's thread, on PostgreSQL (postgres_inline.py)

    # The store's forms: RETURNING id on PostgreSQL, the cursor's lastrowid on SQLite.
    async def on_driver() -> Any:
        cursor = driver.execute(sql, values)
        return cursor.fetchone() if postgres else cursor.lastrowid

    async def on_sqlalchemy() -> Any:
        return insert(connection)

    def insert(c: Connection) -> Any:
        result = c.exec_driver_sql(sql, values)
        return result.scalar_one() if postgres else result.lastrowid

    return {
        "driver, event loop": on_driver,
        "SQLAlchemy, event loop": on_sqlalchemy,
        "runner hop only": lambda: run(lambda c: None),
        "runner + SQLAlchemy": lambda: run(insert),
        **({"lane + SQLAlchemy": lambda: lane.run(insert)} if lane is not None else {}),
        "store.jobs_insert": lambda: store.jobs_insert([new_job], now=now),
        "queue.enqueue": lambda: queue.enqueue("noop", {"i": 1}),
    }


class Timing(NamedTuple):
    """One layer's round, per call."""

    wall: float
    """µs."""
    cpu: float
    """Process CPU, µs."""
    voluntary: float
    """Context switches of a thread that blocked."""
    involuntary: float
    """Context switches of a runnable thread descheduled."""


def _switches() -> tuple[int, int]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw, usage.ru_nivcsw


async def _time_calls(layer: Layer, calls: int, pace: float) -> Timing:
    """Back to back the means per call; paced, the medians of the calls, each made ``pace``
    seconds after the one before returned (context switches then not counted: the pause's
    own would swamp them)."""
    if pace <= 0:
        switched, cpu, wall = _switches(), time.process_time(), time.perf_counter()
        for _ in range(calls):
            await layer()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        voluntary, involuntary = _switches()
        return Timing(
            wall / calls * 1e6,
            cpu / calls * 1e6,
            (voluntary - switched[0]) / calls,
            (involuntary - switched[1]) / calls,
        )
    walls, cpus = [], []
    for _ in range(calls):
        await asyncio.sleep(pace)
        cpu, wall = time.process_time(), time.perf_counter()
        await layer()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return Timing(statistics.median(walls) * 1e6, statistics.median(cpus) * 1e6, 0.0, 0.0)


async def measure(dsn: str, calls: int, rounds: int, pace: float) -> dict[str, list[Timing]]:
    """Per layer, one ``Timing`` for each round."""
    queue = open_queue(dsn)
    queue.handle("noop", _noop)
    store = queue.store
    assert isinstance(store, SQLStore)
    await store.jobs_count_by_status()  # opens and migrates
    results: dict[str, list[Timing]] = {}
    with store.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        layers = _layers(queue, store, connection)
        for _ in range(rounds):
            for name, layer in layers.items():
                for _ in range(max(calls // 10, 5)):  # warm: caches, prepared statements
                    await layer()
                results.setdefault(name, []).append(await _time_calls(layer, calls, pace))
    await queue.shutdown()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.enqueue_layers", description=__doc__)
    parser.add_argument("database", choices=["sqlite", "postgresql"])
    parser.add_argument("--calls", type=int, default=None, help="calls per layer and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument(
        "--pace-ms", type=float, default=0.0, help="pause before each call (W4: 50); medians"
    )
    args = parser.parse_args(argv)
    database: Database = args.database
    pace = args.pace_ms / 1000
    calls = args.calls or (100 if pace > 0 else 2_000)
    with fresh(database, "layers") as target:
        results = asyncio.run(measure(dsn_of(target), calls, args.rounds, pace))
    how = f"medians, one call every {args.pace_ms:g} ms" if pace > 0 else "means, back to back"
    print(f"{database}: µs per call, each round ({calls} calls; {how})")
    for name, rounds in results.items():
        walls = " ".join(f"{timing.wall:6.0f}" for timing in rounds)
        cpus = " ".join(f"{timing.cpu:6.0f}" for timing in rounds)
        line = f"  {name:24s} wall {walls}   process CPU {cpus}"
        if pace <= 0:
            switches = " ".join(
                f"{timing.voluntary:4.1f}+{timing.involuntary:3.1f}" for timing in rounds
            )
            line += f"   switches (voluntary+involuntary) {switches}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
