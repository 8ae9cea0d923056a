"""The harness's handle on a worker process: spawn, handshake, CPU and RSS, kill."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import psutil  # type: ignore[import-untyped]

from bench.targets import Target

REPO_ROOT = Path(__file__).resolve().parent.parent


class WorkerFailed(Exception):
    """The worker process died or did not answer in time; the message has its stderr tail."""


class WorkerProcess:
    def __init__(
        self,
        system: str,
        target: Target,
        *,
        concurrency: int,
        log_dir: Path,
        probe: Path | None = None,
        prefill: int = 0,
        latency_jobs: int = 0,
        latency_rate: float = 20.0,
        enqueue_log: Path | None = None,
        max_seconds: int = 900,
    ) -> None:
        self.system = system
        self._stderr_path = log_dir / f"worker-{system}-{time.monotonic_ns()}.log"
        command = [
            sys.executable,
            "-m",
            "bench.worker",
            "--system",
            system,
            "--target",
            target.to_json(),
            "--concurrency",
            str(concurrency),
            "--prefill",
            str(prefill),
            "--max-seconds",
            str(max_seconds),
        ]
        if probe is not None:
            command += ["--probe", str(probe)]
        if latency_jobs:
            command += [
                "--latency-jobs",
                str(latency_jobs),
                "--latency-rate",
                str(latency_rate),
                "--enqueue-log",
                str(enqueue_log or ""),
            ]
        self._stderr = self._stderr_path.open("wb")
        self._popen = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=REPO_ROOT,
            text=True,
            bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._lines: queue.Queue[str] = queue.Queue()
        assert self._popen.stdout is not None
        threading.Thread(target=self._read, args=(self._popen.stdout,), daemon=True).start()
        self.process = psutil.Process(self._popen.pid)

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.strip())
        self._lines.put("eof")

    def _send(self, command: str) -> None:
        assert self._popen.stdin is not None
        try:
            self._popen.stdin.write(command + "\n")
            self._popen.stdin.flush()
        except BrokenPipeError as exc:
            raise WorkerFailed(self._failure("the worker exited")) from exc

    def _expect(self, prefix: str, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise WorkerFailed(self._failure(f"no {prefix!r} within {timeout:.0f} s")) from None
        if not line.startswith(prefix):
            raise WorkerFailed(self._failure(f"expected {prefix!r}, got {line!r}"))
        return line

    def _failure(self, what: str) -> str:
        self._stderr.flush()
        tail = self._stderr_path.read_text(errors="replace").strip().splitlines()[-15:]
        return f"{self.system} worker: {what}\n" + "\n".join(tail)

    def wait_ready(self, timeout: float = 120.0) -> None:
        self._expect("ready", timeout)

    def go(self) -> None:
        self._send("go")

    def count_done(self, timeout: float = 30.0) -> int:
        self._send("count")
        return int(self._expect("count", timeout).split()[1])

    def run_latency(self, timeout: float) -> None:
        self._send("latency")
        self._expect("latency-done", timeout)

    def check_alive(self) -> None:
        if self._popen.poll() is not None:
            raise WorkerFailed(self._failure(f"exited with {self._popen.returncode}"))

    def cpu_seconds(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def rss_bytes(self) -> int:
        return int(self.process.memory_info().rss)

    def kill(self) -> None:
        if self._popen.poll() is None:
            self._popen.kill()
        self._popen.wait(timeout=30)
        if self._popen.stdin is not None:
            self._popen.stdin.close()
        self._stderr.close()
