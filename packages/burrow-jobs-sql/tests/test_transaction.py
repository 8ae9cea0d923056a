"""Explicit transactions on the store's autocommit connections end, whatever happens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from burrow_jobs_sql.transaction import explicit_transaction


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[Connection]:
    """An autocommit SQLite connection with a deferred foreign key, which SQLite checks only
    at COMMIT."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'scratch.db'}")
    with engine.connect() as opened:
        opened.execution_options(isolation_level="AUTOCOMMIT")
        opened.exec_driver_sql("PRAGMA foreign_keys = ON")
        opened.exec_driver_sql("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        opened.exec_driver_sql(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER"
            " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
        yield opened
    engine.dispose()


def _in_transaction(connection: Connection) -> bool:
    return bool(connection.connection.driver_connection.in_transaction)  # type: ignore[union-attr]


def test_a_commit_that_fails_leaves_no_transaction_open(connection: Connection) -> None:
    with pytest.raises(IntegrityError), explicit_transaction(connection):
        connection.exec_driver_sql("INSERT INTO child (id, parent_id) VALUES (1, 99)")
    assert not _in_transaction(connection)
    # The next single statement commits by itself again.
    connection.exec_driver_sql("INSERT INTO parent (id) VALUES (1)")
    assert not _in_transaction(connection)


def _insert_then_fail(connection: Connection) -> None:
    with explicit_transaction(connection):
        connection.exec_driver_sql("INSERT INTO parent (id) VALUES (2)")
        raise ValueError("the block failed")


def test_a_block_that_raises_is_rolled_back(connection: Connection) -> None:
    with pytest.raises(ValueError, match="the block failed"):
        _insert_then_fail(connection)
    assert not _in_transaction(connection)
    assert connection.exec_driver_sql("SELECT count(*) FROM parent").scalar_one() == 0
