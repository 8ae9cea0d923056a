"""Sync handlers run on daemon threads, so a hung one can never block the process's exit.

Threads are reused (one per concurrently running sync handler, at most) and never killed:
a thread whose handler hangs simply stays busy, and a new one serves the next job.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

__all__ = ["run_on_daemon_thread"]

T = TypeVar("T")


class _DaemonThreads:
    def __init__(self) -> None:
        self._work: SimpleQueue[Callable[[], None]] = SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._count = 0

    def submit(self, work: Callable[[], None]) -> None:
        with self._lock:
            # An idle thread is blocked in get() and will take this item; else start one.
            spawn = self._idle == 0
            if spawn:
                self._count += 1
            else:
                self._idle -= 1
        self._work.put(work)
        if spawn:
            name = f"burrow-sync-handler-{self._count}"
            threading.Thread(target=self._serve, name=name, daemon=True).start()

    def _serve(self) -> None:
        while True:
            work = self._work.get()
            work()
            with self._lock:
                self._idle += 1


_threads = _DaemonThreads()


async def run_on_daemon_thread(func: Callable[..., T], *args: Any) -> T:
    """Call ``func(*args)`` on a daemon thread in a copy of the current context and await
    its outcome. Cancelling the await abandons the call; the thread runs on to its end."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle_result(value: T) -> None:
        if not future.done():
            future.set_result(value)

    def settle_error(error: BaseException) -> None:
        if not future.done():
            future.set_exception(error)

    def work() -> None:
        try:
            value = context.run(func, *args)
        except BaseException as error:  # handed to the awaiting coroutine, never lost
            _deliver(loop, settle_error, error)
        else:
            _deliver(loop, settle_result, value)

    _threads.submit(work)
    return await future


def _deliver(loop: asyncio.AbstractEventLoop, settle: Callable[[Any], None], value: Any) -> None:
    # A closed loop raises RuntimeError: nobody waits for this outcome any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(settle, value)
