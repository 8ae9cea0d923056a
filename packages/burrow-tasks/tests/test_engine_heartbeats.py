"""Leases while a handler runs: heartbeats, rescue of silent jobs, cancels from anywhere."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from burrow_jobs_memory import MemoryStore
from burrow_tasks import (
    Capability,
    FakeClock,
    JobQueue,
    JobsConfig,
    JobStatus,
    current_job,
    define_result_task,
)
from burrow_tasks.jobs import Notification
from burrow_tasks.types import JobId, Lease

Tick = Callable[[float], Awaitable[None]]


class SilentHeartbeatStore(MemoryStore):
    """Heartbeats fail (as if the database were unreachable) once ``silent`` is set."""

    silent = False

    async def job_heartbeat(self, job_id: JobId, lease: Lease, *, now: datetime) -> bool:
        if self.silent:
            raise OSError("database unreachable")
        return await super().job_heartbeat(job_id, lease, now=now)


class NoNotifyStore(MemoryStore):
    """A store that cannot notify: cancels reach the engine only through heartbeats."""

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset()


def blocking_handler(
    started: asyncio.Event, cancelled: list[str]
) -> Callable[[bytes], Awaitable[None]]:
    async def handler(payload: bytes) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(current_job().id)
            raise

    return handler


def _handled_until_finished(
    queue: JobQueue, type_name: str, max_retries: int = 3
) -> tuple[asyncio.Event, asyncio.Event]:
    """Registers a handler that sets the first event when it starts and returns once the
    second is set."""
    started = asyncio.Event()
    finish = asyncio.Event()

    async def handler(payload: bytes) -> None:
        started.set()
        await finish.wait()

    queue.handle(type_name, handler, max_retries=max_retries)
    return started, finish


async def test_a_25_minute_handler_that_heartbeats_is_never_rescued(
    queue: JobQueue, clock: FakeClock, tick: Tick
) -> None:
    async def long_report(payload: bytes) -> None:
        await clock.sleep(timedelta(minutes=25))

    queue.handle("report", long_report)
    job_id = await queue.enqueue("report", None)
    await queue.start()
    await clock.settle()
    statuses: set[JobStatus] = set()
    for _ in range(50):  # 25 minutes in 30 s steps: five maintenance passes
        statuses.add((await queue.get_job(job_id)).status)
        await tick(30)

    job = await queue.get_job(job_id)
    assert statuses == {JobStatus.RUNNING}
    assert job.status is JobStatus.COMPLETED
    assert job.attempts == 1


async def test_a_job_whose_heartbeats_stop_is_rescued_after_the_stale_timeout(
    clock: FakeClock, tick: Tick
) -> None:
    store = SilentHeartbeatStore()
    queue = JobQueue(store, clock=clock)
    started, finish = _handled_until_finished(queue, "silent", max_retries=1)
    job_id = await queue.enqueue("silent", None)
    await queue.start()
    await started.wait()
    store.silent = True

    for _ in range(19):  # 9.5 minutes: not stale yet
        await tick(30)
    assert (await queue.get_job(job_id)).status is JobStatus.RUNNING
    for _ in range(12):  # past the stale timeout and the next maintenance pass
        await tick(30)

    rescued = await queue.get_job(job_id)
    assert rescued.status is JobStatus.DEAD
    assert rescued.error_class == "burrow_tasks.LeaseExpired"

    finish.set()  # the handler finishes late: its complete is refused by the lease
    await clock.settle()
    assert (await queue.get_job(job_id)).status is JobStatus.DEAD
    await _shutdown(queue, clock)


async def test_a_cancel_then_retry_refuses_the_first_runs_late_complete(
    queue: JobQueue, clock: FakeClock
) -> None:
    first_started = threading.Event()
    first_may_finish = threading.Event()
    second_may_finish = threading.Event()
    runs = 0
    lock = threading.Lock()

    def handler(payload: None) -> str:
        nonlocal runs
        with lock:
            runs += 1
            run = runs
        if run == 1:
            first_started.set()
            first_may_finish.wait(10)
            assert current_job().cancel_requested
            return "first"
        second_may_finish.wait(10)
        return "second"

    report = define_result_task("report", handler)
    report.register(queue)
    job_id = await report.enqueue(None)
    await queue.start()
    await asyncio.to_thread(first_started.wait, 10)

    await queue.dequeue(job_id)
    await queue.retry(job_id)
    await clock.settle()  # the pool reclaims it: a second run under a new lease
    assert queue.in_flight == 2

    first_may_finish.set()
    await _until(lambda: queue.in_flight == 1)
    after_first = await queue.get_job(job_id)
    assert after_first.status is JobStatus.RUNNING
    assert after_first.result is None

    second_may_finish.set()
    await queue.run_until_idle()
    assert await queue.get_result(job_id) == "second"


async def test_a_cancel_through_this_queue_stops_an_async_handler_at_once(
    queue: JobQueue, clock: FakeClock
) -> None:
    started = asyncio.Event()
    cancelled: list[str] = []
    queue.handle("wait", blocking_handler(started, cancelled))
    job_id = await queue.enqueue("wait", None)
    await queue.start()
    await started.wait()

    await queue.dequeue(job_id)
    await clock.settle()

    assert cancelled == [job_id]
    job = await queue.get_job(job_id)
    assert job.status is JobStatus.DEAD
    assert job.cancelled


async def test_a_cancel_through_a_second_queue_stops_an_async_handler_within_one_heartbeat(
    clock: FakeClock, tick: Tick
) -> None:
    store = NoNotifyStore()
    worker = JobQueue(store, clock=clock)
    admin = JobQueue(store, clock=clock)
    started = asyncio.Event()
    cancelled: list[str] = []
    worker.handle("wait", blocking_handler(started, cancelled))
    job_id = await worker.enqueue("wait", None)
    await worker.start()
    await started.wait()

    await admin.dequeue(job_id)
    await clock.settle()
    assert cancelled == []  # no notification: the next heartbeat finds out
    await tick(worker.config.heartbeat_interval.total_seconds())

    assert cancelled == [job_id]
    assert worker.in_flight == 0
    await _shutdown(worker, clock)


async def test_a_cancel_through_a_second_queue_is_seen_at_once_where_the_store_notifies(
    store: MemoryStore, clock: FakeClock
) -> None:
    worker = JobQueue(store, clock=clock)
    admin = JobQueue(store, clock=clock)
    started = asyncio.Event()
    cancelled: list[str] = []
    worker.handle("wait", blocking_handler(started, cancelled))
    job_id = await worker.enqueue("wait", None)
    await worker.start()
    await started.wait()

    await admin.dequeue(job_id)
    await _until(lambda: bool(cancelled))

    assert cancelled == [job_id]
    await _shutdown(worker, clock)


async def test_a_refused_heartbeat_sets_cancel_requested_for_a_sync_handler(
    queue: JobQueue, tick: Tick
) -> None:
    started = threading.Event()
    saw_cancel: list[bool] = []

    def handler(payload: bytes) -> None:
        started.set()
        saw_cancel.append(current_job().wait_cancelled(10))

    queue.handle("sync-wait", handler)
    job_id = await queue.enqueue("sync-wait", None)
    await queue.start()
    await asyncio.to_thread(started.wait, 10)

    await queue.store.job_delete(job_id)  # deleted elsewhere
    await tick(queue.config.heartbeat_interval.total_seconds())
    await queue.run_until_idle()

    assert saw_cancel == [True]


async def test_a_delete_through_this_queue_stops_the_running_handler(
    queue: JobQueue, clock: FakeClock
) -> None:
    started = asyncio.Event()
    cancelled: list[str] = []
    queue.handle("wait", blocking_handler(started, cancelled))
    job_id = await queue.enqueue("wait", None)
    await queue.start()
    await started.wait()

    await queue.delete(job_id)
    await clock.settle()

    assert cancelled == [job_id]
    assert queue.in_flight == 0


async def _until(condition: Callable[[], bool]) -> None:
    """Let the event loop run until ``condition`` holds (sync handlers finish on threads)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never held")


async def _shutdown(queue: JobQueue, clock: FakeClock) -> None:
    stopping = asyncio.ensure_future(queue.shutdown())
    while not stopping.done():
        await clock.settle()
        clock.advance(queue.config.shutdown_grace)
        await asyncio.sleep(0)
    await stopping


class OneSlowHeartbeatStore(MemoryStore):
    """The heartbeat of the first job claimed waits for ``answer``, as a row another
    transaction holds locked."""

    def __init__(self) -> None:
        super().__init__()
        self.slow_job: JobId | None = None
        self.answer = asyncio.Event()
        self.renewed: list[JobId] = []

    async def job_heartbeat(self, job_id: JobId, lease: Lease, *, now: datetime) -> bool:
        if job_id == self.slow_job:
            await self.answer.wait()
        self.renewed.append(job_id)
        return await super().job_heartbeat(job_id, lease, now=now)


async def test_a_heartbeat_the_store_is_slow_to_answer_holds_back_no_other(
    clock: FakeClock, tick: Tick
) -> None:
    store = OneSlowHeartbeatStore()
    queue = JobQueue(store, clock=clock)
    started, finish = _handled_until_finished(queue, "work")
    slow, other = await queue.enqueue("work", 1), await queue.enqueue("work", 2)
    store.slow_job = slow
    await queue.start()
    await started.wait()
    await tick(30)  # one heartbeat interval

    assert store.renewed == [other]
    store.answer.set()
    await clock.settle()
    assert sorted(store.renewed) == sorted([other, slow])
    finish.set()
    await _shutdown(queue, clock)


class EndingNotifyStore(MemoryStore):
    """Its notifications end at once, as a store's whose listener gave up."""

    def notifications(self) -> AsyncIterator[Notification]:
        async def none() -> AsyncIterator[Notification]:
            return
            yield  # an async generator that yields nothing

        return none()


async def test_notifications_that_end_while_the_pool_runs_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = JobQueue(EndingNotifyStore(), JobsConfig(workers=1), clock=FakeClock())
    with caplog.at_level(logging.WARNING, logger="burrow_tasks"):
        await queue.start()
        for _ in range(5):
            await asyncio.sleep(0)
        await queue.shutdown()

    assert "store notifications ended; relying on polling" in caplog.text
