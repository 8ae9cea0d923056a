"""burrow_tasks: the API apps program against, the store interface and the worker engine."""

from burrow_tasks.clock import Clock, FakeClock, SystemClock
from burrow_tasks.errors import (
    BurrowError,
    ConfigError,
    InvalidJobStatus,
    JobLimitError,
    JobNotFound,
    LeaseExpired,
    NotSupported,
    PayloadError,
    ShutdownInterrupted,
    TaskNotRegistered,
    UnknownJobType,
)
from burrow_tasks.jobs import (
    ClaimedJob,
    FinishedMinute,
    Job,
    JobError,
    NewJob,
    Notification,
    NotificationKind,
    WorkerInfo,
    WorkerRecord,
    WorkerState,
)
from burrow_tasks.store import JobStore
from burrow_tasks.types import Capability, JobId, JobStatus, Lease
from burrow_tasks.workers import PoolState, PoolStatus, pool_status

__all__ = [
    "BurrowError",
    "Capability",
    "ClaimedJob",
    "Clock",
    "ConfigError",
    "FakeClock",
    "FinishedMinute",
    "InvalidJobStatus",
    "Job",
    "JobError",
    "JobId",
    "JobLimitError",
    "JobNotFound",
    "JobStatus",
    "JobStore",
    "Lease",
    "LeaseExpired",
    "NewJob",
    "NotSupported",
    "Notification",
    "NotificationKind",
    "PayloadError",
    "PoolState",
    "PoolStatus",
    "ShutdownInterrupted",
    "SystemClock",
    "TaskNotRegistered",
    "UnknownJobType",
    "WorkerInfo",
    "WorkerRecord",
    "WorkerState",
    "pool_status",
]
