"""Config: every flag and env var with its default, durations, validation naming the flag."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest

from burrow_tasks import ConfigError, JobsConfig, add_arguments, parse_duration


def test_the_defaults_match_the_design() -> None:
    config = JobsConfig()

    assert config.workers == 2
    assert config.poll_interval == timedelta(seconds=1)
    assert config.retry_base_delay == timedelta(seconds=30)
    assert config.database_dsn == ""
    assert config.heartbeat_interval == timedelta(seconds=30)
    assert config.stale_timeout == timedelta(minutes=10)
    assert config.shutdown_grace == timedelta(seconds=30)
    assert config.shutdown_write_limit == timedelta(seconds=10)
    assert config.maintenance_interval == timedelta(minutes=5)
    assert config.completed_retention == timedelta(hours=24)
    assert config.claim_ahead == 40
    assert config.max_payload_bytes == 1024 * 1024


def test_from_env_reads_every_jobs_variable() -> None:
    config = JobsConfig.from_env(
        {
            "JOBS_WORKERS": "8",
            "JOBS_POLL_INTERVAL": "500ms",
            "JOBS_RETRY_BASE_DELAY": "5s",
            "JOBS_DATABASE_DSN": "sqlite:///jobs.db",
            "JOBS_HEARTBEAT_INTERVAL": "10s",
            "JOBS_STALE_TIMEOUT": "1m",
            "JOBS_SHUTDOWN_GRACE": "2s",
            "JOBS_SHUTDOWN_WRITE_LIMIT": "3s",
            "JOBS_MAINTENANCE_INTERVAL": "1m",
            "JOBS_COMPLETED_RETENTION": "1h",
            "JOBS_CLAIM_AHEAD": "0",
            "JOBS_MAX_PAYLOAD_BYTES": "2048",
        }
    )

    assert config == JobsConfig(
        workers=8,
        poll_interval=timedelta(milliseconds=500),
        retry_base_delay=timedelta(seconds=5),
        database_dsn="sqlite:///jobs.db",
        heartbeat_interval=timedelta(seconds=10),
        stale_timeout=timedelta(minutes=1),
        shutdown_grace=timedelta(seconds=2),
        shutdown_write_limit=timedelta(seconds=3),
        maintenance_interval=timedelta(minutes=1),
        completed_retention=timedelta(hours=1),
        claim_ahead=0,
        max_payload_bytes=2048,
    )


def test_from_args_reads_the_flags_and_they_win_over_the_env() -> None:
    config = JobsConfig.from_args(
        ["--jobs-workers", "4", "--jobs-poll-interval", "50ms"],
        environ={"JOBS_WORKERS": "9", "JOBS_SHUTDOWN_GRACE": "5s"},
    )

    assert config.workers == 4
    assert config.poll_interval == timedelta(milliseconds=50)
    assert config.shutdown_grace == timedelta(seconds=5)


def test_an_app_adds_the_flags_to_its_own_parser() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int)
    add_arguments(parser)

    args = parser.parse_args(["--port", "8000", "--jobs-workers", "3"])

    assert args.port == 8000
    assert JobsConfig.from_namespace(args, environ={}).workers == 3


def test_as_flags_reproduces_the_config() -> None:
    config = JobsConfig(workers=5, poll_interval=timedelta(milliseconds=250))

    assert JobsConfig.from_args(config.as_flags(), environ={}) == config


def test_a_bad_integer_names_the_flag_and_env_var() -> None:
    with pytest.raises(ConfigError, match="--jobs-workers / JOBS_WORKERS: 'many'"):
        JobsConfig.from_env({"JOBS_WORKERS": "many"})


def test_a_bad_duration_names_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"--jobs-poll-interval.*not a duration"):
        JobsConfig.from_args(["--jobs-poll-interval", "soon"], environ={})


def test_zero_workers_are_refused() -> None:
    with pytest.raises(ConfigError, match="--jobs-workers / JOBS_WORKERS must be at least 1"):
        JobsConfig(workers=0)


def test_a_zero_poll_interval_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--jobs-poll-interval .* must be > 0"):
        JobsConfig.from_env({"JOBS_POLL_INTERVAL": "0"})


def test_a_zero_shutdown_write_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--jobs-shutdown-write-limit .* must be > 0"):
        JobsConfig.from_env({"JOBS_SHUTDOWN_WRITE_LIMIT": "0"})


def test_a_stale_timeout_under_three_heartbeats_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--jobs-stale-timeout .* at least 3 x the heartbeat"):
        JobsConfig(heartbeat_interval=timedelta(minutes=1), stale_timeout=timedelta(minutes=2))


def test_a_negative_retry_base_delay_is_refused() -> None:
    with pytest.raises(ConfigError, match="--jobs-retry-base-delay"):
        JobsConfig(retry_base_delay=timedelta(seconds=-1))


def test_a_negative_claim_ahead_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--jobs-claim-ahead / JOBS_CLAIM_AHEAD must be >= 0"):
        JobsConfig.from_env({"JOBS_CLAIM_AHEAD": "-1"})


def test_a_zero_retry_base_delay_is_accepted() -> None:
    assert JobsConfig.from_env({"JOBS_RETRY_BASE_DELAY": "0"}).retry_base_delay == timedelta(0)


def test_replace_reads_duration_strings() -> None:
    assert JobsConfig().replace(poll_interval="50ms").poll_interval == timedelta(milliseconds=50)


def test_replace_refuses_an_unknown_setting() -> None:
    with pytest.raises(ConfigError, match="unknown jobs setting 'wrokers'"):
        JobsConfig().replace(wrokers=3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("1s", timedelta(seconds=1)),
        ("1.5s", timedelta(seconds=1.5)),
        ("5m", timedelta(minutes=5)),
        ("24h", timedelta(hours=24)),
        ("1h30m", timedelta(minutes=90)),
        ("0", timedelta(0)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "5 minutes", "-1s", "1d", "s"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
