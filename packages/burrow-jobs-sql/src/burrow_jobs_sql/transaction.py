"""Explicit transactions on the store's autocommit connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy.engine import Connection, Engine

from burrow_jobs_sql.dsn import mask_dsn
from burrow_jobs_sql.errors import StoreOpenError

__all__ = ["explicit_transaction", "read_snapshot", "require_autocommit"]


@contextmanager
def explicit_transaction(connection: Connection) -> Iterator[None]:
    """One transaction on an autocommit connection, committed unless the block raises.

    On SQLite ``BEGIN IMMEDIATE`` takes the write lock before the first read, so a
    read-then-write never deadlocks against another writer.
    """
    begin = "BEGIN IMMEDIATE" if connection.dialect.name == "sqlite" else "BEGIN"
    connection.exec_driver_sql(begin)
    try:
        yield
    except BaseException:
        connection.exec_driver_sql("ROLLBACK")
        raise
    try:
        connection.exec_driver_sql("COMMIT")
    except BaseException:
        # SQLite keeps the transaction open when its COMMIT fails (a deferred constraint, a
        # busy database): ended here, or every later single statement on this autocommit
        # connection would run inside it and never be committed.
        with suppress(Exception):
            connection.exec_driver_sql("ROLLBACK")
        raise


@contextmanager
def read_snapshot(connection: Connection) -> Iterator[None]:
    """One read-only transaction whose statements all see the database as of its first:
    a list's page and its total then agree however many commits land between the two.

    PostgreSQL's default READ COMMITTED takes a snapshot per statement, hence REPEATABLE
    READ; SQLite's deferred ``BEGIN`` holds one WAL snapshot from the first read on and,
    unlike ``BEGIN IMMEDIATE``, takes no write lock."""
    if connection.dialect.name == "sqlite":
        begin = "BEGIN"
    else:
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
    connection.exec_driver_sql(begin)
    try:
        yield
    except BaseException:
        # The read's error is the one to report, not a cut connection's on the way out.
        with suppress(Exception):
            connection.exec_driver_sql("ROLLBACK")
        raise
    connection.exec_driver_sql("COMMIT")


def require_autocommit(engine: Engine) -> None:
    """Refuse an app's engine whose connections open a transaction even in autocommit mode
    (SQLAlchemy's pysqlite recipe: a ``begin`` listener that emits ``BEGIN``). The store's
    single statements would run inside it, report success, and be rolled back when the
    connection goes back to the pool."""
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("SELECT 1")
        if _driver_in_transaction(connection.connection.driver_connection):
            raise StoreOpenError(
                f"cannot keep jobs through the engine of {mask_dsn(engine.url)!r}: its "
                "connections open a transaction even in AUTOCOMMIT mode (a 'begin' event "
                "listener that emits BEGIN?), so the store's writes would be rolled back when "
                "it hands a connection back; give the store an engine without that listener"
            )


def _driver_in_transaction(driver_connection: Any) -> bool:
    in_transaction = getattr(driver_connection, "in_transaction", None)  # sqlite3
    if isinstance(in_transaction, bool):
        return in_transaction
    status = getattr(getattr(driver_connection, "info", None), "transaction_status", None)
    return status is not None and status.name != "IDLE"  # psycopg
