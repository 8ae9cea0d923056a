"""burrow demo: a small web app with its jobs in SQLite and the jobs admin mounted.

    python examples/demo/demo.py                 # http://127.0.0.1:8000/
    python examples/demo/demo.py --port 8080     # --host 0.0.0.0 to listen on every interface
    python examples/demo/demo.py --smoke         # headless click-through for CI: exit 0 or 1

Needs burrow-tasks, burrow-jobs-sql, burrow-admin and uvicorn (``--smoke`` also httpx). The
database is a file (``examples/demo/.burrow-demo/jobs.db``, emptied at each start unless
``--keep-data``): no database server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
import tempfile
from pathlib import Path

from app import DEMO_CONFIG, create_app, open_demo_queue
from demo_server import PortInUse, bind, running_server
from demo_tasks import ACTIONS_BY_KEY, SEED

from burrow_tasks import JobQueue

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / ".burrow-demo"
DATABASE_NAME = "jobs.db"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run the burrow demo app: jobs in a SQLite file, the admin at /admin/jobs/."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"folder of the SQLite database ({DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--keep-data",
        action="store_true",
        help="keep the jobs of earlier runs (by default each run starts from an empty database)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="run headless on a free port with a temporary database, click through over "
        "HTTP, wait (at most 30 s) for every job to settle; exit 0, or 1 naming what is missing",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be between 0 and 65535, got {args.port}")
    return args


def configure_logging() -> None:
    """The demo's handlers (``burrow_demo``) and the engine (``burrow_tasks``: pool start
    and stop, retries, dead jobs) at INFO; everything else only when it warns."""
    logging.basicConfig(
        format="%(asctime)s  %(name)-12s  %(message)s",
        datefmt="%H:%M:%S",
        level=logging.WARNING,
        stream=sys.stdout,
    )
    for name in ("burrow_demo", "burrow_tasks"):
        logging.getLogger(name).setLevel(logging.INFO)


def remove_database(data_dir: Path) -> None:
    # Only the demo's own database file and its SQLite sidecars (WAL and shared memory).
    for suffix in ("", "-wal", "-shm"):
        (data_dir / f"{DATABASE_NAME}{suffix}").unlink(missing_ok=True)


def banner(url: str, database: Path, host: str) -> str:
    base = DEMO_CONFIG.retry_base_delay.total_seconds()
    seeded = ", ".join(f"{SEED.count(key)} {key}" for key in ACTIONS_BY_KEY if key in SEED)
    lines = [
        "",
        "burrow demo is running",
        "",
        f"  home page    {url}/",
        f"  jobs admin   {url}/admin/jobs/      (open to anyone: a local demo only)",
        f"  dashboard    {url}/admin/jobs/dashboard",
        "",
        f"  database     {database}  (SQLite, no server)",
        f"  workers      {DEMO_CONFIG.workers}, polling every "
        f"{DEMO_CONFIG.poll_interval.total_seconds():g} s",
        f"  retries      after {base:g} s, {2 * base:g} s, {4 * base:g} s ... "
        f"(retry base delay {base:g} s instead of 30 s, to see them within seconds)",
        f"  enqueued     at start: {seeded}",
        "",
        "  Ctrl-C stops: running jobs get "
        f"{DEMO_CONFIG.shutdown_grace.total_seconds():g} s to finish, then go back to pending.",
        "",
    ]
    if host not in {"127.0.0.1", "localhost", "::1"}:
        lines.insert(2, f"  WARNING: listening on {host}: anyone who reaches it can use the admin")
    return "\n".join(lines)


async def serve(args: argparse.Namespace) -> int:
    try:
        sock = bind(args.host, args.port)
    except PortInUse as error:
        print(f"demo: {error}; choose another with --port", file=sys.stderr)
        return 2
    data_dir: Path = args.data_dir.resolve()
    if not args.keep_data:  # only once the port is ours: a copy already serving keeps its jobs
        remove_database(data_dir)
    queue: JobQueue = open_demo_queue(data_dir / DATABASE_NAME)
    app = create_app(queue, secret_key=secrets.token_urlsafe(32))
    async with running_server(app, sock) as serving:
        print(banner(serving.url, data_dir / DATABASE_NAME, args.host), flush=True)
        await serving.task  # until Ctrl-C
    return 0


async def smoke() -> int:
    from smoke import run_smoke  # needs httpx, which only the smoke run uses

    with tempfile.TemporaryDirectory(prefix="burrow-demo-smoke-") as data_dir:
        return await run_smoke(Path(data_dir))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    try:
        code = asyncio.run(smoke() if args.smoke else serve(args))
    except KeyboardInterrupt:
        # uvicorn has already stopped the app and the pool; Ctrl-C is how the demo ends.
        code = 130 if args.smoke else 0
    if not args.smoke and code == 0:
        print("demo stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
