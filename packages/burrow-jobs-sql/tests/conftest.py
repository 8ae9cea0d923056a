"""Provisioning for burrow_jobs_sql's tests: which database, and a fresh store per call.

Choose the database with ``--burrow-db=sqlite|postgres`` or env ``BURROW_TEST_DB`` (default
sqlite). SQLite uses files under ``tmp_path`` (WAL). PostgreSQL comes from env
``BURROW_TEST_POSTGRES_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/test``); the run
works in schemas of its own, created at the start and dropped at the end. A fresh store is
the migrated schema with its rows deleted, never a re-migration. PostgreSQL unreachable:
the tests skip, saying how to enable them, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import secrets
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from burrow_conformance import StoreFactory, TransactionFactory
from burrow_jobs_sql import SQLStore
from burrow_jobs_sql.dsn import to_url
from burrow_jobs_sql.migrate import upgrade
from burrow_jobs_sql.schema import jobs, workers
from burrow_tasks.store import JobStore

DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
DATABASES = ("sqlite", "postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--burrow-db",
        choices=DATABASES,
        default=None,
        help="database for burrow_jobs_sql's tests (default: env BURROW_TEST_DB, else sqlite)",
    )


def postgres_admin_dsn() -> str:
    return os.environ.get("BURROW_TEST_POSTGRES_DSN") or DEFAULT_POSTGRES_DSN


def with_search_path(dsn: str, schema: str) -> str:
    separator = "&" if "?" in dsn else "?"
    return f"{dsn}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(scope="session")
def db_kind(request: pytest.FixtureRequest) -> str:
    chosen = request.config.getoption("burrow_db") or os.environ.get("BURROW_TEST_DB", "sqlite")
    if chosen not in DATABASES:
        raise pytest.UsageError(f"BURROW_TEST_DB={chosen!r}: choose one of {DATABASES}")
    return str(chosen)


class PostgresSchemas:
    """Schemas of this test run in the test database; all dropped at the end."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.created: list[str] = []

    def new(self) -> str:
        """A new, empty schema; returns a DSN whose search_path points at it."""
        name = f"burrow_test_{secrets.token_hex(6)}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        self.created.append(name)
        return with_search_path(self.admin_dsn, name)

    def drop_all(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(scope="session")
def postgres_schemas(db_kind: str) -> Iterator[PostgresSchemas]:
    if db_kind != "postgres":
        pytest.skip("PostgreSQL tests run with --burrow-db=postgres (or BURROW_TEST_DB=postgres)")
    admin_dsn = postgres_admin_dsn()
    try:
        psycopg.connect(admin_dsn, connect_timeout=5).close()
    except psycopg.Error as exc:
        message = (
            f"PostgreSQL at {admin_dsn!r} is unreachable ({str(exc).strip()}); start it or "
            "point BURROW_TEST_POSTGRES_DSN at one"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    schemas = PostgresSchemas(admin_dsn)
    yield schemas
    schemas.drop_all()


@dataclass
class Database:
    """One migrated database (a file or a schema) that tests reuse by deleting its rows."""

    kind: str
    dsn: str

    def clear(self) -> None:
        engine = sa.create_engine(to_url(self.dsn))
        try:
            with engine.begin() as conn:
                conn.execute(sa.delete(jobs))
                conn.execute(sa.delete(workers))
        finally:
            engine.dispose()


def _migrated(dsn: str) -> None:
    engine = sa.create_engine(to_url(dsn))
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _postgres_database(postgres_schemas: PostgresSchemas) -> Database:
    dsn = postgres_schemas.new()
    _migrated(dsn)
    return Database("postgres", dsn)


@pytest.fixture(scope="session")
def _postgres_shared_database(postgres_schemas: PostgresSchemas) -> Database:
    dsn = postgres_schemas.new()
    _migrated(dsn)
    return Database("postgres", dsn)


@pytest.fixture
def database(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Database:
    """The test's database, migrated and empty."""
    if db_kind == "postgres":
        db: Database = request.getfixturevalue("_postgres_database")
        db.clear()
        return db
    dsn = f"sqlite:///{tmp_path / 'jobs.db'}"
    _migrated(dsn)
    return Database("sqlite", dsn)


@pytest.fixture
def fresh_dsn(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A DSN of a database with no schema at all (for migration tests)."""
    if db_kind == "postgres":
        schemas: PostgresSchemas = request.getfixturevalue("postgres_schemas")
        return schemas.new()
    return f"sqlite:///{tmp_path / f'fresh-{secrets.token_hex(4)}.db'}"


@pytest.fixture
def wal_file(tmp_path: Path) -> Path:
    """A SQLite file in WAL mode with one scratch table ``t (id INTEGER PRIMARY KEY, note
    TEXT)``, for tests of SQLite's own behaviour under the store."""
    path = tmp_path / "scratch.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT)")
    connection.close()
    return path


@pytest.fixture
async def store(database: Database) -> AsyncIterator[SQLStore]:
    opened = SQLStore.from_dsn(database.dsn)
    yield opened
    await opened.close()


# --- the conformance suite's fixtures ---------------------------------------------------------


@pytest.fixture
def burrow_store(database: Database) -> StoreFactory:
    """A new, empty store per call: the rows of the migrated database are deleted first."""

    async def new_store() -> JobStore:
        database.clear()
        return SQLStore.from_dsn(database.dsn, auto_migrate=False)

    return new_store


@pytest.fixture
def store_on_the_apps_engine(database: Database) -> Iterator[StoreFactory]:
    """Like ``burrow_store``, but each store borrows the connections of an engine of the app's
    (``SQLStore.from_engine`` with a sync ``Engine``), which the app disposes, not the store.
    As in an app, the stores of one test (the state machine's examples) come and go on one
    engine."""
    engine = sa.create_engine(to_url(database.dsn))

    async def new_store() -> JobStore:
        database.clear()
        return SQLStore.from_engine(engine, auto_migrate=False)

    yield new_store
    engine.dispose()


@pytest.fixture
def burrow_store_dsn(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A new, empty database for the suite's threads and child processes (opened through the
    ``burrow_backend`` hook, entry point ``burrow``)."""
    if db_kind == "postgres":
        db: Database = request.getfixturevalue("_postgres_shared_database")
        db.clear()
        return db.dsn
    return f"sqlite:///{tmp_path / 'shared.db'}"


@dataclass
class ConnectionTransaction:
    """The app's own open transaction, as ``burrow_transaction`` hands it to the suite."""

    connection: Connection

    @property
    def using(self) -> Connection:
        return self.connection

    async def commit(self) -> None:
        self.connection.commit()

    async def rollback(self) -> None:
        self.connection.rollback()


@pytest.fixture
def burrow_transaction() -> TransactionFactory:
    """A transaction on the app's (sync) SQLAlchemy connection to the store's database."""

    @asynccontextmanager
    async def open_transaction(store: JobStore) -> AsyncIterator[ConnectionTransaction]:
        assert isinstance(store, SQLStore)
        with store.engine.connect() as connection:
            connection.begin()
            yield ConnectionTransaction(connection)

    return open_transaction


@pytest.fixture
def database_dsn(database: Database) -> str:
    """The DSN of the test's migrated, empty database."""
    return database.dsn


@pytest.fixture
def postgres_admin() -> str:
    """A DSN to the PostgreSQL test database outside the run's schemas."""
    return postgres_admin_dsn()


TerminateBackends = Callable[[str, str], int]
"""The ``terminate_backends`` fixture: ``terminate_backends(dsn, application_name)``."""

TERMINATION_WAIT = 10.0
"""Seconds a terminated backend gets to exit before the test fails."""


@pytest.fixture
def terminate_backends() -> TerminateBackends:
    """Cut every server connection named ``application_name`` (but the one doing it) from the
    server's side, as a restart would, and wait until each backend has exited; returns how
    many were cut.

    ``pg_terminate_backend`` only signals: a backend the scheduler has not run yet could
    still answer the next statement its client sends, and the test would see no cut."""

    def terminate(dsn: str, application_name: str) -> int:
        with psycopg.connect(dsn, autocommit=True) as connection:
            cut = [
                pid
                for pid, terminated in connection.execute(
                    "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = %s AND pid <> pg_backend_pid()",
                    (application_name,),
                )
                if terminated
            ]
            deadline = time.monotonic() + TERMINATION_WAIT
            while connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (cut,)
            ).fetchone() != (0,):
                if time.monotonic() > deadline:
                    pytest.fail(f"terminated backends {cut} still there after {TERMINATION_WAIT} s")
                time.sleep(0.005)
        return len(cut)

    return terminate


# --- worker processes ---------------------------------------------------------------------------

WORKER_SCRIPT = Path(__file__).with_name("worker_process.py")


class WorkerProcess:
    """One ``worker_process.py`` process, started and ready to work. Its stderr goes to a
    file beside the log (a pipe nobody reads could fill and stall it)."""

    def __init__(self, dsn: str, log: Path, leases: str) -> None:
        self.errors = log.with_name(f"worker-{secrets.token_hex(3)}.err")
        with self.errors.open("w") as errors:
            self.process = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT), dsn, str(log), leases],
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 30)
        line = self.process.stdout.readline() if ready else ""
        if line.strip() != "ready":
            self.kill()
            pytest.fail(f"the worker process did not start: {self.errors.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last writes, leases left to expire."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def start_worker() -> Iterator[Callable[..., WorkerProcess]]:
    """``start_worker(dsn, log, leases="quick")``: a worker process on ``dsn`` (see
    ``worker_process.py``), killed at the end of the test at the latest."""
    started: list[WorkerProcess] = []

    def start(dsn: str, log: Path, leases: str = "quick") -> WorkerProcess:
        worker = WorkerProcess(dsn, log, leases)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()
