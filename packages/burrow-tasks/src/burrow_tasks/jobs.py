"""The records that cross the store interface: frozen, typed, plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from burrow_tasks.types import JobId, JobStatus, Lease


@dataclass(frozen=True, slots=True)
class Job:
    """A stored job, as ``job_get`` and ``jobs_list`` return it.

    Every time is a timezone-aware UTC datetime. ``payload`` and ``result`` are JSON text,
    byte for byte as written. ``lease`` is set only while the job is running.
    """

    id: JobId
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


@dataclass(frozen=True, slots=True)
class NewJob:
    """One row for ``jobs_insert``: the engine has checked the limits and encoded the payload."""

    type: str
    payload: str
    priority: int
    max_retries: int
    run_at: datetime


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job handed to a worker by ``jobs_claim``. ``attempts`` already counts this run."""

    id: JobId
    type: str
    payload: str
    priority: int
    attempts: int
    max_retries: int
    lease: Lease
    run_at: datetime
    created_at: datetime


class Completion(NamedTuple):
    """One job's completion in a ``jobs_complete`` batch (``Capability.BATCH_COMPLETE``).
    A tuple, not a dataclass: one is made per finished job."""

    id: JobId
    lease: Lease
    result: str | None


@dataclass(frozen=True, slots=True)
class JobError:
    """What ``job_fail`` records about a failed run."""

    message: str
    error_class: str
    traceback: str | None = None


class WorkerState(StrEnum):
    """What a process reports about its pool in ``worker_beat``."""

    RUNNING = "running"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One process's worker pool, as published through ``worker_beat``.

    ``id`` is unique per ``JobQueue`` instance (host, pid and a random part), so a restarted
    process shows up as a new entry and the old one ages out.
    """

    id: str
    hostname: str
    pid: int
    state: WorkerState
    workers: int
    in_flight: int
    poll_interval: timedelta
    types: tuple[str, ...]
    started_at: datetime | None = None
    last_poll_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    """A ``WorkerInfo`` with the time the store last received it."""

    info: WorkerInfo
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class FinishedMinute:
    """Jobs that finished within one UTC minute (``minute`` has seconds and microseconds 0)."""

    minute: datetime
    completed: int
    dead: int


class NotificationKind(StrEnum):
    AVAILABLE = "available"
    """New work may be claimable (an insert, a retry, a release, a rescue)."""

    CANCELLED = "cancelled"
    """A running job was cancelled or deleted; ``job_id`` names it when the store knows."""


@dataclass(frozen=True, slots=True)
class Notification:
    """One wake-up from ``store.notifications()``. A hint, never a guarantee: the engine
    still polls, and a notification may be spurious or coalesced with others."""

    kind: NotificationKind
    job_id: JobId | None = None
