"""Claiming ahead: once a full batch of jobs has returned before the next claim, a claim
also takes up to ``claim_ahead`` jobs (at most ``4 * workers``) beyond the free slots. They
wait in the pool, held under their lease, and start as slots free; never more than
``workers`` handlers run at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from burrow_jobs_memory import MemoryStore
from burrow_tasks import ClaimedJob, FakeClock, JobQueue, JobsConfig, JobStatus
from burrow_tasks.types import Capability, JobId


class ClaimSpyStore(MemoryStore):
    """Records the limit of every claim."""

    def __init__(self) -> None:
        super().__init__()
        self.limits: list[int] = []

    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[ClaimedJob]:
        self.limits.append(limit)
        return await super().jobs_claim(limit, types=types, now=now)


class Handlers:
    """Quick jobs return at once; a job named in ``gates`` waits until its gate opens."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.running = 0
        self.most_running = 0
        self.gates: dict[str, asyncio.Event] = {}

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    async def __call__(self, payload: bytes) -> None:
        name = json.loads(payload)
        self.started.append(name)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            if name in self.gates:
                await self.gates[name].wait()
        finally:
            self.running -= 1


async def _queue(
    store: MemoryStore, clock: FakeClock, handlers: Handlers, *, workers: int, names: list[str]
) -> tuple[JobQueue, dict[str, JobId]]:
    queue = JobQueue(store, JobsConfig(workers=workers), clock=clock)
    queue.handle("work", handlers)
    ids = await queue.enqueue_batch("work", names)
    await queue.start()
    # Python 3.11 starts each task a turn later (no eager start): more turns to settle.
    await clock.settle(rounds=100)
    return queue, dict(zip(names, ids, strict=True))


async def _status(store: MemoryStore, job_id: JobId) -> JobStatus:
    job = await store.job_get(job_id)
    assert job is not None
    return job.status


async def test_the_first_claim_takes_only_the_free_slots(clock: FakeClock) -> None:
    store, handlers = ClaimSpyStore(), Handlers()
    queue, _ = await _queue(store, clock, handlers, workers=2, names=["a", "b", "c"])

    assert store.limits[0] == 2
    await queue.shutdown()


async def test_after_a_full_batch_of_short_jobs_a_claim_takes_four_batches_ahead(
    clock: FakeClock,
) -> None:
    store, handlers = ClaimSpyStore(), Handlers()
    names = [str(n) for n in range(9)]
    queue, ids = await _queue(store, clock, handlers, workers=2, names=names)

    assert store.limits[:2] == [2, 10]
    assert handlers.started == names
    assert handlers.most_running <= 2
    assert {await _status(store, ids[name]) for name in names} == {JobStatus.COMPLETED}
    await queue.shutdown()


async def test_no_claim_ahead_while_a_job_of_the_last_batch_still_runs(clock: FakeClock) -> None:
    store, handlers = ClaimSpyStore(), Handlers()
    handlers.gate("slow")
    queue, _ = await _queue(store, clock, handlers, workers=2, names=["slow", "b", "c", "d"])

    assert store.limits[0] == 2
    assert all(limit == 1 for limit in store.limits[1:])
    assert handlers.started == ["slow", "b", "c", "d"]
    handlers.gate("slow").set()
    await queue.shutdown()


@dataclass
class SlowJobAhead:
    """One slot: ``quick`` proved jobs short, so the claim after it took ``slow`` and,
    ahead, ``waiting``, which waits for the slot ``slow`` holds."""

    queue: JobQueue
    store: MemoryStore
    handlers: Handlers
    ids: dict[str, JobId]


async def _one_waiting_behind_a_slow_job(clock: FakeClock) -> SlowJobAhead:
    store, handlers = MemoryStore(), Handlers()
    handlers.gate("slow")
    queue, ids = await _queue(store, clock, handlers, workers=1, names=["quick", "slow", "waiting"])
    assert handlers.started == ["quick", "slow"]
    assert await _status(store, ids["waiting"]) is JobStatus.RUNNING
    return SlowJobAhead(queue, store, handlers, ids)


async def test_a_job_claimed_ahead_starts_when_a_slot_frees(clock: FakeClock) -> None:
    ahead = await _one_waiting_behind_a_slow_job(clock)

    ahead.handlers.gate("slow").set()
    await clock.settle()

    assert ahead.handlers.started == ["quick", "slow", "waiting"]
    assert await _status(ahead.store, ahead.ids["waiting"]) is JobStatus.COMPLETED
    await ahead.queue.shutdown()


async def test_a_job_claimed_ahead_counts_as_in_flight(clock: FakeClock) -> None:
    ahead = await _one_waiting_behind_a_slow_job(clock)

    assert ahead.queue.in_flight == 2
    ahead.handlers.gate("slow").set()
    await ahead.queue.shutdown()


async def test_a_job_claimed_ahead_and_cancelled_never_starts(clock: FakeClock) -> None:
    ahead = await _one_waiting_behind_a_slow_job(clock)

    await ahead.queue.dequeue(ahead.ids["waiting"])
    ahead.handlers.gate("slow").set()
    await clock.settle()

    assert ahead.handlers.started == ["quick", "slow"]
    assert await _status(ahead.store, ahead.ids["waiting"]) is JobStatus.DEAD
    await ahead.queue.shutdown()


async def test_heartbeats_renew_the_lease_of_a_job_claimed_ahead(clock: FakeClock) -> None:
    ahead = await _one_waiting_behind_a_slow_job(clock)

    clock.advance(ahead.queue.config.heartbeat_interval)
    await clock.settle()

    job = await ahead.store.job_get(ahead.ids["waiting"])
    assert job is not None
    assert job.heartbeat_at == clock.now()
    ahead.handlers.gate("slow").set()
    await ahead.queue.shutdown()


async def test_shutdown_runs_the_jobs_claimed_ahead_within_the_grace(clock: FakeClock) -> None:
    ahead = await _one_waiting_behind_a_slow_job(clock)

    stopping = asyncio.ensure_future(ahead.queue.shutdown())
    await clock.settle()
    ahead.handlers.gate("slow").set()
    await stopping

    assert ahead.handlers.started == ["quick", "slow", "waiting"]
    assert await _status(ahead.store, ahead.ids["waiting"]) is JobStatus.COMPLETED


async def test_shutdown_releases_a_job_claimed_ahead_when_the_grace_runs_out(
    clock: FakeClock,
) -> None:
    ahead = await _one_waiting_behind_a_slow_job(clock)

    stopping = asyncio.ensure_future(ahead.queue.shutdown())
    await clock.settle()
    clock.advance(ahead.queue.config.shutdown_grace)
    await stopping

    assert ahead.handlers.started == ["quick", "slow"]
    job = await ahead.store.job_get(ahead.ids["waiting"])
    assert job is not None
    assert job.status is JobStatus.PENDING
    assert job.lease is None


async def _worked_off(store: ClaimSpyStore, clock: FakeClock, *, claim_ahead: int) -> int:
    """Nine quick jobs on two slots with ``claim_ahead``; how many handlers ran."""
    handlers = Handlers()
    queue = JobQueue(store, JobsConfig(workers=2, claim_ahead=claim_ahead), clock=clock)
    queue.handle("work", handlers)
    await queue.enqueue_batch("work", [str(n) for n in range(9)])
    await queue.start()
    # Python 3.11 starts each job's task a turn later (no eager start): more turns to settle.
    await clock.settle(rounds=200)
    await queue.shutdown()
    return len(handlers.started)


async def test_claim_ahead_zero_claims_only_the_free_slots(clock: FakeClock) -> None:
    store = ClaimSpyStore()
    assert await _worked_off(store, clock, claim_ahead=0) == 9
    assert set(store.limits) == {2}


async def test_claim_ahead_is_capped_at_four_times_the_workers(clock: FakeClock) -> None:
    store = ClaimSpyStore()
    assert await _worked_off(store, clock, claim_ahead=50) == 9
    assert max(store.limits) == 10


class HeldClaimStore(MemoryStore):
    """Claims wait until ``answer`` is set (a database still working on them); counts how
    many were in flight at once. Declares ``PARALLEL_CLAIMS`` when told to."""

    def __init__(self, *, parallel: bool) -> None:
        super().__init__()
        self.parallel = parallel
        self.answer = asyncio.Event()
        self.answer.set()
        self.in_flight = 0
        self.most_in_flight = 0
        self.limits: list[int] = []

    @property
    def capabilities(self) -> frozenset[Capability]:
        declared = super().capabilities
        return declared | {Capability.PARALLEL_CLAIMS} if self.parallel else declared

    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[ClaimedJob]:
        self.limits.append(limit)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.answer.wait()
            return await super().jobs_claim(limit, types=types, now=now)
        finally:
            self.in_flight -= 1


async def _claims_held_after_short_jobs(
    store: HeldClaimStore, clock: FakeClock, handlers: Handlers, jobs: int
) -> tuple[JobQueue, list[str]]:
    """Two slots work off a first batch of quick jobs, so the pool claims ahead; then the
    store stops answering claims."""
    names = [str(n) for n in range(jobs)]
    queue = JobQueue(store, JobsConfig(workers=2, claim_ahead=4), clock=clock)
    queue.handle("work", handlers)
    await queue.enqueue_batch("work", names)
    store.answer.clear()
    await queue.start()
    await clock.settle()
    store.answer.set()  # the first claim: two jobs, which return at once
    store.answer.clear()
    await clock.settle(rounds=50)
    return queue, names


async def test_a_store_that_runs_claims_in_parallel_gets_three_claims_in_flight(
    clock: FakeClock,
) -> None:
    store, handlers = HeldClaimStore(parallel=True), Handlers()
    queue, _ = await _claims_held_after_short_jobs(store, clock, handlers, jobs=30)

    assert store.in_flight == 3
    assert store.limits[1:] == [6, 6, 6]
    store.answer.set()
    await queue.shutdown()


async def test_a_store_without_parallel_claims_has_one_claim_in_flight(clock: FakeClock) -> None:
    store, handlers = HeldClaimStore(parallel=False), Handlers()
    queue, _ = await _claims_held_after_short_jobs(store, clock, handlers, jobs=30)

    assert store.in_flight == 1
    store.answer.set()
    await queue.shutdown()


async def test_claims_in_parallel_run_every_job_once_on_the_slots_there_are(
    clock: FakeClock,
) -> None:
    store, handlers = HeldClaimStore(parallel=True), Handlers()
    queue, names = await _claims_held_after_short_jobs(store, clock, handlers, jobs=60)

    store.answer.set()
    await clock.settle(rounds=400)

    assert sorted(handlers.started, key=int) == names
    assert handlers.most_running <= 2
    assert store.most_in_flight == 3
    assert (await store.jobs_count_by_status())[JobStatus.COMPLETED] == 60
    await queue.shutdown()


async def test_claims_in_parallel_hold_at_most_three_batches(clock: FakeClock) -> None:
    store, handlers = HeldClaimStore(parallel=True), Handlers()
    handlers.gate("2")  # the first two jobs of the batches ahead do not return,
    handlers.gate("3")  # so every other job claimed waits for a slot
    queue, _ = await _claims_held_after_short_jobs(store, clock, handlers, jobs=60)

    store.answer.set()
    await clock.settle(rounds=400)

    # Three batches of workers + claim_ahead (6 each), and no claim while they wait.
    assert queue.in_flight == 18
    assert store.limits == [2, 6, 6, 6]
    handlers.gate("2").set()
    handlers.gate("3").set()
    await queue.shutdown()


class OneAnswerAtATimeStore(MemoryStore):
    """Runs claims in parallel; each claim waits for its own gate (``gates[n]`` answers the
    n-th claim), so claims can return out of order."""

    def __init__(self) -> None:
        super().__init__()
        self.gates: list[asyncio.Event] = []
        self.in_flight = 0

    @property
    def capabilities(self) -> frozenset[Capability]:
        return super().capabilities | {Capability.PARALLEL_CLAIMS}

    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[ClaimedJob]:
        gate = asyncio.Event()
        self.gates.append(gate)
        self.in_flight += 1
        try:
            await gate.wait()
            return await super().jobs_claim(limit, types=types, now=now)
        finally:
            self.in_flight -= 1


async def test_a_claim_that_returns_before_an_older_one_is_followed_by_the_next_claim(
    clock: FakeClock,
) -> None:
    store, handlers = OneAnswerAtATimeStore(), Handlers()
    queue = JobQueue(store, JobsConfig(workers=2, claim_ahead=4), clock=clock)
    queue.handle("work", handlers)
    await queue.enqueue_batch("work", [str(n) for n in range(60)])
    await queue.start()
    await clock.settle()
    store.gates[0].set()  # the first claim: two quick jobs, so the pool claims ahead
    await clock.settle(rounds=50)
    assert len(store.gates) == 4  # three claims in flight

    store.gates[2].set()  # the second of them returns; the oldest is still held
    await clock.settle(rounds=50)

    assert len(store.gates) == 5
    assert store.in_flight == 3
    for gate in store.gates:
        gate.set()
    await queue.shutdown()
