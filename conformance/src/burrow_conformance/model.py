"""The reference model: DESIGN §4 as a small, obviously correct, single-threaded program.

Read it top to bottom as the specification of a store. It keeps jobs in a dict in enqueue
order and answers every store method the simplest possible way (sort everything, scan
everything). The state machine (``burrow_conformance.stateful``) runs a real store and this
model side by side and compares them after every step.

Test-only: nothing at runtime imports it. Ids are ``"1"``, ``"2"``, ... in enqueue order;
leases are ``"lease-1"``, ``"lease-2"``, ... in claim order, never reused. (The comparison
maps the store's own ids and leases onto these.)
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from burrow_tasks.errors import InvalidJobStatus, JobNotFound, PayloadError
from burrow_tasks.jobs import ClaimedJob, Completion, FinishedMinute, Job, JobError, NewJob
from burrow_tasks.store import (
    CANCEL_ACCEPTS,
    LEASE_EXPIRED_ERROR_CLASS,
    RETRY_ACCEPTS,
    SHUTDOWN_ERROR_CLASS,
    SHUTDOWN_MESSAGE,
    lease_expired_message,
)
from burrow_tasks.types import CLAIMABLE_STATUSES, JobId, JobStatus, Lease

__all__ = ["Model", "is_json_text"]


def is_json_text(text: str) -> bool:
    """Valid JSON text (RFC 8259): no NaN or Infinity, which Python's json would accept, and
    encodable as UTF-8 (no lone surrogate), as JSON text is exchanged."""

    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    try:
        json.loads(text, parse_constant=refuse)
        text.encode("utf-8")
    except ValueError:
        return False
    return True


class Model:
    """An in-memory store that is too simple to be wrong."""

    def __init__(self) -> None:
        self.jobs: dict[JobId, Job] = {}  # in enqueue order
        self._enqueued = 0
        self._leases_issued = 0

    # --- enqueue (rule 5) ------------------------------------------------------------------

    def jobs_insert(self, rows: Sequence[NewJob], *, now: datetime) -> list[JobId]:
        for row in rows:  # check every row before writing any: all or nothing
            if not is_json_text(row.payload):
                raise PayloadError(f"payload is not valid JSON text: {row.payload!r}")
        ids = []
        for row in rows:
            self._enqueued += 1
            job_id = str(self._enqueued)
            self.jobs[job_id] = Job(
                id=job_id,
                type=row.type,
                payload=row.payload,
                status=JobStatus.PENDING,
                priority=row.priority,
                attempts=0,
                max_retries=row.max_retries,
                run_at=row.run_at,
                created_at=now,
                updated_at=now,
            )
            ids.append(job_id)
        return ids

    # --- claim (rules 1 and 2) -------------------------------------------------------------

    def _claimable(self, now: datetime, types: Collection[str] | None) -> list[Job]:
        """Claimable jobs in claim order: priority desc, run_at asc, enqueue order asc."""
        ready = [
            job
            for job in self.jobs.values()
            if job.status in CLAIMABLE_STATUSES
            and job.run_at <= now
            and (types is None or job.type in types)
        ]
        return sorted(ready, key=lambda job: (-job.priority, job.run_at, int(job.id)))

    def jobs_claim(self, limit: int, *, types: Collection[str], now: datetime) -> list[ClaimedJob]:
        claimed = []
        for job in self._claimable(now, types)[:limit]:
            self._leases_issued += 1
            job = self._write(
                job,
                status=JobStatus.RUNNING,
                attempts=job.attempts + 1,
                last_attempted_at=now,
                heartbeat_at=now,
                updated_at=now,
                lease=f"lease-{self._leases_issued}",
            )
            assert job.lease is not None
            claimed.append(
                ClaimedJob(
                    id=job.id,
                    type=job.type,
                    payload=job.payload,
                    priority=job.priority,
                    attempts=job.attempts,
                    max_retries=job.max_retries,
                    lease=job.lease,
                    run_at=job.run_at,
                    created_at=job.created_at,
                )
            )
        return claimed

    # --- the lease guard (rules 3, 4, 6) -----------------------------------------------------

    def _held(self, job_id: JobId, lease: Lease) -> Job | None:
        """The job if it is running under ``lease``; None means: refuse, write nothing."""
        job = self.jobs.get(job_id)
        if job is None or job.status is not JobStatus.RUNNING or job.lease != lease:
            return None
        return job

    def job_heartbeat(self, job_id: JobId, lease: Lease, *, now: datetime) -> bool:
        job = self._held(job_id, lease)
        if job is None:
            return False
        self._write(job, heartbeat_at=now, updated_at=now)
        return True

    def job_complete(
        self, job_id: JobId, lease: Lease, *, result: str | None, now: datetime
    ) -> bool:
        job = self._held(job_id, lease)
        if job is None:
            return False
        self._write(
            job,
            status=JobStatus.COMPLETED,
            completed_at=now,
            updated_at=now,
            result=result,
            lease=None,
        )
        return True

    def jobs_complete(self, completions: Sequence[Completion], *, now: datetime) -> list[bool]:
        """Capability ``batch_complete``: each as ``job_complete``, in order (a second
        completion of one job in the batch is refused: the first cleared its lease)."""
        return [
            self.job_complete(job_id, lease, result=result, now=now)
            for job_id, lease, result in completions
        ]

    def job_fail(
        self,
        job_id: JobId,
        lease: Lease,
        *,
        error: JobError,
        retry_at: datetime | None,
        now: datetime,
    ) -> bool:
        job = self._held(job_id, lease)
        if job is None:
            return False
        job = self._write(
            job,
            last_error=error.message,
            error_class=error.error_class,
            error_traceback=error.traceback,
            lease=None,
            updated_at=now,
        )
        if retry_at is not None:
            self._write(job, status=JobStatus.FAILED, run_at=retry_at)
        else:
            self._write(job, status=JobStatus.DEAD, failed_at=now)
        return True

    def job_release(self, job_id: JobId, lease: Lease, *, now: datetime) -> bool:
        job = self._held(job_id, lease)
        if job is None:
            return False
        self._back_to_pending_or_dead(job, now, SHUTDOWN_MESSAGE, SHUTDOWN_ERROR_CLASS)
        return True

    def _back_to_pending_or_dead(
        self, job: Job, now: datetime, message: str, error_class: str
    ) -> None:
        """Rule 6's split: attempts left → pending now; none left → dead with the reason."""
        if job.attempts < job.max_retries:
            self._write(job, status=JobStatus.PENDING, run_at=now, lease=None, updated_at=now)
        else:
            self._write(
                job,
                status=JobStatus.DEAD,
                failed_at=now,
                last_error=message,
                error_class=error_class,
                error_traceback=None,
                lease=None,
                updated_at=now,
            )

    # --- maintenance (rules 6 and 7) ---------------------------------------------------------

    def jobs_rescue(self, *, stale_before: datetime, now: datetime) -> list[JobId]:
        stale = [
            job
            for job in self.jobs.values()
            if job.status is JobStatus.RUNNING
            and job.heartbeat_at is not None
            and job.heartbeat_at < stale_before
        ]
        message = lease_expired_message(stale_before)
        for job in stale:
            self._back_to_pending_or_dead(job, now, message, LEASE_EXPIRED_ERROR_CLASS)
        return [job.id for job in stale]

    def jobs_delete_completed(self, *, completed_before: datetime) -> int:
        old = [
            job.id
            for job in self.jobs.values()
            if job.status is JobStatus.COMPLETED
            and job.completed_at is not None
            and job.completed_at < completed_before
        ]
        for job_id in old:
            del self.jobs[job_id]
        return len(old)

    # --- operator actions (rule 8) -----------------------------------------------------------

    def _existing(self, job_id: JobId) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job

    def job_retry(self, job_id: JobId, *, now: datetime) -> None:
        job = self._existing(job_id)
        if job.status not in RETRY_ACCEPTS:
            raise InvalidJobStatus(job_id, job.status, "retry", RETRY_ACCEPTS)
        self._write(
            job,
            status=JobStatus.PENDING,
            attempts=0,
            run_at=now,
            updated_at=now,
            cancelled=False,
            last_error=None,
            error_class=None,
            error_traceback=None,
            result=None,
            failed_at=None,
            completed_at=None,
            last_attempted_at=None,
            heartbeat_at=None,
        )

    def job_cancel(self, job_id: JobId, *, now: datetime) -> None:
        job = self._existing(job_id)
        if job.status not in CANCEL_ACCEPTS:
            raise InvalidJobStatus(job_id, job.status, "cancel", CANCEL_ACCEPTS)
        self._write(
            job, status=JobStatus.DEAD, cancelled=True, failed_at=now, updated_at=now, lease=None
        )

    def job_delete(self, job_id: JobId) -> None:
        self._existing(job_id)
        del self.jobs[job_id]

    # --- reads -------------------------------------------------------------------------------

    def job_get(self, job_id: JobId) -> Job | None:
        return self.jobs.get(job_id)

    def jobs_list(
        self,
        *,
        status: JobStatus | None = None,
        type: str | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[Job], int]:
        """Newest first: created_at descending, then enqueue order descending."""
        matching = [
            job
            for job in self.jobs.values()
            if (status is None or job.status is status) and (type is None or job.type == type)
        ]
        matching.sort(key=lambda job: (job.created_at, int(job.id)), reverse=True)
        return matching[offset : offset + limit], len(matching)

    def jobs_count_by_status(self) -> dict[JobStatus, int]:
        counts = dict.fromkeys(JobStatus, 0)
        for job in self.jobs.values():
            counts[job.status] += 1
        return counts

    def jobs_count_ahead(
        self, job_id: JobId, *, now: datetime, types: Collection[str] | None = None
    ) -> int:
        """For a claimable job: how many claimable jobs come before it in claim order."""
        self._existing(job_id)
        order = [job.id for job in self._claimable(now, types)]
        if job_id not in order:
            raise ValueError("the model defines count_ahead for claimable jobs only")
        return order.index(job_id)

    def jobs_types(self) -> list[str]:
        return sorted({job.type for job in self.jobs.values()})

    def jobs_finished_per_minute(self, *, since: datetime, now: datetime) -> list[FinishedMinute]:
        buckets: dict[datetime, list[int]] = {}
        for job in self.jobs.values():
            if job.status is JobStatus.COMPLETED:
                when, column = job.completed_at, 0
            elif job.status is JobStatus.DEAD:
                when, column = job.failed_at, 1
            else:
                continue
            if when is None or not since <= when <= now:
                continue
            minute = when.replace(second=0, microsecond=0)
            buckets.setdefault(minute, [0, 0])[column] += 1
        return [
            FinishedMinute(minute=minute, completed=counts[0], dead=counts[1])
            for minute, counts in sorted(buckets.items())
        ]

    # --- the one way the model changes a job ------------------------------------------------

    def _write(self, job: Job, **changes: Any) -> Job:
        job = replace(job, **changes)
        self.jobs[job.id] = job
        return job
