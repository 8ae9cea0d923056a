"""The claim loops the concurrency tests run in threads and child processes.

Top-level functions with picklable arguments, so ``multiprocessing`` (forkserver or spawn) can
run them. Each runs on its own event loop and reports what it got; the parent checks
exclusivity.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from burrow_conformance._backends import open_store
from burrow_conformance._harness import ALL_TYPES, T0
from burrow_tasks.store import JobStore
from burrow_tasks.types import JobId, Lease

__all__ = ["Claim", "Waiter", "claim_until_empty", "claim_until_empty_from_dsn"]


class Waiter(Protocol):
    """A barrier (threading or a multiprocessing manager's): everyone starts together."""

    def wait(self, timeout: float | None = None) -> object: ...


@dataclass(frozen=True, slots=True)
class Claim:
    """One job a claimer got, and whether completing it under its lease was accepted."""

    job_id: JobId
    lease: Lease
    completed: bool


async def _claim_loop(store: JobStore, batch: int, budget: int) -> list[Claim]:
    got: list[Claim] = []
    # jobs only move forward (pending → running → completed), so a correct store runs dry;
    # one claimer getting more than ``budget`` (all the jobs there are) means a store hands
    # jobs out again, and the parent's check names them instead of waiting forever
    while len(got) <= budget:
        claimed = await store.jobs_claim(batch, types=ALL_TYPES, now=T0)
        if not claimed:
            break
        for job in claimed:
            ok = await store.job_complete(job.id, job.lease, result=None, now=T0)
            got.append(Claim(job.id, job.lease, ok))
    return got


def claim_until_empty(store: JobStore, batch: int, budget: int, start: Waiter) -> list[Claim]:
    """On a new event loop: wait for ``start``, then claim and complete until none are left
    (or more than ``budget`` were claimed)."""
    start.wait(60)
    with asyncio.Runner() as runner:
        return runner.run(_claim_loop(store, batch, budget))


def claim_until_empty_from_dsn(dsn: str, batch: int, budget: int, start: Waiter) -> list[Claim]:
    """As ``claim_until_empty``, on a store this thread or process opens from ``dsn``."""

    async def run() -> list[Claim]:
        store = open_store(dsn)
        try:
            await asyncio.to_thread(start.wait, 60)
            return await _claim_loop(store, batch, budget)
        finally:
            await store.close()

    with asyncio.Runner() as runner:
        return runner.run(run())
