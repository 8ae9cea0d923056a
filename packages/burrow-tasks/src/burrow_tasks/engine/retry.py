"""When a failed job runs again: exponential backoff from the configured base, capped."""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["MAX_RETRY_DELAY", "retry_at", "retry_delay"]

MAX_RETRY_DELAY = timedelta(hours=1)


def retry_delay(base: timedelta, attempt: int) -> timedelta:
    """``min(base x 2^(attempt-1), 1h)``: with base 30s, 30s, 1m, 2m, 4m, 8m ... 1h."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    if base <= timedelta(0):
        return timedelta(0)
    # The cap has won before the product is taken: past 2^20, or with a base of an hour or
    # more, it could overflow timedelta (a base of 30,000 h at the 21st attempt).
    if attempt > 21 or base >= MAX_RETRY_DELAY:
        return MAX_RETRY_DELAY
    delay: timedelta = base * 2 ** (attempt - 1)
    return min(delay, MAX_RETRY_DELAY)


def retry_at(*, now: datetime, base: timedelta, attempt: int, max_retries: int) -> datetime | None:
    """When the job runs again, or None when ``attempt`` was its last (it goes dead)."""
    if attempt >= max_retries:
        return None
    return now + retry_delay(base, attempt)
