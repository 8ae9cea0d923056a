"""The queue's configuration: every ``--jobs-*`` flag and ``JOBS_*`` env var, validated.

Flags win over env vars, env vars over defaults. An app can add the flags to its own
``argparse`` parser with ``add_arguments(parser)`` and read them back with
``JobsConfig.from_namespace(args)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from burrow_tasks.durations import format_duration, parse_duration
from burrow_tasks.errors import ConfigError

__all__ = ["DEFAULT_MAX_PAYLOAD_BYTES", "JobsConfig", "Setting", "add_arguments"]

DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Setting:
    """One configurable value: its field, flag, env var and help text."""

    field: str
    flag: str
    env: str
    kind: type[int] | type[str] | type[timedelta]
    help: str

    @property
    def label(self) -> str:
        return f"{self.flag} / {self.env}"


SETTINGS: tuple[Setting, ...] = (
    Setting("workers", "--jobs-workers", "JOBS_WORKERS", int, "concurrent jobs per process"),
    Setting(
        "poll_interval",
        "--jobs-poll-interval",
        "JOBS_POLL_INTERVAL",
        timedelta,
        "how often idle workers look for work",
    ),
    Setting(
        "retry_base_delay",
        "--jobs-retry-base-delay",
        "JOBS_RETRY_BASE_DELAY",
        timedelta,
        "first retry delay; doubles per attempt, capped at 1h (0: retry at once)",
    ),
    Setting(
        "database_dsn",
        "--jobs-database-dsn",
        "JOBS_DATABASE_DSN",
        str,
        "a separate jobs database (empty: the app's shared database)",
    ),
    Setting(
        "heartbeat_interval",
        "--jobs-heartbeat-interval",
        "JOBS_HEARTBEAT_INTERVAL",
        timedelta,
        "how often a running job's lease is renewed",
    ),
    Setting(
        "stale_timeout",
        "--jobs-stale-timeout",
        "JOBS_STALE_TIMEOUT",
        timedelta,
        "a running job without a heartbeat this long is rescued (>= 3 x heartbeat interval)",
    ),
    Setting(
        "shutdown_grace",
        "--jobs-shutdown-grace",
        "JOBS_SHUTDOWN_GRACE",
        timedelta,
        "how long shutdown waits for running handlers before releasing their jobs",
    ),
    Setting(
        "shutdown_write_limit",
        "--jobs-shutdown-write-limit",
        "JOBS_SHUTDOWN_WRITE_LIMIT",
        timedelta,
        "how long shutdown then waits for the last outcome writes and releases; a database"
        " that has not answered by then is given up on (its jobs are rescued later)",
    ),
    Setting(
        "maintenance_interval",
        "--jobs-maintenance-interval",
        "JOBS_MAINTENANCE_INTERVAL",
        timedelta,
        "how often stale jobs are rescued and old completed jobs deleted",
    ),
    Setting(
        "completed_retention",
        "--jobs-completed-retention",
        "JOBS_COMPLETED_RETENTION",
        timedelta,
        "how long completed jobs are kept",
    ),
    Setting(
        "claim_ahead",
        "--jobs-claim-ahead",
        "JOBS_CLAIM_AHEAD",
        int,
        "jobs a claim may take beyond the free slots once jobs prove shorter than a round"
        " trip; at most twice --jobs-workers (0: claim only free slots)",
    ),
    Setting(
        "max_payload_bytes",
        "--jobs-max-payload-bytes",
        "JOBS_MAX_PAYLOAD_BYTES",
        int,
        "the largest payload (UTF-8 JSON bytes) enqueue accepts",
    ),
)
_BY_FIELD = {setting.field: setting for setting in SETTINGS}


@dataclass(frozen=True, slots=True)
class JobsConfig:
    """How a ``JobQueue`` runs. Every value is checked when the config is built; an invalid
    one raises ``ConfigError`` naming its flag and env var."""

    workers: int = 2
    poll_interval: timedelta = timedelta(seconds=1)
    retry_base_delay: timedelta = timedelta(seconds=30)
    database_dsn: str = ""
    heartbeat_interval: timedelta = timedelta(seconds=30)
    stale_timeout: timedelta = timedelta(minutes=10)
    shutdown_grace: timedelta = timedelta(seconds=30)
    shutdown_write_limit: timedelta = timedelta(seconds=10)
    maintenance_interval: timedelta = timedelta(minutes=5)
    completed_retention: timedelta = timedelta(hours=24)
    claim_ahead: int = 40
    max_payload_bytes: int = field(default=DEFAULT_MAX_PAYLOAD_BYTES)

    def __post_init__(self) -> None:
        for setting in SETTINGS:
            value = getattr(self, setting.field)
            # Reject bools explicitly: JobsConfig(workers=True) is a bug, not "1 worker".
            if not isinstance(value, setting.kind) or isinstance(value, bool):
                raise ConfigError(
                    f"{setting.label}: expected {setting.kind.__name__}, "
                    f"got {type(value).__name__} {value!r}"
                )
        self._check(self.workers >= 1, "workers", "must be at least 1")
        self._check(self.poll_interval > timedelta(0), "poll_interval", "must be > 0")
        self._check(self.retry_base_delay >= timedelta(0), "retry_base_delay", "must be >= 0")
        self._check(self.heartbeat_interval > timedelta(0), "heartbeat_interval", "must be > 0")
        self._check(
            self.stale_timeout >= 3 * self.heartbeat_interval,
            "stale_timeout",
            "must be at least 3 x the heartbeat interval "
            f"({format_duration(3 * self.heartbeat_interval)} with "
            f"{_BY_FIELD['heartbeat_interval'].flag} {format_duration(self.heartbeat_interval)})",
        )
        self._check(self.shutdown_grace >= timedelta(0), "shutdown_grace", "must be >= 0")
        self._check(self.shutdown_write_limit > timedelta(0), "shutdown_write_limit", "must be > 0")
        self._check(self.maintenance_interval > timedelta(0), "maintenance_interval", "must be > 0")
        self._check(self.completed_retention >= timedelta(0), "completed_retention", "must be >= 0")
        self._check(self.claim_ahead >= 0, "claim_ahead", "must be >= 0")
        self._check(self.max_payload_bytes >= 1, "max_payload_bytes", "must be at least 1")

    def _check(self, ok: bool, name: str, problem: str) -> None:
        if not ok:
            setting = _BY_FIELD[name]
            value = getattr(self, name)
            shown = format_duration(value) if isinstance(value, timedelta) else repr(value)
            raise ConfigError(f"{setting.label} {problem}, got {shown}")

    # --- building ----------------------------------------------------------------------------

    def replace(self, **overrides: Any) -> JobsConfig:
        """A copy with ``overrides`` (field names); durations may be strings like ``"50ms"``
        or seconds as numbers."""
        return dataclasses.replace(self, **_coerce_all(overrides))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JobsConfig:
        """Defaults overridden by every ``JOBS_*`` env var that is set and non-empty
        (``JOBS_DATABASE_DSN`` may be empty)."""
        return cls().replace(**_from_env(os.environ if environ is None else environ))

    @classmethod
    def from_namespace(
        cls, namespace: argparse.Namespace, environ: Mapping[str, str] | None = None
    ) -> JobsConfig:
        """Read the flags ``add_arguments`` added (unset flags fall back to the env vars)."""
        base = cls.from_env(environ)
        given = {
            s.field: getattr(namespace, _dest(s))
            for s in SETTINGS
            if getattr(namespace, _dest(s), None) is not None
        }
        return base.replace(**{name: _parse(_BY_FIELD[name], v) for name, v in given.items()})

    @classmethod
    def from_args(
        cls, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
    ) -> JobsConfig:
        """Parse ``--jobs-*`` flags from ``argv`` (other arguments are an error: apps with
        flags of their own use ``add_arguments`` and ``from_namespace``)."""
        parser = argparse.ArgumentParser(add_help=False)
        add_arguments(parser)
        return cls.from_namespace(parser.parse_args(argv), environ)

    def as_flags(self) -> list[str]:
        """The command line that reproduces this config (for spawning worker processes)."""
        argv: list[str] = []
        for setting in SETTINGS:
            value = getattr(self, setting.field)
            text = format_duration(value) if isinstance(value, timedelta) else str(value)
            argv += [setting.flag, text]
        return argv


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add every ``--jobs-*`` flag to ``parser`` (values are parsed by ``from_namespace`` so
    a bad value raises ``ConfigError`` naming the flag)."""
    defaults = JobsConfig()
    for setting in SETTINGS:
        default = getattr(defaults, setting.field)
        shown = format_duration(default) if isinstance(default, timedelta) else repr(default)
        parser.add_argument(
            setting.flag,
            dest=_dest(setting),
            default=None,
            metavar=setting.kind.__name__.upper() if setting.kind is not timedelta else "DURATION",
            help=f"{setting.help} (env {setting.env}, default {shown})",
        )


def _dest(setting: Setting) -> str:
    return setting.flag.lstrip("-").replace("-", "_")


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None or (raw.strip() == "" and setting.kind is not str):
            continue
        values[setting.field] = _parse(setting, raw)
    return values


def _parse(setting: Setting, raw: str) -> Any:
    if setting.kind is str:
        return raw
    try:
        if setting.kind is int:
            return int(raw.strip())
        return parse_duration(raw)
    except ValueError as exc:
        kind = "an integer" if setting.kind is int else "a duration such as 500ms, 1s, 5m, 24h"
        raise ConfigError(f"{setting.label}: {raw!r} is not {kind}") from exc


def _coerce_all(overrides: Mapping[str, Any]) -> dict[str, Any]:
    coerced: dict[str, Any] = {}
    for name, value in overrides.items():
        setting = _BY_FIELD.get(name)
        if setting is None:
            known = ", ".join(_BY_FIELD)
            raise ConfigError(f"unknown jobs setting {name!r} (known: {known})")
        if isinstance(value, str) and setting.kind is not str:
            value = _parse(setting, value)
        elif (
            setting.kind is timedelta
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            value = timedelta(seconds=value)
        coerced[name] = value
    return coerced
