"""The shipped Alembic migrations: empty database, idempotence, concurrent starts, and the
schema they build matching ``metadata``."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from burrow_jobs_sql import VERSION_TABLE, head_revision, metadata, upgrade
from burrow_jobs_sql.__main__ import main
from burrow_jobs_sql.dsn import to_url
from burrow_jobs_sql.migrate import alembic_config
from burrow_jobs_sql.schema import SQLITE_ONLY_INDEXES


@pytest.fixture
def engine(fresh_dsn: str) -> Iterator[Engine]:
    created = sa.create_engine(to_url(fresh_dsn))
    yield created
    created.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_upgrade_creates_the_tables_and_its_own_version_table(engine: Engine) -> None:
    assert upgrade(engine) is None
    assert {"burrow_jobs", "burrow_workers", VERSION_TABLE} <= _tables(engine)
    assert "alembic_version" not in _tables(engine)


def test_upgrade_twice_changes_nothing(engine: Engine) -> None:
    upgrade(engine)
    assert upgrade(engine) == head_revision()


def test_concurrent_upgrades_all_succeed_once(fresh_dsn: str) -> None:
    starters = 4
    barrier = threading.Barrier(starters)

    def start() -> str | None:
        own = sa.create_engine(to_url(fresh_dsn))
        try:
            barrier.wait()
            return upgrade(own)
        finally:
            own.dispose()

    with ThreadPoolExecutor(starters) as pool:
        found = list(pool.map(lambda _: start(), range(starters)))
    # Exactly one starter met the empty database; the others found it migrated.
    assert sorted(found, key=lambda revision: revision or "") == [None] + [head_revision()] * (
        starters - 1
    )


def _described_by_metadata(
    item: object, name: str | None, kind: str, reflected: bool, _compared_to: object
) -> bool:
    # SQLite's two extra list indexes are not in metadata, on purpose (schema.py).
    return not (kind == "index" and reflected and name in SQLITE_ONLY_INDEXES)


def test_migrated_schema_matches_metadata(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLE,
                "compare_type": True,
                "include_object": _described_by_metadata,
            },
        )
        assert compare_metadata(context, metadata) == []


def _migrate_to(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _index_names(engine: Engine) -> set[str]:
    return {str(index["name"]) for index in sa.inspect(engine).get_indexes("burrow_jobs")}


def _insert_kept(engine: Engine, *statuses: str) -> None:
    """One job of type ``kept`` per status, in plain SQL (a schema older than ``metadata``)."""
    now = "0" if engine.dialect.name == "sqlite" else "now()"
    with engine.begin() as connection:
        for status in statuses:
            connection.exec_driver_sql(
                "INSERT INTO burrow_jobs (type, payload, status, priority, attempts,"
                " max_retries, run_at, created_at, updated_at, cancelled) VALUES"
                f" ('kept', '{{}}', '{status}', 0, 0, 3, {now}, {now}, {now}, false)"
            )


def test_upgrade_from_0001_keeps_the_jobs(engine: Engine) -> None:
    _migrate_to(engine, "0001")
    _insert_kept(engine, "pending")

    assert upgrade(engine) == "0001"

    with engine.connect() as connection:
        kept = connection.exec_driver_sql("SELECT type FROM burrow_jobs").scalars().all()
    assert kept == ["kept"]


def test_only_sqlite_keeps_the_filtered_list_indexes(engine: Engine) -> None:
    upgrade(engine)

    kept = _index_names(engine) & SQLITE_ONLY_INDEXES
    assert kept == (SQLITE_ONLY_INDEXES if engine.dialect.name == "sqlite" else set())
    assert "burrow_jobs_created_idx" in _index_names(engine)
    # Every insert wrote it; migration 0004 put partial indexes an insert skips in its place.
    assert "burrow_jobs_status_created_idx" not in _index_names(engine)


def test_upgrade_from_0003_moves_the_status_list_to_partial_indexes_and_keeps_the_jobs(
    engine: Engine,
) -> None:
    _migrate_to(engine, "0003")
    _insert_kept(engine, "pending", "completed")

    assert upgrade(engine) == "0003"

    with engine.connect() as connection:
        statuses = connection.exec_driver_sql("SELECT status FROM burrow_jobs ORDER BY id")
        assert statuses.scalars().all() == ["pending", "completed"]
    assert ("burrow_jobs_completed_created_idx" in _index_names(engine)) == (
        engine.dialect.name == "sqlite"
    )


def test_command_line_upgrade_reports_the_revision(
    fresh_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["upgrade", "--dsn", fresh_dsn]) == 0
    assert f"burrow schema at {head_revision()}" in capsys.readouterr().out
    assert main(["check", "--dsn", fresh_dsn]) == 0


def test_command_line_check_fails_on_an_empty_database(
    fresh_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--dsn", fresh_dsn]) == 1
    assert "has no burrow schema" in capsys.readouterr().err


def test_the_head_revision_constant_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


_OPEN_CURRENT_SCHEMA = """
import sys
from burrow_jobs_sql import SQLStore, upgrade
import sqlalchemy as sa
dsn = sys.argv[1]
if sys.argv[2] == "open":
    assert "alembic" not in sys.modules, "imported by the package"
    SQLStore.from_dsn(dsn)
    assert "alembic" not in sys.modules, "imported to open a current schema"
else:
    engine = sa.create_engine(dsn)
    upgrade(engine)
    engine.dispose()
"""


def test_opening_a_store_on_a_current_schema_never_imports_alembic(tmp_path: Path) -> None:
    dsn = f"sqlite:///{tmp_path / 'current.db'}"
    for step in ("migrate", "open"):
        subprocess.run(
            [sys.executable, "-c", _OPEN_CURRENT_SCHEMA, dsn, step], check=True, timeout=120
        )


def _notify_function_body(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(
            connection.exec_driver_sql(
                "SELECT prosrc FROM pg_proc WHERE proname = 'burrow_jobs_notify_available'"
                " AND pronamespace = current_schema()::regnamespace"
            ).scalar_one()
        )


def test_0003_bounds_the_channel_name_and_its_downgrade_restores_the_old_one(
    engine: Engine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("notification channels are PostgreSQL's")
    upgrade(engine)
    config = alembic_config()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    assert "md5" not in _notify_function_body(engine)

    assert upgrade(engine) == "0002"
    body = _notify_function_body(engine)
    assert "octet_length" in body
    assert "md5(TG_TABLE_SCHEMA)" in body


def test_0004_downgrade_restores_the_status_list_index(engine: Engine) -> None:
    upgrade(engine)
    config = alembic_config()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    downgraded = _index_names(engine)

    assert upgrade(engine) == "0003"

    sqlite = engine.dialect.name == "sqlite"
    assert ("burrow_jobs_status_created_idx" in downgraded) == sqlite
    assert not downgraded & {"burrow_jobs_running_created_idx", "burrow_jobs_dead_created_idx"}
    assert (_index_names(engine) & SQLITE_ONLY_INDEXES) == (
        SQLITE_ONLY_INDEXES if sqlite else set()
    )
