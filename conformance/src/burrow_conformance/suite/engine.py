"""End to end: the real engine (``JobQueue`` with a ``FakeClock``) runs jobs on the store.

The store never decides a time, so these tests pin the engine's numbers as they land in
the store: attempts counted at claim, ``run_at`` after each failure ``now + min(30 s *
2**(attempt-1), 1 h)`` (30 s, 1 m, 2 m ...), dead after ``max_retries`` runs. A backoff off
by one shows as a wrong ``run_at`` on the first retry.
"""

from __future__ import annotations

from datetime import timedelta

from burrow_conformance._assertions import Rule, check, check_fields
from burrow_conformance._harness import Session, store_test
from burrow_tasks import FakeClock, JobStatus
from burrow_tasks.config import JobsConfig
from burrow_tasks.engine import JobQueue

__all__ = ["EngineTests"]


class Boom(Exception):
    """What the suite's failing handlers raise."""


def _queue(s: Session, clock: FakeClock, **config: object) -> JobQueue:
    return JobQueue(s.store, JobsConfig(**config), clock=clock)  # type: ignore[arg-type]


class EngineTests:
    """``JobQueue.run_until_idle`` over the store under test."""

    @store_test
    async def test_engine_runs_a_job_to_completed(self, s: Session) -> None:
        clock = FakeClock(s.now)
        queue = _queue(s, clock)
        seen: list[bytes] = []

        async def handler(payload: bytes) -> None:
            seen.append(payload)

        queue.handle("email", handler)
        job_id = await queue.enqueue("email", {"to": "ada@example.com"})
        await queue.run_until_idle()
        check_fields(
            Rule.ENGINE,
            "JobQueue.run_until_idle with a succeeding handler",
            await s.get(job_id),
            status=JobStatus.COMPLETED,
            attempts=1,
            completed_at=s.now,
            last_attempted_at=s.now,
            lease=None,
            last_error=None,
        )
        await queue.shutdown()

    @store_test
    async def test_engine_retries_with_exponential_backoff_then_dead(self, s: Session) -> None:
        clock = FakeClock(s.now)
        queue = _queue(s, clock)

        def handler(payload: bytes) -> None:
            raise Boom("always")

        queue.handle("email", handler, max_retries=4)
        job_id = await queue.enqueue("email", {})
        for attempt, backoff in enumerate((30, 60, 120), start=1):
            await queue.run_until_idle()
            check_fields(
                Rule.ENGINE,
                f"the engine's failure of attempt {attempt} of 4 (base 30 s)",
                await s.get(job_id),
                status=JobStatus.FAILED,
                attempts=attempt,
                run_at=clock.now() + timedelta(seconds=backoff),
                last_attempted_at=clock.now(),
                error_class=f"{Boom.__module__}.{Boom.__qualname__}",
                last_error="always",
                lease=None,
            )
            clock.advance(backoff - 1)
            await queue.run_until_idle()
            check_fields(
                Rule.ENGINE,
                f"run_until_idle one second before retry {attempt} is due",
                await s.get(job_id),
                status=JobStatus.FAILED,
                attempts=attempt,
            )
            clock.advance(1)
        await queue.run_until_idle()
        check_fields(
            Rule.ENGINE,
            "the engine's failure of the last attempt (4 of 4)",
            await s.get(job_id),
            status=JobStatus.DEAD,
            attempts=4,
            failed_at=clock.now(),
            cancelled=False,
        )
        await queue.shutdown()

    @store_test
    async def test_engine_completes_a_job_on_its_second_attempt(self, s: Session) -> None:
        clock = FakeClock(s.now)
        queue = _queue(s, clock)
        runs: list[bytes] = []

        async def handler(payload: bytes) -> None:
            runs.append(payload)
            if len(runs) == 1:
                raise Boom("first run fails")

        queue.handle("report", handler)
        job_id = await queue.enqueue("report", [1, 2])
        await queue.run_until_idle()
        clock.advance(30)
        await queue.run_until_idle()
        check_fields(
            Rule.ENGINE,
            "a job failing once, then succeeding",
            await s.get(job_id),
            status=JobStatus.COMPLETED,
            attempts=2,
            completed_at=s.at(30),
            last_error="first run fails",
        )
        await queue.shutdown()

    @store_test
    async def test_engine_with_base_delay_zero_retries_at_once(self, s: Session) -> None:
        clock = FakeClock(s.now)
        queue = _queue(s, clock, retry_base_delay=timedelta(0))

        async def handler(payload: bytes) -> None:
            raise Boom("always")

        queue.handle("email", handler, max_retries=3)
        job_id = await queue.enqueue("email", {})
        await queue.run_until_idle()
        check_fields(
            Rule.ENGINE,
            "three immediate retries with base 0",
            await s.get(job_id),
            status=JobStatus.DEAD,
            attempts=3,
            failed_at=s.now,
        )
        await queue.shutdown()

    @store_test
    async def test_engine_runs_higher_priority_first(self, s: Session) -> None:
        clock = FakeClock(s.now)
        queue = _queue(s, clock, workers=1)
        order: list[str] = []

        async def handler(payload: bytes) -> None:
            order.append(payload.decode())

        queue.handle("email", handler)
        queue.handle("report", handler, priority=5)
        await queue.enqueue("email", "low")
        await queue.enqueue("report", "high")
        await queue.run_until_idle()
        check(Rule.ENGINE, "JobQueue with one worker", expected=['"high"', '"low"'], got=order)
        await queue.shutdown()
