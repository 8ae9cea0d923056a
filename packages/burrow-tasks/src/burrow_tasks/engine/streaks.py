"""The log of a store call that keeps failing while the store is away.

A worker repeats its claims every poll interval and its maintenance every pass; a database
that is down for a minute would otherwise put one traceback in the log per try. A streak
logs its first failure as an error with the traceback, the next ones at debug level, and
the first success after them as a warning that says how many failed.
"""

from __future__ import annotations

import logging

from burrow_tasks.engine.recording import in_one_line

__all__ = ["FailureStreak"]

logger = logging.getLogger("burrow_tasks")


class FailureStreak:
    """Failures in a row of one repeated call: ``what`` names it ("claiming jobs"),
    ``then`` says what the worker does next ("trying again every poll interval")."""

    __slots__ = ("failures", "then", "what")

    def __init__(self, what: str, then: str) -> None:
        self.what = what
        self.then = then
        self.failures = 0

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        if self.failures == 1:
            logger.error("burrow: %s failed; %s", self.what, self.then, exc_info=error)
        else:
            logger.debug(
                "burrow: %s failed again (%d in a row): %s",
                self.what,
                self.failures,
                in_one_line(error),
            )

    def succeeded(self) -> None:
        if self.failures:
            logger.warning(
                "burrow: %s works again after %d failures in a row", self.what, self.failures
            )
            self.failures = 0
