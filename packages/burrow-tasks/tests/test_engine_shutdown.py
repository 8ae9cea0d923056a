"""Graceful shutdown: stop claiming, wait the grace period, then release what is still held."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import pytest

from burrow_jobs_memory import MemoryStore
from burrow_tasks import (
    ClaimedJob,
    Completion,
    FakeClock,
    JobQueue,
    JobsConfig,
    JobStatus,
    PoolState,
    WorkerInfo,
)


async def _start_blocked(queue: JobQueue, max_retries: int = 3) -> tuple[str, asyncio.Event]:
    started = asyncio.Event()
    finish = asyncio.Event()

    async def handler(payload: bytes) -> None:
        started.set()
        await finish.wait()

    queue.handle("work", handler, max_retries=max_retries)
    job_id = await queue.enqueue("work", None)
    await queue.start()
    await started.wait()
    return job_id, finish


async def test_shutdown_lets_an_in_flight_job_finish(queue: JobQueue, clock: FakeClock) -> None:
    job_id, finish = await _start_blocked(queue)

    stopping = asyncio.ensure_future(queue.shutdown())
    await clock.settle()
    assert not queue.done.is_set()
    finish.set()
    await stopping

    assert (await queue.get_job(job_id)).status is JobStatus.COMPLETED
    assert queue.done.is_set()


async def test_shutdown_releases_a_hung_handler_after_the_grace_period(
    queue: JobQueue, clock: FakeClock
) -> None:
    job_id, _ = await _start_blocked(queue)

    stopping = asyncio.ensure_future(queue.shutdown())
    await clock.settle()
    clock.advance(queue.config.shutdown_grace - timedelta(seconds=1))
    await clock.settle()
    assert not stopping.done()
    clock.advance(timedelta(seconds=1))
    await stopping

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.PENDING
    assert job.attempts == 1
    assert job.lease is None
    assert queue.in_flight == 0


async def test_shutdown_on_the_last_attempt_sends_the_job_dead(
    queue: JobQueue, clock: FakeClock
) -> None:
    job_id, _ = await _start_blocked(queue, max_retries=1)

    stopping = asyncio.ensure_future(queue.shutdown())
    await clock.settle()
    clock.advance(queue.config.shutdown_grace)
    await stopping

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.DEAD
    assert job.error_class == "burrow_tasks.ShutdownInterrupted"


async def test_shutdown_does_not_wait_for_a_hung_sync_handler_after_the_grace(
    queue: JobQueue, clock: FakeClock
) -> None:
    started = threading.Event()
    unblock = threading.Event()
    handler_thread: list[threading.Thread] = []

    def handler(payload: bytes) -> None:
        handler_thread.append(threading.current_thread())
        started.set()
        unblock.wait(10)

    queue.handle("sync-hang", handler)
    job_id = await queue.enqueue("sync-hang", None)
    await queue.start()
    await asyncio.to_thread(started.wait, 10)

    stopping = asyncio.ensure_future(queue.shutdown())
    await clock.settle()
    clock.advance(queue.config.shutdown_grace)
    await stopping

    assert (await queue.get_job(job_id)).status is JobStatus.PENDING
    assert handler_thread[0].daemon
    assert handler_thread[0].is_alive()
    unblock.set()


async def test_a_stopped_queue_claims_nothing_more(queue: JobQueue, clock: FakeClock) -> None:
    ran: list[bytes] = []

    async def handler(payload: bytes) -> None:
        ran.append(payload)

    queue.handle("work", handler)
    await queue.start()
    await queue.shutdown()
    job_id = await queue.enqueue("work", None)
    clock.advance(timedelta(minutes=1))
    await clock.settle()

    assert ran == []
    assert (await queue.get_job(job_id)).status is JobStatus.PENDING
    assert queue.status().state is PoolState.STOPPED


async def test_shutdown_stops_every_background_task(queue: JobQueue, clock: FakeClock) -> None:
    queue.handle("work", lambda payload: None)
    await queue.start()
    await clock.settle()
    before = {t for t in asyncio.all_tasks() if t.get_name().startswith("burrow-")}
    assert before

    await queue.shutdown()
    await clock.settle()

    assert all(t.done() for t in before)
    assert clock.sleepers == 0


async def test_shutdown_of_a_queue_never_started_sets_done(queue: JobQueue) -> None:
    await queue.shutdown()
    assert queue.done.is_set()


async def test_shutdown_does_not_wait_for_a_sync_handler_that_ignores_a_lost_lease(
    queue: JobQueue, clock: FakeClock
) -> None:
    started = threading.Event()
    unblock = threading.Event()

    def handler(payload: bytes) -> None:
        started.set()
        unblock.wait(10)  # ignores cancel_requested

    queue.handle("stubborn", handler)
    job_id = await queue.enqueue("stubborn", None)
    await queue.start()
    await asyncio.to_thread(started.wait, 10)
    await queue.store.job_delete(job_id)
    await clock.settle()
    clock.advance(queue.config.heartbeat_interval)  # the refused heartbeat tells it to stop
    await clock.settle()

    stopping = asyncio.ensure_future(queue.shutdown())
    await clock.settle()
    clock.advance(queue.config.shutdown_grace)
    await stopping

    assert queue.done.is_set()
    assert queue.in_flight == 0
    unblock.set()


class GatedClaimStore(MemoryStore):
    """Every claim waits for ``gate``, as a database that stopped answering for a while,
    and, like a database, finishes a claim whose caller went away."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = 0

    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[ClaimedJob]:
        self.waiting += 1
        claim = asyncio.ensure_future(self._claim_when_open(limit, types, now))
        return await asyncio.shield(claim)

    async def _claim_when_open(
        self, limit: int, types: Collection[str], now: datetime
    ) -> list[ClaimedJob]:
        await self.gate.wait()
        return await super().jobs_claim(limit, types=types, now=now)


async def test_jobs_of_a_claim_abandoned_at_shutdown_are_released_when_it_returns(
    clock: FakeClock,
) -> None:
    store = GatedClaimStore()
    queue = JobQueue(store, clock=clock)
    queue.handle("work", lambda payload: None)
    job_id = await queue.enqueue("work", None)
    await queue.start()
    await clock.settle()
    assert store.waiting == 1

    stopping = asyncio.ensure_future(queue.shutdown())
    await clock.settle()
    clock.advance(queue.config.shutdown_grace)
    await stopping
    store.gate.set()
    await clock.settle()

    job = await store.job_get(job_id)
    assert job is not None
    assert job.status is JobStatus.PENDING
    assert job.lease is None


HANG_GUARD = 30.0
"""Seconds after which a shutdown counts as hung (the clock is fake: it needs none)."""


class SilentStore(MemoryStore):
    """A database that stops answering writes once ``silent`` is set, until ``answer``."""

    def __init__(self) -> None:
        super().__init__()
        self.silent = False
        self.answer = asyncio.Event()

    async def _wait_if_silent(self) -> None:
        if self.silent:
            await self.answer.wait()

    async def job_release(self, job_id: str, lease: str, *, now: datetime) -> bool:
        await self._wait_if_silent()
        return await super().job_release(job_id, lease, now=now)

    async def worker_beat(self, info: WorkerInfo, *, now: datetime) -> None:
        await self._wait_if_silent()
        await super().worker_beat(info, now=now)


async def _stop_with_silent_store(
    store: SilentStore, queue: JobQueue, clock: FakeClock
) -> tuple[str, asyncio.Future[None]]:
    job_id, _ = await _start_blocked(queue)
    store.silent = True
    stopping = asyncio.ensure_future(queue.shutdown())
    await clock.settle()
    clock.advance(queue.config.shutdown_grace)
    await clock.settle()
    return job_id, stopping


async def test_shutdown_gives_up_on_writes_the_database_does_not_answer(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = SilentStore()
    queue = JobQueue(store, clock=clock)
    job_id, stopping = await _stop_with_silent_store(store, queue, clock)
    assert not stopping.done()

    clock.advance(queue.config.shutdown_write_limit)
    await asyncio.wait_for(stopping, HANG_GUARD)

    assert queue.done.is_set()
    assert f"burrow-job-{job_id}" in caplog.text
    store.silent = False
    job = await store.job_get(job_id)
    assert job is not None
    assert job.status is JobStatus.RUNNING  # held in the store for a rescue, not lost


async def test_shutdown_keeps_a_write_answered_within_the_write_limit(clock: FakeClock) -> None:
    store = SilentStore()
    queue = JobQueue(store, clock=clock)
    job_id, stopping = await _stop_with_silent_store(store, queue, clock)

    clock.advance(queue.config.shutdown_write_limit - timedelta(seconds=1))
    await clock.settle()
    store.answer.set()
    await asyncio.wait_for(stopping, HANG_GUARD)

    job = await store.job_get(job_id)
    assert job is not None
    assert job.status is JobStatus.PENDING


async def test_a_shutdown_whose_caller_gives_up_still_releases_the_jobs_it_held(
    queue: JobQueue, clock: FakeClock
) -> None:
    job_id, _ = await _start_blocked(queue)

    impatient = asyncio.ensure_future(queue.shutdown())
    await clock.settle()
    impatient.cancel()  # asyncio.wait_for(queue.shutdown(), ...) timing out
    await clock.settle()
    assert not queue.done.is_set()  # not "stopped" while the handler runs

    clock.advance(queue.config.shutdown_grace)
    async with asyncio.timeout(HANG_GUARD):
        await queue.shutdown()  # a second call waits for the same shutdown

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.PENDING
    assert job.lease is None
    assert queue.done.is_set()


async def test_a_claim_in_flight_at_shutdown_shares_the_one_grace_with_the_handlers(
    clock: FakeClock,
) -> None:
    store = GatedClaimStore()
    store.gate.set()
    queue = JobQueue(store, JobsConfig(workers=2), clock=clock)
    started = asyncio.Event()

    async def handler(payload: bytes) -> None:
        started.set()
        await clock.sleep(50)  # longer than the grace (30 s)

    queue.handle("work", handler)
    job_id = await queue.enqueue("work", None)
    await queue.start()
    await started.wait()
    store.gate.clear()  # the claim for the free slot now waits on the database
    for _ in range(3):  # the next polls
        clock.advance(queue.config.poll_interval)
        await clock.settle()
    assert store.waiting == 2

    stopping = asyncio.ensure_future(queue.shutdown())
    await clock.settle()
    clock.advance(queue.config.shutdown_grace)
    async with asyncio.timeout(HANG_GUARD):
        # Before, the claim used up the grace and the handler was given a second one.
        await stopping

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.PENDING  # released at the grace, not completed at 50 s


async def test_a_shutdown_during_the_first_worker_beat_leaves_no_loop_running(
    clock: FakeClock,
) -> None:
    store = SlowFirstBeatStore()
    queue = JobQueue(store, clock=clock)
    queue.handle("work", lambda payload: None)
    starting = asyncio.ensure_future(queue.start())
    await asyncio.sleep(0)
    assert store.beats_waiting == 1

    stopping = asyncio.ensure_future(queue.shutdown())
    await asyncio.sleep(0)
    store.beat_gate.set()
    async with asyncio.timeout(HANG_GUARD):
        await starting
        await stopping

    engine_tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("burrow-")]
    assert [t.get_name() for t in engine_tasks if not t.done()] == []


class SlowFirstBeatStore(MemoryStore):
    """The worker's first beat waits for ``beat_gate``."""

    def __init__(self) -> None:
        super().__init__()
        self.beat_gate = asyncio.Event()
        self.beats_waiting = 0

    async def worker_beat(self, info: WorkerInfo, *, now: datetime) -> None:
        self.beats_waiting += 1
        await self.beat_gate.wait()
        await super().worker_beat(info, now=now)


class HeldCompletionsStore(MemoryStore):
    """``jobs_complete`` waits until ``release`` is set, as a slow database would."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def jobs_complete(
        self, completions: Sequence[Completion], *, now: datetime
    ) -> list[bool]:
        await self.release.wait()
        return await super().jobs_complete(completions, now=now)


async def test_shutdown_waits_for_the_completion_of_a_handler_that_returns_when_stopped(
    clock: FakeClock,
) -> None:
    store = HeldCompletionsStore()
    queue = JobQueue(store, JobsConfig(), clock=clock)
    started = asyncio.Event()

    async def handler(payload: bytes) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return  # told to stop at the end of the grace: it wraps up and returns

    queue.handle("work", handler)
    job_id = await queue.enqueue("work", None)
    await queue.start()
    await started.wait()
    stopping = asyncio.ensure_future(queue.shutdown())
    await clock.settle()
    clock.advance(queue.config.shutdown_grace)
    await clock.settle()

    assert not stopping.done()  # the completion is still being written
    store.release.set()
    await stopping
    job = await store.job_get(job_id)
    assert job is not None
    assert job.status is JobStatus.COMPLETED
