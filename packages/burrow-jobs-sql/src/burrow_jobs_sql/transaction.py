"""Explicit transactions on the store's autocommit connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection

__all__ = ["explicit_transaction"]


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
    connection.exec_driver_sql("COMMIT")
