"""A store that is away for a while: a finished job's outcome write is tried again, not
dropped, and the log says what failed without a traceback per job and per poll."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime, timedelta

import pytest

from burrow_jobs_memory import MemoryStore
from burrow_tasks import FakeClock, JobQueue, JobsConfig, JobStatus
from burrow_tasks.jobs import ClaimedJob, Completion, JobError
from burrow_tasks.types import Capability, JobId, Lease

CONFIG = JobsConfig(heartbeat_interval=timedelta(seconds=2), stale_timeout=timedelta(seconds=30))


class AwayStore(MemoryStore):
    """Outcome writes fail, as on a database that is restarting, while ``away`` is set.
    With ``batches`` the engine completes jobs through ``jobs_complete`` (a batch counts as
    one try), without it one ``job_complete`` per job."""

    def __init__(self, clock: FakeClock, *, batches: bool) -> None:
        super().__init__()
        self.batches = batches
        self.away = False
        self.away_for_claims = False
        self.tries: list[datetime] = []
        self._clock = clock

    def _knock(self) -> None:
        self.tries.append(self._clock.now())
        if self.away:
            raise ConnectionError("the database is restarting")

    @property
    def capabilities(self) -> frozenset[Capability]:
        declared = super().capabilities
        return declared if self.batches else declared - {Capability.BATCH_COMPLETE}

    async def job_complete(
        self, job_id: JobId, lease: Lease, *, result: str | None = None, now: datetime
    ) -> bool:
        self._knock()
        return await super().job_complete(job_id, lease, result=result, now=now)

    async def jobs_complete(
        self, completions: Sequence[Completion], *, now: datetime
    ) -> list[bool]:
        self._knock()
        return await super().jobs_complete(completions, now=now)

    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[ClaimedJob]:
        if self.away_for_claims:
            raise ConnectionError("the database is restarting\n[SQL: UPDATE burrow_jobs ...]")
        return await super().jobs_claim(limit, types=types, now=now)

    async def job_fail(
        self,
        job_id: JobId,
        lease: Lease,
        *,
        error: JobError,
        retry_at: datetime | None,
        now: datetime,
    ) -> bool:
        self._knock()
        return await super().job_fail(job_id, lease, error=error, retry_at=retry_at, now=now)


@pytest.fixture(params=["batches", "one by one"])
def away_store(clock: FakeClock, request: pytest.FixtureRequest) -> AwayStore:
    return AwayStore(clock, batches=request.param == "batches")


@pytest.fixture
async def away_queue(away_store: AwayStore, clock: FakeClock) -> AsyncIterator[JobQueue]:
    queue = JobQueue(away_store, CONFIG, clock=clock)
    yield queue
    away_store.away = False
    stopping = asyncio.ensure_future(queue.shutdown())
    while not stopping.done():
        await _advance(clock, 1, step=0.5)
    await stopping


async def _run_while_away(queue: JobQueue, store: AwayStore, handler_fails: bool = False) -> str:
    """Enqueue one job and run it with the store away; returns its id once its first
    outcome write has failed."""
    runs: list[int] = []

    async def handler(payload: bytes) -> None:
        runs.append(1)
        if handler_fails:
            raise ValueError("the handler failed")

    queue.handle("work", handler)
    job_id = await queue.enqueue("work", None)
    store.away = True
    await queue.start()
    await store._clock.settle(100)
    assert runs == [1]
    assert len(store.tries) == 1
    return job_id


async def _advance(clock: FakeClock, seconds: float, step: float = 0.05) -> None:
    for _ in range(round(seconds / step)):
        await clock.settle()
        clock.advance(timedelta(seconds=step))
    await clock.settle()


async def test_a_completion_written_while_the_store_is_away_lands_when_it_is_back(
    away_queue: JobQueue, away_store: AwayStore, clock: FakeClock
) -> None:
    job_id = await _run_while_away(away_queue, away_store)

    await _advance(clock, 3)
    away_store.away = False
    await _advance(clock, 3)

    job = await away_store.job_get(job_id)
    assert job is not None
    assert job.status is JobStatus.COMPLETED
    assert job.attempts == 1  # written by the one run, never rescued and run again


async def test_a_failure_recorded_while_the_store_is_away_lands_when_it_is_back(
    away_queue: JobQueue, away_store: AwayStore, clock: FakeClock
) -> None:
    job_id = await _run_while_away(away_queue, away_store, handler_fails=True)

    away_store.away = False
    await _advance(clock, 1)

    job = await away_store.job_get(job_id)
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert job.last_error == "the handler failed"


async def test_the_pause_between_tries_doubles_up_to_the_heartbeat_interval(
    away_queue: JobQueue, away_store: AwayStore, clock: FakeClock
) -> None:
    await _run_while_away(away_queue, away_store)

    await _advance(clock, 12)

    pauses = [round((b - a).total_seconds(), 2) for a, b in itertools.pairwise(away_store.tries)]
    assert pauses[:7] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0]
    assert set(pauses[6:]) == {2.0}


async def test_a_write_the_store_refuses_for_the_whole_stale_timeout_is_given_up(
    away_queue: JobQueue,
    away_store: AwayStore,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    job_id = await _run_while_away(away_queue, away_store)

    await _advance(clock, CONFIG.stale_timeout.total_seconds() + 5, step=0.5)
    tries = len(away_store.tries)
    await _advance(clock, 10, step=0.5)

    assert len(away_store.tries) == tries  # no more tries
    assert f"recording job {job_id} as completed failed" in caplog.text
    assert "given up" in caplog.text
    away_store.away = False
    job = await away_store.job_get(job_id)
    assert job is not None
    assert job.status is JobStatus.RUNNING  # held in the store for a rescue, not lost


async def test_a_late_write_for_a_job_a_rescue_took_is_refused(
    away_queue: JobQueue,
    away_store: AwayStore,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="burrow_tasks")
    job_id = await _run_while_away(away_queue, away_store)
    await _advance(clock, CONFIG.stale_timeout.total_seconds() - 2, step=0.5)
    # A rescue elsewhere: the job's heartbeats stopped with its handler.
    rescued = await MemoryStore.jobs_rescue(away_store, stale_before=clock.now(), now=clock.now())
    assert rescued == [job_id]

    away_store.away = False
    await _advance(clock, 3)

    assert f"job {job_id} finished but no longer held: outcome refused" in caplog.text
    job = await away_store.job_get(job_id)
    assert job is not None
    assert job.status is JobStatus.COMPLETED
    assert job.attempts == 2  # completed by the run the rescue gave it


async def test_shutdown_gives_up_retrying_at_the_write_limit(
    away_store: AwayStore, clock: FakeClock
) -> None:
    queue = JobQueue(away_store, CONFIG, clock=clock)
    started = asyncio.Event()
    finish = asyncio.Event()

    async def handler(payload: bytes) -> None:
        started.set()
        await finish.wait()

    queue.handle("work", handler)
    job_id = await queue.enqueue("work", None)
    await queue.start()
    await started.wait()
    away_store.away = True
    finish.set()
    await clock.settle()
    stopping = asyncio.ensure_future(queue.shutdown())
    await _advance(
        clock, (CONFIG.shutdown_grace + CONFIG.shutdown_write_limit).total_seconds() + 2, step=0.5
    )
    await asyncio.wait_for(stopping, 30)

    job = await away_store.job_get(job_id)
    assert job is not None
    assert job.status is JobStatus.RUNNING  # left for a rescue


async def test_a_failed_outcome_write_is_one_warning_line_per_job(
    away_queue: JobQueue,
    away_store: AwayStore,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    job_id = await _run_while_away(away_queue, away_store)
    await _advance(clock, 1)

    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == (
        f"burrow: recording job {job_id} as completed failed "
        "(ConnectionError: the database is restarting); trying again"
    )
    assert warning.exc_info is None


async def test_claims_failing_in_a_row_log_one_error_and_then_their_recovery(
    away_store: AwayStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    queue = JobQueue(away_store, CONFIG, clock=clock)
    ran: list[str] = []

    async def handler(payload: bytes) -> None:
        ran.append("ran")

    queue.handle("work", handler)
    away_store.away_for_claims = True
    await queue.start()
    await _advance(clock, 10, step=0.5)  # ten poll intervals of failed claims
    away_store.away_for_claims = False
    await queue.enqueue("work", None)
    await _advance(clock, 2, step=0.5)
    stopping = asyncio.ensure_future(queue.shutdown())
    await _advance(clock, 1, step=0.5)
    await stopping

    assert ran == ["ran"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "burrow: claiming jobs failed; trying again every poll interval until the store answers"
    ]
    assert errors[0].exc_info is not None
    (recovered,) = [r for r in caplog.records if "works again" in r.getMessage()]
    assert recovered.getMessage().startswith("burrow: claiming jobs works again after ")
    failed = int(recovered.getMessage().split("after ")[1].split()[0])
    assert failed >= 10


async def test_a_completion_is_logged_at_debug_level_once_debug_logging_is_on(
    queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(payload: bytes) -> None:
        pass

    queue.handle("quiet", handler)
    first = await queue.enqueue("quiet", None)
    await queue.run_until_idle()
    caplog.set_level(logging.DEBUG, logger="burrow_tasks")
    second = await queue.enqueue("quiet", None)
    await queue.run_until_idle()

    assert f"job {first} (quiet) completed" not in caplog.text
    assert f"job {second} (quiet) completed" in caplog.text
