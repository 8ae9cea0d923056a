"""The measurements, W1 to W6 of issue 5. Each takes a fresh target and returns metrics.

The harness process enqueues and counts; workers are separate processes (bench.worker) so
"one worker process with concurrency 10" means exactly that. Completion is always counted in
the database (or, for the memory store, in the worker's store), never from logs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from bench import pgcpu, probe
from bench.garbage import settle_garbage
from bench.procs import WorkerProcess
from bench.settings import Sizes
from bench.stats import percentile
from bench.systems.base import System
from bench.targets import Target

Metrics = dict[str, float]

COARSE_POLL = 0.05
FINE_POLL = 0.005
"""Completion is polled finely in the first second and after 90% are done, coarsely in
between, so the harness's own queries cost little and the end is still timed within a few
milliseconds."""

STALL_SECONDS = 30.0
"""A processing run fails when no job completed for this long: a system that stopped. A slow
one that keeps completing jobs runs on (procrastinate did W3 at 69-106 jobs/s on one machine,
where a deadline at a fixed rate failed it while it still worked)."""

SLOWEST_RATE = 20.0
"""Jobs/s: a processing run fails after ``jobs / SLOWEST_RATE`` seconds (at least 90) in any
case, so a system that crawls cannot hold the harness for hours."""


class Incomplete(Exception):
    """Not every job was done: the run stalled or passed its deadline."""


async def enqueue(system_cls: type[System], target: Target, sizes: Sizes) -> Metrics:
    """W1: ``enqueue_jobs`` jobs, one call and one transaction each."""
    system = system_cls(target)
    await system.install()
    await system.open()
    try:
        settle_garbage()
        started = time.monotonic()
        for index in range(sizes.enqueue_jobs):
            await system.enqueue_one(index)
        elapsed = time.monotonic() - started
    finally:
        await system.close()
    return {"jobs_per_s": sizes.enqueue_jobs / elapsed, "seconds": elapsed}


async def batch(system_cls: type[System], target: Target, sizes: Sizes) -> Metrics:
    """W2: ``batch_jobs`` jobs through the bulk API in one call (NoBulkApi: "none")."""
    system = system_cls(target)
    await system.install()
    await system.open()
    try:
        settle_garbage()
        started = time.monotonic()
        await system.enqueue_batch(range(sizes.batch_jobs))
        elapsed = time.monotonic() - started
    finally:
        await system.close()
    return {"jobs_per_s": sizes.batch_jobs / elapsed, "seconds": elapsed}


async def process(
    system_cls: type[System],
    target: Target,
    sizes: Sizes,
    log_dir: Path,
    *,
    jobs: int,
    processes: int = 1,
    rss_checkpoint: int = 0,
) -> Metrics:
    """W3 (one process), W5 (several) and W6 (RSS checkpoints): pre-enqueue ``jobs``
    no-op jobs, start the workers, time until the database says all are completed."""
    if system_cls.counts_in_worker and processes != 1:
        raise ValueError(f"{system_cls.name} keeps jobs in one process; it cannot scale out")
    system = system_cls(target)
    await system.install()
    await system.open()
    workers: list[WorkerProcess] = []
    try:
        if not system_cls.counts_in_worker:
            await system.prefill(jobs)
        deadline_s = max(90.0, jobs / SLOWEST_RATE)
        measure_pg = target.database == "postgresql"
        # Backends open now are the harness's own; the database's CPU leaves them out.
        harness_pids = frozenset(pgcpu.sample(target.db_name)) if measure_pg else frozenset()
        for _ in range(processes):
            workers.append(
                WorkerProcess(
                    system_cls.name,
                    target,
                    concurrency=sizes.concurrency,
                    log_dir=log_dir,
                    prefill=jobs if system_cls.counts_in_worker else 0,
                    max_seconds=int(deadline_s + 300),
                )
            )
        for worker in workers:
            worker.wait_ready()
        counted: Callable[[], int] | None = None
        if system_cls.counts_in_worker:
            counted = workers[0].count_done
        pg_before = pgcpu.sample(target.db_name, harness_pids) if measure_pg else {}
        transactions_before = pgcpu.transactions(target.db_name) if measure_pg else 0
        cpu_before = [worker.cpu_seconds() for worker in workers]
        rss_at_start = workers[0].rss_bytes()
        started = time.monotonic()
        for worker in workers:
            worker.go()
        done = 0
        polls = 0
        rss_at_checkpoint = 0
        progressed = started
        while done < jobs:
            fine = done >= 0.9 * jobs or time.monotonic() - started < 1.0
            await asyncio.sleep(FINE_POLL if fine else COARSE_POLL)
            before, done = done, counted() if counted else await system.count_done()
            polls += 1
            now = time.monotonic()
            if done > before:
                progressed = now
            if rss_checkpoint and not rss_at_checkpoint and done >= rss_checkpoint:
                rss_at_checkpoint = workers[0].rss_bytes()
            if now - progressed > STALL_SECONDS:
                raise Incomplete(f"{done} of {jobs} done; none for {STALL_SECONDS:.0f} s")
            if now - started > deadline_s:
                raise Incomplete(f"{done} of {jobs} done after {deadline_s:.0f} s")
            for worker in workers:
                worker.check_alive()
        elapsed = time.monotonic() - started
        metrics: Metrics = {"jobs_per_s": jobs / elapsed, "seconds": elapsed}
        worker_cpu = sum(w.cpu_seconds() - b for w, b in zip(workers, cpu_before, strict=True))
        metrics["worker_cpu_pct"] = 100 * worker_cpu / elapsed
        metrics["worker_cpu_us_per_job"] = 1e6 * worker_cpu / jobs
        if measure_pg:
            pg_used = pgcpu.used(pg_before, pgcpu.sample(target.db_name, harness_pids))
            metrics["pg_cpu_pct"] = 100 * pg_used / elapsed
            metrics["pg_cpu_us_per_job"] = 1e6 * pg_used / jobs
            # What neither the workers nor the database spent on CPU: waits on round trips,
            # locks, fsync, and the other helpers sharing these 2 cores.
            metrics["idle_pct_of_workers"] = max(
                0.0, 100 - 100 * worker_cpu / (elapsed * processes)
            )
        if rss_checkpoint:
            rss_at_end = workers[0].rss_bytes()
            metrics["rss_start_mb"] = rss_at_start / 2**20
            metrics["rss_checkpoint_mb"] = rss_at_checkpoint / 2**20
            metrics["rss_end_mb"] = rss_at_end / 2**20
            metrics["rss_growth_pct"] = 100 * (rss_at_end - rss_at_checkpoint) / rss_at_checkpoint
    finally:
        for worker in workers:
            worker.kill()
        await system.close()
    if measure_pg:
        # Transactions per job: round trips that commit, the workers' and the harness's
        # count queries (one each poll) taken out. Stats are complete once backends exit.
        await asyncio.sleep(0.3)
        spent = pgcpu.transactions(target.db_name) - transactions_before - polls
        metrics["transactions_per_job"] = spent / jobs
    return metrics


async def latency(
    system_cls: type[System],
    target: Target,
    sizes: Sizes,
    log_dir: Path,
    *,
    in_process: bool = False,
) -> Metrics:
    """W4: ``latency_jobs`` jobs enqueued one by one at ``latency_rate``/s to an idle
    worker; handler start minus the start of the enqueue call. The idle worker's CPU is
    measured over ``idle_window`` first. ``in_process``: the enqueuer runs inside the
    worker process (one process, as an app with an embedded worker)."""
    jobs = sizes.latency_jobs
    system = system_cls(target)
    await system.install()
    probe_path = log_dir / f"probe-{system_cls.name}-{time.monotonic_ns()}.txt"
    enqueue_log = log_dir / f"enqueued-{system_cls.name}-{time.monotonic_ns()}.txt"
    enqueue_seconds = jobs / sizes.latency_rate
    if not in_process:
        await system.open()
    worker = WorkerProcess(
        system_cls.name,
        target,
        concurrency=sizes.concurrency,
        log_dir=log_dir,
        probe=probe_path,
        latency_jobs=jobs if in_process else 0,
        latency_rate=sizes.latency_rate,
        enqueue_log=enqueue_log,
        max_seconds=int(enqueue_seconds + 300),
    )
    try:
        worker.wait_ready()
        worker.go()
        cpu_before = worker.cpu_seconds()
        idle_started = time.monotonic()
        await asyncio.sleep(sizes.idle_window)
        idle_cpu = worker.cpu_seconds() - cpu_before
        idle_pct = 100 * idle_cpu / (time.monotonic() - idle_started)
        if in_process:
            worker.run_latency(timeout=enqueue_seconds + 60)
            enqueued = probe.read(enqueue_log)
        else:
            enqueued = {}
            interval = 1.0 / sizes.latency_rate
            settle_garbage()
            started = time.monotonic()
            for index in range(jobs):
                moment = time.monotonic()
                await system.enqueue_one(index)
                enqueued[index] = moment
                delay = started + (index + 1) * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
        deadline = time.monotonic() + 15.0
        starts = probe.read(probe_path)
        while len(starts) < jobs and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            worker.check_alive()
            starts = probe.read(probe_path)
    finally:
        worker.kill()
        await system.close()
    if len(starts) < jobs:
        raise Incomplete(f"{jobs - len(starts)} of {jobs} jobs never started")
    millis = [1000 * (starts[i] - enqueued[i]) for i in range(jobs)]
    return {
        "p50_ms": percentile(millis, 50),
        "p95_ms": percentile(millis, 95),
        "p99_ms": percentile(millis, 99),
        "max_ms": max(millis),
        "idle_cpu_pct": idle_pct,
    }
