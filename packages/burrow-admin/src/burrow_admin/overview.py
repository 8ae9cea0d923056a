"""The status card: how many jobs of each status, and every process's worker pool."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from burrow_tasks.jobs import Job, WorkerRecord
from burrow_tasks.store import JobStore
from burrow_tasks.types import JobStatus
from burrow_tasks.workers import PoolState, PoolStatus, pool_status

__all__ = ["Overview", "PoolView", "load_overview", "pools_handling"]


@dataclass(frozen=True, slots=True)
class PoolView:
    """One process's pool as the card shows it."""

    record: WorkerRecord
    status: PoolStatus

    @property
    def handles(self) -> tuple[str, ...]:
        return self.record.info.types


@dataclass(frozen=True, slots=True)
class Overview:
    counts: dict[JobStatus, int]
    pools: list[PoolView]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def started(self) -> bool:
        """False while no process has reported a pool: the card says "Not started"."""
        return bool(self.pools)


def _pool_views(records: list[WorkerRecord], now: datetime) -> list[PoolView]:
    return [PoolView(record, pool_status(record.info, now)) for record in records]


async def load_overview(store: JobStore, now: datetime, seen_within: timedelta) -> Overview:
    counts, records = await asyncio.gather(
        store.jobs_count_by_status(), store.workers_list(seen_since=now - seen_within)
    )
    return Overview(
        counts={status: counts.get(status, 0) for status in JobStatus},
        pools=_pool_views(records, now),
    )


def pools_handling(pools: list[PoolView], job: Job) -> list[PoolView]:
    """The running pools that would claim ``job``'s type."""
    return [
        pool
        for pool in pools
        if pool.status.state is PoolState.RUNNING and job.type in pool.handles
    ]
