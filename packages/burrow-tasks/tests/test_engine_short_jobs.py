"""Jobs whose handler returns at once: on Python 3.12+ they run inside the claim (an eager
task start), and every guarantee holds as for jobs that wait."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from burrow_jobs_memory import MemoryStore
from burrow_tasks import FakeClock, JobQueue, JobsConfig, JobStatus
from burrow_tasks.jobs import Completion
from burrow_tasks.types import JobId, Lease


class SlowCompletionStore(MemoryStore):
    """Holds every completion until ``release`` is set, as a slow database would."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.waiting = 0

    async def job_complete(
        self, job_id: JobId, lease: Lease, *, result: str | None, now: datetime
    ) -> bool:
        self.waiting += 1
        await self.release.wait()
        return await super().job_complete(job_id, lease, result=result, now=now)

    async def jobs_complete(
        self, completions: Sequence[Completion], *, now: datetime
    ) -> list[bool]:
        self.waiting += len(completions)
        await self.release.wait()
        return await super().jobs_complete(completions, now=now)


async def _noop(payload: bytes) -> None:
    return None


async def _started(
    store: MemoryStore, clock: FakeClock, *, workers: int, jobs: int
) -> tuple[JobQueue, list[JobId]]:
    """A running queue of ``workers`` slots that has had ``jobs`` quick jobs to work on and
    one settle of the event loop; the clock never moves, so no poll interval passes."""
    queue = JobQueue(store, JobsConfig(workers=workers), clock=clock)
    queue.handle("quick", _noop)
    job_ids = await queue.enqueue_batch("quick", list(range(jobs)))
    await queue.start()
    await clock.settle()
    return queue, job_ids


async def test_a_backlog_of_short_jobs_is_worked_off_without_waiting_for_a_poll(
    clock: FakeClock,
) -> None:
    store = MemoryStore()
    queue, _ = await _started(store, clock, workers=2, jobs=7)

    counts = await store.jobs_count_by_status()
    assert counts[JobStatus.COMPLETED] == 7
    await queue.shutdown()


async def test_shutdown_waits_for_the_outcome_of_a_job_that_finished_inside_the_claim(
    clock: FakeClock,
) -> None:
    store = SlowCompletionStore()
    queue, [job_id] = await _started(store, clock, workers=1, jobs=1)
    assert store.waiting == 1

    stopping = asyncio.ensure_future(queue.shutdown())
    await clock.settle()
    assert not stopping.done()
    store.release.set()
    await stopping

    job = await store.job_get(job_id)
    assert job is not None
    assert job.status is JobStatus.COMPLETED
