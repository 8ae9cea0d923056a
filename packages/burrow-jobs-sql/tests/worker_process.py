"""A worker process for the cross-process tests: ``python worker_process.py DSN LOG [LEASES]``.

It runs jobs until it is killed and logs each run to LOG, one ``write`` per line on a file
opened for appending, so lines of several processes never interleave:

- ``slow``: ``start <id> <attempt> <pid>``, 50 ms asleep, ``end <id> <attempt> <pid>``;
- ``long``: ``start ...``, then asleep for a minute; ``cancelled ...`` when it is stopped.

LEASES is ``quick`` (the default: heartbeat 0.2 s, stale after 1 s, rescue every 0.2 s, so
the jobs of a killed worker come back within seconds), ``patient`` (the same, but stale only
after 5 s: a worker that loses its database for a second or two keeps its jobs) or
``default`` (the configuration's own: a heartbeat every 30 s). Prints ``ready`` once its pool
runs.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from burrow_tasks import JobQueue, current_job, open_queue

QUICK_RESCUE: dict[str, Any] = {
    "workers": 4,
    "poll_interval": "50ms",
    "heartbeat_interval": "200ms",
    "stale_timeout": "1s",
    "maintenance_interval": "200ms",
}
"""A worker whose jobs come back within seconds when it dies."""

LEASES: dict[str, dict[str, Any]] = {
    "quick": QUICK_RESCUE,
    "patient": {**QUICK_RESCUE, "stale_timeout": "5s"},
    "default": {"workers": 4},
}


def register_jobs(queue: JobQueue, log_path: str) -> None:
    """Register the ``slow`` and ``long`` handlers, logging their runs to ``log_path``."""
    pid = os.getpid()

    def line(text: str) -> None:
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    async def slow(payload: object) -> None:
        job = current_job()
        line(f"start {job.id} {job.attempt} {pid}\n")
        await asyncio.sleep(0.05)
        line(f"end {job.id} {job.attempt} {pid}\n")

    async def long(payload: object) -> None:
        job = current_job()
        line(f"start {job.id} {job.attempt} {pid}\n")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            line(f"cancelled {job.id} {job.attempt} {pid}\n")
            raise

    queue.handle("slow", slow)
    queue.handle("long", long)


async def main(dsn: str, log_path: str, leases: str) -> None:
    queue = open_queue(dsn, **LEASES[leases])
    register_jobs(queue, log_path)
    await queue.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "quick"))
