"""Faults injected into working worker processes, and the count afterwards.

Each test runs real worker processes (``worker_process.py``) on the test's database, breaks
something while they work, waits until every job is done and then reads the jobs table and
the log of handler runs:

- every job ends ``completed``: none lost;
- no run of a job starts twice under one claim (its ``(id, attempt)`` is unique in the log);
- a job runs again only when a fault took its earlier run away.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from burrow_jobs_sql import SQLStore, runner
from burrow_jobs_sql.dsn import to_url
from burrow_tasks import open_queue


class Killable(Protocol):
    def kill(self) -> None: ...


StartWorker = Callable[..., Killable]
"""The ``start_worker`` fixture (conftest.py): ``start_worker(dsn, log)`` starts a worker
process and returns it, killed at the end of the test."""

TerminateBackends = Callable[[str, str], int]
"""The ``terminate_backends`` fixture (conftest.py): ``terminate_backends(dsn, name)`` cuts
the connections named ``name`` and waits until they are gone; how many it cut."""

DEADLINE = 60.0
"""Seconds a test waits for its workers to finish every job (they need a few)."""


@dataclass
class Runs:
    """The handler runs ``worker_process.py`` logged: who started and ended which attempt."""

    starts: Counter[tuple[str, int]] = field(default_factory=Counter)
    ends: Counter[tuple[str, int]] = field(default_factory=Counter)
    started_by: dict[str, set[int]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Runs:
        runs = cls()
        if not path.exists():
            return runs
        for line in path.read_text().splitlines():
            event, job_id, attempt, pid = line.split()
            if event == "start":
                runs.starts[(job_id, int(attempt))] += 1
                runs.started_by.setdefault(job_id, set()).add(int(pid))
            elif event == "end":
                runs.ends[(job_id, int(attempt))] += 1
        return runs

    def starts_of(self, job_id: str) -> int:
        return sum(n for (run_id, _), n in self.starts.items() if run_id == job_id)


async def enqueue_slow(dsn: str, count: int) -> list[str]:
    queue = open_queue(dsn)
    queue.handle("slow", _not_run_here)
    try:
        return await queue.enqueue_batch("slow", [{"n": n} for n in range(count)])
    finally:
        await queue.shutdown()


async def _not_run_here(payload: object) -> None:
    raise AssertionError("this queue only enqueues")


def jobs_table(dsn: str) -> dict[str, tuple[str, int]]:
    """Every job's (status, attempts), read on a connection of its own."""
    engine = sa.create_engine(to_url(dsn))
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT id, status, attempts FROM burrow_jobs")
            return {str(row[0]): (row[1], row[2]) for row in rows}
    finally:
        engine.dispose()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {DEADLINE:.0f} s: {what}")
        time.sleep(0.05)


def all_completed(dsn: str, ids: list[str]) -> Callable[[], bool]:
    def check() -> bool:
        table = jobs_table(dsn)
        return all(table[job_id][0] == "completed" for job_id in ids)

    return check


def started_at_least(log: Path, count: int) -> Callable[[], bool]:
    return lambda: sum(Runs.read(log).starts.values()) >= count


def assert_each_run_is_its_own_claim(runs: Runs, table: dict[str, tuple[str, int]]) -> None:
    repeated = [run for run, n in runs.starts.items() if n > 1]
    assert repeated == [], f"runs started twice under one claim: {repeated}"
    for job_id, (status, attempts) in table.items():
        assert status == "completed", f"job {job_id} ended {status}"
        assert 1 <= runs.starts_of(job_id) <= attempts, f"job {job_id}: {attempts} attempts"


async def test_a_worker_killed_mid_job_loses_no_job_and_reruns_only_its_own(
    database_dsn: str, tmp_path: Path, start_worker: StartWorker
) -> None:
    log = tmp_path / "runs.log"
    ids = await enqueue_slow(database_dsn, 60)

    first = start_worker(database_dsn, log)
    wait_until(started_at_least(log, 12), "the first worker started 12 jobs")
    first.kill()
    at_kill = jobs_table(database_dsn)
    held = {job_id for job_id, (status, _) in at_kill.items() if status == "running"}
    done = {job_id for job_id, (status, _) in at_kill.items() if status == "completed"}
    assert held, "the kill found no job running: it tested nothing"

    start_worker(database_dsn, log)
    wait_until(all_completed(database_dsn, ids), "every job completed after the kill")

    runs, table = Runs.read(log), jobs_table(database_dsn)
    assert_each_run_is_its_own_claim(runs, table)
    rerun = {job_id for job_id, pids in runs.started_by.items() if len(pids) > 1}
    assert rerun <= held, "a job ran in both workers though the kill did not take it"
    assert all(runs.starts_of(job_id) == 1 for job_id in done), "a completed job ran again"
    assert all(table[job_id][1] == 2 for job_id in held), "a lost run was not counted"


async def test_workers_whose_database_connections_are_cut_lose_no_job(
    db_kind: str,
    database_dsn: str,
    tmp_path: Path,
    start_worker: StartWorker,
    terminate_backends: TerminateBackends,
) -> None:
    if db_kind != "postgres":
        pytest.skip("cutting a client's connections from the server is PostgreSQL's")
    # The worker's connections carry a name of their own, so only they are cut.
    name = f"burrow-fault-{secrets.token_hex(4)}"
    worker_dsn = _named(database_dsn, name)
    log = tmp_path / "runs.log"
    ids = await enqueue_slow(database_dsn, 100)

    start_worker(worker_dsn, log)
    for started in (20, 50):
        wait_until(started_at_least(log, started), f"{started} jobs started")
        assert terminate_backends(database_dsn, name) > 0
    wait_until(all_completed(database_dsn, ids), "every job completed after the cuts")

    assert_each_run_is_its_own_claim(Runs.read(log), jobs_table(database_dsn))


async def test_a_worker_outlives_a_database_restart_and_runs_no_job_twice(
    db_kind: str, database_dsn: str, tmp_path: Path, start_worker: StartWorker
) -> None:
    if db_kind != "postgres":
        pytest.skip("a database server to restart is PostgreSQL's")
    url = urlsplit(database_dsn)
    proxy = RestartableProxy(url.hostname or "127.0.0.1", url.port or 5432)
    proxy.start()
    try:
        log = tmp_path / "runs.log"
        ids = await enqueue_slow(database_dsn, 100)
        worker_dsn = url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}").geturl()
        # Stale after 5 s: the database is away for less, so every job stays this worker's.
        start_worker(worker_dsn, log, leases="patient")
        wait_until(started_at_least(log, 20), "20 jobs started")
        connected = proxy.connections
        await asyncio.to_thread(proxy.restart, 1.5)
        wait_until(all_completed(database_dsn, ids), "every job completed after the restart")
        assert proxy.connections > connected, "the worker never connected again"
    finally:
        proxy.stop()

    runs = Runs.read(log)
    assert_each_run_is_its_own_claim(runs, jobs_table(database_dsn))
    # Handlers that finished while the database was away had their outcomes written when
    # it came back, instead of running again after a rescue.
    assert [job_id for job_id in ids if runs.starts_of(job_id) > 1] == []


class RestartableProxy:
    """A TCP proxy in front of the test's PostgreSQL that can be "restarted": every open
    connection is closed under its clients, then for a while nothing listens on the port (a
    connect is refused), then connections work again. (Restarting the server itself would
    pull the database from under every other test.) Threads, not the event loop: the tests
    wait with blocking sleeps.

    Forwards ``127.0.0.1:<port>`` to ``target``; ``restart(down_for)`` cuts and pauses."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.port = 0
        self.connections = 0
        """Client connections accepted so far (a restarted client connects again)."""

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def restart(self, down_for: float) -> None:
        """Close every connection and stop listening; listen again after ``down_for`` s."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            open_sockets, self._sockets = self._sockets, set()
        if listener is not None:
            _close(listener)
        for sock in open_sockets:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    _close(client)
                    _close(upstream)
                    return
                self._sockets |= {client, upstream}
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # One side ended: end the other, as a server process exiting would.
            with self._lock:
                self._sockets -= {source, sink}
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    # shutdown() first: it wakes a thread blocked in accept() or recv() on this socket.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


async def test_after_a_restart_one_call_sees_the_cut_not_one_per_sql_thread(
    db_kind: str, database_dsn: str, terminate_backends: TerminateBackends
) -> None:
    if db_kind != "postgres":
        pytest.skip("cutting a client's connections from the server is PostgreSQL's")
    name = f"burrow-cut-{secrets.token_hex(4)}"
    store = SQLStore.from_dsn(_named(database_dsn, name))
    try:
        # Three statements at once: three SQL threads, each holding a connection.
        await asyncio.gather(
            *(store._run(lambda c: c.exec_driver_sql("SELECT pg_sleep(0.2)")) for _ in range(3))
        )
        assert terminate_backends(database_dsn, name) >= 3
        outcomes = []
        for _ in range(9):
            try:
                await store.jobs_count_by_status()
            except sa.exc.OperationalError:
                outcomes.append("cut")
            else:
                outcomes.append("ok")
    finally:
        await store.close()

    assert outcomes == ["cut"] + ["ok"] * 8


async def test_the_first_call_after_a_restart_in_a_quiet_spell_finds_a_fresh_connection(
    db_kind: str,
    database_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    terminate_backends: TerminateBackends,
) -> None:
    if db_kind != "postgres":
        pytest.skip("cutting a client's connections from the server is PostgreSQL's")
    monkeypatch.setattr(runner, "PING_AFTER_IDLE", 0.2)
    name = f"burrow-quiet-{secrets.token_hex(4)}"
    store = SQLStore.from_dsn(_named(database_dsn, name))
    try:
        await store.jobs_count_by_status()  # one SQL thread, holding its connection
        assert terminate_backends(database_dsn, name) >= 1
        await asyncio.sleep(0.3)  # quiet for longer than PING_AFTER_IDLE

        counts = await store.jobs_count_by_status()
    finally:
        await store.close()

    assert sum(counts.values()) == 0


def _named(dsn: str, application_name: str) -> str:
    """``dsn`` whose connections carry ``application_name``, so a test cuts only those."""
    return f"{dsn}{'&' if '?' in dsn else '?'}application_name={application_name}"


async def test_a_write_lock_held_elsewhere_stalls_the_workers_and_loses_no_job(
    db_kind: str, database_dsn: str, tmp_path: Path, start_worker: StartWorker
) -> None:
    if db_kind != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    log = tmp_path / "runs.log"
    ids = await enqueue_slow(database_dsn, 60)
    path = to_url(database_dsn).database
    assert path is not None

    start_worker(database_dsn, log)
    wait_until(started_at_least(log, 8), "8 jobs started")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        # Longer than the leases (stale after 1 s) and shorter than the busy timeout (5 s):
        # writes wait, heartbeats stall, and the rescue may take jobs from a live worker.
        holder.execute("BEGIN IMMEDIATE")
        completed_before = _completed(database_dsn)
        await asyncio.sleep(1.5)
        assert _completed(database_dsn) == completed_before, "a write got past the lock"
        holder.execute("COMMIT")
    finally:
        holder.close()
    wait_until(all_completed(database_dsn, ids), "every job completed after the lock")

    assert_each_run_is_its_own_claim(Runs.read(log), jobs_table(database_dsn))


def _completed(dsn: str) -> int:
    return sum(1 for status, _ in jobs_table(dsn).values() if status == "completed")
