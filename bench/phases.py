"""Where a W3 statement's wall time goes in burrow's SQL store: ``python -m bench.phases
sqlite`` (or ``postgresql``; ``--jobs N``).

Runs one W3 in this process (one queue, 10 slots, pre-enqueued no-op jobs) with every
statement of the group commit stamped at four points: handed to the runner on the event loop,
started and finished on the SQL thread, and resumed on the loop. A statement is a flush (the
outcome writes waiting and, on PostgreSQL, the claims folded into it) or a claim that ran
alone beside a flush. On PostgreSQL a worker keeps up to three in flight, so the statements
overlap: the tool prints how many were in flight on average, how many jobs each wrote and
claimed, and for the flushes the medians of the hop to the SQL thread, the statement there
(with the thread's CPU time) and the hop back.

The stamps wrap two internals of ``burrow_jobs_sql.group_commit``, so this is a tool for
finding time, not a benchmark figure: the full harness (``python -m bench``) measures W3.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from bench.completion import until_completed
from bench.targets import Database, Target, fresh
from burrow_jobs_sql import group_commit
from burrow_tasks import open_queue

SLOTS = 10
EDGE = 10
"""Statements left out at each end (the start and the drain)."""


@dataclass
class Statement:
    """One statement's stamps (``time.perf_counter``) and what it carried."""

    handed: float
    started: float = 0.0
    finished: float = 0.0
    resumed: float = 0.0
    cpu: float = 0.0
    """CPU time of the SQL thread while it ran (``time.thread_time``)."""
    flush: bool = False
    """A flush (writes, and claims folded in); else a claim alone."""
    writes: int = 0
    claimed: int = 0


def instrument(statements: list[Statement]) -> Callable[[], None]:
    """Stamp every statement of every group commit made from now on; returns the undo."""
    commit_cls = group_commit.GroupCommit
    writer_cls = group_commit.BulkWriter
    init = commit_cls.__init__
    write_and_claim = writer_cls.write_and_claim
    running = threading.local()  # the statement the SQL thread is running

    def stamped_init(
        self: group_commit.GroupCommit, run: group_commit.RunFn, writer: group_commit.BulkWriter
    ) -> None:
        async def stamped_run(work: Callable[[Connection], Any]) -> Any:
            record = Statement(time.perf_counter())

            def stamped_work(connection: Connection) -> Any:
                record.started = time.perf_counter()
                cpu = time.thread_time()
                running.record = record
                try:
                    return work(connection)
                finally:
                    running.record = None
                    record.cpu = time.thread_time() - cpu
                    record.finished = time.perf_counter()

            result = await run(stamped_work)
            record.resumed = time.perf_counter()
            if not record.flush and isinstance(result, list):
                record.claimed = len(result)
            statements.append(record)
            return result

        init(self, stamped_run, writer)

    def counted_write_and_claim(
        self: group_commit.BulkWriter,
        connection: Connection,
        writes: Sequence[group_commit.OutcomeWrite],
        claims: Sequence[Any],
    ) -> tuple[list[bool], list[Any]]:
        verdicts, claimed = write_and_claim(self, connection, writes, claims)
        record: Statement | None = getattr(running, "record", None)
        if record is not None:
            record.flush = True
            record.writes = len(writes)
            record.claimed = sum(len(rows) for rows in claimed)
        return verdicts, claimed

    commit_cls.__init__ = stamped_init  # type: ignore[method-assign]
    writer_cls.write_and_claim = counted_write_and_claim  # type: ignore[method-assign]

    def undo() -> None:
        commit_cls.__init__ = init  # type: ignore[method-assign]
        writer_cls.write_and_claim = write_and_claim  # type: ignore[method-assign]

    return undo


def dsn_of(target: Target) -> str:
    if target.database == "postgresql":
        return target.dsn
    return "sqlite:///" + str(Path(target.path).resolve())


async def _noop(payload: bytes) -> None:
    json.loads(payload)


async def run_w3(dsn: str, jobs: int, statements: list[Statement]) -> float:
    """Enqueue ``jobs``, work them off with one queue of ``SLOTS`` slots; the jobs/s."""
    filler = open_queue(dsn)
    filler.handle("noop", _noop)
    for start in range(0, jobs, 2_000):
        await filler.enqueue_batch(
            "noop", [{"i": i} for i in range(start, min(jobs, start + 2_000))]
        )
    await filler.shutdown()
    undo = instrument(statements)  # before the worker's store makes its group commit
    try:
        worker = open_queue(dsn, workers=SLOTS)
        worker.handle("noop", _noop)
        try:
            began = time.perf_counter()
            await worker.start()
            await until_completed(worker, jobs, poll=0.02)
            elapsed = time.perf_counter() - began
        finally:
            await worker.shutdown()
    finally:
        undo()
    return jobs / elapsed


def report(statements: Sequence[Statement]) -> list[tuple[str, float]]:
    """What the statements carried and where a flush's time went (µs, medians), leaving out
    the first and last ``EDGE`` statements (the start and the drain)."""
    kept = sorted(statements, key=lambda s: s.handed)[EDGE:-EDGE]
    flushes = [s for s in kept if s.flush]
    if len(flushes) < 3:
        raise SystemExit(f"only {len(flushes)} flushes to look at: give more --jobs")
    span = max(s.resumed for s in kept) - min(s.handed for s in kept)
    claims = [s.claimed for s in kept if s.claimed]
    return [
        ("flushes", len(flushes)),
        ("claims run alone", len(kept) - len(flushes)),
        ("statements in flight, mean", sum(s.resumed - s.handed for s in kept) / span),
        ("writes per flush, median", statistics.median(s.writes for s in flushes)),
        ("jobs per claim, median", statistics.median(claims) if claims else 0.0),
        ("flush: hop to the SQL thread µs", _median_us(s.started - s.handed for s in flushes)),
        ("flush: statement µs", _median_us(s.finished - s.started for s in flushes)),
        ("  of which SQL-thread CPU µs", _median_us(s.cpu for s in flushes)),
        ("flush: hop back µs", _median_us(s.resumed - s.finished for s in flushes)),
    ]


def _median_us(seconds: Iterable[float]) -> float:
    return statistics.median(seconds) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.phases", description=__doc__)
    parser.add_argument("database", choices=["sqlite", "postgresql"])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs to work off")
    args = parser.parse_args(argv)
    database: Database = args.database
    statements: list[Statement] = []
    with fresh(database, "phases") as target:
        rate = asyncio.run(run_w3(dsn_of(target), args.jobs, statements))
    print(f"{database}: {rate:,.0f} jobs/s, {len(statements)} statements")
    for name, value in report(statements):
        print(f"  {name:34s} {value:9,.1f}" if value % 1 else f"  {name:34s} {value:7,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
