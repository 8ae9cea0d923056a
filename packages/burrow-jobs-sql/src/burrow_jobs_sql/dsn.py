"""Data source names: which ones the store accepts and how they map to SQLAlchemy URLs.

Accepted: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``,
``postgresql://user:pass@host:port/db`` and ``postgres://...`` (both use psycopg 3), and the
explicit SQLAlchemy forms ``sqlite+pysqlite://`` and ``postgresql+psycopg://``. An app's
``AsyncEngine`` URL maps to the same database through those drivers (``sync_url``).
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError

from burrow_jobs_sql.errors import StoreOpenError

__all__ = [
    "SCHEMES",
    "SYNC_DRIVERS",
    "mask_dsn",
    "resolve_dsn",
    "sync_url",
    "to_url",
    "unsupported_database",
]

SYNC_DRIVERS: dict[str, str] = {"sqlite": "sqlite+pysqlite", "postgresql": "postgresql+psycopg"}
"""Database → the sync SQLAlchemy driver the store uses for it."""

SCHEMES: dict[str, str] = {
    **SYNC_DRIVERS,
    **{driver: driver for driver in SYNC_DRIVERS.values()},
    "postgres": SYNC_DRIVERS["postgresql"],
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


_LIBPQ_SSL_MODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})

_ASYNCPG_AS_IS = frozenset({"host", "passfile", "target_session_attrs", "krbsrvname", "gsslib"})
"""Query keys an asyncpg URL shares with libpq: ``asyncpg.connect`` keywords that libpq spells
and reads the same way, and SQLAlchemy's multi-host ``host`` list, which both dialects read."""

_ASYNCPG_CLIENT_ONLY = frozenset({"prepared_statement_cache_size"})
"""SQLAlchemy's size for asyncpg's statement cache: a setting of the app's connections with no
meaning on the store's (psycopg keeps its own)."""


def sync_url(url: URL) -> URL:
    """The URL of the store's own sync engine for an app's ``AsyncEngine`` on ``url``: the
    same database through pysqlite or psycopg. aiosqlite and psycopg's async mode read their
    URL's query as their sync twins do; an asyncpg URL's query holds ``asyncpg.connect``
    keywords, which become libpq's (``ssl=require`` → ``sslmode=require``) or, for asyncpg's
    statement cache, are left out. ``StoreOpenError`` names a keyword libpq has no word for.
    Only the URL is read: the engine's ``connect_args`` (asyncpg's ``server_settings``, an
    ``ssl.SSLContext``) stay with the app's connections."""
    driver = SYNC_DRIVERS.get(url.get_backend_name())
    if driver is None:
        raise unsupported_database(url)
    sync = url.set(drivername=driver)
    if url.get_driver_name() == "asyncpg":
        sync = sync.set(query=_libpq_query(url))
    return sync


def unsupported_database(url: URL) -> StoreOpenError:
    """The error for an engine on a database the store does not support."""
    return StoreOpenError(
        f"cannot open {mask_dsn(url)!r}: burrow_jobs_sql supports SQLite and PostgreSQL, "
        f"not {url.get_backend_name()!r}"
    )


def _libpq_query(url: URL) -> Mapping[str, str | tuple[str, ...]]:
    query: dict[str, str | tuple[str, ...]] = {}
    for key, value in url.query.items():
        if key in _ASYNCPG_CLIENT_ONLY:
            continue
        if key in _ASYNCPG_AS_IS:
            query[key] = value
        elif key != "ssl":
            raise _untranslatable(url, f"{key}={value!r} has no equivalent in libpq")
        elif isinstance(value, str) and value.lower() in _LIBPQ_SSL_MODES:
            query["sslmode"] = value.lower()
        else:
            modes = ", ".join(sorted(_LIBPQ_SSL_MODES))
            raise _untranslatable(url, f"ssl={value!r} is not one of libpq's sslmodes ({modes})")
    return query


def _untranslatable(url: URL, problem: str) -> StoreOpenError:
    return StoreOpenError(
        f"cannot open a store on the AsyncEngine of {mask_dsn(url)!r}: {problem}, and the "
        "store connects through psycopg with the engine's URL; give from_engine a sync "
        "Engine on the same database, or open the store from a postgresql:// DSN"
    )


def resolve_dsn(explicit: str | None, environ_value: str | None) -> str | None:
    """Precedence: an explicitly given DSN wins over ``JOBS_DATABASE_DSN``; empty means none
    (the app's shared engine)."""
    for candidate in (explicit, environ_value):
        if candidate and candidate.strip():
            return candidate.strip()
    return None
