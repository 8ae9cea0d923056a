"""A benchmark worker process: ``python -m bench.worker --system NAME --target JSON ...``.

It talks to the harness over stdin/stdout, one line per message:
- it prints ``ready`` once the worker is built and connected (and prefilled, for a system
  whose jobs only it can see), then waits for ``go`` so imports and connecting are not timed;
- after ``go`` it runs the worker until the harness kills it;
- ``count`` asks for the number of completed jobs (systems that count in the worker);
- ``latency`` runs W4 with the enqueuer inside this process; it answers ``latency-done``.
Everything else the process prints goes to stderr, so peers' logs cannot break the protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from bench import probe, systems
from bench.garbage import settle_garbage
from bench.systems.base import System
from bench.targets import Target


def _protocol_out() -> TextIO:
    """A private handle on the real stdout; fd 1 then points at stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    return out


def _start_stdin_reader(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str]:
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.strip())
        loop.call_soon_threadsafe(lines.put_nowait, "eof")

    threading.Thread(target=read, name="bench-control", daemon=True).start()
    return lines


async def _enqueue_in_process(system: System, jobs: int, rate: float, log: Path) -> None:
    """W4 in one process: enqueue at ``rate``/s, writing each enqueue call's start time."""
    interval = 1.0 / rate
    started = time.monotonic()
    with log.open("w") as out:
        for index in range(jobs):
            moment = time.monotonic()
            await system.enqueue_one(index)
            out.write(f"{index} {moment!r}\n")
            delay = started + (index + 1) * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)


async def _serve_control(
    system: System, lines: asyncio.Queue[str], out: TextIO, args: argparse.Namespace
) -> None:
    while True:
        command = await lines.get()
        if command == "count":
            out.write(f"count {await system.count_done()}\n")
        elif command == "latency":
            await _enqueue_in_process(
                system, args.latency_jobs, args.latency_rate, Path(args.enqueue_log)
            )
            out.write("latency-done\n")
        elif command == "eof":
            # The harness went away: do not outlive it.
            os._exit(0)


async def _main(args: argparse.Namespace, out: TextIO) -> None:
    system = systems.load(args.system)(Target.from_json(args.target))
    probe.configure(Path(args.probe) if args.probe else None)
    await system.prepare_worker(args.concurrency)
    if args.prefill:
        await system.prefill(args.prefill)
    if args.latency_jobs:
        await system.open()
    settle_garbage()
    out.write("ready\n")
    lines = _start_stdin_reader(asyncio.get_running_loop())
    if await lines.get() != "go":
        return
    control = asyncio.create_task(_serve_control(system, lines, out, args))
    try:
        await system.run_worker()
    finally:
        control.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await control


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("--system", required=True)
    parser.add_argument("--target", required=True, help="the Target as JSON")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--probe", default="", help="file for handler start times")
    parser.add_argument("--prefill", type=int, default=0)
    parser.add_argument("--latency-jobs", type=int, default=0)
    parser.add_argument("--latency-rate", type=float, default=20.0)
    parser.add_argument("--enqueue-log", default="")
    parser.add_argument(
        "--max-seconds", type=int, default=900, help="die by SIGALRM after this long"
    )
    args = parser.parse_args(argv)
    # A bound on every worker's life, even one whose loop blocks and whose harness died.
    signal.alarm(args.max_seconds)
    out = _protocol_out()
    asyncio.run(_main(args, out))


if __name__ == "__main__":
    main()
