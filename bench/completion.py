"""Waiting for an in-process W3 to finish, counted in the database as the harness counts."""

from __future__ import annotations

import asyncio

from burrow_tasks import JobQueue, JobStatus


async def until_completed(queue: JobQueue, jobs: int, poll: float) -> None:
    """Until ``queue``'s store counts ``jobs`` completed jobs, asking every ``poll`` seconds."""
    while True:
        counts = await queue.store.jobs_count_by_status()
        if counts.get(JobStatus.COMPLETED, 0) >= jobs:
            return
        await asyncio.sleep(poll)
