"""Completions in batches (``Capability.BATCH_COMPLETE``): the jobs that finish in one turn
of the event loop are completed in one ``jobs_complete`` call; a store without the
capability gets one ``job_complete`` per job; a batch the store fails is written job by job."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from burrow_jobs_memory import MemoryStore
from burrow_tasks import FakeClock, JobQueue, JobsConfig, JobStatus
from burrow_tasks.context import capture_result, current_job
from burrow_tasks.jobs import Completion
from burrow_tasks.types import Capability, JobId, Lease


class CompletionSpyStore(MemoryStore):
    """Records every completion call: the size of each batch, and single completions.
    ``refuse_result`` makes a batch holding that result fail, as a database refusing one
    row's text fails the statement of all of them."""

    def __init__(self, *, batches: bool = True, refuse_result: str = "") -> None:
        super().__init__()
        self.batches = batches
        self.refuse_result = refuse_result
        self.batch_sizes: list[int] = []
        self.singles: list[JobId] = []

    @property
    def capabilities(self) -> frozenset[Capability]:
        declared = super().capabilities
        return declared if self.batches else declared - {Capability.BATCH_COMPLETE}

    async def jobs_complete(
        self, completions: Sequence[Completion], *, now: datetime
    ) -> list[bool]:
        self.batch_sizes.append(len(completions))
        if any(c.result == self.refuse_result for c in completions):
            raise ValueError("the database refused a result")
        return await super().jobs_complete(completions, now=now)

    async def job_complete(
        self, job_id: JobId, lease: Lease, *, result: str | None, now: datetime
    ) -> bool:
        self.singles.append(job_id)
        if result == self.refuse_result:
            raise ValueError("the database refused a result")
        return await super().job_complete(job_id, lease, result=result, now=now)


async def _record_payload(payload: bytes) -> None:
    capture_result(payload)


async def _run(store: CompletionSpyStore, clock: FakeClock, results: list[str]) -> list[JobId]:
    """Five slots run one quick job per result (each records its payload as its result)
    until idle."""
    queue = JobQueue(store, JobsConfig(workers=5), clock=clock)
    queue.handle("work", _record_payload)
    job_ids = await queue.enqueue_batch("work", results)
    await queue.run_until_idle()
    return job_ids


async def test_jobs_finishing_together_are_completed_in_one_store_call(clock: FakeClock) -> None:
    store = CompletionSpyStore()
    job_ids = await _run(store, clock, ["a", "b", "c", "d", "e"])

    assert store.batch_sizes == [5]
    assert store.singles == []
    for job_id in job_ids:
        job = await store.job_get(job_id)
        assert job is not None
        assert job.status is JobStatus.COMPLETED


async def test_each_job_of_a_batch_keeps_its_own_result(clock: FakeClock) -> None:
    store = CompletionSpyStore()
    job_ids = await _run(store, clock, ["a", "b", "c"])

    results = [(await store.job_get(job_id)) for job_id in job_ids]
    assert [job.result for job in results if job is not None] == ['"a"', '"b"', '"c"']


async def test_a_store_without_batch_complete_gets_one_job_complete_per_job(
    clock: FakeClock,
) -> None:
    store = CompletionSpyStore(batches=False)
    job_ids = await _run(store, clock, ["a", "b", "c"])

    assert store.batch_sizes == []
    assert sorted(store.singles) == sorted(job_ids)


async def test_a_batch_the_store_fails_is_written_job_by_job_so_one_bad_row_fails_alone(
    clock: FakeClock,
) -> None:
    store = CompletionSpyStore(refuse_result='"bad"')
    queue = JobQueue(store, JobsConfig(workers=5), clock=clock)
    queue.handle("work", _record_payload)
    job_ids = await queue.enqueue_batch("work", ["a", "bad", "c"])
    await queue.start()
    await clock.settle()
    clock.advance(timedelta(seconds=1))  # past the first pause before a retry
    await clock.settle()

    assert store.batch_sizes == [3]
    statuses = [job.status for job in [await store.job_get(i) for i in job_ids] if job]
    # The bad one is still being tried, held in the store for a rescue if it never lands.
    assert statuses == [JobStatus.COMPLETED, JobStatus.RUNNING, JobStatus.COMPLETED]
    stopping = asyncio.ensure_future(queue.shutdown())
    while not stopping.done():
        clock.advance(timedelta(seconds=1))
        await clock.settle()
    await stopping


async def test_a_completion_the_lease_refuses_in_a_batch_is_logged_as_refused(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="burrow_tasks")
    store = CompletionSpyStore()
    queue = JobQueue(store, JobsConfig(workers=2), clock=clock)
    ids: list[JobId] = []
    runs: list[int] = []

    async def handler(payload: bytes) -> None:
        runs.append(1)
        if len(runs) == 1:
            # Cancelled and retried elsewhere while it runs: its lease no longer holds.
            await store.job_cancel(ids[0], now=clock.now())
            await store.job_retry(ids[0], now=clock.now())

    queue.handle("work", handler)
    ids.append(await queue.enqueue("work", None))
    await queue.run_until_idle()

    assert f"job {ids[0]} finished but no longer held: outcome refused" in caplog.text
    assert store.batch_sizes == [1, 1]
    job = await store.job_get(ids[0])
    assert job is not None
    assert job.status is JobStatus.COMPLETED  # by the run the retry gave it


class ShortAnswerStore(CompletionSpyStore):
    """A broken store: ``jobs_complete`` writes nothing and returns no verdicts."""

    async def jobs_complete(
        self, completions: Sequence[Completion], *, now: datetime
    ) -> list[bool]:
        self.batch_sizes.append(len(completions))
        return []


async def test_a_batch_answered_with_too_few_verdicts_is_written_job_by_job(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = ShortAnswerStore()
    queue = JobQueue(store, JobsConfig(workers=2), clock=clock)
    queue.handle("work", _record_payload)
    job_ids = await queue.enqueue_batch("work", ["a", "b"])
    await queue.start()
    await clock.settle()
    clock.advance(timedelta(seconds=1))  # past the first pause before a retry
    await clock.settle()

    assert store.batch_sizes == [2]
    assert sorted(store.singles) == sorted(job_ids)
    assert "jobs_complete returned 0 verdicts for 2 completions" in caplog.text
    for job_id in job_ids:
        job = await store.job_get(job_id)
        assert job is not None
        assert job.status is JobStatus.COMPLETED
    await queue.shutdown()


class ContextSpyStore(CompletionSpyStore):
    """Records whether ``jobs_complete`` was called from inside a job's context."""

    def __init__(self) -> None:
        super().__init__()
        self.inside_a_job: list[bool] = []

    async def jobs_complete(
        self, completions: Sequence[Completion], *, now: datetime
    ) -> list[bool]:
        try:
            current_job()
        except RuntimeError:
            self.inside_a_job.append(False)
        else:
            self.inside_a_job.append(True)
        return await super().jobs_complete(completions, now=now)


async def test_a_batch_is_written_outside_the_context_of_the_job_that_started_it(
    clock: FakeClock,
) -> None:
    store = ContextSpyStore()
    await _run(store, clock, ["a", "b"])

    assert store.inside_a_job == [False]
