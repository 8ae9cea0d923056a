"""The names the admin shares between its modules: what it needs of a queue, the access rule."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Protocol, TypeAlias, runtime_checkable

from starlette.requests import Request

from burrow_tasks.clock import Clock
from burrow_tasks.store import JobStore
from burrow_tasks.types import JobId

__all__ = ["AccessRule", "AdminQueue"]

AccessRule: TypeAlias = Callable[[Request], "bool | Awaitable[bool]"]
"""Decides whether a request may use the admin: ``(request) -> bool``, sync or async."""


@runtime_checkable
class AdminQueue(Protocol):
    """What the admin uses of a ``burrow_tasks.JobQueue``, and nothing more.

    Reads go straight to ``store``; the three operator actions go through the queue so that
    it can also stop a running handler. Each action raises ``JobNotFound`` or
    ``InvalidJobStatus``.
    """

    @property
    def store(self) -> JobStore: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def registered_types(self) -> Collection[str]:
        """The job types this process has handlers for."""
        ...

    async def retry(self, job_id: JobId) -> object: ...

    async def dequeue(self, job_id: JobId) -> object: ...

    async def delete(self, job_id: JobId) -> object: ...
