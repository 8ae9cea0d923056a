"""The list filter's job types: read from the store at most once per ``fresh_for``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from burrow_admin import create_admin
from burrow_admin.job_types import JobTypes
from burrow_jobs_memory import MemoryStore
from burrow_tasks import JobQueue
from burrow_tasks.jobs import NewJob

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _store(*types: str) -> MemoryStore:
    store = MemoryStore()
    await _add(store, *types)
    return store


async def _add(store: MemoryStore, *types: str) -> None:
    await store.jobs_insert([NewJob(t, "{}", 0, 3, NOW) for t in types], now=NOW)


def test_types_are_read_again_once_fresh_for_has_passed() -> None:
    async def scenario() -> tuple[list[str], list[str], list[str]]:
        ticks = Ticks()
        job_types = JobTypes(30.0, clock=ticks)
        store = await _store("send-email")
        first = await job_types.read(store)
        await _add(store, "resize-image")
        ticks.now += 29.9
        cached = await job_types.read(store)
        ticks.now += 0.1
        return first, cached, await job_types.read(store)

    first, cached, fresh = asyncio.run(scenario())

    assert first == ["send-email"]
    assert cached == ["send-email"]
    assert fresh == ["resize-image", "send-email"]


class CountingStore(MemoryStore):
    """A memory store that counts its ``jobs_types`` reads and fails the ones asked to."""

    def __init__(self) -> None:
        super().__init__()
        self.type_reads = 0
        self.failing_reads = 0

    async def jobs_types(self) -> list[str]:
        self.type_reads += 1
        await asyncio.sleep(0)  # a real read yields while the database answers
        if self.failing_reads:
            self.failing_reads -= 1
            raise ConnectionError("database went away")
        return await super().jobs_types()


def test_views_that_find_the_types_stale_together_share_one_read() -> None:
    async def scenario() -> tuple[list[list[str]], int]:
        store = CountingStore()
        await _add(store, "send-email")
        job_types = JobTypes(30.0, clock=Ticks())
        views = await asyncio.gather(*(job_types.read(store) for _ in range(10)))
        return views, store.type_reads

    views, reads = asyncio.run(scenario())

    assert views == [["send-email"]] * 10
    assert reads == 1


def test_with_fresh_for_zero_every_view_reads() -> None:
    async def scenario() -> int:
        store = CountingStore()
        job_types = JobTypes(0.0, clock=Ticks())
        await asyncio.gather(*(job_types.read(store) for _ in range(3)))
        return store.type_reads

    assert asyncio.run(scenario()) == 3


def test_a_failed_read_fails_its_views_and_the_next_view_reads_again() -> None:
    async def scenario() -> tuple[list[list[str] | BaseException], list[str]]:
        store = CountingStore()
        await _add(store, "send-email")
        store.failing_reads = 1
        job_types = JobTypes(30.0, clock=Ticks())
        failed = await asyncio.gather(
            job_types.read(store), job_types.read(store), return_exceptions=True
        )
        return list(failed), await job_types.read(store)

    failed, after = asyncio.run(scenario())

    assert [type(view) for view in failed] == [ConnectionError, ConnectionError]
    assert after == ["send-email"]


def test_callers_cannot_change_the_cached_types() -> None:
    async def scenario() -> list[str]:
        job_types = JobTypes(30.0, clock=Ticks())
        store = await _store("send-email")
        (await job_types.read(store)).append("planted")
        return await job_types.read(store)

    assert asyncio.run(scenario()) == ["send-email"]


def test_a_negative_fresh_for_is_refused() -> None:
    with pytest.raises(ValueError, match="fresh_for must be >= 0"):
        JobTypes(-1.0)


def test_create_admin_refuses_a_negative_job_types_fresh_for() -> None:
    with pytest.raises(ValueError, match="job_types_fresh_for must be >= 0"):
        create_admin(
            JobQueue(MemoryStore()),
            allow_anonymous=True,
            secret_key="test-secret-key-0123456789abcdef",
            job_types_fresh_for=timedelta(seconds=-1),
        )
