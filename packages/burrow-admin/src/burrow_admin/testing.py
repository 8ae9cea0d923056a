"""Put jobs into any state through the store interface, with explicit times: for the admin's
tests, and for tests of apps that embed it.

    seed = Seeder(store, FakeClock(start), run=lambda make: asyncio.run(make()))
    job_id = seed.dead(type="send-email")

``run`` runs a coroutine factory to completion: ``asyncio.run`` for a store that is not
bound to a loop, or a Starlette TestClient's ``portal.call`` to share the app's loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from burrow_tasks.clock import FakeClock
from burrow_tasks.jobs import Job, JobError, NewJob, WorkerInfo, WorkerState
from burrow_tasks.store import JobStore
from burrow_tasks.types import JobId

__all__ = ["Seeder"]

T = TypeVar("T")


class Seeder:
    """Puts jobs into every state through the store interface, with explicit times.

    Runs, fails and completions claim the job just inserted; create them before pending jobs
    of the same type with a higher priority (the claim would take those first, and says so).
    """

    def __init__(
        self, store: JobStore, clock: FakeClock, run: Callable[[Callable[[], Awaitable[Any]]], Any]
    ) -> None:
        self.store = store
        self.clock = clock
        self._run = run

    def call(self, make: Callable[[], Awaitable[T]]) -> T:
        result: T = self._run(make)
        return result

    def pending(
        self,
        type: str = "send-email",
        payload: str = '{"to": "a@example.com"}',
        *,
        priority: int = 0,
        max_retries: int = 3,
        run_at: datetime | None = None,
    ) -> JobId:
        now = self.clock.now()
        new = NewJob(type, payload, priority, max_retries, run_at or now)

        async def insert() -> JobId:
            [job_id] = await self.store.jobs_insert([new], now=now)
            return job_id

        job_id = self.call(insert)
        # Distinct created_at values make "newest first" observable.
        self.clock.advance(timedelta(seconds=1))
        return job_id

    def _claimed(
        self, type: str, payload: str, priority: int, max_retries: int
    ) -> tuple[JobId, str]:
        job_id = self.pending(type, payload, priority=priority, max_retries=max_retries)
        now = self.clock.now()

        async def claim() -> tuple[JobId, str]:
            claimed = await self.store.jobs_claim(1, types=[type], now=now)
            if [job.id for job in claimed] != [job_id]:
                raise RuntimeError(f"the seeder claimed {claimed} instead of {job_id}")
            return claimed[0].id, claimed[0].lease

        return self.call(claim)

    def running(self, type: str = "send-email", payload: str = "{}", *, priority: int = 0) -> JobId:
        job_id, _ = self._claimed(type, payload, priority, 3)
        return job_id

    def completed(
        self, type: str = "send-email", payload: str = "{}", *, result: str | None = None
    ) -> JobId:
        job_id, lease = self._claimed(type, payload, 0, 3)
        now = self.clock.now()
        self.call(lambda: self.store.job_complete(job_id, lease, result=result, now=now))
        return job_id

    def failed(
        self,
        type: str = "send-email",
        payload: str = "{}",
        *,
        error: JobError | None = None,
        retry_in: timedelta = timedelta(minutes=2),
    ) -> JobId:
        job_id, lease = self._claimed(type, payload, 0, 3)
        now = self.clock.now()
        error = error or JobError("boom", "builtins.RuntimeError", "Traceback: boom")
        self.call(
            lambda: self.store.job_fail(
                job_id, lease, error=error, retry_at=now + retry_in, now=now
            )
        )
        return job_id

    def dead(
        self, type: str = "send-email", payload: str = "{}", *, error: JobError | None = None
    ) -> JobId:
        job_id, lease = self._claimed(type, payload, 0, 1)
        now = self.clock.now()
        error = error or JobError("gave up", "builtins.ValueError", "Traceback: gave up")
        self.call(lambda: self.store.job_fail(job_id, lease, error=error, retry_at=None, now=now))
        return job_id

    def worker(
        self,
        types: tuple[str, ...] = ("send-email",),
        *,
        state: WorkerState = WorkerState.RUNNING,
        last_poll_at: datetime | None = None,
        id: str = "host-1-abc",
    ) -> None:
        now = self.clock.now()
        info = WorkerInfo(
            id=id,
            hostname="host-1",
            pid=101,
            state=state,
            workers=2,
            in_flight=1,
            poll_interval=timedelta(seconds=1),
            types=types,
            started_at=now - timedelta(minutes=5),
            last_poll_at=last_poll_at or now,
        )
        self.call(lambda: self.store.worker_beat(info, now=now))

    def get(self, job_id: JobId) -> Job | None:
        return self.call(lambda: self.store.job_get(job_id))

    def job(self, job_id: JobId) -> Job:
        """The stored job, which must exist."""
        job = self.get(job_id)
        if job is None:
            raise LookupError(f"job {job_id!r} is not in the store")
        return job
