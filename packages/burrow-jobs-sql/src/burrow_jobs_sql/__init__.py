"""burrow_jobs_sql: the burrow store on SQLAlchemy Core, for SQLite and PostgreSQL."""

from burrow_jobs_sql.dsn import mask_dsn, resolve_dsn
from burrow_jobs_sql.errors import DatabaseBusy, StoreOpenError
from burrow_jobs_sql.migrate import head_revision, upgrade
from burrow_jobs_sql.schema import VERSION_TABLE, jobs, metadata, workers
from burrow_jobs_sql.store import SQLStore

__all__ = [
    "VERSION_TABLE",
    "DatabaseBusy",
    "SQLStore",
    "StoreOpenError",
    "head_revision",
    "jobs",
    "mask_dsn",
    "metadata",
    "resolve_dsn",
    "upgrade",
    "workers",
]
