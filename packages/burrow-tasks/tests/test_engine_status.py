"""Worker status: what this process and other processes see of a pool."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import datetime, timedelta

from burrow_jobs_memory import MemoryStore
from burrow_tasks import ClaimedJob, FakeClock, JobQueue, PoolState, WorkerState


async def test_a_queue_never_started_reports_not_started(queue: JobQueue) -> None:
    assert queue.status().state is PoolState.NOT_STARTED


async def test_a_started_pool_reports_running_with_its_workers(
    queue: JobQueue, clock: FakeClock
) -> None:
    queue.handle("work", lambda payload: None)
    await queue.start()
    await clock.settle()

    status = queue.status()
    assert status.state is PoolState.RUNNING
    assert status.workers == queue.config.workers
    assert status.last_poll_at == clock.now()


async def test_a_started_pool_is_published_for_other_processes(
    queue: JobQueue, clock: FakeClock
) -> None:
    queue.handle("work", lambda payload: None)
    await queue.start()
    await clock.settle()

    records = await queue.store.workers_list(seen_since=clock.now() - timedelta(minutes=1))
    assert [r.info.id for r in records] == [queue.worker_id]
    assert records[0].info.state is WorkerState.RUNNING
    assert records[0].info.types == ("work",)


async def test_a_stopped_pool_is_published_as_stopped(queue: JobQueue, clock: FakeClock) -> None:
    await queue.start()
    await queue.shutdown()

    records = await queue.store.workers_list(seen_since=clock.now())
    assert records[0].info.state is WorkerState.STOPPED
    assert queue.status().state is PoolState.STOPPED


class HangingClaimStore(MemoryStore):
    """The second claim never returns, as with a database that stopped answering."""

    claims = 0

    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[ClaimedJob]:
        self.claims += 1
        if self.claims > 1:
            await asyncio.Event().wait()
        return await super().jobs_claim(limit, types=types, now=now)


async def test_a_pool_whose_polls_stop_reports_stalled(clock: FakeClock) -> None:
    queue = JobQueue(HangingClaimStore(), clock=clock)
    queue.handle("work", lambda payload: None)
    await queue.start()
    for _ in range(31):
        await clock.settle()
        clock.advance(timedelta(seconds=1))
    await clock.settle()

    assert queue.status().state is PoolState.STALLED
    stopping = asyncio.ensure_future(queue.shutdown())
    await clock.settle()
    clock.advance(queue.config.shutdown_grace)
    await stopping
