"""``python -m burrow_jobs_sql upgrade --dsn DSN``: create or upgrade burrow's schema."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import sqlalchemy as sa

from burrow_jobs_sql.dsn import mask_dsn, resolve_dsn, to_url
from burrow_jobs_sql.errors import StoreOpenError
from burrow_jobs_sql.migrate import head_revision, prepare_schema, upgrade


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m burrow_jobs_sql")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("upgrade", "create or upgrade burrow's tables to the newest revision"),
        ("check", "exit 1 unless the schema is at the newest revision"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument(
            "--dsn",
            help="database to act on (default: $JOBS_DATABASE_DSN); an explicit --dsn wins",
        )
    args = parser.parse_args(argv)
    dsn = resolve_dsn(args.dsn, os.environ.get("JOBS_DATABASE_DSN"))
    if dsn is None:
        parser.error("no database: pass --dsn or set JOBS_DATABASE_DSN")
    try:
        engine = sa.create_engine(to_url(dsn))
        try:
            if args.command == "upgrade":
                prepare_schema(engine, auto_migrate=True)
                print(f"{mask_dsn(dsn)}: burrow schema at {upgrade(engine)}")
            else:
                prepare_schema(engine, auto_migrate=False)
                print(f"{mask_dsn(dsn)}: burrow schema at {head_revision()}")
        finally:
            engine.dispose()
    except StoreOpenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
