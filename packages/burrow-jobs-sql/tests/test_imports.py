"""What importing the store costs an app that never uses SQLAlchemy's asyncio extension."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_store_does_not_need_greenlet() -> None:
    # SQLAlchemy's asyncio extension requires greenlet; a sync app must not need it.
    code = (
        "import sys, burrow_jobs_sql, burrow_jobs_sql.plugin\n"
        "assert 'sqlalchemy.ext.asyncio' not in sys.modules, 'asyncio extension imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
