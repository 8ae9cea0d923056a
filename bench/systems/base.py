"""What the harness asks of each benchmarked system.

One subclass per system. The harness makes one instance per measurement in its own process
(install, enqueue, count) and, in each worker process, another one that prepares a worker
and then runs it until the harness kills the process. Handlers are no-ops that first call
``bench.probe.record(index)`` so W4 can time their start.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import ClassVar, Literal

from bench.targets import Database, Target

Kind = Literal["burrow", "floor", "peer"]

PREFILL_CHUNK = 5_000
"""Jobs per bulk call when a system pre-enqueues work for W3, W5 and W6."""


class NoBulkApi(Exception):
    """The system has no way to enqueue many jobs in one call (W2 reports "none")."""


class System(abc.ABC):
    name: ClassVar[str]
    """How the tables and the JSON name this system."""
    database: ClassVar[Database]
    kind: ClassVar[Kind]
    settings: ClassVar[str] = "defaults"
    """The configuration measured, as the results table states it."""
    counts_in_worker: ClassVar[bool] = False
    """True when only the worker process can see the jobs (the memory store): the
    harness then asks the worker for the completed count and lets it prefill."""
    latency_in_process: ClassVar[bool] = False
    """True when W4 also runs with the enqueuer inside the worker process."""
    latency_cross_process: ClassVar[bool] = True
    """False when a separate enqueuing process cannot reach the worker (the memory store)."""

    def __init__(self, target: Target) -> None:
        self.target = target

    # --- the harness's side ----------------------------------------------------------------

    async def install(self) -> None:  # noqa: B027 (optional step)
        """Create the system's schema in the fresh database."""

    async def open(self) -> None:  # noqa: B027 (optional step)
        """Connect the enqueuing client."""

    async def close(self) -> None:  # noqa: B027 (optional step)
        """Disconnect the enqueuing client."""

    @abc.abstractmethod
    async def enqueue_one(self, index: int) -> None:
        """Enqueue one no-op job in its own call and transaction (W1, W4)."""

    async def enqueue_batch(self, indexes: Sequence[int]) -> None:
        """Enqueue all ``indexes`` through the system's bulk API in one call (W2)."""
        raise NoBulkApi(self.name)

    async def prefill(self, count: int) -> None:
        """Pre-enqueue ``count`` jobs as fast as the system allows (W3, W5, W6)."""
        try:
            for start in range(0, count, PREFILL_CHUNK):
                await self.enqueue_batch(range(start, min(count, start + PREFILL_CHUNK)))
        except NoBulkApi:
            for index in range(count):
                await self.enqueue_one(index)

    @abc.abstractmethod
    async def count_done(self) -> int:
        """How many jobs have their completion committed, counted in the database."""

    # --- a worker process's side -------------------------------------------------------------

    @abc.abstractmethod
    async def prepare_worker(self, concurrency: int) -> None:
        """Import, connect and configure a worker without taking any job yet."""

    @abc.abstractmethod
    async def run_worker(self) -> None:
        """Start working; return only if the worker stops by itself."""
