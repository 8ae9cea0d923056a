"""Rule 2 under load: concurrent claimers never share a job; rescue never undoes a complete.

Threads each run their own event loop. With ``burrow_store_dsn`` every thread (and every
child process, capability ``cross_process``) opens its own store from the DSN through the
``burrow_backend`` hook, as separate workers would; without it the threads share the one
store the factory returned, which must then be safe to call from several event loops at once.
Sizes: ``--burrow-claim-jobs``, ``--burrow-rescue-jobs``, ``--burrow-claimers`` (or env
``BURROW_CONFORMANCE_*``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from datetime import timedelta
from typing import Any, TypeVar

from burrow_conformance._assertions import Rule, check, violation
from burrow_conformance._backends import open_store
from burrow_conformance._claimers import (
    Claim,
    Waiter,
    claim_until_empty,
    claim_until_empty_from_dsn,
)
from burrow_conformance._harness import Session, store_test
from burrow_conformance.requirements import requires
from burrow_tasks.store import JobStore
from burrow_tasks.types import Capability, JobId, JobStatus

__all__ = ["ConcurrencyTests"]

T = TypeVar("T")

BATCHES = (1, 3, 7, 16)
"""Claim limits the claimers cycle through, so small and large claims interleave."""

INSERT_CHUNK = 500

RESCUE_LOOKAHEAD = 4
"""How many jobs ahead of the completers the rescuer's cutoff reaches."""


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
                return claim_until_empty_from_dsn(dsn, batch, start)
            return claim_until_empty(store, batch, start)

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
        context = multiprocessing.get_context("spawn")
        with ExitStack() as stack:
            manager = stack.enter_context(context.Manager())
            start: Waiter = manager.Barrier(options.claimers)
            pool = stack.enter_context(ProcessPoolExecutor(options.claimers, mp_context=context))
            futures = [
                pool.submit(claim_until_empty_from_dsn, dsn, BATCHES[n % len(BATCHES)], start)
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
            got = []
            while claimed := await s.store.jobs_claim(batch, types=("email", "report"), now=s.now):
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
            while claimed := await s.store.jobs_claim(16, types=("email", "report"), now=s.now):
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
        options = s.harness.options
        dsn = s.harness.dsn
        store = s.track(open_store(dsn)) if dsn else s.store
        ids = await _insert_many(s, store, options.rescue_jobs)
        # claim one job per millisecond, so each has its own heartbeat time and the
        # rescuer's cutoff can aim at the jobs the completers are about to finish
        step = timedelta(milliseconds=1)
        held: list[tuple[JobId, str]] = []
        for n in range(len(ids)):
            claimed = await store.jobs_claim(1, types=("email", "report"), now=s.now + step * n)
            held += [(job.id, job.lease) for job in claimed]
        check(
            Rule.CLAIM_EXCLUSIVE,
            "claiming every job before the race",
            expected=len(ids),
            got=len(held),
        )
        later = s.now + timedelta(days=1)
        start = threading.Barrier(3)
        progress = [0, 0]  # jobs each completer has finished (one writer each)

        def complete(half: int) -> dict[JobId, bool]:
            async def run(own: JobStore) -> dict[JobId, bool]:
                outcomes = {}
                for done, (job_id, lease) in enumerate(held[half::2], start=1):
                    outcomes[job_id] = await own.job_complete(job_id, lease, result="1", now=later)
                    progress[half] = done
                    _yield_thread()
                return outcomes

            return _on_own_loop(dsn, store, start, run)

        def rescue(_: int) -> list[JobId]:
            async def run(own: JobStore) -> list[JobId]:
                rescued: list[JobId] = []
                last_front = -1
                while (front := sum(progress)) < len(held):
                    if front != last_front:  # aim again only once the completers moved on
                        cutoff = s.now + step * (front + RESCUE_LOOKAHEAD)
                        rescued += await own.jobs_rescue(stale_before=cutoff, now=later)
                        last_front = front
                    _yield_thread()
                rescued += await own.jobs_rescue(stale_before=later, now=later)
                return rescued

            return _on_own_loop(dsn, store, start, run)

        with ThreadPoolExecutor(3) as pool:
            loop = asyncio.get_running_loop()
            even, odd, rescued = await asyncio.gather(
                loop.run_in_executor(pool, complete, 0),
                loop.run_in_executor(pool, complete, 1),
                loop.run_in_executor(pool, rescue, 0),
            )
        completed = {job_id for job_id, ok in {**even, **odd}.items() if ok}
        operation = f"job_complete racing jobs_rescue over {len(ids)} jobs"
        check(
            Rule.RESCUE,
            operation + " → both completed and rescued",
            expected=[],
            got=sorted(completed & set(rescued))[:10],
        )
        check(
            Rule.RESCUE,
            operation + " → neither completed nor rescued",
            expected=[],
            got=sorted(set(ids) - completed - set(rescued))[:10],
        )
        check(
            Rule.RESCUE,
            operation + " → rescued twice",
            expected=len(rescued),
            got=len(set(rescued)),
        )
        counts = await store.jobs_count_by_status()
        check(
            Rule.RESCUE,
            operation + " → jobs_count_by_status",
            expected={
                status: n
                for status, n in (
                    (JobStatus.COMPLETED, len(completed)),
                    (JobStatus.PENDING, len(ids) - len(completed)),
                )
                if n
            },
            got={status: n for status, n in counts.items() if n},
        )
        for job_id in completed:
            job = await store.job_get(job_id)
            if job is None or job.status is not JobStatus.COMPLETED:
                violation(Rule.RESCUE, operation, f"job {job_id!r} was completed, now {job!r}")


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
