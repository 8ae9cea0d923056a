"""Backoff: base x 2^(attempt-1), capped at one hour; base 0 retries at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from burrow_tasks.engine.retry import retry_at, retry_delay

BASE = timedelta(seconds=30)


@pytest.mark.parametrize(
    ("attempt", "delay"),
    [
        (1, timedelta(seconds=30)),
        (2, timedelta(minutes=1)),
        (3, timedelta(minutes=2)),
        (4, timedelta(minutes=4)),
        (5, timedelta(minutes=8)),
    ],
)
def test_the_delay_doubles_per_attempt(attempt: int, delay: timedelta) -> None:
    assert retry_delay(BASE, attempt) == delay


@pytest.mark.parametrize("attempt", [8, 9, 30, 1000])
def test_the_delay_is_capped_at_one_hour(attempt: int) -> None:
    assert retry_delay(BASE, attempt) == timedelta(hours=1)


def test_a_base_of_zero_retries_at_once() -> None:
    assert retry_delay(timedelta(0), 5) == timedelta(0)


def test_no_retry_after_the_last_attempt() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_at(now=now, base=BASE, attempt=3, max_retries=3) is None
    assert retry_at(now=now, base=BASE, attempt=2, max_retries=3) == now + timedelta(minutes=1)


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        retry_delay(BASE, 0)


@pytest.mark.parametrize("attempt", [1, 21])
def test_a_base_of_an_hour_or_more_is_capped_without_overflow(attempt: int) -> None:
    # 30,000 h doubled twenty times is past what a timedelta holds.
    assert retry_delay(timedelta(hours=30_000), attempt) == timedelta(hours=1)
