"""Data source names: which ones the store accepts and how they map to SQLAlchemy URLs.

Accepted: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``,
``postgresql://user:pass@host:port/db`` and ``postgres://...`` (both use psycopg 3), and the
explicit SQLAlchemy forms ``sqlite+pysqlite://`` and ``postgresql+psycopg://``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError

from burrow_jobs_sql.errors import StoreOpenError

__all__ = ["SCHEMES", "mask_dsn", "resolve_dsn", "to_url"]

SCHEMES: dict[str, str] = {
    "sqlite": "sqlite+pysqlite",
    "sqlite+pysqlite": "sqlite+pysqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}
"""DSN scheme → the SQLAlchemy driver the store uses for it."""


def scheme_of(dsn: str) -> str:
    return dsn.split("://", 1)[0].lower() if "://" in dsn else ""


def mask_dsn(dsn: str | URL) -> str:
    """The DSN as it may appear in a message or a log: the password replaced by ``***``."""
    if isinstance(dsn, URL):
        return dsn.render_as_string(hide_password=True)
    try:
        return sa.make_url(dsn).render_as_string(hide_password=True)
    except ArgumentError:
        # Not even parseable: drop everything between "://" and "@", if anything.
        head, sep, rest = dsn.partition("://")
        if sep and "@" in rest:
            return f"{head}://***@{rest.rsplit('@', 1)[1]}"
        return dsn


def to_url(dsn: str) -> URL:
    """The SQLAlchemy URL for ``dsn``; ``StoreOpenError`` for a scheme the store cannot open."""
    scheme = scheme_of(dsn)
    driver = SCHEMES.get(scheme)
    if driver is None:
        known = ", ".join(f"{s}://" for s in ("sqlite", "postgresql", "postgres"))
        raise StoreOpenError(
            f"cannot open {mask_dsn(dsn)!r}: unknown DSN scheme {scheme or '(none)'!r}; "
            f"burrow_jobs_sql accepts {known}"
        )
    try:
        url = sa.make_url(dsn)
    except ArgumentError as exc:
        raise StoreOpenError(f"cannot open {mask_dsn(dsn)!r}: malformed DSN ({exc})") from None
    url = url.set(drivername=driver)
    if driver.startswith("sqlite") and url.database in (None, "", ":memory:"):
        raise StoreOpenError(
            f"cannot open {mask_dsn(dsn)!r}: the SQLite store needs a file "
            "(sqlite:///relative.db or sqlite:////absolute.db), not an in-memory database"
        )
    return url


def resolve_dsn(explicit: str | None, environ_value: str | None) -> str | None:
    """Precedence: an explicitly given DSN wins over ``JOBS_DATABASE_DSN``; empty means none
    (the app's shared engine)."""
    for candidate in (explicit, environ_value):
        if candidate and candidate.strip():
            return candidate.strip()
    return None
