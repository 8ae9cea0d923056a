"""Per-type options and their limits."""

from __future__ import annotations

import pytest

from burrow_tasks import JobConfig, JobLimitError, with_max_retries, with_priority


def test_options_refuse_out_of_range_values_when_made() -> None:
    with pytest.raises(JobLimitError, match="max_retries must be 1-1000"):
        with_max_retries(0)
    with pytest.raises(JobLimitError, match="32-bit"):
        with_priority(2**31)


def test_a_bool_is_not_a_priority() -> None:
    with pytest.raises(JobLimitError, match="must be an int"):
        JobConfig(priority=True)


def test_options_return_a_new_config() -> None:
    config = JobConfig()

    changed = with_priority(-3)(with_max_retries(10)(config))

    assert changed == JobConfig(max_retries=10, priority=-3)
    assert config == JobConfig(max_retries=3, priority=0)
