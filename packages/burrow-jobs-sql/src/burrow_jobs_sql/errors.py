"""Errors of the SQL store. Each is one line that names the database (password masked)."""

from __future__ import annotations

from burrow_tasks.errors import BurrowError

__all__ = ["DatabaseBusy", "StoreOpenError"]


class StoreOpenError(BurrowError, RuntimeError):
    """The store could not start: unknown scheme, unreachable database, missing or newer
    schema. The message names the DSN with its password masked."""


class DatabaseBusy(BurrowError, RuntimeError):
    """SQLite stayed locked by other connections past the busy timeout and the retries."""
