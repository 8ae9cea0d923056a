"""What the run ran on: machine, versions and load, stored with the results."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.targets import postgres_version

PACKAGES = (
    "burrow-tasks",
    "burrow-jobs-memory",
    "burrow-jobs-sql",
    "sqlalchemy",
    "psycopg",
    "procrastinate",
    "pgqueuer",
    "asyncpg",
    "oban",
    "huey",
    "psutil",
    "matplotlib",
)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    return 0.0


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _git_dirty() -> bool:
    """Whether burrow's packages had uncommitted changes (the run measured those)."""
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "packages"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    return bool(status.strip())


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def describe() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": round(_memory_gib(), 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "postgresql": postgres_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions(),
        "git_commit": _git_commit(),
        "packages_uncommitted_changes": _git_dirty(),
        "load_average_at_start": list(os.getloadavg()),
    }
