"""Where a W3 batch's wall time goes in burrow's SQL store: ``python -m bench.phases sqlite``
(or ``postgresql``; ``--jobs N``).

Runs one W3 in this process (one queue, 10 slots, pre-enqueued no-op jobs) with each flush of
the group commit stamped at four points: handed to the runner on the event loop, started and
finished on the SQL thread, and resumed on the loop. Prints the medians of the four phases a
flush passes through one after the other: the event loop's work between two flushes (claimed
rows to jobs, handlers, completions), the hop to the SQL thread, the flush (outcome writes and
the next claim; with the SQL thread's CPU time) and the hop back. A flush carries one claim's
jobs: ten, or twenty once the engine claims a batch ahead.

The stamps wrap two internals of ``burrow_jobs_sql.group_commit``, so this is a tool for
finding time, not a benchmark figure: the full harness (``python -m bench``) measures W3.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from bench.targets import Database, Target, fresh
from burrow_jobs_sql import group_commit
from burrow_tasks import JobStatus, open_queue

SLOTS = 10


@dataclass
class Stamps:
    """The four stamps of each flush (``time.perf_counter``), in flush order."""

    handed: list[float] = field(default_factory=list)
    started: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    resumed: list[float] = field(default_factory=list)
    flush_cpu: list[float] = field(default_factory=list)
    """CPU time of the SQL thread during each flush (``time.thread_time``)."""


def instrument(stamps: Stamps) -> Callable[[], None]:
    """Wrap the flush and the writer so every flush is stamped; returns the undo."""
    writer_cls = group_commit.BulkWriter
    queue_cls = group_commit._LoopQueue
    write_and_claim = writer_cls.write_and_claim
    flush = queue_cls._flush

    def stamped_write_and_claim(
        self: group_commit.BulkWriter,
        connection: Connection,
        writes: Sequence[group_commit.OutcomeWrite],
        claims: Sequence[Any],
    ) -> tuple[list[bool], list[Any]]:
        stamps.started.append(time.perf_counter())
        cpu = time.thread_time()
        try:
            return write_and_claim(self, connection, writes, claims)
        finally:
            stamps.flush_cpu.append(time.thread_time() - cpu)
            stamps.finished.append(time.perf_counter())

    async def stamped_flush(self: Any, batch: list[Any], claims: list[Any]) -> None:
        run = self._run

        async def stamped_run(work: Callable[[Connection], Any]) -> Any:
            stamps.handed.append(time.perf_counter())
            result = await run(work)
            stamps.resumed.append(time.perf_counter())
            return result

        self._run = stamped_run
        try:
            await flush(self, batch, claims)
        finally:
            self._run = run

    writer_cls.write_and_claim = stamped_write_and_claim  # type: ignore[method-assign]
    queue_cls._flush = stamped_flush  # type: ignore[method-assign]

    def undo() -> None:
        writer_cls.write_and_claim = write_and_claim  # type: ignore[method-assign]
        queue_cls._flush = flush  # type: ignore[method-assign]

    return undo


def dsn_of(target: Target) -> str:
    if target.database == "postgresql":
        return target.dsn
    return "sqlite:///" + str(Path(target.path).resolve())


async def _noop(payload: bytes) -> None:
    json.loads(payload)


async def run_w3(dsn: str, jobs: int, stamps: Stamps) -> float:
    """Enqueue ``jobs``, work them off with one queue of ``SLOTS`` slots; the jobs/s."""
    filler = open_queue(dsn)
    filler.handle("noop", _noop)
    for start in range(0, jobs, 2_000):
        await filler.enqueue_batch(
            "noop", [{"i": i} for i in range(start, min(jobs, start + 2_000))]
        )
    await filler.shutdown()
    worker = open_queue(dsn, workers=SLOTS)
    worker.handle("noop", _noop)
    undo = instrument(stamps)
    try:
        began = time.perf_counter()
        await worker.start()
        while True:  # completions counted in the database, as W3 counts them
            counts = await worker.store.jobs_count_by_status()
            if counts.get(JobStatus.COMPLETED, 0) >= jobs:
                break
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - began
    finally:
        undo()
        await worker.shutdown()
    return jobs / elapsed


def report(stamps: Stamps) -> dict[str, float]:
    """Median µs of each phase, leaving out the first and last ten flushes (start, drain)."""
    flushes = list(
        zip(
            stamps.handed,
            stamps.started,
            stamps.finished,
            stamps.resumed,
            stamps.flush_cpu,
            strict=False,
        )
    )[10:-10]
    if len(flushes) < 3:
        raise SystemExit(f"only {len(flushes)} flushes to look at: give more --jobs")
    loop = [flushes[i + 1][0] - flushes[i][3] for i in range(len(flushes) - 1)]
    phases = {
        "event loop": loop,
        "hop to the SQL thread": [f[1] - f[0] for f in flushes],
        "flush (writes + claim)": [f[2] - f[1] for f in flushes],
        "  of which SQL-thread CPU": [f[4] for f in flushes],
        "hop back": [f[3] - f[2] for f in flushes],
    }
    return {name: statistics.median(values) * 1e6 for name, values in phases.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.phases", description=__doc__)
    parser.add_argument("database", choices=["sqlite", "postgresql"])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs to work off")
    args = parser.parse_args(argv)
    database: Database = args.database
    stamps = Stamps()
    with fresh(database, "phases") as target:
        rate = asyncio.run(run_w3(dsn_of(target), args.jobs, stamps))
    medians = report(stamps)
    print(f"{database}: {rate:,.0f} jobs/s, {len(stamps.handed)} flushes; medians per flush (µs):")
    for name, micros in medians.items():
        print(f"  {name:24s} {micros:8,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
