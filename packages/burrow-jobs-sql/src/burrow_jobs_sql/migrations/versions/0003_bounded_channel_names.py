"""PostgreSQL: a notification channel name within PostgreSQL's 63-byte limit for any schema.

The triggers notified ``'burrow_jobs:' || schema``; for a schema name longer than 51 bytes
PostgreSQL refused the channel, and with it every insert and every update that makes a job
claimable. Now such a schema's channel is the prefix and the MD5 of its name
(``schema.notify_channel``); every shorter name keeps its channel, so workers of the
previous version still hear them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

from burrow_jobs_sql.schema import postgres_trigger_ddl

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The two trigger functions again; the triggers themselves call them unchanged.
        for statement in postgres_trigger_ddl()[0]:
            if statement.startswith("CREATE OR REPLACE FUNCTION"):
                op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_OLD_AVAILABLE)
        op.execute(_OLD_CANCELLED)


_OLD_AVAILABLE = """CREATE OR REPLACE FUNCTION burrow_jobs_notify_available() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('burrow_jobs:' || TG_TABLE_SCHEMA, 'available');
    RETURN NULL;
END
$$"""

_OLD_CANCELLED = """CREATE OR REPLACE FUNCTION burrow_jobs_notify_cancelled() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('burrow_jobs:' || TG_TABLE_SCHEMA, 'cancelled:' || OLD.id);
    RETURN NULL;
END
$$"""
