"""CPU used by the PostgreSQL backends serving one benchmark database (psutil).

Backends show their database in their process title (``postgres: user db host(port) ...``),
so a sample sums the CPU of every backend of that database. Shared background processes
(WAL writer, checkpointer) also serve other helpers' tests on this machine and are left out.
"""

from __future__ import annotations

import psutil  # type: ignore[import-untyped]
import psycopg

from bench.targets import ADMIN_DSN


def sample(db_name: str, exclude: frozenset[int] = frozenset()) -> dict[int, float]:
    """CPU seconds so far of each backend of ``db_name``, by pid."""
    marker = f" {db_name} "
    seconds: dict[int, float] = {}
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.info["name"] != "postgres" or proc.pid in exclude:
                continue
            title = " ".join(proc.info["cmdline"] or [])
            if marker not in title:
                continue
            times = proc.cpu_times()
            seconds[proc.pid] = float(times.user + times.system)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return seconds


def used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two samples; a backend born in between counts from zero.
    A backend that exited in between is lost (the workers keep theirs open)."""
    return sum(total - before.get(pid, 0.0) for pid, total in after.items())


def transactions(db_name: str) -> int:
    """Committed plus rolled-back transactions of ``db_name`` so far (pg_stat_database).
    Backends report theirs at transaction end (at most once a second) and at exit, so read
    it after the workers are gone for an exact count."""
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (db_name,),
        ).fetchone()
    return int(row[0]) if row else 0
