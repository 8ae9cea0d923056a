"""The errors burrow raises. Each one names what was wrong."""

from __future__ import annotations

from collections.abc import Iterable

from burrow_tasks.types import JobId, JobStatus


class BurrowError(Exception):
    """Base class of every error burrow raises on purpose."""


class JobNotFound(BurrowError, LookupError):
    """No job has this id."""

    def __init__(self, job_id: JobId) -> None:
        super().__init__(f"job {job_id!r} not found")
        self.job_id = job_id


class InvalidJobStatus(BurrowError, ValueError):
    """An operator action was asked of a job whose status does not allow it."""

    def __init__(
        self, job_id: JobId, status: JobStatus, action: str, allowed: Iterable[JobStatus]
    ) -> None:
        allowed_text = ", ".join(sorted(s.value for s in allowed)) or "none"
        super().__init__(
            f"cannot {action} job {job_id!r}: its status is {status.value!r}; "
            f"{action} accepts {allowed_text}"
        )
        self.job_id = job_id
        self.status = status
        self.action = action


class UnknownJobType(BurrowError, LookupError):
    """A job was enqueued for a type this queue has no handler for."""

    def __init__(self, type_name: str, registered: Iterable[str]) -> None:
        names = sorted(registered)
        listing = ", ".join(repr(n) for n in names) if names else "none"
        super().__init__(
            f"unknown job type {type_name!r}: register it with queue.handle() or a task's "
            f".register(queue) first (registered types: {listing})"
        )
        self.type_name = type_name
        self.registered = tuple(names)


class PayloadError(BurrowError, ValueError):
    """A payload could not be encoded, is not JSON text, or is too large."""


class JobLimitError(BurrowError, ValueError):
    """A type name, priority, max_retries or run_at is outside its limits."""


class TaskNotRegistered(BurrowError, RuntimeError):
    """A typed task was enqueued before ``task.register(queue)`` bound it to a queue."""

    def __init__(self, task_name: str) -> None:
        super().__init__(
            f"task {task_name!r} is not registered with a queue: call "
            f"{task_name!r}.register(queue) (or register it in burrow_register_jobs) first"
        )
        self.task_name = task_name


class ConfigError(BurrowError, ValueError):
    """A configuration value is invalid; the message names the flag and the env var."""


class NotSupported(BurrowError, NotImplementedError):
    """The store lacks the capability an optional method needs."""


class LeaseExpired(BurrowError):
    """Recorded (by name) on a job that a rescue sent dead: its heartbeats stopped."""


class ShutdownInterrupted(BurrowError):
    """Recorded (by name) on a job whose last attempt was cut short by shutdown."""
