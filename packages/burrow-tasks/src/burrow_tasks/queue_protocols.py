"""What app code programs against: ``Enqueuer`` (submit jobs) and ``Queue`` (also handle them).

``JobQueue`` implements both; code that only submits jobs should ask for an ``Enqueuer``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from burrow_tasks.codec import PayloadCodec
from burrow_tasks.options import JobOption
from burrow_tasks.types import JobId

__all__ = ["Enqueuer", "JobHandler", "Queue"]

JobHandler = Callable[[bytes], Awaitable[None] | None]
"""A raw handler: takes the payload's JSON text as UTF-8 bytes. Async or sync; a sync one runs
on a daemon thread."""


@runtime_checkable
class Enqueuer(Protocol):
    """Submits jobs. Every method checks the type is registered, then the limits, then
    encodes the payload; nothing is written on any failure. ``using`` is the app's open
    connection or transaction, passed through to the store."""

    async def enqueue(self, type_name: str, payload: Any, *, using: Any = None) -> JobId:
        """Enqueue one job to run now; returns its id."""
        ...

    async def enqueue_at(
        self, type_name: str, payload: Any, run_at: datetime, *, using: Any = None
    ) -> JobId:
        """Enqueue one job to run at ``run_at`` (timezone-aware)."""
        ...

    async def enqueue_batch(
        self, type_name: str, payloads: Sequence[Any], *, using: Any = None
    ) -> list[JobId]:
        """Enqueue jobs of one type in one all-or-nothing insert; ids in input order."""
        ...

    async def enqueue_batch_at(
        self, type_name: str, payloads: Sequence[Any], run_at: datetime, *, using: Any = None
    ) -> list[JobId]:
        """``enqueue_batch`` with one ``run_at`` for every job."""
        ...

    async def dequeue(self, job_id: JobId) -> None:
        """Cancel a pending, failed or running job (it goes dead, marked cancelled)."""
        ...


@runtime_checkable
class Queue(Enqueuer, Protocol):
    """An ``Enqueuer`` that also knows how to run each job type."""

    def handle(
        self,
        type_name: str,
        handler: JobHandler,
        *options: JobOption,
        max_retries: int = 3,
        priority: int = 0,
        codec: PayloadCodec[Any] | None = None,
    ) -> None:
        """Register ``handler`` for ``type_name``; registering a type again replaces it.

        ``max_retries`` is the maximum number of executions (3: at most three runs, then
        dead). ``codec`` encodes payloads at enqueue (default: plain JSON).
        """
        ...
