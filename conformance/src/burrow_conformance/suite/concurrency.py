"""Rules 2, 6 and 8 under load: concurrent claimers never share a job; rescue never undoes
a complete nor takes a job whose heartbeat renewed it; cancel never cancels a completed job.

Threads each run their own event loop. With ``burrow_store_dsn`` every thread (and every
child process, capability ``cross_process``) opens its own store from the DSN through the
``burrow_backend`` hook, as separate workers would; without it the threads share the one
store the factory returned, which must then be safe to call from several event loops at once.
Sizes: ``--burrow-claim-jobs``, ``--burrow-rescue-jobs``, ``--burrow-claimers`` (or env
``BURROW_CONFORMANCE_*``).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from burrow_conformance._assertions import Rule, check, violation
from burrow_conformance._backends import open_store
from burrow_conformance._claimers import (
    Claim,
    Waiter,
    claim_until_empty,
    claim_until_empty_from_dsn,
    in_environment,
    process_context,
)
from burrow_conformance._harness import Session, store_test
from burrow_conformance.requirements import requires
from burrow_tasks.errors import InvalidJobStatus
from burrow_tasks.store import JobStore
from burrow_tasks.types import Capability, JobId, JobStatus, Lease

__all__ = ["ConcurrencyTests"]


T = TypeVar("T")

BATCHES = (1, 3, 7, 16)
"""Claim limits the claimers cycle through, so small and large claims interleave."""

INSERT_CHUNK = 500

RESCUE_LOOKAHEAD = 4
"""How many jobs ahead of the completers the rescuer's cutoff reaches."""

CANCEL_LOOKAHEAD = 2
"""How many jobs ahead of the completers' progress the operator cancels."""


async def _insert_many(s: Session, store: JobStore, count: int) -> list[JobId]:
    ids: list[JobId] = []
    for start in range(0, count, INSERT_CHUNK):
        rows = [
            s.new_job(("email", "report")[n % 2], payload=f'{{"n": {n}}}', priority=n % 3)
            for n in range(start, min(count, start + INSERT_CHUNK))
        ]
        ids += await store.jobs_insert(rows, now=s.now)
    return ids


def _check_each_job_claimed_once(operation: str, ids: list[JobId], claims: list[Claim]) -> None:
    __tracebackhide__ = True
    handed_out = Counter(claim.job_id for claim in claims)
    twice = sorted(job_id for job_id, n in handed_out.items() if n > 1)
    if twice:
        violation(
            Rule.CONCURRENCY,
            operation,
            f"{len(twice)} job(s) handed to more than one claimer, e.g. {twice[:5]}",
        )
    missing = sorted(set(ids) - set(handed_out))
    check(Rule.CONCURRENCY, operation + " → jobs never claimed", expected=[], got=missing[:10])
    refused = [claim.job_id for claim in claims if not claim.completed]
    check(Rule.CONCURRENCY, operation + " → completes refused", expected=[], got=refused[:10])
    leases = Counter(claim.lease for claim in claims)
    check(
        Rule.LEASE_FRESH,
        operation + " → leases issued twice",
        expected=[],
        got=[lease for lease, n in leases.items() if n > 1][:5],
    )


async def _run_in_pool(
    executor: Executor, claimers: int, work: Callable[[int], Any]
) -> list[Claim]:
    loop = asyncio.get_running_loop()
    results = await asyncio.gather(
        *(loop.run_in_executor(executor, work, n) for n in range(claimers))
    )
    return [claim for result in results for claim in result]


class ConcurrencyTests:
    """Exclusivity with claimers in threads, in processes, and in one loop (smoke)."""

    @store_test
    async def test_threaded_claimers_never_share_a_job(self, s: Session) -> None:
        options = s.harness.options
        dsn = s.harness.dsn
        store = s.track(open_store(dsn)) if dsn else s.store
        ids = await _insert_many(s, store, options.claim_jobs)
        start = threading.Barrier(options.claimers)

        def work(n: int) -> list[Claim]:
            batch = BATCHES[n % len(BATCHES)]
            if dsn:
                return claim_until_empty_from_dsn(dsn, batch, len(ids), start)
            return claim_until_empty(store, batch, len(ids), start)

        with ThreadPoolExecutor(options.claimers) as pool:
            claims = await _run_in_pool(pool, options.claimers, work)
        _check_each_job_claimed_once(
            f"{options.claimers} threads claiming {len(ids)} jobs", ids, claims
        )
        counts = await store.jobs_count_by_status()
        check(
            Rule.CONCURRENCY,
            "jobs_count_by_status after the race",
            expected=len(ids),
            got=counts[JobStatus.COMPLETED],
        )

    @requires(Capability.CROSS_PROCESS)
    @store_test
    async def test_claimers_in_separate_processes_never_share_a_job(self, s: Session) -> None:
        options = s.harness.options
        dsn = s.harness.dsn
        if dsn is None:
            violation(
                Rule.CONCURRENCY,
                "the burrow_store_dsn fixture",
                "the store declares cross_process, but no burrow_store_dsn fixture is "
                "defined, so the suite cannot check it: define one (see the README)",
            )
        store = s.track(open_store(dsn))
        ids = await _insert_many(s, store, options.claim_jobs)
        context = process_context()
        with ExitStack() as stack:
            manager = stack.enter_context(context.Manager())
            start: Waiter = manager.Barrier(options.claimers)
            pool = stack.enter_context(ProcessPoolExecutor(options.claimers, mp_context=context))
            futures = [
                pool.submit(
                    in_environment,
                    dict(os.environ),
                    claim_until_empty_from_dsn,
                    dsn,
                    BATCHES[n % len(BATCHES)],
                    len(ids),
                    start,
                )
                for n in range(options.claimers)
            ]
            results = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        claims = [claim for result in results for claim in result]
        _check_each_job_claimed_once(
            f"{options.claimers} processes claiming {len(ids)} jobs", ids, claims
        )

    @store_test
    async def test_in_loop_claimers_never_share_a_job(self, s: Session) -> None:
        """A smoke test: asyncio tasks on one loop interleave only at awaits."""
        ids = await _insert_many(s, s.store, 200)

        async def claimer(batch: int) -> list[Claim]:
            got: list[Claim] = []
            while len(got) <= len(ids) and (
                claimed := await s.store.jobs_claim(batch, types=("email", "report"), now=s.now)
            ):
                for job in claimed:
                    ok = await s.store.job_complete(job.id, job.lease, result=None, now=s.now)
                    got.append(Claim(job.id, job.lease, ok))
            return got

        results = await asyncio.gather(*(claimer(b) for b in BATCHES))
        _check_each_job_claimed_once(
            "4 asyncio tasks claiming 200 jobs", ids, [c for r in results for c in r]
        )

    @requires(Capability.PARALLEL_CLAIMS)
    @store_test
    async def test_two_claims_in_flight_beside_completions_never_share_a_job(
        self, s: Session
    ) -> None:
        """What a worker does on a store that runs claims in parallel: two claims always in
        flight on one loop, each batch's completions written at once, beside the other
        claim."""
        ids = await _insert_many(s, s.store, 300)

        async def lane() -> list[Claim]:
            got: list[Claim] = []
            while len(got) <= len(ids) and (
                claimed := await s.store.jobs_claim(16, types=("email", "report"), now=s.now)
            ):
                written = await asyncio.gather(
                    *(s.store.job_complete(j.id, j.lease, result=None, now=s.now) for j in claimed)
                )
                got += [Claim(j.id, j.lease, ok) for j, ok in zip(claimed, written, strict=True)]
            return got

        first, second = await asyncio.gather(lane(), lane())
        _check_each_job_claimed_once("two claims in flight on one loop", ids, first + second)

    @store_test
    async def test_rescue_racing_complete_never_undoes_a_complete(self, s: Session) -> None:
        """Completers and a rescuer fight over the same running jobs, oldest heartbeat first.

        Every job ends exactly one way: completed (its complete was accepted) or rescued
        back to pending (its complete was refused) — never both, never neither.
        """

        race = await _rescue_race(s, "job_complete", _complete)
        completed = race.accepted
        operation = f"job_complete racing jobs_rescue over {len(race.ids)} jobs"
        race.check_each_job_ended_one_way(Rule.RESCUE, operation, "completed/rescued")
        await race.check_counts(
            Rule.RESCUE,
            operation,
            {
                JobStatus.COMPLETED: len(completed),
                JobStatus.PENDING: len(race.ids) - len(completed),
            },
        )
        for job_id in completed:
            job = await race.store.job_get(job_id)
            if job is None or job.status is not JobStatus.COMPLETED:
                violation(Rule.RESCUE, operation, f"job {job_id!r} was completed, now {job!r}")

    @store_test
    async def test_rescue_racing_heartbeat_never_takes_a_renewed_job(self, s: Session) -> None:
        """Heartbeaters and a rescuer fight over the same running jobs, oldest first.

        A heartbeat renews the job past every cutoff the rescuer uses, so a job whose
        heartbeat was accepted stays running under its lease: a rescue that picks its jobs
        and sends them back without checking they are still stale in the same write would
        hand a healthy job to a second worker.
        """

        async def heartbeat(store: JobStore, job_id: JobId, lease: Lease, now: datetime) -> bool:
            return await store.job_heartbeat(job_id, lease, now=now)

        race = await _rescue_race(s, "job_heartbeat", heartbeat)
        operation = f"job_heartbeat racing jobs_rescue over {len(race.ids)} jobs"
        race.check_each_job_ended_one_way(Rule.RESCUE, operation, "heartbeated/rescued")
        await race.check_counts(
            Rule.RESCUE,
            operation,
            {
                JobStatus.RUNNING: len(race.accepted),
                JobStatus.PENDING: len(race.ids) - len(race.accepted),
            },
        )

    @store_test
    async def test_cancel_racing_complete_never_cancels_a_completed_job(self, s: Session) -> None:
        """Rule 8 under load: completers finish running jobs while an operator cancels the
        job just ahead of them. Cancel checks the status in the same write, so every job
        ends completed (and the cancel raised ``InvalidJobStatus``) or cancelled (and the
        complete was refused), never both."""

        race = await _hold_every_job(s)

        async def cancel(own: JobStore, front: int | None) -> list[JobId]:
            if front is None or front + CANCEL_LOOKAHEAD >= len(race.held):
                return []
            job_id = race.held[front + CANCEL_LOOKAHEAD][0]
            try:
                await own.job_cancel(job_id, now=race.later)
            except InvalidJobStatus:
                return []
            return [job_id]

        await race.run(s.harness.dsn, "job_complete", _complete, cancel)
        operation = f"job_complete racing job_cancel over {len(race.ids)} jobs"
        race.check_each_job_ended_one_way(Rule.OPERATOR, operation, "completed/cancelled")
        await race.check_counts(
            Rule.OPERATOR,
            operation,
            {JobStatus.COMPLETED: len(race.accepted), JobStatus.DEAD: len(race.taken)},
        )


WorkerWrite = Callable[[JobStore, JobId, Lease, datetime], Coroutine[Any, Any, bool]]
"""A guarded write of the job's worker: ``(store, id, lease, now) -> accepted``."""

Interference = Callable[[JobStore, int | None], Coroutine[Any, Any, list[JobId]]]
"""What the third thread does each time the workers move on: ``(store, front)`` with the
number of jobs the workers have written so far (None once they are done) -> the ids it
took from them."""


async def _complete(store: JobStore, job_id: JobId, lease: Lease, now: datetime) -> bool:
    return await store.job_complete(job_id, lease, result="1", now=now)


async def _rescue_race(s: Session, name: str, write: WorkerWrite) -> _Race:
    """``write`` racing a rescuer whose cutoff aims just ahead of the workers."""
    race = await _hold_every_job(s)

    async def rescue(own: JobStore, front: int | None) -> list[JobId]:
        cutoff = race.later if front is None else race.claimed_at(front + RESCUE_LOOKAHEAD)
        return await own.jobs_rescue(stale_before=cutoff, now=race.later)

    await race.run(s.harness.dsn, name, write, rescue)
    return race


@dataclass
class _Race:
    """Every job held by a claim, then written by two workers (at a time past every
    cutoff) while a third thread interferes just ahead of them; and how that ended.

    The third thread moves first, before the workers write anything: every race then has
    writes it takes from the workers, also where the scheduler would let the workers run
    ahead of it throughout (a store whose refused write misbehaves is caught every run)."""

    store: JobStore
    ids: list[JobId]
    held: list[tuple[JobId, Lease]]
    start: datetime
    later: datetime
    accepted: set[JobId] = field(default_factory=set)
    taken: list[JobId] = field(default_factory=list)

    STEP: ClassVar[timedelta] = timedelta(milliseconds=1)

    def claimed_at(self, n: int) -> datetime:
        """When the ``n``-th held job was claimed (one per millisecond)."""
        return self.start + self.STEP * n

    async def run(
        self, dsn: str | None, name: str, write: WorkerWrite, interfere: Interference
    ) -> None:
        start = threading.Barrier(3)
        progress = [0, 0]  # jobs each worker has written (one writer each)
        # set when a worker stops for any reason, so the third thread never waits on a
        # dead worker
        stopped = [threading.Event(), threading.Event()]
        moved_first = threading.Event()  # set once the third thread's first move ended

        def work(half: int) -> dict[JobId, bool]:
            async def run(own: JobStore) -> dict[JobId, bool]:
                moved_first.wait(60)
                outcomes = {}
                for done, (job_id, lease) in enumerate(self.held[half::2], start=1):
                    try:
                        outcomes[job_id] = await write(own, job_id, lease, self.later)
                    except Exception as error:
                        violation(
                            Rule.LEASE_GUARD,
                            f"{name}({job_id!r}, its lease) in a race",
                            f"raised {error!r}; a refused write returns False, never raises",
                        )
                    progress[half] = done
                    _yield_thread()
                return outcomes

            try:
                return _on_own_loop(dsn, self.store, start, run)
            finally:
                stopped[half].set()

        def interferer(_: int) -> list[JobId]:
            async def run(own: JobStore) -> list[JobId]:
                try:
                    taken = await interfere(own, 0)
                finally:
                    moved_first.set()
                last_front = 0
                while not all(event.is_set() for event in stopped):
                    front = sum(progress)
                    if front != last_front:  # aim again only once the workers moved on
                        taken += await interfere(own, front)
                        last_front = front
                    _yield_thread()
                taken += await interfere(own, None)
                return taken

            return _on_own_loop(dsn, self.store, start, run)

        with ThreadPoolExecutor(3) as pool:
            loop = asyncio.get_running_loop()
            even, odd, taken = await asyncio.gather(
                loop.run_in_executor(pool, work, 0),
                loop.run_in_executor(pool, work, 1),
                loop.run_in_executor(pool, interferer, 0),
            )
        self.accepted = {job_id for job_id, ok in {**even, **odd}.items() if ok}
        self.taken = taken

    async def check_counts(
        self, rule: Rule, operation: str, expected: dict[JobStatus, int]
    ) -> None:
        """The store's counts per status after the race are ``expected`` (zeros aside)."""
        __tracebackhide__ = True
        check(
            rule,
            operation + " → jobs_count_by_status",
            expected=_nonzero(expected),
            got=_nonzero(await self.store.jobs_count_by_status()),
        )

    def check_each_job_ended_one_way(self, rule: Rule, operation: str, outcomes: str) -> None:
        """``outcomes``: "accepted/taken", e.g. "completed/rescued"."""
        __tracebackhide__ = True
        accepted_as, taken_as = outcomes.split("/")
        check(
            rule,
            f"{operation} → both {accepted_as} and {taken_as}",
            expected=[],
            got=sorted(self.accepted & set(self.taken))[:10],
        )
        check(
            rule,
            f"{operation} → neither {accepted_as} nor {taken_as}",
            expected=[],
            got=sorted(set(self.ids) - self.accepted - set(self.taken))[:10],
        )
        check(
            rule,
            f"{operation} → {taken_as} twice",
            expected=len(self.taken),
            got=len(set(self.taken)),
        )


async def _hold_every_job(s: Session) -> _Race:
    dsn = s.harness.dsn
    store = s.track(open_store(dsn)) if dsn else s.store
    ids = await _insert_many(s, store, s.harness.options.rescue_jobs)
    race = _Race(store, ids, [], s.now, s.now + timedelta(days=1))
    # one claim per millisecond, so each job has its own heartbeat time and a cutoff can
    # aim at the jobs the workers are about to write
    for n in range(len(ids)):
        claimed = await store.jobs_claim(1, types=("email", "report"), now=race.claimed_at(n))
        race.held += [(job.id, job.lease) for job in claimed]
    check(
        Rule.CLAIM_EXCLUSIVE,
        "claiming every job before the race",
        expected=len(ids),
        got=len(race.held),
    )
    return race


def _nonzero(counts: dict[JobStatus, int]) -> dict[JobStatus, int]:
    return {status: n for status, n in counts.items() if n}


def _yield_thread() -> None:
    """Let another thread run (an in-memory store finishes a call within one GIL slice)."""
    time.sleep(0)


def _on_own_loop(
    dsn: str | None,
    shared: JobStore,
    start: threading.Barrier,
    run: Callable[[JobStore], Coroutine[Any, Any, T]],
) -> T:
    """Run ``run(store)`` on a new event loop, on a store of its own when there is a DSN."""

    async def main() -> T:
        own = open_store(dsn) if dsn else shared
        try:
            await asyncio.to_thread(start.wait, 60)
            return await run(own)
        finally:
            if dsn:
                await own.close()

    with asyncio.Runner() as runner:
        return runner.run(main())
