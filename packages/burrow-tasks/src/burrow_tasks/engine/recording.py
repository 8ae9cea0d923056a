"""Writing a finished job's outcome through a store that is briefly away.

A handler's work is done when its outcome write fails because the database is restarting or a
connection was cut. Dropping the write would leave the job running in the store until a rescue
ran it again: the work repeated for a blip of the database. So a failed write is tried again,
at growing delays, for as long as the job's lease can still be valid. The lease guard in the
store keeps the retries safe: once a rescue has taken the job, a late write is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from burrow_tasks.clock import Clock
from burrow_tasks.durations import format_duration
from burrow_tasks.engine.streaks import warn_in_one_line

__all__ = ["FIRST_RETRY_DELAY", "retry_outcome"]

logger = logging.getLogger("burrow_tasks")

FIRST_RETRY_DELAY = timedelta(milliseconds=50)
"""The first pause after a failed outcome write; each further one doubles, up to the
heartbeat interval."""


async def retry_outcome(
    write: Callable[[], Awaitable[bool]],
    failure: Exception,
    *,
    clock: Clock,
    give_up_after: timedelta,
    max_delay: timedelta,
    what: str,
) -> bool | None:
    """``write()``'s verdict after its first try failed with ``failure``: True written,
    False refused (the job is no longer held).

    Tried again after ``FIRST_RETRY_DELAY``, then at doubling delays up to ``max_delay``,
    until ``give_up_after`` has passed; then None: given up, logged with the last error.
    ``what`` names the write in the log ("job 7 as completed"). Cancellation (shutdown's
    write limit) is never caught. (The first try is the caller's own call: the write of
    every finished job pays nothing for this.)
    """
    warn_in_one_line("burrow: recording %s failed (%s); trying again", what, error=failure)
    give_up_at = clock.now() + give_up_after
    delay = min(FIRST_RETRY_DELAY, max_delay)
    failures = 1
    while clock.now() + delay < give_up_at:
        await clock.sleep(delay)
        delay = min(delay * 2, max_delay)
        try:
            return await write()
        except Exception as error:
            failures += 1
            failure = error
            # A store that is away fails every write: the first failure went to the log.
            logger.debug("burrow: recording %s failed again", what, exc_info=True)
    logger.error(
        "burrow: recording %s failed %d times in %s; given up: the job stays running in the "
        "store until a rescue runs it again",
        what,
        failures,
        format_duration(give_up_after),
        exc_info=failure,
    )
    return None
