"""The job store in process memory.

Every method runs under one lock, which makes each of them one atomic write, also for
claimers on other threads with event loops of their own. Claimable jobs sit in per-type
heaps keyed by claim order, so a claim costs O(k log n) instead of a scan; entries are
invalidated lazily by a per-row ticket instead of being removed.
"""

from __future__ import annotations

import heapq
import threading
import uuid
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from burrow_jobs_memory.notify import Broadcaster
from burrow_tasks.errors import InvalidJobStatus, JobNotFound, NotSupported
from burrow_tasks.jobs import (
    ClaimedJob,
    Completion,
    FinishedMinute,
    Job,
    JobError,
    NewJob,
    Notification,
    NotificationKind,
    WorkerInfo,
    WorkerRecord,
)
from burrow_tasks.store import (
    CANCEL_ACCEPTS,
    LEASE_EXPIRED_ERROR_CLASS,
    RETRY_ACCEPTS,
    SHUTDOWN_ERROR_CLASS,
    SHUTDOWN_MESSAGE,
    lease_expired_message,
)
from burrow_tasks.store_checks import check_new_jobs, check_page, counter_id
from burrow_tasks.types import CLAIMABLE_STATUSES, Capability, JobId, JobStatus, Lease

__all__ = ["MemoryStore"]

# (-priority, run_at, seq, ticket): the claim order, then the ticket that says whether the
# entry still stands for the row's current claimable spell.
_HeapEntry = tuple[int, datetime, int, int]


@dataclass(slots=True)
class _Row:
    seq: int
    type: str
    payload: str
    status: JobStatus
    priority: int
    attempts: int
    max_retries: int
    run_at: datetime
    created_at: datetime
    updated_at: datetime
    last_attempted_at: datetime | None = None
    heartbeat_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    last_error: str | None = None
    error_class: str | None = None
    error_traceback: str | None = None
    result: str | None = None
    cancelled: bool = False
    lease: Lease | None = None
    ticket: int = 0

    def to_job(self) -> Job:
        return Job(
            id=str(self.seq),
            **{f.name: getattr(self, f.name) for f in fields(Job) if f.name != "id"},
        )

    def claim_key(self) -> tuple[int, datetime, int]:
        return (-self.priority, self.run_at, self.seq)


class MemoryStore:
    """A complete burrow store in process memory, for tests and development.

    Nothing survives the process. Declares ``notify``; it is not ``cross_process`` (other
    processes cannot see it) and has no ``transactional_enqueue``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[int, _Row] = {}
        self._next_seq = 1
        self._next_ticket = 1
        self._claimable: dict[str, list[_HeapEntry]] = {}
        self._workers: dict[str, WorkerRecord] = {}
        self._broadcast = Broadcaster()

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.BATCH_COMPLETE, Capability.NOTIFY})

    # --- enqueue -------------------------------------------------------------------------

    async def jobs_insert(
        self, jobs: Sequence[NewJob], *, now: datetime, using: Any = None
    ) -> list[JobId]:
        if using is not None:
            raise NotSupported("MemoryStore has no transactional enqueue: pass using=None")
        check_new_jobs(jobs)
        if not jobs:
            return []
        with self._lock:
            ids: list[JobId] = []
            for new in jobs:
                row = _Row(
                    seq=self._next_seq,
                    type=new.type,
                    payload=new.payload,
                    status=JobStatus.PENDING,
                    priority=new.priority,
                    attempts=0,
                    max_retries=new.max_retries,
                    run_at=new.run_at,
                    created_at=now,
                    updated_at=now,
                )
                self._next_seq += 1
                self._rows[row.seq] = row
                self._make_claimable(row)
                ids.append(str(row.seq))
        self._broadcast.publish(Notification(NotificationKind.AVAILABLE))
        return ids

    # --- the worker's writes ---------------------------------------------------------------

    async def jobs_claim(
        self, limit: int, *, types: Collection[str], now: datetime
    ) -> list[ClaimedJob]:
        if limit < 1:
            raise ValueError(f"jobs_claim needs limit >= 1, got {limit}")
        claimed: list[ClaimedJob] = []
        with self._lock:
            for row in self._take_claimable(limit, types, now):
                row.status = JobStatus.RUNNING
                row.attempts += 1
                row.last_attempted_at = row.heartbeat_at = row.updated_at = now
                row.lease = uuid.uuid4().hex
                claimed.append(
                    ClaimedJob(
                        id=str(row.seq),
                        type=row.type,
                        payload=row.payload,
                        priority=row.priority,
                        attempts=row.attempts,
                        max_retries=row.max_retries,
                        lease=row.lease,
                        run_at=row.run_at,
                        created_at=row.created_at,
                    )
                )
        return claimed

    async def job_heartbeat(self, job_id: JobId, lease: Lease, *, now: datetime) -> bool:
        with self._lock:
            row = self._leased(job_id, lease)
            if row is None:
                return False
            row.heartbeat_at = row.updated_at = now
            return True

    async def job_complete(
        self, job_id: JobId, lease: Lease, *, result: str | None, now: datetime
    ) -> bool:
        with self._lock:
            return self._complete(job_id, lease, result, now)

    async def jobs_complete(
        self, completions: Sequence[Completion], *, now: datetime
    ) -> list[bool]:
        with self._lock:
            return [self._complete(i, lease, result, now) for i, lease, result in completions]

    def _complete(self, job_id: JobId, lease: Lease, result: str | None, now: datetime) -> bool:
        """Complete the job if it is held under ``lease``; the caller holds the lock."""
        row = self._leased(job_id, lease)
        if row is None:
            return False
        row.status = JobStatus.COMPLETED
        row.completed_at = row.updated_at = now
        row.result = result
        row.lease = None
        return True

    async def job_fail(
        self,
        job_id: JobId,
        lease: Lease,
        *,
        error: JobError,
        retry_at: datetime | None,
        now: datetime,
    ) -> bool:
        with self._lock:
            row = self._leased(job_id, lease)
            if row is None:
                return False
            row.last_error = error.message
            row.error_class = error.error_class
            row.error_traceback = error.traceback
            row.lease = None
            row.updated_at = now
            if retry_at is None:
                row.status = JobStatus.DEAD
                row.failed_at = now
            else:
                row.status = JobStatus.FAILED
                row.run_at = retry_at
                self._make_claimable(row)
        if retry_at is not None:
            self._broadcast.publish(Notification(NotificationKind.AVAILABLE))
        return True

    async def job_release(self, job_id: JobId, lease: Lease, *, now: datetime) -> bool:
        with self._lock:
            row = self._leased(job_id, lease)
            if row is None:
                return False
            requeued = self._requeue_or_bury(
                row, now, message=SHUTDOWN_MESSAGE, error_class=SHUTDOWN_ERROR_CLASS
            )
        if requeued:
            self._broadcast.publish(Notification(NotificationKind.AVAILABLE))
        return True

    # --- maintenance -------------------------------------------------------------------------

    async def jobs_rescue(self, *, stale_before: datetime, now: datetime) -> list[JobId]:
        message = lease_expired_message(stale_before)
        rescued: list[JobId] = []
        requeued = False
        with self._lock:
            for row in self._rows.values():
                stale = row.heartbeat_at is None or row.heartbeat_at < stale_before
                if row.status is JobStatus.RUNNING and stale:
                    requeued |= self._requeue_or_bury(
                        row, now, message=message, error_class=LEASE_EXPIRED_ERROR_CLASS
                    )
                    rescued.append(str(row.seq))
        if requeued:
            self._broadcast.publish(Notification(NotificationKind.AVAILABLE))
        return rescued

    async def jobs_delete_completed(self, *, completed_before: datetime) -> int:
        with self._lock:
            doomed = [
                seq
                for seq, row in self._rows.items()
                if row.status is JobStatus.COMPLETED
                and row.completed_at is not None
                and row.completed_at < completed_before
            ]
            for seq in doomed:
                del self._rows[seq]
        return len(doomed)

    # --- operator actions --------------------------------------------------------------------

    async def job_retry(self, job_id: JobId, *, now: datetime) -> None:
        with self._lock:
            row = self._require(job_id)
            if row.status not in RETRY_ACCEPTS:
                raise InvalidJobStatus(job_id, row.status, "retry", RETRY_ACCEPTS)
            row.status = JobStatus.PENDING
            row.attempts = 0
            row.run_at = row.updated_at = now
            row.cancelled = False
            row.last_error = row.error_class = row.error_traceback = row.result = None
            row.failed_at = row.completed_at = None
            row.last_attempted_at = row.heartbeat_at = None
            self._make_claimable(row)
        self._broadcast.publish(Notification(NotificationKind.AVAILABLE))

    async def job_cancel(self, job_id: JobId, *, now: datetime) -> None:
        with self._lock:
            row = self._require(job_id)
            if row.status not in CANCEL_ACCEPTS:
                raise InvalidJobStatus(job_id, row.status, "cancel", CANCEL_ACCEPTS)
            was_running = row.status is JobStatus.RUNNING
            row.status = JobStatus.DEAD
            row.cancelled = True
            row.failed_at = row.updated_at = now
            row.lease = None
        if was_running:
            self._broadcast.publish(Notification(NotificationKind.CANCELLED, job_id))

    async def job_delete(self, job_id: JobId) -> None:
        with self._lock:
            row = self._require(job_id)
            del self._rows[row.seq]
        if row.status is JobStatus.RUNNING:
            self._broadcast.publish(Notification(NotificationKind.CANCELLED, job_id))

    # --- reads ----------------------------------------------------------------------------------

    async def job_get(self, job_id: JobId) -> Job | None:
        with self._lock:
            row = self._find(job_id)
            return None if row is None else row.to_job()

    async def jobs_list(
        self,
        *,
        status: JobStatus | None = None,
        type: str | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> tuple[list[Job], int]:
        check_page(offset, limit)
        with self._lock:
            matching = [
                row
                for row in self._rows.values()
                if (status is None or row.status is status) and (type is None or row.type == type)
            ]
            matching.sort(key=lambda row: (row.created_at, row.seq), reverse=True)
            page = [row.to_job() for row in matching[offset : offset + limit]]
        return page, len(matching)

    async def jobs_count_by_status(self) -> dict[JobStatus, int]:
        counts = dict.fromkeys(JobStatus, 0)
        with self._lock:
            for row in self._rows.values():
                counts[row.status] += 1
        return counts

    async def jobs_count_ahead(
        self, job_id: JobId, *, now: datetime, types: Collection[str] | None = None
    ) -> int:
        with self._lock:
            key = self._require(job_id).claim_key()
            return sum(
                1
                for row in self._rows.values()
                if row.status in CLAIMABLE_STATUSES
                and row.run_at <= now
                and (types is None or row.type in types)
                and row.claim_key() < key
            )

    async def jobs_types(self) -> list[str]:
        with self._lock:
            return sorted({row.type for row in self._rows.values()})

    async def jobs_finished_per_minute(
        self, *, since: datetime, now: datetime
    ) -> list[FinishedMinute]:
        completed: dict[datetime, int] = {}
        dead: dict[datetime, int] = {}
        with self._lock:
            for row in self._rows.values():
                if row.status is JobStatus.COMPLETED and row.completed_at is not None:
                    _count_minute(completed, row.completed_at, since, now)
                elif row.status is JobStatus.DEAD and row.failed_at is not None:
                    _count_minute(dead, row.failed_at, since, now)
        return [
            FinishedMinute(minute, completed.get(minute, 0), dead.get(minute, 0))
            for minute in sorted(completed.keys() | dead.keys())
        ]

    # --- workers ---------------------------------------------------------------------------------

    async def worker_beat(self, info: WorkerInfo, *, now: datetime) -> None:
        with self._lock:
            self._workers[info.id] = WorkerRecord(info=info, seen_at=now)

    async def workers_list(self, *, seen_since: datetime) -> list[WorkerRecord]:
        with self._lock:
            return sorted(
                (record for record in self._workers.values() if record.seen_at >= seen_since),
                key=lambda record: record.info.id,
            )

    # --- notifications and lifecycle ----------------------------------------------------------

    def notifications(self) -> AsyncIterator[Notification]:
        return self._broadcast.subscribe()

    async def close(self) -> None:
        self._broadcast.close()

    # --- internals -------------------------------------------------------------------------------

    def _find(self, job_id: JobId) -> _Row | None:
        number = counter_id(job_id)
        return None if number is None else self._rows.get(number)

    def _require(self, job_id: JobId) -> _Row:
        row = self._find(job_id)
        if row is None:
            raise JobNotFound(job_id)
        return row

    def _leased(self, job_id: JobId, lease: Lease) -> _Row | None:
        row = self._find(job_id)
        if row is None or row.status is not JobStatus.RUNNING or row.lease != lease:
            return None
        return row

    def _make_claimable(self, row: _Row) -> None:
        row.ticket = self._next_ticket
        self._next_ticket += 1
        heap = self._claimable.setdefault(row.type, [])
        heapq.heappush(heap, (*row.claim_key(), row.ticket))

    def _take_claimable(self, limit: int, types: Collection[str], now: datetime) -> Iterator[_Row]:
        """Pop up to ``limit`` rows claimable at ``now`` across the types' heaps, in order.

        Entries whose run_at lies after ``now`` are set aside and pushed back afterwards:
        a claim must not consume them, and a later claim may see an earlier ``now``.
        """
        heaps = [self._claimable[t] for t in set(types) if t in self._claimable]
        postponed: list[tuple[list[_HeapEntry], _HeapEntry]] = []
        taken = 0
        while taken < limit:
            live = [heap for heap in heaps if heap]
            if not live:
                break
            heap = min(live, key=lambda h: h[0])
            entry = heapq.heappop(heap)
            row = self._rows.get(entry[2])
            if row is None or row.ticket != entry[3] or row.status not in CLAIMABLE_STATUSES:
                continue
            if row.run_at > now:
                postponed.append((heap, entry))
                continue
            taken += 1
            yield row
        for heap, entry in postponed:
            heapq.heappush(heap, entry)

    def _requeue_or_bury(self, row: _Row, now: datetime, *, message: str, error_class: str) -> bool:
        """The rescue/release split: pending while attempts remain, else dead. True if requeued."""
        row.lease = None
        row.updated_at = now
        if row.attempts < row.max_retries:
            row.status = JobStatus.PENDING
            row.run_at = now
            self._make_claimable(row)
            return True
        row.status = JobStatus.DEAD
        row.failed_at = now
        row.last_error = message
        row.error_class = error_class
        row.error_traceback = None
        return False


def _count_minute(
    buckets: dict[datetime, int], when: datetime, since: datetime, now: datetime
) -> None:
    if since <= when <= now:
        minute = when.replace(second=0, microsecond=0)
        buckets[minute] = buckets.get(minute, 0) + 1
