"""The log of store calls that fail while the store is away.

A worker repeats its claims every poll interval and its maintenance every pass, and an
outage fails the outcome write and the heartbeat of every job it holds at once; a database
down for a minute would otherwise put a traceback in the log per try and per job. A streak
logs its first failure as an error with the traceback, the next ones at debug level, and
the first success after them as a warning that says how many failed; a per-job failure is
one warning line, its traceback at debug level.
"""

from __future__ import annotations

import logging

__all__ = ["FailureStreak", "in_one_line", "warn_in_one_line"]

logger = logging.getLogger("burrow_tasks")


def in_one_line(error: BaseException) -> str:
    """``Class: first line of the message``, at most 200 characters (a database error's
    message goes on with the whole statement and its parameters)."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def warn_in_one_line(message: str, *args: object, error: BaseException) -> None:
    """``message`` as a warning, its last ``%s`` the error in one line; the same with the
    traceback at debug level."""
    brief = in_one_line(error)
    logger.warning(message, *args, brief)
    logger.debug(message, *args, brief, exc_info=error)


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
