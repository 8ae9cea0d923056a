"""Creating and upgrading the schema, safely when several processes start at once.

PostgreSQL serialises migrators with a session advisory lock; SQLite with ``BEGIN
IMMEDIATE`` (the database's write lock). Either way the revision is read after the lock is
held, so the second starter finds the schema current and does nothing. Migrations run in one
transaction (both databases have transactional DDL).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from burrow_jobs_sql.dsn import mask_dsn
from burrow_jobs_sql.errors import StoreOpenError
from burrow_jobs_sql.schema import VERSION_TABLE
from burrow_jobs_sql.transaction import explicit_transaction

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD_REVISION", "alembic_config", "head_revision", "prepare_schema", "upgrade"]

_ADVISORY_LOCK_KEY = 0x6275_7272_6F77_0001  # "burrow" + 1: burrow_jobs_sql's migrations

HEAD_REVISION = "0004"
"""The newest migration's revision (a test holds it equal to Alembic's head).

Kept as a constant so that opening a store whose schema is current reads one row and never
imports Alembic (with Mako and its templates: ~0.7 s of every process's start here); Alembic
is imported only when there is something to upgrade or to explain."""


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "burrow_jobs_sql:migrations")
    return config


def head_revision() -> str:
    """The revision a current schema is at (``HEAD_REVISION``)."""
    return HEAD_REVISION


def current_revision(connection: Connection) -> str | None:
    """The schema's revision, read from burrow's own version table (None: no schema)."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    if len(rows) > 1:
        found = ", ".join(sorted(str(row[0]) for row in rows))
        raise StoreOpenError(
            f"burrow's version table {VERSION_TABLE} holds several revisions: {found}"
        )
    return str(rows[0][0]) if rows else None


def _is_known(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    script = ScriptDirectory.from_config(alembic_config())
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


@contextmanager
def _migration_lock(connection: Connection) -> Iterator[None]:
    """One migrator at a time: PostgreSQL serialises on an advisory lock, SQLite on the write
    lock that ``BEGIN IMMEDIATE`` takes."""
    if connection.dialect.name != "postgresql":
        with explicit_transaction(connection):
            yield
        return
    connection.exec_driver_sql(f"SELECT pg_advisory_lock({_ADVISORY_LOCK_KEY})")
    try:
        with explicit_transaction(connection):
            yield
    finally:
        connection.exec_driver_sql(f"SELECT pg_advisory_unlock({_ADVISORY_LOCK_KEY})")


def _newer_error(engine: Engine, revision: str) -> StoreOpenError:
    return StoreOpenError(
        f"cannot open {mask_dsn(engine.url)!r}: its burrow schema is at revision "
        f"{revision!r}, newer than this burrow_jobs_sql knows (head {head_revision()!r}); "
        "upgrade the burrow-jobs-sql package"
    )


def upgrade(engine: Engine) -> str | None:
    """Bring the schema to head under the lock; return the revision found before (None for
    an empty database). Idempotent."""
    with (
        engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
        _migration_lock(connection),
    ):
        before = current_revision(connection)
        if before == head_revision():
            return before
        if before is not None and not _is_known(before):
            raise _newer_error(engine, before)
        from alembic import command

        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return before


def prepare_schema(engine: Engine, *, auto_migrate: bool) -> None:
    """At start: reach the database, then upgrade (``auto_migrate``) or check the schema.
    Every failure is one ``StoreOpenError`` line naming the DSN (password masked)."""
    shown = mask_dsn(engine.url)
    try:
        if auto_migrate:
            upgrade(engine)
            return
        with engine.connect() as connection:
            found = current_revision(connection)
    except StoreOpenError:
        raise
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreOpenError(f"cannot open {shown!r}: {reason}") from None
    if found == head_revision():
        return
    if found is not None and not _is_known(found):
        raise _newer_error(engine, found)
    state = "has no burrow schema" if found is None else f"has burrow schema {found!r}"
    raise StoreOpenError(
        f"cannot open {shown!r}: the database {state}, not head {head_revision()!r}, and "
        f"auto-migrate is off; run `python -m burrow_jobs_sql upgrade --dsn {shown}`"
    )
