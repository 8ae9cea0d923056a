"""How a worker pool's published state reads to an operator: running, stopped, stalled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from burrow_tasks.jobs import WorkerInfo, WorkerState

__all__ = ["PoolState", "PoolStatus", "pool_status", "stall_threshold"]

_MIN_STALL = timedelta(seconds=30)


class PoolState(StrEnum):
    NOT_STARTED = "not_started"
    RUNNING = "running"
    STALLED = "stalled"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class PoolStatus:
    """A worker pool as the admin and health checks show it."""

    state: PoolState
    workers: int = 0
    in_flight: int = 0
    last_poll_at: datetime | None = None
    started_at: datetime | None = None

    @property
    def healthy(self) -> bool:
        return self.state is PoolState.RUNNING


def stall_threshold(poll_interval: timedelta) -> timedelta:
    """A running pool whose last poll is older than this is stalled: max(10 polls, 30 s)."""
    return max(poll_interval * 10, _MIN_STALL)


def pool_status(info: WorkerInfo | None, now: datetime) -> PoolStatus:
    """Read ``info`` (None: the pool never reported) as of ``now``."""
    if info is None:
        return PoolStatus(PoolState.NOT_STARTED)
    state = PoolState.STOPPED
    if info.state is WorkerState.RUNNING:
        polled = info.last_poll_at or info.started_at
        stalled = polled is None or now - polled > stall_threshold(info.poll_interval)
        state = PoolState.STALLED if stalled else PoolState.RUNNING
    return PoolStatus(
        state=state,
        workers=info.workers,
        in_flight=info.in_flight,
        last_poll_at=info.last_poll_at,
        started_at=info.started_at,
    )
