"""The job types the list's filter offers, read from the store at most once per interval.

A store answers ``jobs_types()`` with a DISTINCT over every kept job. On PostgreSQL that is a
full scan (about 0.2 s over 1,000,000 jobs): no index there leads with the type, since every
index costs each claim and completion a B-tree insert (burrow_jobs_sql's schema). The list
page needs the types on every view, yet they change rarely and a late one costs only a moment
without its entry in a dropdown, so the admin keeps the answer for ``fresh_for``, and views
that find it stale together share one read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from burrow_tasks.store import JobStore

__all__ = ["JobTypes"]


class JobTypes:
    """``await job_types.read(store)``: the store's job types, at most ``fresh_for`` seconds old
    (read on every call when ``fresh_for`` is 0)."""

    def __init__(self, fresh_for: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if fresh_for < 0:
            # named as create_admin takes it, the one place it comes from
            raise ValueError(f"job_types_fresh_for must be >= 0 seconds, got {fresh_for}")
        self._fresh_for = fresh_for
        self._clock = clock
        self._types: list[str] = []
        self._read_at = -float("inf")
        self._reading: asyncio.Task[list[str]] | None = None

    async def read(self, store: JobStore) -> list[str]:
        now = self._clock()
        if now - self._read_at < self._fresh_for:
            return list(self._types)
        if self._fresh_for == 0:
            return await store.jobs_types()
        reading = self._reading
        if reading is None or reading.get_loop() is not asyncio.get_running_loop():
            reading = asyncio.ensure_future(self._read(store, now))
            reading.add_done_callback(self._read_ended)
            self._reading = reading
        # Shielded: a view that goes away leaves the read to the others waiting for it.
        return list(await asyncio.shield(reading))

    async def _read(self, store: JobStore, started: float) -> list[str]:
        types = await store.jobs_types()
        # Timed from before the read: a type stored while it ran is then at most fresh_for
        # late, however long the read took.
        self._types, self._read_at = types, started
        return types

    def _read_ended(self, reading: asyncio.Task[list[str]]) -> None:
        if self._reading is reading:
            self._reading = None
        if not reading.cancelled():
            reading.exception()  # retrieved here too, in case every view waiting went away
