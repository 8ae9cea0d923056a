"""The store's own sync engine for an app's ``AsyncEngine``: the same database, the URL's
query in the words of the store's driver."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from burrow_jobs_sql import StoreOpenError
from burrow_jobs_sql.dsn import sync_url


def _sync(url: str) -> sa.URL:
    return sync_url(sa.make_url(url))


def test_an_aiosqlite_url_becomes_pysqlite_on_the_same_file_and_query() -> None:
    url = _sync("sqlite+aiosqlite:///jobs.db?timeout=3")
    assert (url.drivername, url.database, dict(url.query)) == (
        "sqlite+pysqlite",
        "jobs.db",
        {"timeout": "3"},
    )


def test_a_psycopg_async_url_keeps_its_libpq_query() -> None:
    url = _sync("postgresql+psycopg_async://app:pw@db:6432/shop?sslmode=require&options=-c%20x%3D1")
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "app",
        "pw",
        "db",
        6432,
        "shop",
    )
    assert dict(url.query) == {"sslmode": "require", "options": "-c x=1"}


def test_asyncpgs_ssl_mode_becomes_libpqs_sslmode() -> None:
    url = _sync("postgresql+asyncpg://app@db/shop?ssl=require")
    assert (url.drivername, dict(url.query)) == ("postgresql+psycopg", {"sslmode": "require"})


def test_asyncpgs_statement_cache_size_is_left_to_the_apps_connections() -> None:
    url = _sync(
        "postgresql+asyncpg://db/shop?prepared_statement_cache_size=0"
        "&target_session_attrs=read-write"
    )
    assert dict(url.query) == {"target_session_attrs": "read-write"}


def test_an_asyncpg_url_with_several_hosts_keeps_them_for_libpq() -> None:
    url = _sync("postgresql+asyncpg://app@/shop?host=db1:5432&host=db2:5433")
    assert url.query["host"] == ("db1:5432", "db2:5433")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("ssl=true", "ssl='true' is not one of libpq's sslmodes"),
        ("ssl=require&ssl=disable", "ssl=('require', 'disable') is not one of libpq's sslmodes"),
        ("direct_tls=true", "direct_tls='true' has no equivalent in libpq"),
        ("server_settings=x", "server_settings='x' has no equivalent in libpq"),
    ],
)
def test_an_asyncpg_keyword_psycopg_cannot_read_is_refused_by_name(query: str, named: str) -> None:
    with pytest.raises(StoreOpenError, match="give from_engine a sync Engine") as refused:
        _sync(f"postgresql+asyncpg://app:secret@db/shop?{query}")
    assert named in str(refused.value)
    assert "secret" not in str(refused.value)


def test_an_async_url_of_another_database_is_refused() -> None:
    with pytest.raises(StoreOpenError, match="supports SQLite and PostgreSQL, not 'mysql'"):
        _sync("mysql+aiomysql://app@db/shop")
