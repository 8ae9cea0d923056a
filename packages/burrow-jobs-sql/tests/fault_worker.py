"""A worker process for ``test_faults.py``: ``python fault_worker.py DSN LOG``.

It runs jobs of type ``slow`` until it is killed. Each run appends ``start <id> <attempt>
<pid>`` to LOG, sleeps 50 ms and appends ``end <id> <attempt> <pid>``; one ``write`` per line
on a file opened for appending, so lines of several processes never interleave. Leases are
short (heartbeat 0.2 s, stale after 1 s, rescue every 0.2 s) so the jobs of a killed worker
come back within seconds. Prints ``ready`` once its pool runs.
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
"""The configuration of every queue in the fault tests that runs jobs."""


def slow_jobs(queue: JobQueue, log_path: str) -> None:
    """Register the ``slow`` handler, logging each run's start and end to ``log_path``."""
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

    queue.handle("slow", slow)


async def main(dsn: str, log_path: str) -> None:
    queue = open_queue(dsn, **QUICK_RESCUE)
    slow_jobs(queue, log_path)
    await queue.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
