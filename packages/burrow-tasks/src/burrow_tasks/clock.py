"""Where the engine gets the time and waits: the system clock, or a fake one for tests."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock", "require_aware"]


def require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` in UTC; a naive datetime is refused with an error naming ``name``."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            f"{name} must be a timezone-aware datetime, got naive {value.isoformat()!r} "
            "(use datetime.now(UTC) or attach a tzinfo)"
        )
    return value.astimezone(UTC)


def _seconds(delay: float | timedelta) -> float:
    return delay.total_seconds() if isinstance(delay, timedelta) else float(delay)


@runtime_checkable
class Clock(Protocol):
    """The engine's only source of time."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    async def sleep(self, delay: float | timedelta) -> None:
        """Wait ``delay`` (seconds or a timedelta); zero or less returns at once."""
        ...


class SystemClock:
    """Wall-clock time and ``asyncio.sleep``."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, delay: float | timedelta) -> None:
        await asyncio.sleep(max(0.0, _seconds(delay)))

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock that moves only when told to, so tests never sleep.

    ``advance(delta)`` moves time forward and wakes, in deadline order, every sleeper whose
    deadline has passed. The woken coroutines run when the test next yields to the event
    loop (for example by awaiting ``settle()`` or the queue's ``run_until_idle()``).
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            start = datetime(2026, 1, 1, tzinfo=UTC)
        self._now = require_aware(start, "FakeClock start")
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep(self, delay: float | timedelta) -> None:
        seconds = _seconds(delay)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        deadline = self._now + timedelta(seconds=seconds)
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        await future

    def advance(self, delta: float | timedelta) -> None:
        """Move time forward by ``delta`` and wake every sleeper whose deadline has passed."""
        seconds = _seconds(delta)
        if seconds < 0:
            raise ValueError(f"FakeClock.advance needs a delta >= 0, got {seconds}s")
        self._now += timedelta(seconds=seconds)
        self._wake_due()

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (never backwards) and wake every sleeper now due."""
        when = require_aware(when, "FakeClock.set")
        if when < self._now:
            raise ValueError(f"FakeClock cannot go back from {self._now} to {when}")
        self._now = when
        self._wake_due()

    @property
    def sleepers(self) -> int:
        """How many coroutines are sleeping on this clock (cancelled ones excluded)."""
        return sum(1 for _, _, future in self._sleepers if not future.done())

    @property
    def next_deadline(self) -> datetime | None:
        """The earliest deadline any live sleeper waits for, or None."""
        live = [deadline for deadline, _, future in self._sleepers if not future.done()]
        return min(live, default=None)

    async def settle(self, rounds: int = 20) -> None:
        """Yield to the event loop a few times so woken coroutines get to run."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"
