"""burrow_jobs_sql's own Alembic migrations (version table ``burrow_alembic_version``)."""
