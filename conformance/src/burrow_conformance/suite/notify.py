"""Capability ``notify``: wake-ups for the engine when work arrives or a running job is cancelled.

Notifications are hints (coalesced, maybe spurious), so these tests only ask that one of the
expected kind arrives. A store may subscribe lazily (e.g. PostgreSQL ``LISTEN``), so the
tests keep writing until the subscription shows it is live instead of guessing a delay. A
generous safety timeout turns a missing notification into a failure instead of a hang.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from burrow_conformance._assertions import Rule, check, violation
from burrow_conformance._harness import Session, store_test
from burrow_conformance.requirements import requires, requires_absent
from burrow_tasks.errors import NotSupported
from burrow_tasks.jobs import Notification, NotificationKind
from burrow_tasks.types import Capability

__all__ = ["NotifyTests"]

SAFETY_TIMEOUT = 10.0
"""Seconds before a notification that never comes fails the test (never a pass condition)."""

RETRY_EVERY = 0.05


async def _next_while(
    iterator: AsyncIterator[Notification], poke: Callable[[], Awaitable[object]]
) -> Notification:
    """The next notification, calling ``poke()`` again every so often until it comes."""
    waiter = asyncio.ensure_future(anext(iterator))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SAFETY_TIMEOUT
    try:
        while True:
            await poke()
            done, _ = await asyncio.wait({waiter}, timeout=RETRY_EVERY)
            if done:
                return waiter.result()
            if loop.time() > deadline:
                violation(
                    Rule.NOTIFY, "notifications()", f"nothing arrived within {SAFETY_TIMEOUT}s"
                )
    finally:
        waiter.cancel()


async def _until_kind(
    iterator: AsyncIterator[Notification], kind: NotificationKind
) -> Notification:
    """Skip notifications of other kinds (hints may be spurious) until one of ``kind``."""
    async with asyncio.timeout(SAFETY_TIMEOUT):
        async for note in iterator:
            if note.kind is kind:
                return note
    return violation(
        Rule.NOTIFY, "notifications()", f"the iterator ended before a {kind.value!r} notification"
    )


def _poke(s: Session) -> Callable[[], Awaitable[object]]:
    """Insert a job of a type the tests never claim, so pokes do not disturb them."""

    async def poke() -> object:
        return await s.insert("thumbnail")

    return poke


class NotifyTests:
    """``store.notifications()``."""

    @requires(Capability.NOTIFY)
    @store_test
    async def test_insert_produces_an_available_notification(self, s: Session) -> None:
        iterator = aiter(s.store.notifications())
        note = await _next_while(iterator, _poke(s))
        check(
            Rule.NOTIFY,
            "notifications() after jobs_insert",
            expected=NotificationKind.AVAILABLE,
            got=note.kind,
        )

    @requires(Capability.NOTIFY)
    @store_test
    async def test_cancel_of_a_running_job_produces_a_cancelled_notification(
        self, s: Session
    ) -> None:
        iterator = aiter(s.store.notifications())
        await _next_while(iterator, _poke(s))  # the subscription is live from here on
        claimed = await s.running()
        await s.store.job_cancel(claimed.id, now=s.now)
        note = await _until_kind(iterator, NotificationKind.CANCELLED)
        if note.job_id is not None:
            check(
                Rule.NOTIFY,
                "notifications() after job_cancel → job_id",
                expected=claimed.id,
                got=note.job_id,
            )

    @requires(Capability.NOTIFY)
    @store_test
    async def test_delete_of_a_running_job_produces_a_cancelled_notification(
        self, s: Session
    ) -> None:
        iterator = aiter(s.store.notifications())
        await _next_while(iterator, _poke(s))
        claimed = await s.running()
        await s.store.job_delete(claimed.id)
        note = await _until_kind(iterator, NotificationKind.CANCELLED)
        if note.job_id is not None:
            check(
                Rule.NOTIFY,
                "notifications() after job_delete → job_id",
                expected=claimed.id,
                got=note.job_id,
            )

    @requires(Capability.NOTIFY)
    @store_test
    async def test_close_ends_the_notification_iterator(self, s: Session) -> None:
        iterator = aiter(s.store.notifications())
        await _next_while(iterator, _poke(s))
        waiter = asyncio.ensure_future(_drain(iterator))
        await asyncio.sleep(0)
        await s.store.close()
        try:
            async with asyncio.timeout(SAFETY_TIMEOUT):
                await waiter
        except TimeoutError:
            violation(Rule.NOTIFY, "close()", "the notifications() iterator did not end")

    @requires_absent(Capability.NOTIFY)
    @store_test
    async def test_notifications_without_the_capability_raise_not_supported(
        self, s: Session
    ) -> None:
        with pytest.raises(NotSupported):
            await anext(aiter(s.store.notifications()))


async def _drain(iterator: AsyncIterator[Notification]) -> None:
    async for _ in iterator:
        pass
