"""Alembic environment of burrow_jobs_sql.

Run only through ``burrow_jobs_sql.migrate``, which hands over an open connection (in
``config.attributes["connection"]``) already inside the lock and the transaction, so Alembic
itself manages no transaction here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from burrow_jobs_sql.schema import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "burrow_jobs_sql migrations run through `python -m burrow_jobs_sql upgrade --dsn ...` "
        "or SQLStore's auto-migrate, not the alembic command line"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    transactional_ddl=False,
    render_as_batch=connection.dialect.name == "sqlite",
)
context.run_migrations()
