"""The job types the list's filter offers, read from the store at most once per interval.

A store answers ``jobs_types()`` with a DISTINCT over every kept job. On PostgreSQL that is a
full scan (about 0.2 s over 1,000,000 jobs): no index there leads with the type, since every index
costs each claim and completion a B-tree insert (burrow_jobs_sql's schema). The list page
needs the types on every view, yet they change rarely and a late one costs only a moment
without its entry in a dropdown, so the admin keeps the answer for ``fresh_for``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from burrow_tasks.store import JobStore

__all__ = ["JobTypes"]


class JobTypes:
    """``await job_types.read(store)``: the store's job types, at most ``fresh_for`` seconds old
    (read on every call when ``fresh_for`` is 0)."""

    def __init__(self, fresh_for: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if fresh_for < 0:
            raise ValueError(f"fresh_for must be >= 0 seconds, got {fresh_for}")
        self._fresh_for = fresh_for
        self._clock = clock
        self._types: list[str] = []
        self._read_at = -float("inf")

    async def read(self, store: JobStore) -> list[str]:
        # Timed from before the read: a type stored while the read ran is then at most
        # fresh_for late, however long the read took.
        started = self._clock()
        if started - self._read_at < self._fresh_for:
            return list(self._types)
        types = await store.jobs_types()
        self._types, self._read_at = types, started
        return list(types)
