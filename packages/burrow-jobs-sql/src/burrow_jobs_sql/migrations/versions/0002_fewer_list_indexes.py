"""PostgreSQL: drop the admin's by-status and by-type list indexes.

A status change (claim, completion, failure) is never a HOT update on PostgreSQL, so it adds
an entry to every index of the table: these two made the worker's completion-and-claim
statement about a fifth slower (package README, round 4). SQLite updates only the indexes
whose columns change and keeps them. The filtered lists read a status's partial index and
sort, or ``burrow_jobs_created_idx`` newest first and filter.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("burrow_jobs_status_created_idx", table_name="burrow_jobs")
        op.drop_index("burrow_jobs_type_created_idx", table_name="burrow_jobs")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "burrow_jobs_status_created_idx", "burrow_jobs", ["status", "created_at", "id"]
        )
        op.create_index("burrow_jobs_type_created_idx", "burrow_jobs", ["type", "created_at", "id"])
