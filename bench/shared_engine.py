"""W3 in one process, on a store that owns its engine and on one that borrows an app's:
``python -m bench.shared_engine [--jobs 20000] [--rounds 2]``.

Each run gets a fresh PostgreSQL database whose jobs table no ANALYZE has seen (as after a
deploy, or a burst far larger than what the statistics remember): ``--jobs`` jobs are
enqueued in one batch, then a worker with concurrency 10 works them off, timed from
``start()`` until the database counts them all completed. ``dsn`` opens the store with
``open_queue(dsn)`` (its own connections, held per SQL thread); ``app engine`` with
``SQLStore.from_engine`` on a sync ``Engine`` of the app's (a connection borrowed per call).
Rounds alternate the two. A tool for finding time, not a benchmark figure.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import sqlalchemy as sa

from bench.completion import until_completed
from bench.targets import fresh
from burrow_jobs_sql import SQLStore
from burrow_jobs_sql.dsn import to_url
from burrow_tasks import JobQueue, JobsConfig, open_queue

WORKERS = 10


async def _noop(payload: bytes) -> None:
    pass


async def _worked_off(dsn: str, jobs: int, *, app_engine: bool) -> float:
    """Jobs per second of one worker over ``jobs`` jobs enqueued just before."""
    feeder = open_queue(dsn)
    feeder.handle("noop", _noop)
    await feeder.enqueue_batch("noop", [{"i": i} for i in range(jobs)])
    engine = sa.create_engine(to_url(dsn), pool_size=WORKERS) if app_engine else None
    if engine is not None:
        worker = JobQueue(SQLStore.from_engine(engine), JobsConfig(workers=WORKERS))
    else:
        worker = open_queue(dsn, workers=WORKERS)
    worker.handle("noop", _noop)
    try:
        await worker.store.jobs_count_by_status()  # connected before the clock starts
        started = time.perf_counter()
        await worker.start()
        await until_completed(feeder, jobs, poll=0.005)
        return jobs / (time.perf_counter() - started)
    finally:
        await worker.shutdown()
        await feeder.shutdown()
        if engine is not None:
            await worker.store.close()
            engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.shared_engine")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    results: dict[str, list[float]] = {"dsn": [], "app engine": []}
    for _ in range(args.rounds):
        for name in results:
            with fresh("postgresql", "shared_engine") as target:
                rate = asyncio.run(
                    _worked_off(target.dsn, args.jobs, app_engine=name == "app engine")
                )
            results[name].append(rate)
    print(f"in-process W3, {args.jobs:,} jobs on a never-analyzed table (jobs/s per round)")
    for name, rates in results.items():
        print(f"  {name:<11}", "  ".join(f"{rate:8,.0f}" for rate in rates))


if __name__ == "__main__":
    main()
