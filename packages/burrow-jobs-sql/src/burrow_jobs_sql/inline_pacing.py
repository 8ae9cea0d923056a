"""How a write run on the caller's thread keeps from holding the caller's event loop: it backs
off from a slow database (``SlowStreak``) and gives the loop a turn now and then (``Turns``).

Shared by the SQLite inline writes (``inline_writes.py``) and the PostgreSQL inline inserts
(``postgres_inline.py``), which measure "slow" each their own way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Final

__all__ = ["FIRST_PAUSE", "PAUSE", "SLOW_STREAK", "TURN", "SlowStreak", "Turns"]

SLOW_STREAK: Final = 3
"""Slow inline writes in a row that pause inline writing."""

FIRST_PAUSE: Final = 0.05
"""Seconds the writes go to the SQL thread after a slow streak that follows no recent pause."""

PAUSE: Final = 1.0
"""The longest pause: seconds the writes go to the SQL thread after slow streaks that keep
coming back, each pausing twice as long as the last."""

TURN: Final = 0.001
"""Seconds between the turns an inline writer owes its event loop (see ``Turns``)."""


class SlowStreak:
    """``streak`` slow writes in a row pause inline writing for ``first_pause`` seconds; then
    one write measures again, and only a quick one ends the streak. A streak that comes back
    within ``pause`` seconds of the last pause's end pauses twice as long as that one, up to
    ``pause``: a database that stays slow is probed about once a ``pause``. (One slow write
    is no sign: a commit now and then takes ten times the median, after a checkpoint or
    while a log file grows.)"""

    def __init__(
        self,
        *,
        streak: int = SLOW_STREAK,
        first_pause: float = FIRST_PAUSE,
        pause: float = PAUSE,
    ) -> None:
        if not 0 < first_pause <= pause:
            raise ValueError(f"need 0 < first_pause <= pause, got {first_pause} and {pause}")
        if streak < 1:
            raise ValueError(f"need a slow streak of at least 1 write, got {streak}")
        self._streak = streak
        self._first_pause = first_pause
        self._longest_pause = pause
        self._slow_writes = 0
        self._last_pause = 0.0
        self._paused_until = -math.inf

    def paused(self, now: float) -> bool:
        """True while inline writing is paused: the write goes to the SQL thread."""
        return now < self._paused_until

    def record(self, *, slow: bool, now: float) -> None:
        """Count one inline write that ended at ``now``."""
        if not slow:
            self._slow_writes = 0
            return
        self._slow_writes += 1
        if self._slow_writes >= self._streak:
            self._pause_from(now)

    def _pause_from(self, now: float) -> None:
        if now - self._paused_until < self._longest_pause:
            pause = min(2 * self._last_pause, self._longest_pause)
        else:
            pause = self._first_pause
        self._last_pause = pause
        self._paused_until = now + pause


class Turns:
    """``owed()`` is True at most once per ``every`` seconds: the caller then yields to its
    event loop once.

    A write through the SQL thread yields while it waits; an inline one does not, so a
    coroutine enqueueing in a loop would hold the event loop (heartbeats, claims, the app's
    requests) for as long as it runs. Yielding after every write costs an event loop turn
    each; once a millisecond bounds the hold at about one write more."""

    def __init__(self, every: float = TURN, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._given = clock()

    def owed(self) -> bool:
        now = self._clock()
        if now - self._given < self._every:
            return False
        self._given = now
        return True
