"""Fan-out of notifications to every subscriber, whatever thread or event loop it runs on."""

from __future__ import annotations

import asyncio
import threading
from collections import deque

from burrow_tasks.jobs import Notification, NotificationKind

__all__ = ["Broadcaster", "Subscription"]


class Subscription:
    """One ``notifications()`` iterator. Registered when created, so nothing published after
    ``notifications()`` returns is missed. Pending AVAILABLE hints collapse into one: a burst
    of inserts wakes a worker once, not once per job."""

    def __init__(self, owner: Broadcaster, loop: asyncio.AbstractEventLoop) -> None:
        self._owner = owner
        self._loop = loop
        self._ready = asyncio.Event()
        self._items: deque[Notification] = deque()
        self._available_pending = False
        self._closed = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Notification:
        while True:
            with self._owner.lock:
                if self._items:
                    item = self._items.popleft()
                    if item.kind is NotificationKind.AVAILABLE:
                        self._available_pending = False
                    return item
                if self._closed:
                    raise StopAsyncIteration
                self._ready.clear()
            await self._ready.wait()

    async def aclose(self) -> None:
        self._owner.unsubscribe(self)

    def offer(self, item: Notification) -> bool:
        """Queue ``item`` (caller holds the lock); True when the loop must be woken."""
        if self._closed:
            return False
        if item.kind is NotificationKind.AVAILABLE:
            if self._available_pending:
                return False
            self._available_pending = True
        self._items.append(item)
        return True

    def end(self) -> None:
        """Mark the iterator finished (caller holds the lock)."""
        self._closed = True

    def wake(self) -> None:
        if self._loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._ready.set()
        else:
            self._loop.call_soon_threadsafe(self._ready.set)


class Broadcaster:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._closed = False

    def subscribe(self) -> Subscription:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("notifications() must be called from a running event loop") from None
        subscription = Subscription(self, loop)
        with self.lock:
            if self._closed:
                subscription.end()
            else:
                self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self.lock:
            self._subscriptions.discard(subscription)
            subscription.end()

    def publish(self, item: Notification) -> None:
        with self.lock:
            to_wake = [s for s in self._subscriptions if s.offer(item)]
        for subscription in to_wake:
            subscription.wake()

    def close(self) -> None:
        with self.lock:
            self._closed = True
            subscriptions = list(self._subscriptions)
            self._subscriptions.clear()
            for subscription in subscriptions:
                subscription.end()
        for subscription in subscriptions:
            subscription.wake()
