"""The claim loops the concurrency tests run in threads and child processes.

Top-level functions with picklable arguments, so ``multiprocessing`` (forkserver or spawn) can
run them. Each runs on its own event loop and reports what it got; the parent checks
exclusivity.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import Any, Protocol, TypeVar

from burrow_conformance._backends import open_store
from burrow_conformance._harness import ALL_TYPES, T0
from burrow_tasks.store import JobStore
from burrow_tasks.types import JobId, Lease

__all__ = [
    "Claim",
    "Waiter",
    "claim_until_empty",
    "claim_until_empty_from_dsn",
    "in_environment",
    "process_context",
]

T = TypeVar("T")


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


def in_environment(environ: dict[str, str], work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` under ``environ``, the test process's environment variables as they
    were when it submitted the work: a child of a forkserver inherits the server's, as they
    were when the server started (in an earlier test, perhaps under its monkeypatching)."""
    os.environ.clear()
    os.environ.update(environ)
    return work(*args)


def process_context() -> BaseContext:
    """Children forked from a server that imported the claim loops and the backends once
    (``_preload``), where the platform has a forkserver; else spawned. Spawned claimers each
    imported them: 6-7 s of a 9-12 s test on two cores. Either way a child starts from a fresh
    interpreter's state, never from a copy of this process with its threads and connections;
    the claimers run under this process's environment variables (``in_environment``)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # "__main__" as the default list has it, so a child need not import the main script.
    context.set_forkserver_preload(["__main__", "burrow_conformance._preload"])
    return context
