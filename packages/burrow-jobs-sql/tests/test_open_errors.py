"""Bad input at start: each a one-line StoreOpenError naming the DSN, password masked."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from burrow_jobs_sql import SQLStore, StoreOpenError, mask_dsn, resolve_dsn
from burrow_jobs_sql.dsn import to_url
from burrow_jobs_sql.plugin import burrow_backend
from burrow_jobs_sql.schema import VERSION_TABLE


def _one_line(error: pytest.ExceptionInfo[StoreOpenError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_unknown_scheme_names_the_accepted_ones() -> None:
    with pytest.raises(StoreOpenError) as error:
        SQLStore.from_dsn("mysql://root:hunter2@db/jobs")
    message = _one_line(error)
    assert "unknown DSN scheme 'mysql'" in message
    assert "hunter2" not in message
    assert "postgresql://" in message


def test_unreachable_postgres_masks_the_password() -> None:
    with pytest.raises(StoreOpenError) as error:
        SQLStore.from_dsn("postgresql://burrow:s3cret@127.0.0.1:1/jobs")
    message = _one_line(error)
    assert "s3cret" not in message
    assert "burrow:***@127.0.0.1:1/jobs" in message


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(StoreOpenError, match="needs a file"):
        SQLStore.from_dsn("sqlite://")


def test_missing_schema_with_auto_migrate_off(fresh_dsn: str) -> None:
    with pytest.raises(StoreOpenError) as error:
        SQLStore.from_dsn(fresh_dsn, auto_migrate=False)
    message = _one_line(error)
    assert "has no burrow schema" in message
    assert "python -m burrow_jobs_sql upgrade" in message


def test_schema_newer_than_the_code(fresh_dsn: str) -> None:
    engine = sa.create_engine(to_url(fresh_dsn))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"
            )
            connection.exec_driver_sql(f"INSERT INTO {VERSION_TABLE} VALUES ('9999')")
    finally:
        engine.dispose()
    for auto_migrate in (True, False):
        with pytest.raises(StoreOpenError) as error:
            SQLStore.from_dsn(fresh_dsn, auto_migrate=auto_migrate)
        assert "'9999', newer than this burrow_jobs_sql" in _one_line(error)


def test_postgres_scheme_alias_maps_to_psycopg() -> None:
    assert to_url("postgres://u:p@h/db").drivername == "postgresql+psycopg"
    assert to_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"


def test_sqlite_relative_and_absolute_paths() -> None:
    assert to_url("sqlite:///jobs.db").database == "jobs.db"
    assert to_url("sqlite:////var/lib/jobs.db").database == "/var/lib/jobs.db"


def test_mask_dsn_hides_only_the_password() -> None:
    assert mask_dsn("postgresql://app:pw@db:5432/jobs") == "postgresql://app:***@db:5432/jobs"


def test_explicit_dsn_wins_over_the_environment() -> None:
    assert resolve_dsn("sqlite:///a.db", "sqlite:///b.db") == "sqlite:///a.db"
    assert resolve_dsn(None, "sqlite:///b.db") == "sqlite:///b.db"
    assert resolve_dsn("", "  ") is None


def test_plugin_leaves_other_schemes_alone() -> None:
    assert burrow_backend("memory://") is None


async def test_plugin_opens_a_sql_dsn(fresh_dsn: str) -> None:
    store = burrow_backend(fresh_dsn)
    assert isinstance(store, SQLStore)
    await store.close()
