"""The PostgreSQL planner settings the store's statements are written for.

The queue's rows churn faster than autovacuum's statistics and index cleanup follow:

- the claim must read the claim index in order and stop after ``limit`` rows, but while
  statistics are stale (a fresh table, a burst of jobs) the planner believes few rows match
  and instead collects and sorts every claimable row (4-6 ms per claim on 10,000 jobs,
  growing with the backlog). Without sorts the ordered scan is the plan;
- a bitmap scan never marks dead index entries, so the outcome writes, which find running
  jobs through the partial rescue index, walked every job that was ever running since the
  last vacuum (0.8 ms and growing). A plain index scan marks them dead as it passes and
  stays fast.

The store's own connections get the settings when they connect (``store_session``). An
app's shared engine (``SQLStore.from_engine`` with a sync ``Engine``) lends the store one
connection per call: there they hold for that call only (``borrowed_session``) and the
connection goes back to the app's pool planning as the app had it, so the app's own
queries never run under the store's settings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Connection

__all__ = ["borrowed_session", "store_session"]

log = logging.getLogger("burrow_jobs_sql")

_STORE_SESSION = (
    "SET enable_sort = off",
    "SET enable_bitmapscan = off",
    # psycopg then hands ``timestamptz`` values back in ``datetime.UTC`` itself, which the
    # store passes on unconverted.
    "SET TimeZone = 'UTC'",
)

# The CTE is materialized, so the old values are read before the new ones are set.
_SAVE_AND_SET = (
    "WITH saved AS MATERIALIZED (SELECT current_setting('enable_sort') AS sort,"
    " current_setting('enable_bitmapscan') AS bitmapscan)"
    " SELECT saved.sort, saved.bitmapscan, set_config('enable_sort', 'off', false),"
    " set_config('enable_bitmapscan', 'off', false) FROM saved"
)
_RESTORE = (
    "SELECT set_config('enable_sort', %(sort)s, false),"
    " set_config('enable_bitmapscan', %(bitmapscan)s, false)"
)


def store_session(dbapi_connection: Any, _record: Any) -> None:
    """Connect listener of an engine the store owns: the settings for the connection's life."""
    cursor = dbapi_connection.cursor()
    try:
        for statement in _STORE_SESSION:
            cursor.execute(statement)
    finally:
        cursor.close()
    dbapi_connection.commit()


@contextmanager
def borrowed_session(connection: Connection) -> Iterator[None]:
    """The settings on an autocommit connection borrowed from the app's pool, for the
    length of the block; then the app's own values again.

    A connection whose values could not be put back is invalidated (its pool closes it
    instead of lending it to the app) rather than failing the call: the call's statement
    may already have committed, and its caller must hear that it did."""
    try:
        sort, bitmapscan = connection.exec_driver_sql(_SAVE_AND_SET).one()[:2]
    except BaseException:
        connection.invalidate()
        raise
    try:
        yield
    finally:
        try:
            connection.exec_driver_sql(_RESTORE, {"sort": sort, "bitmapscan": bitmapscan})
        except Exception:
            log.warning(
                "burrow: could not restore the planner settings of a connection borrowed "
                "from the app's pool; it is discarded",
                exc_info=True,
            )
            connection.invalidate()
