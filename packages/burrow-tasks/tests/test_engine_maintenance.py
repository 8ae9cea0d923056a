"""Maintenance: rescue of stale running jobs (and its guard), cleanup of completed jobs."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from burrow_jobs_memory import MemoryStore
from burrow_tasks import FakeClock, JobQueue, JobsConfig, JobStatus
from burrow_tasks.types import JobId


async def _claimed_by_a_crashed_worker(queue: JobQueue) -> JobId:
    """A job claimed by a process that then died: it never heartbeats again."""
    queue.handle("work", lambda payload: None)
    job_id = await queue.enqueue("work", None)
    claimed = await queue.store.jobs_claim(1, types=["work"], now=queue.clock.now())
    assert [job.id for job in claimed] == [job_id]
    return job_id


async def test_maintenance_rescues_a_job_silent_past_the_stale_timeout(
    queue: JobQueue, clock: FakeClock
) -> None:
    job_id = await _claimed_by_a_crashed_worker(queue)
    clock.advance(queue.config.stale_timeout + timedelta(seconds=1))

    report = await queue.run_maintenance()

    assert report.rescued == [job_id]
    job = await queue.get_job(job_id)
    assert job.status is JobStatus.PENDING
    assert job.attempts == 1


async def test_maintenance_leaves_a_job_heartbeated_within_the_stale_timeout(
    queue: JobQueue, clock: FakeClock
) -> None:
    job_id = await _claimed_by_a_crashed_worker(queue)
    clock.advance(queue.config.stale_timeout - timedelta(seconds=1))

    report = await queue.run_maintenance()

    assert report.rescued == []
    assert (await queue.get_job(job_id)).status is JobStatus.RUNNING


async def test_a_rescued_job_runs_again(queue: JobQueue, clock: FakeClock) -> None:
    job_id = await _claimed_by_a_crashed_worker(queue)
    clock.advance(queue.config.stale_timeout + timedelta(seconds=1))
    await queue.run_maintenance()

    await queue.run_until_idle()

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.attempts == 2


async def test_the_maintenance_loop_rescues_within_one_interval_after_the_timeout(
    queue: JobQueue, clock: FakeClock
) -> None:
    job_id = await _claimed_by_a_crashed_worker(queue)
    await queue.start()
    limit = queue.config.stale_timeout + queue.config.maintenance_interval
    steps = int(limit / timedelta(minutes=1))
    for _ in range(steps):
        await clock.settle()
        clock.advance(timedelta(minutes=1))
    await clock.settle()
    await queue.run_until_idle()

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.attempts == 2


async def test_cleanup_deletes_completed_jobs_older_than_the_retention(
    queue: JobQueue, clock: FakeClock
) -> None:
    queue.handle("work", lambda payload: None)
    old = await queue.enqueue("work", None)
    await queue.run_until_idle()
    clock.advance(queue.config.completed_retention - timedelta(hours=1))
    recent = await queue.enqueue("work", None)
    await queue.run_until_idle()
    clock.advance(timedelta(hours=1, seconds=1))

    report = await queue.run_maintenance()

    assert report.deleted == 1
    assert await queue.store.job_get(old) is None
    assert (await queue.get_job(recent)).status is JobStatus.COMPLETED


async def test_cleanup_keeps_dead_and_failed_jobs(queue: JobQueue, clock: FakeClock) -> None:
    async def broken(payload: bytes) -> None:
        raise RuntimeError("no")

    queue.handle("dies", broken, max_retries=1)
    queue.handle("fails", broken, max_retries=5)
    dead = await queue.enqueue("dies", None)
    failed = await queue.enqueue("fails", None)
    await queue.run_until_idle()
    clock.advance(queue.config.completed_retention * 2)
    # Keep the failed one waiting: its retry is due, but nothing claims during maintenance.
    await queue.run_maintenance()

    assert (await queue.get_job(dead)).status is JobStatus.DEAD
    assert (await queue.get_job(failed)).status is JobStatus.FAILED


class BrokenRescueStore(MemoryStore):
    async def jobs_rescue(self, *, stale_before: datetime, now: datetime) -> list[JobId]:
        raise OSError("rescue statement failed")


async def test_a_failing_rescue_does_not_stop_the_cleanup(clock: FakeClock) -> None:
    queue = JobQueue(BrokenRescueStore(), JobsConfig(), clock=clock)
    queue.handle("work", lambda payload: None)
    await queue.enqueue("work", None)
    await queue.run_until_idle()
    clock.advance(queue.config.completed_retention * 2)

    report = await queue.run_maintenance()

    assert report.deleted == 1
    assert report.errors == ["rescue: rescue statement failed"]


class AwayRescueStore(MemoryStore):
    away = True

    async def jobs_rescue(self, *, stale_before: datetime, now: datetime) -> list[JobId]:
        if self.away:
            raise OSError("the database is restarting")
        return await super().jobs_rescue(stale_before=stale_before, now=now)


async def test_a_rescue_failing_pass_after_pass_logs_one_error_and_its_recovery(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = AwayRescueStore()
    queue = JobQueue(store, JobsConfig(), clock=clock)
    for _ in range(5):
        await queue.run_maintenance()
    store.away = False
    await queue.run_maintenance()

    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]
    assert messages == [
        (
            logging.ERROR,
            "burrow: rescuing stale jobs failed; trying again at the next maintenance pass",
        ),
        (logging.WARNING, "burrow: rescuing stale jobs works again after 5 failures in a row"),
    ]
