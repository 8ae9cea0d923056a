"""The jobs and workers tables, their indexes and the PostgreSQL notification triggers.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from burrow_jobs_sql.schema import CLAIMABLE_SQL, UTCDateTime, postgres_trigger_ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "burrow_jobs",
        sa.Column("id", big_id, sa.Identity(), primary_key=True, autoincrement=True),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_retries", sa.Integer(), nullable=False),
        sa.Column("run_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("last_attempted_at", UTCDateTime(), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("failed_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("error_class", sa.Text(), nullable=True),
        sa.Column("error_traceback", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("cancelled", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("lease", sa.Uuid(as_uuid=False), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed', 'dead')",
            name="burrow_jobs_status_check",
        ),
        sqlite_autoincrement=True,
    )
    partial = {
        "claim": CLAIMABLE_SQL,
        "rescue": "status = 'running'",
        "cleanup": "status = 'completed'",
        "dead": "status = 'dead'",
    }

    def where(name: str) -> dict[str, Any]:
        clause = sa.text(partial[name])
        return {"postgresql_where": clause, "sqlite_where": clause}

    op.create_index(
        "burrow_jobs_claim_idx",
        "burrow_jobs",
        [sa.text("priority DESC"), "run_at", "id"],
        **where("claim"),
    )
    op.create_index("burrow_jobs_rescue_idx", "burrow_jobs", ["heartbeat_at"], **where("rescue"))
    op.create_index("burrow_jobs_cleanup_idx", "burrow_jobs", ["completed_at"], **where("cleanup"))
    op.create_index("burrow_jobs_dead_idx", "burrow_jobs", ["failed_at"], **where("dead"))
    op.create_index("burrow_jobs_created_idx", "burrow_jobs", ["created_at", "id"])
    op.create_index("burrow_jobs_status_created_idx", "burrow_jobs", ["status", "created_at", "id"])
    op.create_index("burrow_jobs_type_created_idx", "burrow_jobs", ["type", "created_at", "id"])

    op.create_table(
        "burrow_workers",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("hostname", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=False),
        sa.Column("in_flight", sa.Integer(), nullable=False),
        sa.Column("poll_interval_us", sa.BigInteger(), nullable=False),
        sa.Column("types", sa.Text(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("last_poll_at", UTCDateTime(), nullable=True),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
    )

    if op.get_bind().dialect.name == "postgresql":
        for statement in postgres_trigger_ddl()[0]:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in postgres_trigger_ddl()[1]:
            op.execute(statement)
    op.drop_table("burrow_workers")
    op.drop_table("burrow_jobs")
