"""The engine runs registered jobs: order, schedules, outcomes, sync and async handlers."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Awaitable
from datetime import timedelta

from burrow_jobs_memory import MemoryStore
from burrow_tasks import FakeClock, JobQueue, JobsConfig, JobStatus, with_priority


async def test_a_job_enqueued_and_run_is_completed(queue: JobQueue) -> None:
    seen: list[bytes] = []

    async def handler(payload: bytes) -> None:
        seen.append(payload)

    queue.handle("greet", handler)
    job_id = await queue.enqueue("greet", {"name": "Ada"})
    await queue.run_until_idle()

    assert json.loads(seen[0]) == {"name": "Ada"}
    job = await queue.get_job(job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.attempts == 1


async def test_higher_priority_runs_first_then_fifo(queue: JobQueue) -> None:
    order: list[str] = []

    def record(payload: bytes) -> None:
        order.append(json.loads(payload))

    queue.handle("low", record)
    queue.handle("high", record, with_priority(10))
    await queue.enqueue("low", "low-1")
    await queue.enqueue("low", "low-2")
    await queue.enqueue("high", "high-1")
    await queue.enqueue_batch("low", ["low-3", "low-4"])

    # One worker, so the claim order is the run order.
    single = JobQueue(queue.store, queue.config.replace(workers=1), clock=queue.clock)
    single.handle("low", record)
    single.handle("high", record)
    await single.run_until_idle()

    assert order == ["high-1", "low-1", "low-2", "low-3", "low-4"]


async def test_a_scheduled_job_waits_for_its_time(queue: JobQueue, clock: FakeClock) -> None:
    ran: list[str] = []

    async def handler(payload: bytes) -> None:
        ran.append(json.loads(payload))

    queue.handle("later", handler)
    job_id = await queue.enqueue_at("later", "x", clock.now() + timedelta(minutes=5))
    await queue.run_until_idle()
    assert ran == []
    assert (await queue.get_job(job_id)).status is JobStatus.PENDING

    clock.advance(timedelta(minutes=5))
    await queue.run_until_idle()
    assert ran == ["x"]


async def test_a_type_without_a_handler_here_is_not_claimed(
    store: MemoryStore, clock: FakeClock
) -> None:
    producer = JobQueue(store, clock=clock)
    producer.handle("elsewhere", lambda payload: None)
    job_id = await producer.enqueue("elsewhere", {})

    worker = JobQueue(store, clock=clock)
    worker.handle("mine", lambda payload: None)
    await worker.run_until_idle()

    job = await worker.get_job(job_id)
    assert job.status is JobStatus.PENDING
    assert job.attempts == 0


async def test_a_sync_handler_runs_on_a_daemon_thread(queue: JobQueue) -> None:
    threads: list[threading.Thread] = []

    def handler(payload: bytes) -> None:
        threads.append(threading.current_thread())

    queue.handle("sync", handler)
    job_id = await queue.enqueue("sync", None)
    await queue.run_until_idle()

    assert threads[0] is not threading.main_thread()
    assert threads[0].daemon
    assert (await queue.get_job(job_id)).status is JobStatus.COMPLETED


async def test_a_handler_exception_is_recorded_and_scheduled_for_retry(
    queue: JobQueue, clock: FakeClock
) -> None:
    async def handler(payload: bytes) -> None:
        raise ValueError("the printer is on fire")

    queue.handle("boom", handler)
    job_id = await queue.enqueue("boom", None)
    await queue.run_until_idle()

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.last_error == "the printer is on fire"
    assert job.error_class == "builtins.ValueError"
    assert job.error_traceback is not None
    assert "the printer is on fire" in job.error_traceback
    assert job.run_at == clock.now() + timedelta(seconds=30)


async def test_an_error_quoting_a_nul_byte_or_a_lone_surrogate_is_recorded_escaped(
    queue: JobQueue,
) -> None:
    async def handler(payload: bytes) -> None:
        raise ValueError("bad input: nul \x00 and \ud800")

    queue.handle("hostile", handler)
    job_id = await queue.enqueue("hostile", None)
    await queue.run_until_idle()

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.last_error == "bad input: nul \\x00 and \\ud800"
    assert job.error_traceback is not None
    assert "bad input: nul \\x00 and \\ud800" in job.error_traceback


async def test_a_sync_handler_exception_is_recorded_with_its_class(queue: JobQueue) -> None:
    class QuotaExceeded(Exception):
        pass

    def handler(payload: bytes) -> None:
        raise QuotaExceeded("over quota")

    queue.handle("sync-boom", handler)
    job_id = await queue.enqueue("sync-boom", None)
    await queue.run_until_idle()

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.last_error == "over quota"
    assert job.error_class == f"{__name__}.{QuotaExceeded.__qualname__}"


async def test_a_worker_survives_a_failing_handler_and_runs_the_next_job(
    queue: JobQueue,
) -> None:
    async def fails(payload: bytes) -> None:
        raise RuntimeError("nope")

    async def works(payload: bytes) -> None:
        pass

    queue.handle("fails", fails)
    queue.handle("works", works)
    failed = await queue.enqueue("fails", None)
    worked = await queue.enqueue("works", None)
    await queue.run_until_idle()

    assert (await queue.get_job(failed)).status is JobStatus.FAILED
    assert (await queue.get_job(worked)).status is JobStatus.COMPLETED


async def test_jobs_fail_then_complete_on_retry(queue: JobQueue, clock: FakeClock) -> None:
    calls = 0

    async def flaky(payload: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError(f"attempt {calls} failed")

    queue.handle("flaky", flaky, max_retries=3)
    job_id = await queue.enqueue("flaky", None)
    for delay in (0, 30, 60):
        clock.advance(timedelta(seconds=delay))
        await queue.run_until_idle()

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.attempts == 3
    assert job.last_error == "attempt 2 failed"


async def test_a_job_that_always_fails_is_dead_after_max_retries(
    queue: JobQueue, clock: FakeClock
) -> None:
    async def broken(payload: bytes) -> None:
        raise RuntimeError("always")

    queue.handle("broken", broken, max_retries=4)
    job_id = await queue.enqueue("broken", None)
    for _ in range(10):
        await queue.run_until_idle()
        clock.advance(timedelta(hours=1))

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.DEAD
    assert job.attempts == 4
    assert job.failed_at is not None


async def test_retries_back_off_30s_1m_2m_4m(queue: JobQueue, clock: FakeClock) -> None:
    async def broken(payload: bytes) -> None:
        raise RuntimeError("always")

    queue.handle("broken", broken, max_retries=5)
    job_id = await queue.enqueue("broken", None)
    delays: list[timedelta] = []
    for _ in range(4):
        await queue.run_until_idle()
        job = await queue.get_job(job_id)
        delays.append(job.run_at - clock.now())
        clock.set(job.run_at)

    assert delays == [
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
    ]


async def test_a_retry_base_delay_of_zero_retries_at_once(
    store: MemoryStore, clock: FakeClock
) -> None:
    queue = JobQueue(store, JobsConfig(retry_base_delay=timedelta(0)), clock=clock)
    calls = 0

    async def flaky(payload: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first")

    queue.handle("flaky", flaky)
    job_id = await queue.enqueue("flaky", None)
    await queue.run_until_idle()

    assert calls == 2
    assert (await queue.get_job(job_id)).status is JobStatus.COMPLETED


async def test_workers_run_jobs_concurrently_up_to_the_configured_number(
    store: MemoryStore, clock: FakeClock
) -> None:
    queue = JobQueue(store, JobsConfig(workers=3), clock=clock)
    running = 0
    peak = 0
    release = asyncio.Event()

    async def handler(payload: bytes) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1

    queue.handle("slow", handler)
    await queue.enqueue_batch("slow", list(range(5)))
    idle = asyncio.ensure_future(queue.run_until_idle())
    await clock.settle()
    assert queue.in_flight == 3
    release.set()
    await idle
    assert peak == 3


async def test_a_cancelled_error_the_handler_raises_itself_is_recorded_as_a_failure(
    queue: JobQueue,
) -> None:
    async def handler(payload: bytes) -> None:
        # It awaited something another part of the app cancelled: not a stop by the engine.
        gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        gone.cancel()
        await gone

    queue.handle("await-gone", handler)
    job_id = await queue.enqueue("await-gone", None)
    await queue.run_until_idle()

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error_class == "asyncio.exceptions.CancelledError"
    assert job.lease is None
    assert queue.in_flight == 0


async def test_a_sync_handler_may_return_an_awaitable_which_the_engine_awaits(
    queue: JobQueue,
) -> None:
    done: list[str] = []

    async def later(name: str) -> None:
        await asyncio.sleep(0)
        done.append(name)

    def handler(payload: bytes) -> Awaitable[None]:
        return later(json.loads(payload))

    queue.handle("hand-back", handler)
    job_id = await queue.enqueue("hand-back", "ada")
    await queue.run_until_idle()

    assert done == ["ada"]
    assert (await queue.get_job(job_id)).status is JobStatus.COMPLETED


async def test_a_dequeue_stops_the_awaitable_a_sync_handler_returned(
    queue: JobQueue, clock: FakeClock
) -> None:
    started = asyncio.Event()
    stopped: list[str] = []

    async def wait_forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopped.append("cancelled")
            raise

    queue.handle("hand-back", lambda payload: wait_forever())
    job_id = await queue.enqueue("hand-back", None)
    await queue.start()
    await started.wait()

    await queue.dequeue(job_id)
    await clock.settle()

    assert stopped == ["cancelled"]
    assert (await queue.get_job(job_id)).cancelled
    await queue.shutdown()


async def test_a_handler_that_calls_sys_exit_fails_and_the_worker_runs_on(
    queue: JobQueue,
) -> None:
    def exits(payload: bytes) -> None:
        sys.exit(2)  # what argparse does with arguments it refuses

    async def exits_on_the_loop(payload: bytes) -> None:
        sys.exit(3)

    queue.handle("exits", exits)
    queue.handle("exits-async", exits_on_the_loop)
    queue.handle("next", lambda payload: None)
    exited = await queue.enqueue("exits", None)
    exited_async = await queue.enqueue("exits-async", None)
    following = await queue.enqueue("next", None)
    await queue.run_until_idle()

    for job_id in (exited, exited_async):
        job = await queue.get_job(job_id)
        assert job.status is JobStatus.FAILED
        assert job.error_class == "builtins.SystemExit"
    assert (await queue.get_job(following)).status is JobStatus.COMPLETED


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for this one")


class _NotAnException(BaseException):
    """Raised by a handler that should not: it derives from BaseException directly."""


async def test_an_error_that_cannot_print_itself_is_recorded_as_a_failure(
    queue: JobQueue,
) -> None:
    async def raises(payload: bytes) -> None:
        raise _Unprintable

    queue.handle("unprintable", raises)
    job_id = await queue.enqueue("unprintable", None)
    await queue.run_until_idle()

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.last_error == "<exception str() failed: _Unprintable>"


async def test_a_base_exception_a_handler_raises_fails_its_job_and_the_worker_runs_on(
    queue: JobQueue,
) -> None:
    def raises(payload: bytes) -> None:
        raise _NotAnException("from a thread")

    async def raises_on_the_loop(payload: bytes) -> None:
        raise _NotAnException("on the loop")

    queue.handle("base", raises)
    queue.handle("base-async", raises_on_the_loop)
    queue.handle("next", lambda payload: None)
    raised = [await queue.enqueue("base", None), await queue.enqueue("base-async", None)]
    following = await queue.enqueue("next", None)
    await queue.run_until_idle()

    for job_id in raised:
        job = await queue.get_job(job_id)
        assert job.status is JobStatus.FAILED
        assert (job.error_class or "").endswith("._NotAnException")
    assert (await queue.get_job(following)).status is JobStatus.COMPLETED


async def test_a_keyboard_interrupt_a_handler_raises_fails_its_job_and_the_worker_runs_on(
    queue: JobQueue,
) -> None:
    async def interrupted(payload: bytes) -> None:
        raise KeyboardInterrupt

    queue.handle("interrupted", interrupted)
    queue.handle("next", lambda payload: None)
    job_id = await queue.enqueue("interrupted", None)
    following = await queue.enqueue("next", None)
    await queue.run_until_idle()

    job = await queue.get_job(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error_class == "builtins.KeyboardInterrupt"
    assert (await queue.get_job(following)).status is JobStatus.COMPLETED
