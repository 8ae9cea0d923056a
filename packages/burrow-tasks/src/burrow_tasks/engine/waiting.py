"""Waits measured on the queue's clock, so a FakeClock drives them in tests."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from burrow_tasks.clock import Clock

__all__ = ["wait_event", "wait_or_cancel", "wait_tasks"]


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


async def wait_or_cancel(
    tasks: Collection[asyncio.Future[Any]], clock: Clock, limit: timedelta, cancel_wait: timedelta
) -> list[asyncio.Future[Any]]:
    """Wait for ``tasks`` until ``limit`` passes on ``clock`` (or this wait is cancelled),
    then cancel those still running and give them ``cancel_wait`` to end; returns those."""
    try:
        await wait_tasks(tasks, clock, limit)
    finally:
        unfinished = [task for task in tasks if not task.done()]
        for task in unfinished:
            task.cancel()
        # Bounded too: a coroutine that swallows its cancellation must not hold the caller.
        await wait_tasks(unfinished, clock, cancel_wait)
    return unfinished
