"""The latency probe: a handler writes the moment it starts, keyed by the job's index.

Each worker process appends lines ``<index> <monotonic seconds>`` to one file. Linux's
CLOCK_MONOTONIC is system-wide, so the harness subtracts its own enqueue times from these
directly. A line is one ``write`` on an O_APPEND file, so processes never interleave.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

_fd: int | None = None


def configure(path: Path | None) -> None:
    """Send this process's records to ``path`` (None: record nothing, as in W3)."""
    global _fd
    if _fd is not None:
        os.close(_fd)
        _fd = None
    if path is not None:
        _fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def record(index: int) -> None:
    """Called first thing in every benchmark handler."""
    if _fd is not None:
        os.write(_fd, f"{index} {time.monotonic()!r}\n".encode())


def read(path: Path) -> dict[int, float]:
    """Handler start times by job index; the first start wins if a job ran twice."""
    starts: dict[int, float] = {}
    if not path.exists():
        return starts
    for line in path.read_text().splitlines():
        index, _, moment = line.partition(" ")
        if moment:
            starts.setdefault(int(index), float(moment))
    return starts
