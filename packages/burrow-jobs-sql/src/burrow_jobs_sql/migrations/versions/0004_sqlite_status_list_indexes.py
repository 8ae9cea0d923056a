"""SQLite: the admin's by-status lists from partial indexes an enqueue does not write.

``burrow_jobs_status_created_idx`` (status, created_at, id) took an entry for every insert:
one more B-tree page in the commit of every enqueue, about 15 µs of 236 on raw ``sqlite3``
(package README, round 17). In its place each status but ``pending`` gets a partial index on
(created_at, id), which a job enters only when it leaves ``pending``; a claim and a completion
now move one entry between two of them where they moved the status index's entry twice. The
pending list reads ``burrow_jobs_created_idx`` newest first and filters, as PostgreSQL's
lists do; pending jobs are mostly the newest. The counts per status read the partial indexes
(``statements.SQLITE_COUNT_BY_STATUS``). PostgreSQL is unchanged (it has none of these).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_LISTED = ("running", "completed", "failed", "dead")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("burrow_jobs_status_created_idx", table_name="burrow_jobs")
        for status in _LISTED:
            op.create_index(
                f"burrow_jobs_{status}_created_idx",
                "burrow_jobs",
                ["created_at", "id"],
                sqlite_where=sa.text(f"status = '{status}'"),
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for status in _LISTED:
            op.drop_index(f"burrow_jobs_{status}_created_idx", table_name="burrow_jobs")
        op.create_index(
            "burrow_jobs_status_created_idx", "burrow_jobs", ["status", "created_at", "id"]
        )
