"""burrow_tasks: the API apps program against, the store interface and the worker engine."""

from burrow_tasks.asgi import queue_lifespan
from burrow_tasks.clock import Clock, FakeClock, SystemClock
from burrow_tasks.codec import JsonCodec, PayloadCodec, TypedCodec, codec_for
from burrow_tasks.config import JobsConfig, add_arguments
from burrow_tasks.connect import open_queue
from burrow_tasks.context import (
    JobContext,
    ResultCapture,
    capture_result,
    current_job,
    with_result_capture,
)
from burrow_tasks.durations import parse_duration
from burrow_tasks.engine import JobQueue, MaintenanceReport, retry_delay
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
from burrow_tasks.hookspecs import hookimpl, hookspec
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
    WorkerState,
)
from burrow_tasks.options import JobConfig, JobOption, with_max_retries, with_priority
from burrow_tasks.plugins import get_plugin_manager
from burrow_tasks.queue_protocols import Enqueuer, JobHandler, Queue
from burrow_tasks.store import CompletesInBatches, JobStore
from burrow_tasks.tasks import ResultTask, TaskDefinition, define_result_task, define_task, task
from burrow_tasks.types import Capability, JobId, JobStatus, Lease
from burrow_tasks.workers import PoolState, PoolStatus, pool_status

__all__ = [
    "BurrowError",
    "Capability",
    "ClaimedJob",
    "Clock",
    "CompletesInBatches",
    "Completion",
    "ConfigError",
    "Enqueuer",
    "FakeClock",
    "FinishedMinute",
    "InvalidJobStatus",
    "Job",
    "JobConfig",
    "JobContext",
    "JobError",
    "JobHandler",
    "JobId",
    "JobLimitError",
    "JobNotFound",
    "JobOption",
    "JobQueue",
    "JobStatus",
    "JobStore",
    "JobsConfig",
    "JsonCodec",
    "Lease",
    "LeaseExpired",
    "MaintenanceReport",
    "NewJob",
    "NotSupported",
    "Notification",
    "NotificationKind",
    "PayloadCodec",
    "PayloadError",
    "PoolState",
    "PoolStatus",
    "Queue",
    "ResultCapture",
    "ResultTask",
    "ShutdownInterrupted",
    "SystemClock",
    "TaskDefinition",
    "TaskNotRegistered",
    "TypedCodec",
    "UnknownJobType",
    "WorkerInfo",
    "WorkerRecord",
    "WorkerState",
    "add_arguments",
    "capture_result",
    "codec_for",
    "current_job",
    "define_result_task",
    "define_task",
    "get_plugin_manager",
    "hookimpl",
    "hookspec",
    "open_queue",
    "parse_duration",
    "pool_status",
    "queue_lifespan",
    "retry_delay",
    "task",
    "with_max_retries",
    "with_priority",
    "with_result_capture",
]
