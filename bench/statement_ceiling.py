"""What PostgreSQL does with burrow's W3 statement alone, without the engine:
``python -m bench.statement_ceiling [--jobs 30000] [--connections 1,2,3] [--rounds 2]``.

A worker's steady state on PostgreSQL is one statement per batch: the completions of the last
batch and the claim of the next (``group_commit._postgres_combined``, a claim of
``workers + claim_ahead`` = 50). Here plain threads on psycopg connections (the store's
planner settings, autocommit) run exactly that statement back to back, each completing what
its previous statement claimed, until the jobs run out: the rate the statement allows on
this machine with 1, 2 or 3 of them in flight. The engine's own W3 runs up to three
(``pool._PARALLEL_CLAIMS``); the gap between the two is the engine's Python work and its
hand-offs between the event loop and the SQL threads. A tool for finding time, not a
benchmark figure.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.targets import fresh
from burrow_jobs_sql.group_commit import COMPLETE, ClaimStatement, _postgres_combined
from burrow_jobs_sql.statements import CLAIM_COLUMNS, build_claim
from burrow_tasks import open_queue

BATCH = 50
_LEASE_COLUMN = 6  # of the claim's RETURNING (CLAIM_COLUMNS)


async def _noop(payload: bytes) -> None:
    pass


async def _enqueue(dsn: str, jobs: int) -> None:
    queue = open_queue(dsn)
    queue.handle("noop", _noop)
    await queue.enqueue_batch("noop", [{"i": i} for i in range(jobs)])
    await queue.shutdown()


def _work_off(dsn: str, sql: str, seconds: list[float], done: list[int]) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        for setting in ("enable_sort = off", "enable_bitmapscan = off", "TimeZone = 'UTC'"):
            connection.execute(f"SET {setting}")
        held: list[Any] = []
        while True:
            now = datetime.now(UTC)
            params = {
                "now": now,
                "types": ["noop"],
                "w_id": [row[0] for row in held],
                "w_lease": [row[_LEASE_COLUMN] for row in held],
                "w_now": [now] * len(held),
                "w_result": [None] * len(held),
            }
            started = time.perf_counter()
            rows = connection.execute(sql, params).fetchall()
            seconds.append(time.perf_counter() - started)
            done.append(len(held))
            held = [row for row in rows if not row[-1]]
            if not held:
                return


def _round(dsn: str, sql: str, connections: int) -> tuple[float, float]:
    """(jobs/s, median ms per statement) of ``connections`` threads working the jobs off."""
    seconds: list[float] = []
    done: list[int] = []
    threads = [
        threading.Thread(target=_work_off, args=(dsn, sql, seconds, done))
        for _ in range(connections)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return sum(done) / elapsed, statistics.median(seconds) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.statement_ceiling")
    parser.add_argument("--jobs", type=int, default=30_000)
    parser.add_argument("--connections", default="1,2,3")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    counts = [int(text) for text in args.connections.split(",")]
    claim = ClaimStatement(build_claim(BATCH), {}, len(CLAIM_COLUMNS))
    sql = _postgres_combined(COMPLETE, claim)
    print(f"completion-and-claim statements of {BATCH}, {args.jobs:,} jobs per round")
    for _ in range(args.rounds):
        for count in counts:
            with fresh("postgresql", "statement_ceiling") as target:
                asyncio.run(_enqueue(target.dsn, args.jobs))
                rate, median_ms = _round(target.dsn, sql, count)
            print(f"  {count} in flight: {rate:9,.0f} jobs/s, {median_ms:.2f} ms per statement")


if __name__ == "__main__":
    main()
