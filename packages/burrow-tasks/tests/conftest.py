"""Shared fixtures: a memory store, a FakeClock and a queue on both (no sleeping)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest

from burrow_jobs_memory import MemoryStore
from burrow_tasks import FakeClock, JobQueue, JobsConfig

Tick = Callable[[float], Awaitable[None]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def config() -> JobsConfig:
    return JobsConfig()


@pytest.fixture
async def queue(
    store: MemoryStore, clock: FakeClock, config: JobsConfig
) -> AsyncIterator[JobQueue]:
    queue = JobQueue(store, config, clock=clock)
    yield queue
    # Shut down with the clock moving, so a handler still blocked cannot hang the teardown.
    stopping = asyncio.ensure_future(queue.shutdown())
    while not stopping.done():
        await clock.settle()
        clock.advance(config.shutdown_grace)
        await asyncio.sleep(0)
    await stopping


@pytest.fixture
def tick(clock: FakeClock) -> Tick:
    """Advance the fake clock by ``seconds`` and let every woken coroutine run."""

    async def advance(seconds: float) -> None:
        await clock.settle()
        clock.advance(timedelta(seconds=seconds))
        await clock.settle()

    return advance
