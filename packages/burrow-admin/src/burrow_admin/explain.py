"""Why a waiting job has not run yet, in the terms an operator can act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from burrow_admin.overview import PoolView, pools_handling
from burrow_tasks.errors import JobNotFound
from burrow_tasks.jobs import Job
from burrow_tasks.store import JobStore
from burrow_tasks.types import CLAIMABLE_STATUSES

__all__ = ["WaitKind", "WaitReason", "explain_wait"]


class WaitKind(StrEnum):
    SCHEDULED = "scheduled"
    """``run_at`` is still in the future."""

    AHEAD = "ahead"
    """Other claimable jobs come first (higher priority, or earlier)."""

    NO_WORKER = "no_worker"
    """No running worker pool handles the job's type."""

    NEXT_POLL = "next_poll"
    """Nothing holds it back: a worker takes it at its next poll."""


@dataclass(frozen=True, slots=True)
class WaitReason:
    kind: WaitKind
    count: int = 0
    at: datetime | None = None


async def explain_wait(
    store: JobStore, job: Job, *, now: datetime, pools: list[PoolView]
) -> list[WaitReason]:
    """The reasons ``job`` waits; empty for a job that is not waiting (running or final)."""
    if job.status not in CLAIMABLE_STATUSES:
        return []
    reasons: list[WaitReason] = []
    if job.run_at > now:
        reasons.append(WaitReason(WaitKind.SCHEDULED, at=job.run_at))
    handling = pools_handling(pools, job)
    if not handling:
        # Nobody would claim it, so what else is queued says nothing about its wait.
        reasons.append(WaitReason(WaitKind.NO_WORKER))
        return reasons
    # A pool claims only its own types, so only jobs of those types can be ahead.
    types = sorted({t for pool in handling for t in pool.handles})
    try:
        ahead = await store.jobs_count_ahead(job.id, now=now, types=types)
    except JobNotFound:
        # Deleted between the read and now: nothing more to explain.
        return reasons
    if ahead:
        reasons.append(WaitReason(WaitKind.AHEAD, count=ahead))
    if not reasons:
        reasons.append(WaitReason(WaitKind.NEXT_POLL))
    return reasons
