"""Where a W4 job's latency goes: ``python -m bench.latency_phases postgresql`` (or
``sqlite``; ``--jobs N``, ``--rate N``).

W4 enqueues one job every 50 ms to an idle worker and times the handler's start from the
enqueue call. This runs the same on a fresh database in one process, with two queues: one
enqueues, the other (10 slots, started) works. On PostgreSQL each has its own store, so the
worker hears of a job through LISTEN/NOTIFY as a worker process would; on SQLite the two
stores share the file, as an app with an embedded worker does (W4 in-process).

Each job is stamped on its way: the enqueue call, the enqueue's statement on the SQL thread
(PostgreSQL; a SQLite enqueue is written on the caller's thread), the call's return, the
worker's notification, the claim that took the job (its call, its statement on the SQL
thread, its return) and the handler's start. It prints the median, the 90th and the 99th
percentile of each step, and each step of the slowest jobs (``--slowest N``). The stamps
wrap the stores' runners and the worker store's methods, so this is a tool for finding time,
not a benchmark figure: the full harness (``python -m bench``) measures W4.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from bench.phases import dsn_of
from bench.stats import median, percentile
from bench.targets import Database, fresh
from burrow_jobs_sql import SQLStore
from burrow_jobs_sql.runner import Runner
from burrow_tasks import JobQueue, open_queue
from burrow_tasks.jobs import ClaimedJob, Notification

T = TypeVar("T")

Span = tuple[float, float]
"""``time.perf_counter()`` at a step's start and end."""

STEPS = (
    ("enqueue: to the SQL thread", "call", "enqueue_sql_start"),
    ("enqueue: statement", "enqueue_sql_start", "enqueue_sql_end"),
    ("enqueue: back to the caller", "enqueue_sql_end", "returned"),
    ("enqueue call", "call", "returned"),
    ("call to notification", "call", "notified"),
    ("notification to claim", "notified", "claim_call"),
    ("claim call", "claim_call", "claimed"),
    ("claim: to the SQL thread", "claim_call", "claim_sql_start"),
    ("claim: statement", "claim_sql_start", "claim_sql_end"),
    ("claim: back to the pool", "claim_sql_end", "claimed"),
    ("claimed to handler", "claimed", "handler"),
    ("total (W4's latency)", "call", "handler"),
)
BREAKDOWN = STEPS[3:-1]
"""The steps a slow job is broken down into: from the enqueue call to the handler, without
the enqueue's steps on its SQL thread (mostly not on its path) and the total."""


class Recorder:
    """The stamps of each job, and the spans of every call each store's runner ran."""

    def __init__(self) -> None:
        self.jobs: dict[int, dict[str, float]] = {}
        self.current: int | None = None
        self.runner_spans: dict[int, list[Span]] = {}
        """Per runner (``id()``), the SQL thread's span of each call."""

    def stamp(self, name: str, at: float | None = None) -> None:
        if self.current is not None:
            self.jobs.setdefault(self.current, {}).setdefault(
                name, time.perf_counter() if at is None else at
            )

    def spans_of(self, runner: Runner) -> list[Span]:
        return self.runner_spans.setdefault(id(runner), [])

    def add_sql_stamps(self, runner: Runner, step: str, start: str, end: str) -> None:
        """Stamp each job's ``<step>_sql_start`` and ``_end``: the span of ``runner``'s call
        that ran within the job's ``start`` and ``end`` stamps."""
        for job in self.jobs.values():
            if start not in job or end not in job:
                continue
            for span in self.spans_of(runner):
                if job[start] <= span[0] and span[1] <= job[end]:
                    job[f"{step}_sql_start"], job[f"{step}_sql_end"] = span
                    break


@contextmanager
def runner_spans(recorder: Recorder) -> Iterator[None]:
    """Every runner call's span on its SQL thread, while this is open."""
    original = Runner.__call__

    async def timed(self: Runner, work: Callable[[Connection], T]) -> T:
        def run(connection: Connection) -> T:
            started = time.perf_counter()
            try:
                return work(connection)
            finally:
                recorder.spans_of(self).append((started, time.perf_counter()))

        return await original(self, run)

    Runner.__call__ = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        Runner.__call__ = original  # type: ignore[method-assign]


def watch_worker(store: SQLStore, recorder: Recorder) -> None:
    """Stamp the worker store's notifications and the claim that returns the job."""
    claim = store.jobs_claim
    subscribe = store.notifications

    async def timed_claim(limit: int, *, types: Collection[str], now: datetime) -> list[ClaimedJob]:
        called = time.perf_counter()
        claimed = await claim(limit, types=types, now=now)
        if claimed:
            recorder.stamp("claim_call", called)
            recorder.stamp("claimed")
        return claimed

    async def stamped() -> AsyncIterator[Notification]:
        async for note in subscribe():
            recorder.stamp("notified")
            yield note

    store.jobs_claim = timed_claim  # type: ignore[method-assign]
    store.notifications = stamped  # type: ignore[method-assign]


async def measure(dsn: str, jobs: int, rate: float) -> Recorder:
    recorder = Recorder()

    async def handler(payload: Any) -> None:
        recorder.stamp("handler")

    worker = open_queue(dsn, workers=10)
    enqueuer = open_queue(dsn)
    for queue in (worker, enqueuer):
        queue.handle("noop", handler)
    worker_store, enqueue_store = _sql_store(worker), _sql_store(enqueuer)
    await enqueuer.enqueue("noop", {"i": -1})  # opens and migrates before the worker starts
    watch_worker(worker_store, recorder)
    with runner_spans(recorder):
        await worker.start()
        await asyncio.sleep(1.0)  # the worker's listener connects, its first claims return
        for index in range(jobs):
            recorder.current = index
            recorder.stamp("call")
            await enqueuer.enqueue("noop", {"i": index})
            recorder.stamp("returned")
            await asyncio.sleep(1.0 / rate)
        await asyncio.sleep(0.5)
        await worker.shutdown()
        await enqueuer.shutdown()
    recorder.add_sql_stamps(enqueue_store._run, "enqueue", "call", "returned")
    recorder.add_sql_stamps(worker_store._run, "claim", "claim_call", "claimed")
    return recorder


def _sql_store(queue: JobQueue) -> SQLStore:
    store = queue.store
    assert isinstance(store, SQLStore)
    return store


def report(database: Database, recorder: Recorder, jobs: int, rate: float, slowest: int) -> None:
    print(f"{database}: ms per job, {jobs} jobs at {rate:g}/s (median / 90th / 99th percentile)")
    for label, start, end in STEPS:
        steps = [s[end] - s[start] for s in recorder.jobs.values() if start in s and end in s]
        if not steps:
            print(f"  {label:30s}      -          (not on this path)")
            continue
        middle, p90, p99 = (
            median(steps) * 1e3,
            percentile(steps, 90) * 1e3,
            percentile(steps, 99) * 1e3,
        )
        print(f"  {label:30s} {middle:6.2f} / {p90:6.2f} / {p99:6.2f}   ({len(steps)} jobs)")
    _report_slowest(recorder, slowest)


def _report_slowest(recorder: Recorder, count: int) -> None:
    """The steps of the ``count`` slowest jobs: which step a tail latency sits in."""
    _label, first, last = STEPS[-1]
    done = [(index, s) for index, s in recorder.jobs.items() if first in s and last in s]
    done.sort(key=lambda item: item[1][last] - item[1][first], reverse=True)
    for index, stamps in done[:count]:
        steps = ", ".join(
            f"{label} {(stamps[end] - stamps[start]) * 1e3:.2f}"
            for label, start, end in BREAKDOWN
            if start in stamps and end in stamps
        )
        total = (stamps[last] - stamps[first]) * 1e3
        print(f"  slow job {index}: {total:.2f} ms = {steps}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency_phases", description=__doc__)
    parser.add_argument("database", choices=["sqlite", "postgresql"])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="jobs per second (W4: 20)")
    parser.add_argument("--slowest", type=int, default=3, help="slow jobs to break down")
    args = parser.parse_args(argv)
    database: Database = args.database
    with fresh(database, "latency") as target:
        recorder = asyncio.run(measure(dsn_of(target), args.jobs, args.rate))
    report(database, recorder, args.jobs, args.rate, args.slowest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
