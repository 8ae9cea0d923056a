"""The pluggy plugin (entry point group ``burrow``): opens ``sqlite://``, ``postgresql://``
and ``postgres://`` DSNs."""

from __future__ import annotations

from burrow_jobs_sql.dsn import SCHEMES, scheme_of
from burrow_jobs_sql.store import SQLStore
from burrow_tasks.hookspecs import hookimpl

__all__ = ["burrow_backend"]


@hookimpl
def burrow_backend(dsn: str) -> SQLStore | None:
    """The SQL store for a SQLite or PostgreSQL DSN (schema created or upgraded); None for
    any other scheme."""
    if scheme_of(dsn) not in SCHEMES:
        return None
    return SQLStore.from_dsn(dsn)
