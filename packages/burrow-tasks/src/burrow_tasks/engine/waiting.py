"""Waits measured on the queue's clock, so a FakeClock drives them in tests."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from burrow_tasks.clock import Clock

__all__ = ["wait_event", "wait_tasks"]


async def wait_event(event: asyncio.Event, clock: Clock, limit: timedelta) -> bool:
    """Wait until ``event`` is set or ``limit`` passes on ``clock``; True if it was set."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    sleeper = asyncio.ensure_future(clock.sleep(limit))
    try:
        await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        sleeper.cancel()
    return event.is_set()


async def wait_tasks(
    tasks: Collection[asyncio.Future[Any]], clock: Clock, limit: timedelta
) -> None:
    """Wait until every task is done or ``limit`` passes on ``clock``."""
    pending = {task for task in tasks if not task.done()}
    if not pending:
        return
    sleeper = asyncio.ensure_future(clock.sleep(limit))
    try:
        while pending and not sleeper.done():
            done, _ = await asyncio.wait(pending | {sleeper}, return_when=asyncio.FIRST_COMPLETED)
            pending -= done
    finally:
        sleeper.cancel()
