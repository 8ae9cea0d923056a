"""Per-type job settings (max_retries, priority) and the limits every enqueue respects."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from burrow_tasks.errors import JobLimitError
from burrow_tasks.text import is_storable

__all__ = [
    "MAX_PRIORITY",
    "MAX_RETRIES_LIMIT",
    "MAX_TYPE_NAME_LENGTH",
    "MIN_PRIORITY",
    "JobConfig",
    "JobOption",
    "check_max_retries",
    "check_priority",
    "check_type_name",
    "resolve_config",
    "with_max_retries",
    "with_priority",
]

MAX_TYPE_NAME_LENGTH = 200
MIN_PRIORITY = -(2**31)
MAX_PRIORITY = 2**31 - 1
MAX_RETRIES_LIMIT = 1000


def check_type_name(name: object) -> str:
    """Return ``name`` if it is a job type name of 1-200 characters that every database
    keeps as it is (no NUL character, no lone surrogate), else raise."""
    if not isinstance(name, str):
        raise JobLimitError(f"job type name must be a str, got {type(name).__name__}")
    if not 1 <= len(name) <= MAX_TYPE_NAME_LENGTH:
        raise JobLimitError(
            f"job type name must be 1-{MAX_TYPE_NAME_LENGTH} characters, "
            f"got {len(name)}: {name[:40]!r}{'...' if len(name) > 40 else ''}"
        )
    if not is_storable(name):
        raise JobLimitError(
            "job type name must hold no NUL character and no lone surrogate (PostgreSQL "
            f"refuses the one, UTF-8 cannot encode the other), got {name!r}"
        )
    return name


def check_priority(priority: object) -> int:
    """Return ``priority`` if it is a 32-bit signed integer, else raise."""
    # bool is an int subclass; True as a priority is a bug, not a request for priority 1.
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise JobLimitError(f"priority must be an int, got {type(priority).__name__}")
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise JobLimitError(
            f"priority must be a 32-bit signed integer ({MIN_PRIORITY}..{MAX_PRIORITY}), "
            f"got {priority}"
        )
    return priority


def check_max_retries(max_retries: object) -> int:
    """Return ``max_retries`` if it is 1-1000, else raise."""
    if not isinstance(max_retries, int) or isinstance(max_retries, bool):
        raise JobLimitError(f"max_retries must be an int, got {type(max_retries).__name__}")
    if not 1 <= max_retries <= MAX_RETRIES_LIMIT:
        raise JobLimitError(
            f"max_retries must be 1-{MAX_RETRIES_LIMIT} (the maximum number of executions), "
            f"got {max_retries}"
        )
    return max_retries


@dataclass(frozen=True, slots=True)
class JobConfig:
    """The settings every job of one type is enqueued with.

    ``max_retries`` is the maximum number of executions: 3 means at most three runs, then
    the job is dead. ``priority``: higher is claimed first.
    """

    max_retries: int = 3
    priority: int = 0

    def __post_init__(self) -> None:
        check_max_retries(self.max_retries)
        check_priority(self.priority)


JobOption = Callable[[JobConfig], JobConfig]
"""A setting applied over the keyword defaults, e.g. ``with_max_retries(5)``."""


def with_max_retries(n: int) -> JobOption:
    """Run a job at most ``n`` times (1-1000) before it goes dead."""
    check_max_retries(n)

    def apply(config: JobConfig) -> JobConfig:
        return replace(config, max_retries=n)

    return apply


def with_priority(n: int) -> JobOption:
    """Claim jobs of this type before those with a lower priority (32-bit signed)."""
    check_priority(n)

    def apply(config: JobConfig) -> JobConfig:
        return replace(config, priority=n)

    return apply


def resolve_config(options: Iterable[JobOption], *, max_retries: int, priority: int) -> JobConfig:
    """The keywords, then each option in order (a later option wins)."""
    config = JobConfig(
        max_retries=check_max_retries(max_retries), priority=check_priority(priority)
    )
    for option in options:
        if not callable(option):
            raise TypeError(
                f"job options must be JobOption values such as with_priority(10), got {option!r}"
            )
        config = option(config)
    return config
