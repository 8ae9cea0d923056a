"""Fresh databases: one PostgreSQL database or SQLite file per measurement.

Every measurement starts on an empty database so no system pays for another's leftovers
(bloat, dead tuples, a grown WAL) or for its own earlier repeat.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import psycopg

Database = Literal["postgresql", "sqlite", "memory"]

ADMIN_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
"""A database on the server that is never benchmarked; others are created from here."""

_SAFE_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclasses.dataclass(frozen=True)
class Target:
    """Where one measurement's data lives. Passed to worker processes as JSON."""

    database: Database
    dsn: str = ""
    """PostgreSQL: a libpq URL (``postgresql://user@host:port/db``)."""
    path: str = ""
    """SQLite: the database file."""

    @property
    def db_name(self) -> str:
        """The PostgreSQL database name (used to find its backends' CPU)."""
        return self.dsn.rsplit("/", 1)[-1].split("?", 1)[0]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Target:
        return cls(**json.loads(text))


def _dsn_for(db_name: str) -> str:
    base = ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{db_name}"


@contextlib.contextmanager
def fresh(database: Database, system: str) -> Iterator[Target]:
    """A new empty database for ``system``, dropped afterwards."""
    if database == "postgresql":
        # The harness's pid in the name: two runs at once (a developer's and CI's) must not
        # drop each other's databases.
        name = f"bench_{re.sub(r'[^a-z0-9]+', '_', system.lower())}_{os.getpid()}"
        if not _SAFE_NAME.match(name):
            raise ValueError(f"unsafe database name {name!r}")
        _drop_pg(name)
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # name checked above
        try:
            yield Target("postgresql", dsn=_dsn_for(name))
        finally:
            _drop_pg(name)
    elif database == "sqlite":
        folder = tempfile.mkdtemp(prefix=f"bench-{system}-")
        try:
            yield Target("sqlite", path=str(Path(folder) / "bench.db"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        yield Target("memory")


def drop_orphans() -> list[str]:
    """Drop the databases of harness runs that died (their pid is gone); returns the names."""
    dropped = []
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'bench_%'"
        ).fetchall()
    for (name,) in rows:
        pid_text = name.rsplit("_", 1)[-1]
        if not (pid_text.isdigit() and _SAFE_NAME.match(name)):
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            _drop_pg(name)
            dropped.append(name)
        except PermissionError:
            continue
    return dropped


def _drop_pg(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        # FORCE ends a killed worker's lingering sessions (PostgreSQL 13+).
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version() -> str:
    try:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as exc:
        return f"unreachable ({exc.__class__.__name__})"
    return str(row[0]) if row else "unknown"


def postgres_reachable() -> bool:
    try:
        with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=3):
            return True
    except psycopg.Error:
        return False
