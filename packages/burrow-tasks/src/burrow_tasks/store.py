"""The store interface: everything the engine, the admin and the conformance suite ask of a
backend, and nothing more.

A store keeps jobs and enforces, each inside one atomic write, only: claim order and
exclusivity, the lease guard, the statuses an operator action accepts, and the
pending-or-dead split of rescue and release. It never reads a clock: every time it writes is
an argument (``now``, ``retry_at``, ``stale_before``, ...). Everything else (retry times,
cutoffs, how many to claim) is the engine's decision.

All methods are coroutines. Times are timezone-aware UTC datetimes; a store returns them
aware and in UTC, with at least microsecond precision.

The rules, numbered as in DESIGN §4 (the conformance suite checks each):

1. Claim order: claimable = status pending or failed, ``run_at <= now``, type in ``types``;
   higher priority first, then earlier ``run_at``, then enqueue order (a batch keeps its
   input order).
2. A claim is exclusive, also across processes where ``Capability.CROSS_PROCESS`` is
   declared. It sets status running, ``attempts += 1``, ``last_attempted_at = heartbeat_at =
   now`` and a fresh lease that no earlier claim of any job ever had.
3. Lease guard: heartbeat, complete, fail and release write only while the job is running
   under that lease; otherwise they write nothing and return False.
4. Fail records the error and clears the lease; with ``retry_at`` the job becomes failed with
   ``run_at = retry_at``, without it dead with ``failed_at = now``.
5. A batch insert is all or nothing, ids in input order.
6. Rescue and release send a job back to pending while ``attempts < max_retries``, else dead.
7. Cleanup deletes completed jobs only.
8. Operator actions check the status in the same write.
9. Time comes from the caller.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from burrow_tasks.jobs import (
    ClaimedJob,
    Completion,
    FinishedMinute,
    Job,
    JobError,
    NewJob,
    Notification,
    WorkerInfo,
    WorkerRecord,
)
from burrow_tasks.types import Capability, JobId, JobStatus, Lease

__all__ = [
    "CANCEL_ACCEPTS",
    "LEASE_EXPIRED_ERROR_CLASS",
    "RETRY_ACCEPTS",
    "SHUTDOWN_ERROR_CLASS",
    "SHUTDOWN_MESSAGE",
    "CompletesInBatches",
    "JobStore",
    "lease_expired_message",
]

LEASE_EXPIRED_ERROR_CLASS = "burrow_tasks.LeaseExpired"
"""``error_class`` of a job that ``jobs_rescue`` sent dead."""

SHUTDOWN_ERROR_CLASS = "burrow_tasks.ShutdownInterrupted"
"""``error_class`` of a job that ``job_release`` sent dead."""

SHUTDOWN_MESSAGE = "interrupted by shutdown"
"""``last_error`` of a job that ``job_release`` sent dead."""

RETRY_ACCEPTS: frozenset[JobStatus] = frozenset({JobStatus.FAILED, JobStatus.DEAD})
"""Statuses ``job_retry`` accepts."""

CANCEL_ACCEPTS: frozenset[JobStatus] = frozenset(
    {JobStatus.PENDING, JobStatus.FAILED, JobStatus.RUNNING}
)
"""Statuses ``job_cancel`` accepts."""


def lease_expired_message(stale_before: datetime) -> str:
    """``last_error`` of a job that ``jobs_rescue(stale_before=...)`` sent dead.

    It names the cutoff rather than each job's own last heartbeat, so one statement can
    write it for every rescued row.
    """
    return f"lease expired: no heartbeat since {stale_before.isoformat()}"


@runtime_checkable
class JobStore(Protocol):
    """A backend for burrow. Implement every method; declare optional abilities in
    ``capabilities``; run the conformance suite (``burrow_conformance``) against it."""

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The optional abilities this store has. Conservative: declare only what the
        conformance suite has seen it do."""
        ...

    # --- enqueue -------------------------------------------------------------------------

    async def jobs_insert(
        self, jobs: Sequence[NewJob], *, now: datetime, using: Any = None
    ) -> list[JobId]:
        """Insert ``jobs`` in one transaction, all or nothing; return their ids in input order.

        Each row starts pending with ``attempts = 0``, ``created_at = updated_at = now`` and
        the row's own ``run_at``. Enqueue order follows input order. A payload that is not
        valid JSON text raises ``PayloadError`` and nothing is written. An empty sequence
        returns ``[]``. ``using`` is the caller's open connection or transaction (only with
        ``Capability.TRANSACTIONAL_ENQUEUE``; otherwise a non-None ``using`` raises
        ``NotSupported``): the rows become visible exactly when the caller commits.
        """
        ...

    # --- the worker's writes ---------------------------------------------------------------

    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[ClaimedJob]:
        """Claim up to ``limit`` claimable jobs of the given ``types``, in claim order.

        Claimable: status pending or failed, ``run_at <= now``, type in ``types``. Order:
        priority descending, then ``run_at`` ascending, then enqueue order. Each claimed job
        becomes running with ``attempts + 1``, ``last_attempted_at = heartbeat_at =
        updated_at = now`` and a fresh, never reused lease. No job is handed to two claimers.
        Empty ``types`` or no claimable job returns ``[]``; ``limit`` must be >= 1.
        """
        ...

    async def job_heartbeat(self, job_id: JobId, lease: Lease, *, now: datetime) -> bool:
        """Set ``heartbeat_at = updated_at = now`` if the job is running under ``lease``.

        Returns False (writing nothing) otherwise: the job was cancelled, rescued, deleted or
        finished, so its handler should stop.
        """
        ...

    async def job_complete(
        self, job_id: JobId, lease: Lease, *, result: str | None, now: datetime
    ) -> bool:
        """Mark the job completed if it is running under ``lease``: ``completed_at =
        updated_at = now``, ``result`` stored verbatim, lease cleared. Error fields of earlier
        attempts are kept. Returns False (writing nothing) when the lease does not hold."""
        ...

    async def job_fail(
        self,
        job_id: JobId,
        lease: Lease,
        *,
        error: JobError,
        retry_at: datetime | None,
        now: datetime,
    ) -> bool:
        """Record a failed run if the job is running under ``lease``.

        Writes ``last_error``, ``error_class``, ``error_traceback``, clears the lease and sets
        ``updated_at = now``; then with ``retry_at`` the status becomes failed and ``run_at =
        retry_at``; with ``retry_at=None`` it becomes dead with ``failed_at = now``. The
        engine, not the store, decides ``retry_at``. Returns False when the lease does not
        hold.
        """
        ...

    async def job_release(self, job_id: JobId, lease: Lease, *, now: datetime) -> bool:
        """Give a held job back (shutdown), if it is running under ``lease``.

        ``attempts < max_retries``: pending, ``run_at = now``, lease cleared, attempts kept.
        Otherwise dead: ``failed_at = now``, ``last_error = SHUTDOWN_MESSAGE``,
        ``error_class = SHUTDOWN_ERROR_CLASS``, ``error_traceback`` cleared. Returns False when
        the lease does not hold.
        """
        ...

    # --- maintenance -------------------------------------------------------------------------

    async def jobs_rescue(self, *, stale_before: datetime, now: datetime) -> list[JobId]:
        """In one atomic write, rescue every running job with ``heartbeat_at < stale_before``.

        Each goes to pending (``run_at = now``, lease cleared, attempts kept) while ``attempts
        < max_retries``, else to dead (``failed_at = now``, ``last_error =
        lease_expired_message(stale_before)``, ``error_class = LEASE_EXPIRED_ERROR_CLASS``,
        ``error_traceback`` cleared, lease cleared). A job that was completed, failed,
        cancelled or heartbeated before the write is untouched. Returns the rescued ids.
        """
        ...

    async def jobs_delete_completed(self, *, completed_before: datetime) -> int:
        """Delete completed jobs with ``completed_at < completed_before``; nothing else.
        Returns how many were deleted."""
        ...

    # --- operator actions --------------------------------------------------------------------

    async def job_retry(self, job_id: JobId, *, now: datetime) -> None:
        """Failed or dead → pending, run now, as if new.

        Sets ``attempts = 0``, ``run_at = updated_at = now``, ``cancelled = False`` and clears
        ``last_error``, ``error_class``, ``error_traceback``, ``result``, ``failed_at``,
        ``completed_at``, ``last_attempted_at`` and ``heartbeat_at``. Raises ``JobNotFound``
        or ``InvalidJobStatus`` (status checked in the same write).
        """
        ...

    async def job_cancel(self, job_id: JobId, *, now: datetime) -> None:
        """Pending, failed or running → dead with ``cancelled = True``, ``failed_at =
        updated_at = now`` and the lease cleared (so a running handler's next heartbeat or
        outcome is refused). Raises ``JobNotFound`` or ``InvalidJobStatus``. With
        ``Capability.NOTIFY`` a cancel of a running job is announced."""
        ...

    async def job_delete(self, job_id: JobId) -> None:
        """Delete the job whatever its status. Raises ``JobNotFound``. With
        ``Capability.NOTIFY`` the delete of a running job is announced as a cancel."""
        ...

    # --- reads ----------------------------------------------------------------------------------

    async def job_get(self, job_id: JobId) -> Job | None:
        """The job with this id, or None."""
        ...

    async def jobs_list(
        self,
        *,
        status: JobStatus | None = None,
        type: str | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[Job], int]:
        """A page of jobs, newest first (``created_at`` descending, then enqueue order
        descending), optionally of one status and/or one type, with the total that matches
        the filters (ignoring ``offset`` and ``limit``)."""
        ...

    async def jobs_count_by_status(self) -> dict[JobStatus, int]:
        """How many jobs have each status; every status is a key, zero included."""
        ...

    async def jobs_count_ahead(
        self, job_id: JobId, *, now: datetime, types: Collection[str] | None = None
    ) -> int:
        """How many claimable jobs (of ``types``, or of any type when None) a claim at
        ``now`` would take before this job. Raises ``JobNotFound``. The admin uses it to
        explain why a pending job waits."""
        ...

    async def jobs_types(self) -> list[str]:
        """The distinct types of the stored jobs, sorted."""
        ...

    async def jobs_finished_per_minute(
        self, *, since: datetime, now: datetime
    ) -> list[FinishedMinute]:
        """Per UTC minute in ``[since, now]``: completed jobs by ``completed_at`` and dead
        jobs by ``failed_at``. Only minutes with at least one such job, oldest first."""
        ...

    # --- workers ---------------------------------------------------------------------------------

    async def worker_beat(self, info: WorkerInfo, *, now: datetime) -> None:
        """Store ``info`` under ``info.id`` (replacing the previous one) with ``seen_at =
        now``, so other processes can list this pool."""
        ...

    async def workers_list(self, *, seen_since: datetime) -> list[WorkerRecord]:
        """Every worker pool seen at or after ``seen_since``, ordered by id."""
        ...

    # --- notifications and lifecycle ----------------------------------------------------------

    def notifications(self) -> AsyncIterator[Notification]:
        """Wake-ups for the engine (``Capability.NOTIFY``): an async iterator that yields when
        new work may be claimable or a running job was cancelled, and ends when the store is
        closed. A store without the capability raises ``NotSupported``. Hints only: the engine
        still polls."""
        ...

    async def close(self) -> None:
        """Release connections and end every ``notifications()`` iterator. Idempotent."""
        ...


class CompletesInBatches(Protocol):
    """The optional method of ``Capability.BATCH_COMPLETE``: a store declaring it has it."""

    async def jobs_complete(
        self, completions: Sequence[Completion], *, now: datetime
    ) -> list[bool]:
        """Write each completion as ``job_complete(id, lease, result=..., now=now)`` would
        (the lease guard applies to each on its own) and return a verdict per completion, in
        order. All in one transaction, so when it raises none of them was written (unless
        the error came after the commit, as a connection lost while it answered: then the
        lease guard refuses the engine's retry). The engine then writes each with
        ``job_complete``, with the retries of a single write."""
        ...
