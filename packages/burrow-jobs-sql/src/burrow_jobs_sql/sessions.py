"""The PostgreSQL session settings the store's statements are written for.

Planner settings: the queue's rows churn faster than autovacuum's statistics and index
cleanup follow:

- the claim must read the claim index in order and stop after ``limit`` rows, but while
  statistics are stale (a fresh table, a burst of jobs) the planner believes few rows match
  and instead collects and sorts every claimable row (4-6 ms per claim on 10,000 jobs,
  growing with the backlog). Without sorts the ordered scan is the plan;
- a bitmap scan never marks dead index entries, so the outcome writes, which find running
  jobs through the partial rescue index, walked every job that was ever running since the
  last vacuum (0.8 ms and growing). A plain index scan marks them dead as it passes and
  stays fast.

A lock wait of at most ``LOCK_TIMEOUT``: the worker writes many jobs' outcomes and heartbeats
in one statement, so one job row held locked by another transaction (an operator's open
``SELECT ... FOR UPDATE``) would hold back every other job's write behind it, heartbeats
too, until their leases went stale and they ran again. After the timeout the statement fails,
the group commit writes its rows one by one, and only the locked job's write fails (the
engine tries it again later).

The store's own connections get the planner settings when they connect (``store_session``)
and the lock timeout when an SQL thread opens one (``held_session``): migrations, which may
rightly wait longer for their lock, run without it. An app's shared engine (``from_engine``
with a sync ``Engine``) lends the store one connection per call: there the settings hold for
that call only (``borrowed_session``) and the connection goes back to the app's pool with
the app's own values, so the app's queries never run under the store's settings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Connection

__all__ = ["LOCK_TIMEOUT", "borrowed_session", "held_session", "store_session"]

log = logging.getLogger("burrow_jobs_sql")

LOCK_TIMEOUT = "5s"
"""How long one of the store's statements waits for a lock before it fails."""

_PLANNER = (("enable_sort", "off"), ("enable_bitmapscan", "off"))

_STORE_SESSION = (
    *(f"SET {name} = {value}" for name, value in _PLANNER),
    # psycopg then hands ``timestamptz`` values back in ``datetime.UTC`` itself, which the
    # store passes on unconverted.
    "SET TimeZone = 'UTC'",
)

_BORROWED = (*_PLANNER, ("lock_timeout", None))
"""What a borrowed connection is given for a call (``None``: ``LOCK_TIMEOUT``)."""

# The CTE is materialized, so the old values are read before the new ones are set.
_SAVE_AND_SET = (
    "WITH saved AS MATERIALIZED (SELECT "
    + ", ".join(f"current_setting('{name}') AS {name}" for name, _ in _BORROWED)
    + ") SELECT saved.*, "
    + ", ".join(f"set_config('{name}', %({name})s, false)" for name, _ in _BORROWED)
    + " FROM saved"
)
_RESTORE = "SELECT " + ", ".join(
    f"set_config('{name}', %({name})s, false)" for name, _ in _BORROWED
)


def store_session(dbapi_connection: Any, _record: Any) -> None:
    """Connect listener of an engine the store owns: the planner settings and UTC for the
    connection's life."""
    cursor = dbapi_connection.cursor()
    try:
        for statement in _STORE_SESSION:
            cursor.execute(statement)
    finally:
        cursor.close()
    dbapi_connection.commit()


def held_session(connection: Connection) -> None:
    """On a connection an SQL thread of the store opens and holds: the lock timeout."""
    connection.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")


@contextmanager
def borrowed_session(connection: Connection) -> Iterator[None]:
    """The store's settings on an autocommit connection borrowed from the app's pool, for the
    length of the block; then the app's own values again.

    A connection whose values could not be put back is invalidated (its pool closes it
    instead of lending it to the app) rather than failing the call: the call's statement
    may already have committed, and its caller must hear that it did."""
    wanted = {name: LOCK_TIMEOUT if value is None else value for name, value in _BORROWED}
    try:
        row = connection.exec_driver_sql(_SAVE_AND_SET, wanted).one()
    except BaseException:
        connection.invalidate()
        raise
    saved = {name: row[index] for index, (name, _) in enumerate(_BORROWED)}
    try:
        yield
    finally:
        try:
            connection.exec_driver_sql(_RESTORE, saved)
        except Exception:
            log.warning(
                "burrow: could not restore the session settings of a connection borrowed "
                "from the app's pool; it is discarded",
                exc_info=True,
            )
            connection.invalidate()
