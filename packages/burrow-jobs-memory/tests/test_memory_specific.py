"""What the memory store does beyond the conformance suite: DSNs and notification delivery."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

from burrow_jobs_memory import MemoryStore
from burrow_jobs_memory.plugin import burrow_backend
from burrow_tasks.jobs import NewJob, NotificationKind

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def new_job(payload: str = "{}") -> NewJob:
    return NewJob(type="t", payload=payload, priority=0, max_retries=3, run_at=NOW)


def test_memory_dsn_opens_a_private_store_each_time() -> None:
    first, second = burrow_backend("memory://"), burrow_backend("memory://")
    assert isinstance(first, MemoryStore)
    assert first is not second


def test_named_memory_dsn_is_shared_within_the_process() -> None:
    assert burrow_backend("memory://shared-test") is burrow_backend("memory://shared-test")


def test_other_schemes_are_left_to_other_plugins() -> None:
    assert burrow_backend("sqlite:///jobs.db") is None


async def test_a_burst_of_inserts_wakes_a_subscriber_once() -> None:
    store = MemoryStore()
    subscription = store.notifications()
    for _ in range(100):
        await store.jobs_insert([new_job()], now=NOW)
    await store.close()
    received = [item async for item in subscription]
    assert [item.kind for item in received] == [NotificationKind.AVAILABLE]


async def test_an_insert_on_another_thread_wakes_a_subscriber_on_this_loop() -> None:
    store = MemoryStore()
    subscription = store.notifications()
    thread = threading.Thread(target=lambda: asyncio.run(store.jobs_insert([new_job()], now=NOW)))
    thread.start()
    item = await asyncio.wait_for(anext(subscription), timeout=5)
    thread.join()
    assert item.kind is NotificationKind.AVAILABLE


async def test_close_ends_every_subscription() -> None:
    store = MemoryStore()
    subscription = store.notifications()
    await store.close()
    assert [item async for item in subscription] == []
