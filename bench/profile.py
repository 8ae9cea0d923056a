"""Profile one system's W3 worker with py-spy: ``python -m bench.profile burrow-pg``.

Pre-enqueues the jobs, starts one worker process, attaches ``py-spy record`` to it (with
``--idle`` so time spent waiting on the database shows), works the jobs off and prints where
the worker's samples went: the top frames by inclusive and by own samples. The collapsed
stacks are kept for a closer look (any flame graph tool reads them).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import systems
from bench.procs import WorkerProcess
from bench.settings import FULL
from bench.targets import fresh

IDLE_LEAVES = (
    "_worker (concurrent/futures/thread.py:",  # an idle pool thread waiting for work
    "read (bench/worker.py:",  # the harness's control channel
    "Runner._serve (burrow_jobs_sql/runner.py:",  # burrow's SQL thread waiting for a call
)


def _summarise(collapsed: Path, top: int) -> str:
    """Samples of every thread, idle pool threads left out; the event loop's select() is
    kept: it is the worker waiting on its database round trips."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        if any(frames[-1].startswith(idle) or idle in frames[-1] for idle in IDLE_LEAVES):
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if not total:
        return "no samples"
    out = [f"{total} samples", "", "inclusive %  frame"]
    out += [f"{100 * n / total:10.1f}  {frame}" for frame, n in inclusive.most_common(top)]
    out += ["", "own %  frame"]
    out += [f"{100 * n / total:6.1f}  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(out)


def _start_pyspy(
    pyspy: str, rate: int, collapsed: Path, pid: int, idle: bool
) -> subprocess.Popen[bytes]:
    command = [pyspy, "record", "--rate", str(rate), "--format", "raw"]
    if idle:
        command.append("--idle")
    command += ["--output", str(collapsed), "--pid", str(pid)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _run(system: str, jobs: int, out: Path, rate: int, idle: bool) -> None:
    cls = systems.load(system)
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with fresh(cls.database, system) as target:
        client = cls(target)
        await client.install()
        await client.open()
        try:
            if not cls.counts_in_worker:
                await client.prefill(jobs)
            worker = WorkerProcess(
                system,
                target,
                concurrency=FULL.concurrency,
                log_dir=out,
                prefill=jobs if cls.counts_in_worker else 0,
            )
            try:
                worker.wait_ready()
                collapsed = out / f"{system}.collapsed.txt"
                spy = _start_pyspy(pyspy, rate, collapsed, worker.process.pid, idle)
                await asyncio.sleep(1.0)  # let py-spy attach
                started = time.monotonic()
                worker.go()
                done = 0
                while done < jobs and time.monotonic() - started < 300:
                    await asyncio.sleep(0.05)
                    done = (
                        worker.count_done() if cls.counts_in_worker else await client.count_done()
                    )
                elapsed = time.monotonic() - started
                spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
                spy.wait(timeout=60)
            finally:
                worker.kill()
        finally:
            await client.close()
    print(f"{system}: {done} jobs in {elapsed:.2f} s = {done / elapsed:,.0f} jobs/s")
    print(_summarise(collapsed, 25))
    print(f"\ncollapsed stacks: {collapsed}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("system", choices=systems.ALL)
    parser.add_argument("--jobs", type=int, default=FULL.process_jobs)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument(
        "--cpu", action="store_true", help="on-CPU samples only (default: waits included)"
    )
    parser.add_argument("--out", type=Path, default=None, help="where stacks are kept")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="burrow-profile-"))
    out.mkdir(parents=True, exist_ok=True)
    asyncio.run(_run(args.system, args.jobs, out, args.rate, idle=not args.cpu))


if __name__ == "__main__":
    main()
